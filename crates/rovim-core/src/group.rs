//! The tasks of one element (a net or a VM) and the rules that order them: admission and
//! superseding (spec §1.8, with BUG-5 and BUG-6 fixed), what runs next (one VIM call per element
//! at a time), and how a call's outcome moves the tasks.
//!
//! The engine drives a group in three steps: [`ElementGroup::next`] names the task to run,
//! [`ElementGroup::start`] turns it BUILD (or settles it without any VIM call), and
//! [`ElementGroup::finish`] applies the VIM's answer. Every status change comes back as a
//! [`Transition`] for the engine to persist; counters follow from [`Transition::counters`].

use crate::created::Owned;
use crate::ids::{ItemId, TaskKey};
use crate::task::{Action, CounterDelta, ItemKind, TaskStatus, counter_delta};

/// One task as the group sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTask {
    pub key: TaskKey,
    pub action: Action,
    /// A CREATE that first looks for an existing net (`find` given with the CREATE).
    pub find_then_create: bool,
    pub status: TaskStatus,
}

impl GroupTask {
    pub fn scheduled(key: TaskKey, action: Action, find_then_create: bool) -> Self {
        Self {
            key,
            action,
            find_then_create,
            status: TaskStatus::Scheduled,
        }
    }
}

/// A status change to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub key: TaskKey,
    pub from: TaskStatus,
    pub to: TaskStatus,
    /// The message stored with a FAILED (or explained SUPERSEDED/FINISHED) task.
    pub message: Option<String>,
}

impl Transition {
    /// What this change adds to the action's counters.
    pub fn counters(&self) -> CounterDelta {
        counter_delta(self.from, self.to)
    }
}

/// The VIM call the engine must make for the started task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VimCall {
    Create,
    Find,
    /// Find first; create only when nothing matches.
    FindThenCreate,
    /// Delete what rovim created (and only that).
    Delete(Owned),
    /// Take an existing element over (ADOPT).
    Adopt,
}

/// What the group would do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing to execute.
    Idle,
    /// A VIM call is in flight for this element: nothing else may start.
    Busy(TaskKey),
    /// This task is next (its dependencies are for the engine to check).
    Candidate(TaskKey),
}

/// The result of starting a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Make this call; the task is now BUILD (persist the transitions before calling).
    Call {
        call: VimCall,
        transitions: Vec<Transition>,
    },
    /// Settled without touching the VIM (a DELETE with nothing to delete, a CREATE/FIND of an
    /// element that already exists).
    Settled(Vec<Transition>),
}

/// The VIM's answer to a started task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A FIND (or FIND-then-CREATE) matched exactly one existing element.
    Found { vim_id: String },
    /// rovim created the element: `owned.vim_id` is its id.
    Created(Owned),
    /// The VIM delete succeeded (or the element was already gone).
    Deleted,
    /// The call failed. `leftover` is what a failed create left behind (kept so a DELETE can
    /// clean it, BUG-11); ignored for a failed DELETE, which keeps what it had to delete.
    Failed {
        error: String,
        leftover: Option<Owned>,
    },
}

/// Why a request does not fit the group's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("task {0} is already known")]
    Duplicate(TaskKey),
    #[error("{kind} {item} has been deleted: it cannot be created or found again")]
    ItemDeleted { kind: ItemKind, item: ItemId },
    #[error("task {0} is not part of this element")]
    UnknownTask(TaskKey),
    #[error("task {key} is {status}, not {expected}")]
    WrongStatus {
        key: TaskKey,
        status: TaskStatus,
        expected: TaskStatus,
    },
    #[error("a new task must be SCHEDULED, task {0} is not")]
    NotNew(TaskKey),
}

/// All tasks acting on one element, plus what the element is on the VIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementGroup {
    pub kind: ItemKind,
    pub item: ItemId,
    /// The element's VIM id, created or found; `None` before, and after its deletion.
    pub vim_id: Option<String>,
    /// What rovim created for this element and has not deleted: the only thing a DELETE
    /// removes. A found element has a `vim_id` but no `owned`.
    pub owned: Option<Owned>,
    /// A DELETE has been admitted: no CREATE/FIND may join any more.
    pub delete_requested: bool,
    /// Tasks in admission order.
    pub tasks: Vec<GroupTask>,
}

impl ElementGroup {
    pub fn new(kind: ItemKind, item: ItemId) -> Self {
        Self {
            kind,
            item,
            vim_id: None,
            owned: None,
            delete_requested: false,
            tasks: Vec::new(),
        }
    }

