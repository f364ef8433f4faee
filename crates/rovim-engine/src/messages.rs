//! The typed messages between the Engine, the Supervisor and the VimActors.

use actix::Message;
use rovim_core::{AccountStatus, TaskKey, VimAccountId};
use rovim_store::{NewAction, VimAccount};

use crate::error::EngineError;
use crate::task_entry::{TaskEntry, TaskSnapshot};

/// New tasks for a VimActor (already stored).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueue(pub Vec<TaskEntry>);

/// Tasks of other VIM accounts that a VimActor watches have settled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ForeignSettled(pub Vec<TaskSnapshot>);

/// Asks a VimActor to stop (account removed or reloaded, engine shutting down).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopActor;

/// Store an action and hand its tasks to their VimActors.
#[derive(Message)]
#[rtype(result = "Result<(), EngineError>")]
pub struct Submit(pub NewAction);

/// A VimActor connected and loaded its tasks.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ActorUp {
    pub vim: VimAccountId,
    pub generation: u64,
}

/// A VimActor stopped (or died); `reason` says why.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ActorDown {
    pub vim: VimAccountId,
    pub generation: u64,
    pub reason: String,
    pub kind: DownKind,
}

/// Why a VimActor is down, as far as its restart is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DownKind {
    /// Anything that may pass by itself (VIM unreachable, database, panic): restarted with the
    /// restart backoff.
    #[default]
    Failed,
    /// The VIM refused the account's credentials: each retry is a failed login (which lockout
    /// policies count), so it is retried rarely, or at once after the account is edited.
    AuthRefused,
}

/// A VimActor waits on these tasks of other accounts: forward their settlement.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub vim: VimAccountId,
    pub keys: Vec<TaskKey>,
}

/// Tasks settled (and committed) on a VimActor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Settled(pub Vec<TaskSnapshot>);

#[derive(Message)]
#[rtype(result = "()")]
pub struct AddAccount(pub VimAccount);

#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveAccount(pub VimAccountId);

/// The account was edited: restart its actor with the new settings.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReloadAccount(pub VimAccount);

/// The Supervisor's view of every account.
#[derive(Message)]
#[rtype(result = "Vec<AccountState>")]
pub struct GetAccountStates;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub id: VimAccountId,
    pub name: String,
    pub status: AccountStatus,
    pub error: Option<String>,
    /// Restarts since the engine started.
    pub restarts: u32,
    /// Its VimActor is connected and working.
    pub running: bool,
}

/// Stop every actor and flush the database writer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;
