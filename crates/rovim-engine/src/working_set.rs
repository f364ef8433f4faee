//! The working set of one VimActor, as a plain struct: element groups, the tasks in memory,
//! dependency waiters and what is known of tasks on other VIM accounts. Events go in
//! (`restore`, `admit`, `complete`, `resolved`); decisions come out through [`Outbox`]: rows to
//! write, VIM calls to make, foreign tasks to look up. No I/O and no actix here, so every rule is
//! tested directly.

use std::collections::{BTreeSet, HashMap, HashSet};

use rovim_core::{
    Action, DepState, DepView, ElementGroup, GroupTask, ItemId, ItemKind, ItemStatus, NetRef,
    NetUser, Next, Owned, Readiness, Start, TaskKey, TaskParams, TaskStatus, Teardown, Transition,
    VimCall, net_teardown, readiness,
};
use rovim_store::{ItemUpdate, TaskUpdate, WriteBatch};

use crate::calls::{CallOrder, CallResult, NetTarget};
use crate::outcome_writes::outcome_writes;
use crate::refresh::Observed;
use crate::task_entry::{ElementKey, TaskEntry, TaskSnapshot};

/// What the database says of an element when its tasks are loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemState {
    pub vim_id: Option<String>,
    pub owned: Option<Owned>,
    /// What was last stored of the element's VIM state (for refresh).
    pub observed: Option<Observed>,
}

/// Decisions to carry out, in this order: write `batch` (then tell others of `settled`), start
/// `calls`, look up `resolve`.
#[derive(Debug, Default)]
pub struct Outbox {
    pub batch: WriteBatch,
    /// Tasks that reached a final status (or DONE) in `batch`: their dependents elsewhere wait.
    pub settled: Vec<TaskSnapshot>,
    pub calls: Vec<CallOrder>,
    /// Tasks of other VIM accounts (or no longer in memory) whose state is needed.
    pub resolve: Vec<TaskKey>,
    /// Elements whose DELETE started: no longer polled.
    pub untrack: Vec<ElementKey>,
    /// Net DELETEs ready to run once the VMs still on the net are known: read them, then
    /// [`WorkingSet::net_users`].
    pub net_users: Vec<NetUsersQuery>,
    /// Net DELETEs waiting for VM DELETEs: look again after a while even if no settlement
    /// wakes them (one may have settled between the read and now).
    pub recheck: Vec<ElementKey>,
}

/// A net DELETE's question: which VMs rovim knows are still on this net?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetUsersQuery {
    pub key: TaskKey,
    pub element: ElementKey,
    pub vim_id: Option<String>,
}

#[derive(Default)]
pub struct WorkingSet {
    groups: HashMap<ElementKey, ElementGroup>,
    tasks: HashMap<TaskKey, TaskEntry>,
    /// Tasks outside this working set: `None` when no such task exists.
    foreign: HashMap<TaskKey, Option<TaskSnapshot>>,
    /// Foreign tasks asked for (and watched): not asked again.
    watched: HashSet<TaskKey>,
    /// Every task loaded by `restore` in this incarnation. The live queue may hold the same
    /// tasks (submitted while the actor booted); they are admitted once, from here, even after
    /// they settled and were pruned.
    restored: HashSet<TaskKey>,
    /// Net DELETEs whose users are being read.
    users_asked: HashSet<TaskKey>,
    /// Net DELETEs found with no VM left on their net: they may call the VIM.
    users_clear: HashSet<TaskKey>,
    /// Elements to re-examine when a task settles.
    waiters: HashMap<TaskKey, HashSet<ElementKey>>,
    dirty: BTreeSet<ElementKey>,
    /// Each VM's interface rows and their rovim nets, in order, as admitted: a create pairs
    /// them with the VIM's ports without reading them back.
    vm_interfaces: HashMap<ItemId, Vec<(ItemId, Option<ItemId>)>>,
    out: Outbox,
}

impl WorkingSet {
    pub fn new() -> WorkingSet {
        WorkingSet::default()
    }

    #[cfg(test)]
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    #[cfg(test)]
    pub fn element_count(&self) -> usize {
        self.groups.len()
    }