    /// Rebuilds a group from the database (on every VimActor start): no transitions.
    pub fn restore(
        kind: ItemKind,
        item: ItemId,
        vim_id: Option<String>,
        owned: Option<Owned>,
        tasks: Vec<GroupTask>,
    ) -> Self {
        let delete_requested = tasks.iter().any(|t| t.action == Action::Delete);
        Self {
            kind,
            item,
            vim_id,
            owned: owned.and_then(Owned::non_empty),
            delete_requested,
            tasks,
        }
    }

    fn task_mut(&mut self, key: TaskKey) -> Result<&mut GroupTask, AdmitError> {
        self.tasks
            .iter_mut()
            .find(|t| t.key == key)
            .ok_or(AdmitError::UnknownTask(key))
    }

    pub fn task(&self, key: TaskKey) -> Option<&GroupTask> {
        self.tasks.iter().find(|t| t.key == key)
    }

    /// Adds a new SCHEDULED task. A DELETE supersedes every CREATE/FIND that has not started;
    /// one already in flight finishes first and the DELETE then removes what it made.
    pub fn admit(&mut self, task: GroupTask) -> Result<Vec<Transition>, AdmitError> {
        if self.tasks.iter().any(|t| t.key == task.key) {
            return Err(AdmitError::Duplicate(task.key));
        }
        if task.status != TaskStatus::Scheduled {
            return Err(AdmitError::NotNew(task.key));
        }
        let mut transitions = Vec::new();
        match task.action {
            Action::Create | Action::Find | Action::Adopt if self.delete_requested => {
                return Err(AdmitError::ItemDeleted {
                    kind: self.kind,
                    item: self.item,
                });
            }
            Action::Create | Action::Find | Action::Adopt => {}
            Action::Delete => {
                self.delete_requested = true;
                for t in &mut self.tasks {
                    if t.action != Action::Delete && t.status == TaskStatus::Scheduled {
                        transitions.push(move_to(
                            t,
                            TaskStatus::Superseded,
                            Some(format!("superseded by DELETE {}", task.key)),
                        ));
                    }
                }
            }
        }
        self.tasks.push(task);
        Ok(transitions)
    }

    /// The task to execute next: DELETEs first (anything they supersede is already settled),
    /// then CREATE/FIND in admission order; nothing while a call is in flight.
    pub fn next(&self) -> Next {
        if let Some(t) = self.tasks.iter().find(|t| t.status == TaskStatus::Build) {
            return Next::Busy(t.key);
        }
        let scheduled = |action: fn(Action) -> bool| {
            self.tasks
                .iter()
                .find(|t| t.status == TaskStatus::Scheduled && action(t.action))
        };
        scheduled(|a| a == Action::Delete)
            .or_else(|| scheduled(|a| a != Action::Delete))
            .map_or(Next::Idle, |t| Next::Candidate(t.key))
    }

    /// Starts a SCHEDULED task (normally the one [`next`](Self::next) named).
    pub fn start(&mut self, key: TaskKey) -> Result<Start, AdmitError> {
        if let Next::Busy(busy) = self.next() {
            return Err(AdmitError::WrongStatus {
                key: busy,
                status: TaskStatus::Build,
                expected: TaskStatus::Scheduled,
            });
        }
        let task = self.task(key).ok_or(AdmitError::UnknownTask(key))?.clone();
        if task.status != TaskStatus::Scheduled {
            return Err(AdmitError::WrongStatus {
                key,
                status: task.status,
                expected: TaskStatus::Scheduled,
            });
        }
        match task.action {
            Action::Delete => {
                // Whatever the DELETE does, the element's life is over: stop polling it.
                let mut transitions: Vec<Transition> = self
                    .tasks
                    .iter_mut()
                    .filter(|t| t.action != Action::Delete && t.status == TaskStatus::Done)
                    .map(|t| move_to(t, TaskStatus::Finished, None))
                    .collect();
                let owned = self.owned.clone();
                if owned.is_none() {
                    self.vim_id = None;
                }
                let this = self.task_mut(key)?;
                match owned {
                    Some(owned) => {
                        transitions.push(move_to(this, TaskStatus::Build, None));
                        Ok(Start::Call {
                            call: VimCall::Delete(owned),
                            transitions,
                        })
                    }
                    None => {
                        // Only found, never created, never started, or already deleted: the VIM
                        // is left alone (spec §1.8) and a second DELETE is a no-op (BUG-6).
                        transitions.push(move_to(
                            this,
                            TaskStatus::Superseded,
                            Some("nothing created by rovim to delete".to_owned()),
                        ));
                        Ok(Start::Settled(transitions))
                    }
                }
            }
            Action::Create | Action::Find | Action::Adopt => {
                let adopt = self.vim_id.is_some();
                let this = self.task_mut(key)?;
                if adopt {
                    // Another task of this element already created or found it.
                    return Ok(Start::Settled(vec![move_to(this, TaskStatus::Done, None)]));
                }
                let call = match (this.action, this.find_then_create) {
                    (Action::Adopt, _) => VimCall::Adopt,
                    (Action::Find, _) => VimCall::Find,
                    (_, true) => VimCall::FindThenCreate,
                    _ => VimCall::Create,
                };
                Ok(Start::Call {
                    call,
                    transitions: vec![move_to(this, TaskStatus::Build, None)],
                })
            }
        }
    }

