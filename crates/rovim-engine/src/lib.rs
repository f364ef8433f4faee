//! rovim-engine: the actors that make the orchestrator's actions true on the VIMs.
//!
//! The [`Engine`] is the public API (start, submit, accounts, shutdown). Behind it, the actors
//! (each a thin actix shell over plain structs and async functions that hold the decisions):
//! - `Supervisor` (`supervisor.rs`): one VimActor per VIM account, restarted with backoff when
//!   it ends (each [`ActorExit`] counted), submissions routed to their actors, settlements to
//!   the actors waiting on them.
//! - `VimActor` (`vim_actor.rs`, `vim_actor/`): one per account; carries out its `WorkingSet`
//!   (`working_set.rs`: admission, what runs next, what an outcome writes) and its `LiveSet`
//!   (`live_set.rs`: polls, refresh writes, SDN ports). Its start is `boot.rs`; its VIM calls
//!   are `vim_call.rs` (retries, timeouts, crash recovery by token), its refresh and SDN port
//!   calls `live_calls.rs`, its commits `commit.rs`.
//! - `RefreshScheduler` (`refresh_scheduler.rs` over `refresh_queue.rs`): tells each VimActor
//!   which live elements are due, in batches.
//! - `SdnActor` (`sdn_actor.rs`): one connector per SDN controller, one typed message per
//!   operation.
//! - The DbActor (rovim-store's `DbWriter`) serializes and batches every write.
//!
//! Submissions are checked and planned in `request.rs` (nothing is stored when refused);
//! `metrics.rs` is the Prometheus registry; `connectors.rs` makes VIM and SDN connectors.
//! `docs/architecture.md` draws the whole.
//!
//! `BUG-n` in comments: a defect of the reference implementation that rovim fixes, listed in
//! `docs/reference-bugs.md`.
#![forbid(unsafe_code)]

mod action_watch;
mod arbiters;
mod boot;
mod calls;
mod cluster;
mod commit;
mod config;
mod connectors;
mod db_lookup;
mod engine;
mod error;
pub mod events;
#[cfg(feature = "failpoints")]
pub mod failpoints;
mod live_calls;
mod live_set;
mod messages;
mod metrics;
mod outcome_writes;
mod rate_limit;
mod refresh;
mod refresh_queue;
mod refresh_scheduler;
mod request;
mod sdn_actor;
mod shared;
mod stop_notice;
mod supervisor;
mod sweep;
mod task_entry;
#[cfg(feature = "test-support")]
pub mod test_support;
mod vim_actor;
mod vim_call;
mod working_set;

pub use config::{
    ClusterConfig, ConfigError, EngineConfig, RefreshConfig, SweepConfig, SweepPolicy,
};
pub use connectors::Connectors;
pub use engine::{Engine, Submitted};
pub use error::EngineError;
pub use messages::{AccountState, ActorExit};
pub use request::{ActionRequest, DepRef, FieldError, PlanError, TaskRequest};
pub use shared::read;
pub use sweep::{FailedDelete, Orphan, SweepReport};