    /// Elements that are not in memory among `entries`: their state must be read first.
    pub fn unknown_elements(&self, entries: &[TaskEntry]) -> Vec<ElementKey> {
        let mut out: Vec<ElementKey> = entries
            .iter()
            .map(|e| e.element)
            .filter(|e| !self.groups.contains_key(e))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Rebuilds from the database on every (re)start: the unfinished tasks of the account, in
    /// creation order, and the state of their elements. Tasks that were BUILD are resumed with a
    /// token lookup first; SCHEDULED ones are admitted again in order, so a DELETE supersedes
    /// what it must even if the crash came before that was written. Takes the elements' VIM
    /// ids and what rovim owns of them out of `items`, and leaves what was observed (for the
    /// live set).
    pub fn restore(
        &mut self,
        records: Vec<TaskEntryWithStatus>,
        items: &mut HashMap<ElementKey, ItemState>,
    ) {
        let mut by_element: HashMap<ElementKey, Vec<TaskEntryWithStatus>> = HashMap::new();
        let mut order: Vec<ElementKey> = Vec::new();
        for r in records {
            if !by_element.contains_key(&r.entry.element) {
                order.push(r.entry.element);
            }
            by_element.entry(r.entry.element).or_default().push(r);
        }
        for element in order {
            let list = by_element.remove(&element).unwrap_or_default();
            let (mut vim_id, mut owned) = (None, None);
            if let Some(state) = items.get_mut(&element) {
                // Only a create still to run pairs the VIM's ports with the rows.
                if list.iter().any(|r| r.status.is_open()) {
                    self.note_interfaces(element, state);
                }
                (vim_id, owned) = (state.vim_id.take(), state.owned.take());
            }
            let started: Vec<GroupTask> = list
                .iter()
                .filter(|r| r.status != TaskStatus::Scheduled)
                .map(|r| GroupTask {
                    key: r.entry.key,
                    action: r.entry.action,
                    find_then_create: r.entry.find_then_create(),
                    status: r.status,
                })
                .collect();
            let group = ElementGroup::restore(element.0, element.1, vim_id, owned, started);
            self.groups.insert(element, group);
            for mut r in list {
                let key = r.entry.key;
                // Only an open task can also be on its way in the live queue (a settled one
                // was admitted by an earlier incarnation).
                if r.status.is_open() {
                    self.restored.insert(key);
                } else {
                    r.entry.settle();
                }
                let scheduled = r.status == TaskStatus::Scheduled;
                self.tasks.insert(key, r.entry);
                if scheduled {
                    self.admit_one(key);
                }
            }
            self.resume_build(element);
            self.dirty.insert(element);
        }
    }

    /// Takes new tasks (already stored). `items` holds the state of elements not in memory.
    pub fn admit(&mut self, entries: Vec<TaskEntry>, items: &HashMap<ElementKey, ItemState>) {
        for entry in entries {
            if self.tasks.contains_key(&entry.key) || self.restored.contains(&entry.key) {
                continue; // also loaded from the database by a concurrent (re)start
            }
            let element = entry.element;
            if !self.groups.contains_key(&element) {
                let state = items.get(&element).cloned().unwrap_or_default();
                self.note_interfaces(element, &state);
                let group = ElementGroup::restore(
                    element.0,
                    element.1,
                    state.vim_id,
                    state.owned,
                    Vec::new(),
                );
                self.groups.insert(element, group);
            }
            let key = entry.key;
            self.tasks.insert(key, entry);
            self.admit_one(key);
            self.dirty.insert(element);
        }
    }

    fn note_interfaces(&mut self, element: ElementKey, state: &ItemState) {
        if let (ItemKind::Vm, Some(observed)) = (element.0, &state.observed) {
            let rows = observed.interfaces.iter().map(|i| (i.row, i.net)).collect();
            self.vm_interfaces.insert(element.1, rows);
        }
    }

    fn admit_one(&mut self, key: TaskKey) {
        let Some(entry) = self.tasks.get(&key) else {
            return;
        };
        let element = entry.element;
        let task = GroupTask::scheduled(key, entry.action, entry.find_then_create());
        let Some(group) = self.groups.get_mut(&element) else {
            return;
        };
        match group.admit(task.clone()) {
            Ok(transitions) => self.record(element, transitions),
            Err(e) => {
                // Refused by the element's state (e.g. a CREATE after its DELETE): the task
                // still has to end, FAILED with the reason.
                group.tasks.push(task);
                if let Ok(t) = group.fail_scheduled(key, e.to_string()) {
                    self.record(element, vec![t]);
                }
            }
        }
    }

    /// Resumes the call of a task restored as BUILD.
    fn resume_build(&mut self, element: ElementKey) {
        let Some((key, call)) = self.groups.get(&element).and_then(ElementGroup::resume) else {
            return;
        };
        let order = self.order(key, call, WriteBatch::default());
        self.out.calls.push(order);
    }

    /// The result of a VIM call.
    pub fn complete(&mut self, result: CallResult) {
        let CallResult {
            key,
            element,
            outcome,
            attempts,
            report,
            interfaces,
            iface_nets: _,
            asked: _,
        } = result;
        let Some(group) = self.groups.get_mut(&element) else {
            return;
        };
        let transitions = match group.finish(key, outcome.clone()) {
            Ok(t) => t,
            Err(_) => return, // a result for a task no longer in flight (restarted meanwhile)
        };
        let is_delete = self
            .tasks
            .get(&key)
            .is_some_and(|e| e.action == Action::Delete);
        let (task, item) = outcome_writes(
            &outcome,
            report.as_ref(),
            group.owned.as_ref(),
            attempts,
            is_delete,
        );
        if let Some(entry) = self.tasks.get_mut(&key) {
            if let Some(v) = &task.vim_id {
                entry.vim_id = v.clone();
            }
            entry.recovering = false;
        }
        self.out.batch.tasks.push((key, task));
        push_item(&mut self.out.batch, element, item);
        self.out.batch.interfaces.extend(interfaces);
        self.record(element, transitions);
        self.dirty.insert(element);
    }

    /// The state of tasks asked for with [`Outbox::resolve`] (`None`: no such task).
    pub fn resolved(&mut self, answers: Vec<(TaskKey, Option<TaskSnapshot>)>) {
        for (key, snap) in answers {
            // The read may have started before the task's settlement was committed, and the
            // settlement been forwarded meanwhile ([`Self::foreign_settled`]): the settled
            // state is the newer one and must not be overwritten (a net DELETE waited forever
            // on a VM DELETE pruned from this set, about 1 `rovim demo` in 30).
            let settled = matches!(self.foreign.get(&key), Some(Some(s)) if !s.status.is_open());
            if !settled {
                self.foreign.insert(key, snap);
            }
            self.wake(key);
        }
    }

    /// A watched task elsewhere settled.
    pub fn foreign_settled(&mut self, snap: TaskSnapshot) {
        if self.tasks.contains_key(&snap.key) {
            return;
        }
        let key = snap.key;
        self.foreign.insert(key, Some(snap));
        self.wake(key);
    }

    /// Decides what runs next on every element that may have changed; returns the decisions.
    pub fn schedule(&mut self) -> Outbox {
        let mut touched = Vec::new();
        while let Some(element) = self.dirty.pop_first() {
            self.schedule_element(element);
            touched.push(element);
        }
        // Only what changed can have become quiet: no scan of every element per event.
        self.prune(touched);
        std::mem::take(&mut self.out)
    }

    fn schedule_element(&mut self, element: ElementKey) {
        loop {
            let Some(group) = self.groups.get(&element) else {
                return;
            };
            let Next::Candidate(key) = group.next() else {
                return;
            };
            let Some(entry) = self.tasks.get(&key) else {
                return;
            };
            let mut views = Vec::with_capacity(entry.deps.len());
            let mut unknown = Vec::new();
            for dep in &entry.deps {
                match self.view(*dep) {
                    Some(v) => views.push(v),
                    None => unknown.push(*dep),
                }
            }
            if !unknown.is_empty() {
                for dep in unknown {
                    self.waiters.entry(dep).or_default().insert(element);
                    if self.watched.insert(dep) {
                        self.out.resolve.push(dep);
                    }
                }
                return;
            }
            let (action, kind) = (entry.action, entry.element.0);
            match readiness(action, kind, &views) {
                Readiness::Wait(keys) => {
                    for dep in keys {
                        self.waiters.entry(dep).or_default().insert(element);
                    }
                    return;
                }
                Readiness::Failed(msg) => {
                    let Some(group) = self.groups.get_mut(&element) else {
                        return;
                    };
                    if let Ok(t) = group.fail_scheduled(key, msg.clone()) {
                        push_item(
                            &mut self.out.batch,
                            element,
                            ItemUpdate {
                                status: Some(ItemStatus::VimError),
                                error_msg: Some(Some(msg)),
                                ..ItemUpdate::default()
                            },
                        );
                        self.record(element, vec![t]);
                    }
                }
                Readiness::Ready => {
                    if self.must_ask_net_users(key, element) {
                        if self.users_asked.insert(key) {
                            let vim_id = self.groups.get(&element).and_then(|g| g.vim_id.clone());
                            self.out.net_users.push(NetUsersQuery {
                                key,
                                element,
                                vim_id,
                            });
                        }
                        return;
                    }
                    if action == Action::Delete {
                        self.out.untrack.push(element);
                    }
                    let Some(group) = self.groups.get_mut(&element) else {
                        return;
                    };
                    match group.start(key) {
                        Ok(Start::Settled(transitions)) => {
                            let vim_id = group.vim_id.clone();
                            self.settle_without_call(element, key, vim_id);
                            self.record(element, transitions);
                        }
                        Ok(Start::Call { call, transitions }) => {
                            let mut before = WriteBatch::default();
                            transitions_into(&mut before, &transitions);
                            let order = self.order(key, call, before);
                            self.out.calls.push(order);
                            return;
                        }
                        Err(_) => return,
                    }
                }
            }
        }
    }

    /// A DELETE of a net rovim created runs only once no VM is left on the net.
    fn must_ask_net_users(&self, key: TaskKey, element: ElementKey) -> bool {
        element.0 == ItemKind::Net
            && self
                .tasks
                .get(&key)
                .is_some_and(|e| e.action == Action::Delete)
            && !self.users_clear.contains(&key)
            && self.groups.get(&element).is_some_and(|g| g.owned.is_some())
    }

    /// The VMs still on the net of a DELETE that asked ([`Outbox::net_users`]).
    pub fn net_users(&mut self, query: &NetUsersQuery, users: &[NetUser]) {
        let NetUsersQuery { key, element, .. } = *query;
        self.users_asked.remove(&key);
        match net_teardown(users) {
            Teardown::Clear => {
                self.users_clear.insert(key);
                self.dirty.insert(element);
            }
            Teardown::WaitFor(deletes) => {
                for d in deletes {
                    self.waiters.entry(d).or_default().insert(element);
                }
                self.out.recheck.push(element);
            }
            Teardown::Blocked(msg) => {
                let Some(group) = self.groups.get_mut(&element) else {
                    return;
                };
                if let Ok(t) = group.fail_scheduled(key, msg) {
                    self.record(element, vec![t]);
                }
            }
        }
    }

    /// Looks again at an element (a net DELETE waiting for VM DELETEs).
    pub fn recheck(&mut self, element: ElementKey) {
        if self.groups.contains_key(&element) {
            self.dirty.insert(element);
        }
    }

    /// Rows written when a task ends without a VIM call.
    fn settle_without_call(&mut self, element: ElementKey, key: TaskKey, vim_id: Option<String>) {
        let Some(entry) = self.tasks.get_mut(&key) else {
            return;
        };
        match entry.action {
            Action::Delete => push_item(
                &mut self.out.batch,
                element,
                ItemUpdate {
                    status: Some(ItemStatus::Deleted),
                    vim_id: Some(None),
                    created: Some(false),
                    created_items: Some(Vec::new()),
                    ..ItemUpdate::default()
                },
            ),
            Action::Create | Action::Find | Action::Adopt => {
                // Adopted what another task of the element made or found.
                entry.vim_id = vim_id.clone();
                self.out.batch.tasks.push((
                    key,
                    TaskUpdate {
                        vim_id: Some(vim_id),
                        ..TaskUpdate::default()
                    },
                ));
            }
        }
    }

    fn order(&self, key: TaskKey, call: VimCall, before: WriteBatch) -> CallOrder {
        let entry = &self.tasks[&key];
        let nets = match (&call, entry.params.as_deref()) {
            (VimCall::Create, Some(TaskParams::Vm(vm))) => {
                vm.net_refs().map(|r| self.net_target(key, r)).collect()
            }
            _ => Vec::new(),
        };
        CallOrder {
            key,
            element: entry.element,
            call,
            params: entry.params.as_deref().cloned(),
            find: entry.find.as_deref().cloned(),
            token: entry.token.clone(),
            recovering: entry.recovering,
            nets,
            interfaces: self.vm_interfaces.get(&entry.element.1).cloned(),
            before,
        }
    }

    fn net_target(&self, key: TaskKey, r: &NetRef) -> NetTarget {
        let via_task = |dep: TaskKey| {
            let vim_id = match self.tasks.get(&dep) {
                Some(e) => e.vim_id.clone(),
                None => self
                    .foreign
                    .get(&dep)
                    .cloned()
                    .flatten()
                    .and_then(|s| s.vim_id),
            };
            vim_id.map_or_else(
                || NetTarget::Missing(format!("the net of task {dep} has no VIM id")),
                NetTarget::VimId,
            )
        };
        match r {
            NetRef::NetItem(id) => NetTarget::Item(*id),
            NetRef::VimNet(id) => NetTarget::VimId(id.clone()),
            by_task => by_task.task_key(key.action).map_or_else(
                || NetTarget::Missing(format!("{by_task:?} names no task")),
                via_task,
            ),
        }
    }

    fn view(&self, key: TaskKey) -> Option<DepView<'_>> {
        if let Some(entry) = self.tasks.get(&key) {
            let status = self
                .groups
                .get(&entry.element)
                .and_then(|g| g.task(key))
                .map(|t| t.status)?;
            return Some(DepView {
                key,
                found: Some(DepState {
                    action: entry.action,
                    item: entry.element.0,
                    status,
                    error: entry.error.as_deref(),
                }),
            });
        }
        match self.foreign.get(&key)? {
            None => Some(DepView { key, found: None }),
            Some(s) => Some(DepView {
                key,
                found: Some(DepState {
                    action: s.action,
                    item: s.item,
                    status: s.status,
                    error: s.error.as_deref(),
                }),
            }),
        }
    }

