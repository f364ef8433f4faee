//! rovim-store: the database of rovim, on SQLite (embedded default) or PostgreSQL through one
//! code path (diesel `MultiConnection`).
//!
//! It owns the schema and the embedded migrations (applied by [`Store::open`]), the typed reads
//! (plain functions over a pooled connection: reads never wait for writes), and the
//! [`DbWriter`]: the handle to the DbActor, one actix `SyncArbiter` thread that is the only
//! writer and commits whatever is queued in one transaction. It wakes when a write is queued.
//!
//! Modules: [`store`] (open, pool, migrations), [`connection`] (backends, SQLite pragmas),
//! [`schema`], [`new_action`] (what a submission inserts), [`write_batch`] (engine updates),
//! [`accounts`] (VIM accounts, SDN controllers), [`sealing`] and [`secrets`] (passwords sealed
//! at rest with the operator's key), [`records`] and [`reads`] (typed reads),
//! [`db_actor`] (the writer), [`leases`] (instances and who runs each account), [`instance_lock`] (one `serve` per SQLite file), [`introspect`] (catalog), `test_support` and `invariants` (the
//! checker every test runs; feature-gated).
#![forbid(unsafe_code)]

pub mod accounts;
mod batch_update;
mod connection;
pub mod db_actor;
pub mod error;
pub mod instance_lock;
pub mod introspect;
#[cfg(feature = "test-support")]
pub mod invariants;
pub mod leases;
pub mod new_action;
pub mod notify;
pub mod reads;
pub mod reconcile;
pub mod records;
pub mod schema;
pub mod sealing;
pub mod secrets;
mod stamp;
pub mod store;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod write_batch;

pub use accounts::{
    NewSdnController, NewVimAccount, SdnController, Secret, StillSealed, VimAccount,
    VimAccountChanges,
};
pub use connection::{AnyConnection, Backend, redact_url};
pub use db_actor::{DbStats, DbWrite, DbWriter, FencedWriter};
pub use error::StoreError;
pub use instance_lock::InstanceLock;
pub use new_action::{NewAction, NewInterface, NewNet, NewTask, NewVm};
pub use records::{ActionRecord, InterfaceRecord, NetRecord, TaskRecord, VmRecord};
pub use sealing::{SealError, SecretKey, SecretOwner};
pub use secrets::{Census, Prepared};
pub use store::{Store, now};
pub use write_batch::{
    AccountStatusUpdate, Applied, InterfaceUpdate, ItemUpdate, TaskUpdate, WriteBatch,
};
