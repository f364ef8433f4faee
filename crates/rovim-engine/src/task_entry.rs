//! A task as a VimActor holds it in memory, and what other tasks see of it.

use rovim_core::{
    Action, ActionId, FindFilter, ItemId, ItemKind, TaskKey, TaskParams, TaskStatus, VimAccountId,
};
use rovim_store::{NewTask, TaskRecord};

/// An element of a VIM account: a net or a VM, by rovim's item id.
pub type ElementKey = (ItemKind, ItemId);

#[derive(Debug, Clone, PartialEq)]
pub struct TaskEntry {
    pub key: TaskKey,
    pub vim: VimAccountId,
    pub element: ElementKey,
    pub action: Action,
    /// Boxed: a settled task drops them, and a live element's settled task is most of what
    /// stays in memory (hundreds of bytes less per element).
    pub params: Option<Box<TaskParams>>,
    pub find: Option<Box<FindFilter>>,
    /// The explicit dependencies plus the tasks whose nets the VM's interfaces use.
    pub deps: Vec<TaskKey>,
    pub token: String,
    /// An earlier run persisted this task as BUILD: the VIM may hold what it created.
    pub recovering: bool,
    pub vim_id: Option<String>,
    pub error: Option<String>,
}

impl TaskEntry {
    /// Drops what only an open task needs (its params, filter, dependencies, token): a settled
    /// task stays in memory as long as its element is live, for the tasks that depend on it,
    /// which read its action, element, VIM id and error only.
    pub fn settle(&mut self) {
        self.params = None;
        self.find = None;
        self.deps = Vec::new();
        self.token = String::new();
    }

    pub fn from_record(r: TaskRecord) -> TaskEntry {
        TaskEntry {
            key: r.key,
            vim: r.vim_account,
            element: (r.item_kind, r.item_id),
            action: r.action,
            deps: all_deps(r.key.action, &r.depends_on, r.params.as_ref()),
            params: r.params.map(Box::new),
            find: r.find.map(Box::new),
            token: r.idempotency_token,
            recovering: r.status == TaskStatus::Build,
            vim_id: r.vim_id,
            error: r.error_msg,
        }
    }

    pub fn from_new(action: ActionId, t: &NewTask) -> TaskEntry {
        let key = TaskKey::new(action, t.index);
        TaskEntry {
            key,
            vim: t.vim_account,
            element: (t.item_kind, t.item_id),
            action: t.action,
            deps: all_deps(action, &t.depends_on, t.params.as_ref()),
            params: t.params.clone().map(Box::new),
            find: t.find.clone().map(Box::new),
            token: t.idempotency_token.clone(),
            recovering: false,
            vim_id: None,
            error: None,
        }
    }

    /// A CREATE that looks for an existing net first.
    pub fn find_then_create(&self) -> bool {
        self.action == Action::Create && self.find.is_some()
    }
}

fn all_deps(action: ActionId, explicit: &[TaskKey], params: Option<&TaskParams>) -> Vec<TaskKey> {
    let mut deps = explicit.to_vec();
    if let Some(TaskParams::Vm(vm)) = params {
        deps.extend(vm.net_refs().filter_map(|r| r.task_key(action)));
    }
    let mut seen = std::collections::HashSet::new();
    deps.retain(|k| seen.insert(*k));
    deps
}

/// What a dependent task needs to know of a task, wherever it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub key: TaskKey,
    pub action: Action,
    pub item: ItemKind,
    pub item_id: ItemId,
    pub status: TaskStatus,
    pub error: Option<String>,
    pub vim_id: Option<String>,
}

impl TaskSnapshot {
    pub fn of_record(r: &TaskRecord) -> TaskSnapshot {
        TaskSnapshot {
            key: r.key,
            action: r.action,
            item: r.item_kind,
            item_id: r.item_id,
            status: r.status,
            error: r.error_msg.clone(),
            vim_id: r.vim_id.clone(),
        }
    }
}