    /// Writes transitions and counters, remembers errors, and wakes dependents of tasks that
    /// settled.
    fn record(&mut self, element: ElementKey, transitions: Vec<Transition>) {
        transitions_into(&mut self.out.batch, &transitions);
        for t in transitions {
            let Some(entry) = self.tasks.get_mut(&t.key) else {
                continue;
            };
            if t.message.is_some() && t.to == TaskStatus::Failed {
                entry.error = t.message.clone();
            }
            if !t.to.is_open() {
                entry.settle();
                self.out.settled.push(TaskSnapshot {
                    key: t.key,
                    action: entry.action,
                    item: entry.element.0,
                    item_id: entry.element.1,
                    status: t.to,
                    error: entry.error.clone(),
                    vim_id: entry.vim_id.clone(),
                });
                self.wake(t.key);
            }
        }
        self.dirty.insert(element);
    }

    fn wake(&mut self, key: TaskKey) {
        if let Some(elements) = self.waiters.remove(&key) {
            self.dirty.extend(elements);
        }
    }

    /// Forgets elements with nothing left to do and nothing to poll: their history is in the
    /// database, and dependents that arrive later read it from there.
    fn prune(&mut self, candidates: Vec<ElementKey>) {
        for element in candidates {
            let quiet = self
                .groups
                .get(&element)
                .is_some_and(|g| g.is_quiet() && g.live_tasks().next().is_none());
            if !quiet {
                continue;
            }
            if let Some(g) = self.groups.remove(&element) {
                self.vm_interfaces.remove(&element.1);
                for t in g.tasks {
                    self.tasks.remove(&t.key);
                    self.users_clear.remove(&t.key);
                }
            }
        }
    }