    /// The call to make again for the task a restart found in BUILD, if any: the same call its
    /// start made (the call runner looks the token up first, so nothing is made twice). A
    /// DELETE deletes what the group owns now (nothing, if what it was to delete is gone).
    pub fn resume(&self) -> Option<(TaskKey, VimCall)> {
        let Next::Busy(key) = self.next() else {
            return None;
        };
        let task = self.task(key)?;
        let call = match (task.action, task.find_then_create) {
            (Action::Delete, _) => VimCall::Delete(self.owned.clone().unwrap_or_default()),
            (Action::Find, _) => VimCall::Find,
            (Action::Adopt, _) => VimCall::Adopt,
            (Action::Create, true) => VimCall::FindThenCreate,
            (Action::Create, false) => VimCall::Create,
        };
        Some((key, call))
    }

    /// Settles a SCHEDULED task without a VIM call (a failed dependency, a bad reference).
    pub fn fail_scheduled(
        &mut self,
        key: TaskKey,
        error: String,
    ) -> Result<Transition, AdmitError> {
        let t = self.task_mut(key)?;
        if t.status != TaskStatus::Scheduled {
            return Err(AdmitError::WrongStatus {
                key,
                status: t.status,
                expected: TaskStatus::Scheduled,
            });
        }
        Ok(move_to(t, TaskStatus::Failed, Some(error)))
    }

    /// Applies the VIM's answer to the task in flight.
    pub fn finish(
        &mut self,
        key: TaskKey,
        outcome: Outcome,
    ) -> Result<Vec<Transition>, AdmitError> {
        let t = self.task(key).ok_or(AdmitError::UnknownTask(key))?;
        if t.status != TaskStatus::Build {
            return Err(AdmitError::WrongStatus {
                key,
                status: t.status,
                expected: TaskStatus::Build,
            });
        }
        let action = t.action;
        let (to, message) = match (action, outcome) {
            (Action::Delete, Outcome::Deleted) => {
                self.owned = None;
                self.vim_id = None;
                (TaskStatus::Finished, None)
            }
            (Action::Delete, Outcome::Failed { error, .. }) => (TaskStatus::Failed, Some(error)),
            (_, Outcome::Found { vim_id }) => {
                self.vim_id = Some(vim_id);
                (TaskStatus::Done, None)
            }
            (_, Outcome::Created(owned)) => {
                self.vim_id = owned.vim_id.clone();
                self.owned = Owned::merge(self.owned.take(), Some(owned));
                (TaskStatus::Done, None)
            }
            (_, Outcome::Failed { error, leftover }) => {
                self.owned = Owned::merge(self.owned.take(), leftover);
                (TaskStatus::Failed, Some(error))
            }
            (_, Outcome::Deleted) => (
                TaskStatus::Failed,
                Some(format!(
                    "internal: a {action} task cannot end with a delete"
                )),
            ),
        };
        let t = self.task_mut(key)?;
        Ok(vec![move_to(t, to, message)])
    }

    /// Tasks whose element is polled (CREATE/FIND in DONE).
    pub fn live_tasks(&self) -> impl Iterator<Item = &GroupTask> {
        self.tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Done && t.action != Action::Delete)
    }

    /// No task left to execute and none in flight.
    pub fn is_quiet(&self) -> bool {
        self.tasks.iter().all(|t| !t.status.is_open())
    }
}

fn move_to(task: &mut GroupTask, to: TaskStatus, message: Option<String>) -> Transition {
    debug_assert!(task.status.can_become(to), "{} -> {to}", task.status);
    let from = task.status;
    task.status = to;
    Transition {
        key: task.key,
        from,
        to,
        message,
    }
}

#[cfg(test)]
mod tests;
