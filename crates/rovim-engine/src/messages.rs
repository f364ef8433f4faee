//! The typed messages between the Engine, the Supervisor and the VimActors.

use std::collections::HashMap;

use actix::Message;
use rovim_core::{AccountStatus, TaskKey, VimAccountId};
use rovim_store::{NewAction, VimAccount};

use crate::error::EngineError;
use crate::task_entry::{ElementKey, TaskEntry, TaskSnapshot};
use crate::working_set::ItemState;

/// New tasks for a VimActor (already stored), with the state of the elements their action
/// inserted (known without reading them back: nothing of them exists on the VIM yet).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueue {
    pub tasks: Vec<TaskEntry>,
    pub fresh: HashMap<ElementKey, ItemState>,
}

/// Tasks of other VIM accounts that a VimActor watches have settled.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ForeignSettled(pub Vec<TaskSnapshot>);

/// Asks a VimActor to load tasks another instance stored for it: those of one action (it
/// was told of them), or every new one (a notification may have been missed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct LoadNew(pub Option<rovim_core::ActionId>);

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

/// A VimActor stopped (or died): how, and in words why.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ActorDown {
    pub vim: VimAccountId,
    pub generation: u64,
    pub exit: ActorExit,
    pub reason: String,
}

/// How a VimActor ended (quickwit's `ActorExitStatus`): the Supervisor counts each kind
/// (`rovim_actor_exits_total{vim, exit}`), shows the last one, and picks the restart backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorExit {
    /// Asked to stop (account removed or edited, engine shutting down).
    Stopped,
    /// Its connector could not be made (a config the connector refuses).
    ConnectFailed,
    /// The VIM did not answer, or answered with an error, at start.
    VimDown,
    /// The VIM refused the account's credentials: each retry is a failed login (which lockout
    /// policies count), so it is retried rarely, or at once after the account is edited.
    AuthRefused,
    /// A database read or write failed: its successor reloads what was committed.
    Database,
    /// It panicked (actix does not restart a panicked actor by itself).
    Panicked,
    /// Its instance's lease on the account is gone (another instance runs it, or this one
    /// could not renew in time): not restarted unless the lease comes back.
    LeaseLost,
}

impl ActorExit {
    pub const fn as_str(self) -> &'static str {
        match self {
            ActorExit::Stopped => "stopped",
            ActorExit::ConnectFailed => "connect_failed",
            ActorExit::VimDown => "vim_down",
            ActorExit::AuthRefused => "auth_refused",
            ActorExit::Database => "database",
            ActorExit::Panicked => "panicked",
            ActorExit::LeaseLost => "lease_lost",
        }
    }
}

impl ActorExit {
    /// How an actor whose database write failed with `e` ends.
    pub fn of_store_error(e: &rovim_store::StoreError) -> ActorExit {
        match e {
            rovim_store::StoreError::Fenced { .. } => ActorExit::LeaseLost,
            _ => ActorExit::Database,
        }
    }
}

impl std::fmt::Display for ActorExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a VimActor reports to (the Supervisor, as recipients so the two stay decoupled).
#[derive(Clone)]
pub struct Reports {
    pub up: actix::Recipient<ActorUp>,
    pub down: actix::Recipient<ActorDown>,
    pub watch: actix::Recipient<Watch>,
    pub settled: actix::Recipient<Settled>,
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
    /// How its last VimActor ended, if one did.
    pub last_exit: Option<ActorExit>,
    /// Its VimActor is connected and working.
    pub running: bool,
}

/// Stop every actor and flush the database writer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;
