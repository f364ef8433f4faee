//! rovim-engine: the actors that make the orchestrator's actions true on the VIMs.
//!
//! The [`Engine`] is the public API (start, submit, accounts, shutdown). Behind it the
//! [`supervisor`] spawns one [`vim_actor`] per VIM account and restarts failed ones with backoff.
//! Actors are thin shells: the decisions live in [`working_set`] (the tasks) and [`live_set`]
//! (the live elements: polls, refresh writes, SDN ports), plain structs tested directly, and the
//! VIM and SDN conversations in [`vim_call`] and [`live_calls`] (plain async functions).
//!
//! `BUG-n` in comments: a defect of the reference implementation that rovim fixes, listed in
//! `docs/reference-bugs.md`.
#![forbid(unsafe_code)]

pub mod boot;
pub mod calls;
pub mod commit;
pub mod config;
pub mod connectors;
pub mod db_lookup;
pub mod engine;
pub mod error;
#[cfg(feature = "failpoints")]
pub mod failpoints;
pub mod live_calls;
pub mod live_set;
pub mod messages;
pub mod metrics;
pub mod rate_limit;
pub mod refresh;
pub mod refresh_queue;
pub mod refresh_scheduler;
pub mod request;
pub mod sdn_actor;
pub mod shared;
pub mod stop_notice;
pub mod supervisor;
pub mod task_entry;
pub mod vim_actor;
pub mod vim_call;
pub mod working_set;

pub use config::{ConfigError, EngineConfig, RefreshConfig};
pub use connectors::Connectors;
pub use engine::{Engine, Submitted};
pub use error::EngineError;
pub use messages::{AccountState, ActorExit};
pub use request::{ActionRequest, DepRef, FieldError, PlanError, TaskRequest};