    /// The VIM id of a live element (one with a DONE CREATE/FIND): what a refresh asks about.
    pub fn live_vim_id(&self, element: ElementKey) -> Option<String> {
        let g = self.groups.get(&element)?;
        g.live_tasks().next()?;
        g.vim_id.clone()
    }

    /// Live elements (DONE CREATE/FIND) by kind and VIM id, for refresh.
    pub fn live_elements(&self) -> Vec<(ElementKey, String)> {
        self.groups
            .iter()
            .filter(|(_, g)| g.live_tasks().next().is_some())
            .filter_map(|(k, g)| g.vim_id.clone().map(|v| (*k, v)))
            .collect()
    }
}

/// A task loaded from the database with its stored status.
#[derive(Debug, Clone)]
pub struct TaskEntryWithStatus {
    pub entry: TaskEntry,
    pub status: TaskStatus,
}

fn transitions_into(batch: &mut WriteBatch, transitions: &[Transition]) {
    for t in transitions {
        batch.tasks.push((
            t.key,
            TaskUpdate {
                status: Some(t.to),
                error_msg: t.message.clone().map(Some),
                ..TaskUpdate::default()
            },
        ));
    }
}

fn push_item(batch: &mut WriteBatch, element: ElementKey, update: ItemUpdate) {
    match element.0 {
        ItemKind::Net => batch.nets.push((element.1, update)),
        ItemKind::Vm => batch.vms.push((element.1, update)),
    }
}

#[cfg(test)]
mod snapshots;
#[cfg(test)]
mod tests;
