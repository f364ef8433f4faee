//! Dependency readiness: a task runs when everything it depends on has finished well, waits
//! while a dependency is still open (it is woken, not polled), and fails, naming the dependency,
//! when one ended badly.

use crate::ids::TaskKey;
use crate::task::{Action, ItemKind, TaskStatus};

/// What the engine knows of one dependency of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepView<'a> {
    pub key: TaskKey,
    /// `None` when no such task exists.
    pub found: Option<DepState<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepState<'a> {
    pub action: Action,
    pub item: ItemKind,
    pub status: TaskStatus,
    pub error: Option<&'a str>,
}

/// Whether a task may run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Some dependency is still open; re-check when it finishes.
    Wait(Vec<TaskKey>),
    /// A dependency ended badly: the task fails with this message.
    Failed(String),
}

/// Readiness of `task` (doing `action` on `item`) given its dependencies.
/// A CREATE/FIND dependency must be DONE (its element exists); a DELETE dependency must have
/// ended (FINISHED or SUPERSEDED: the element is gone either way).
pub fn readiness(action: Action, item: ItemKind, deps: &[DepView<'_>]) -> Readiness {
    let what = format!("{} {}", action.as_str().to_lowercase(), item);
    let mut waiting = Vec::new();
    for dep in deps {
        let Some(state) = &dep.found else {
            return Readiness::Failed(format!(
                "Cannot {what}: depends on task {} which does not exist",
                dep.key
            ));
        };
        let ok = match state.action {
            Action::Delete => matches!(state.status, TaskStatus::Finished | TaskStatus::Superseded),
            Action::Create | Action::Find | Action::Adopt => state.status == TaskStatus::Done,
        };
        if ok {
            continue;
        }
        match state.status {
            TaskStatus::Scheduled | TaskStatus::Build => waiting.push(dep.key),
            TaskStatus::Failed => {
                return Readiness::Failed(format!(
                    "Cannot {what}: depends on failed task {} ({} {}): {}",
                    dep.key,
                    state.action,
                    state.item,
                    state.error.unwrap_or("no error message")
                ));
            }
            TaskStatus::Superseded | TaskStatus::Finished | TaskStatus::Done => {
                return Readiness::Failed(format!(
                    "Cannot {what}: depends on task {} ({} {}) whose element was deleted",
                    dep.key, state.action, state.item
                ));
            }
        }
    }
    if waiting.is_empty() {
        Readiness::Ready
    } else {
        Readiness::Wait(waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ActionId;

    fn dep(i: u32, action: Action, status: TaskStatus, error: Option<&str>) -> DepView<'_> {
        DepView {
            key: TaskKey::new(ActionId::generate(), i),
            found: Some(DepState {
                action,
                item: ItemKind::Net,
                status,
                error,
            }),
        }
    }

    #[test]
    fn no_dependencies_is_ready() {
        assert_eq!(
            readiness(Action::Create, ItemKind::Vm, &[]),
            Readiness::Ready
        );
    }

    #[test]
    fn done_nets_make_a_vm_ready() {
        let deps = [
            dep(0, Action::Create, TaskStatus::Done, None),
            dep(1, Action::Find, TaskStatus::Done, None),
        ];
        assert_eq!(
            readiness(Action::Create, ItemKind::Vm, &deps),
            Readiness::Ready
        );
    }

    #[test]
    fn open_dependencies_wait_and_are_listed() {
        let deps = [
            dep(0, Action::Create, TaskStatus::Done, None),
            dep(1, Action::Create, TaskStatus::Scheduled, None),
            dep(2, Action::Create, TaskStatus::Build, None),
        ];
        let Readiness::Wait(keys) = readiness(Action::Create, ItemKind::Vm, &deps) else {
            panic!()
        };
        assert_eq!(keys, vec![deps[1].key, deps[2].key]);
    }

    #[test]
    fn a_failed_dependency_fails_the_task_naming_it_and_its_error() {
        let deps = [dep(
            3,
            Action::Create,
            TaskStatus::Failed,
            Some("quota exceeded"),
        )];
        let Readiness::Failed(msg) = readiness(Action::Create, ItemKind::Vm, &deps) else {
            panic!()
        };
        assert!(msg.contains(&deps[0].key.to_string()), "{msg}");
        assert!(msg.contains("quota exceeded"), "{msg}");
        assert!(msg.starts_with("Cannot create vm"), "{msg}");
    }

    #[test]
    fn failure_wins_over_waiting() {
        let deps = [
            dep(0, Action::Create, TaskStatus::Scheduled, None),
            dep(1, Action::Create, TaskStatus::Failed, Some("x")),
        ];
        assert!(matches!(
            readiness(Action::Create, ItemKind::Vm, &deps),
            Readiness::Failed(_)
        ));
    }

    #[test]
    fn a_deleted_or_missing_dependency_fails() {
        let deps = [dep(0, Action::Create, TaskStatus::Superseded, None)];
        assert!(matches!(
            readiness(Action::Create, ItemKind::Vm, &deps),
            Readiness::Failed(_)
        ));
        let missing = [DepView {
            key: TaskKey::new(ActionId::generate(), 9),
            found: None,
        }];
        let Readiness::Failed(msg) = readiness(Action::Create, ItemKind::Vm, &missing) else {
            panic!()
        };
        assert!(msg.contains("does not exist"));
    }

    #[test]
    fn a_finished_delete_is_a_satisfied_dependency() {
        let deps = [
            dep(0, Action::Delete, TaskStatus::Finished, None),
            dep(1, Action::Delete, TaskStatus::Superseded, None),
        ];
        assert_eq!(
            readiness(Action::Create, ItemKind::Vm, &deps),
            Readiness::Ready
        );
    }
}
