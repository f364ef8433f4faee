//! What an orchestrator submits (an action: a list of tasks) and how it becomes rows. Every
//! reference is checked here, before anything is written: an unknown VIM account, task, item or
//! a dependency cycle is refused with the field and the reason, and nothing is stored.
//!
//! The planning is a pure function over a [`Lookup`] of what the database holds, so its rules are
//! tested without a database.

use std::collections::{BTreeSet, HashMap};

use rovim_core::{
    Action, ActionId, FindFilter, ItemId, ItemKind, NetParams, NetRef, ParamError, TaskKey,
    TaskParams, TaskShape, VimAccountId, VmParams, check_task_shape,
};
use rovim_store::{NewAction, NewInterface, NewNet, NewTask, NewVm, StoreError};
use serde::{Deserialize, Serialize};

/// The most tasks one action may hold.
pub const MAX_TASKS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    #[serde(default)]
    pub description: String,
    pub tasks: Vec<TaskRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// The VIM account, by id or by name.
    pub vim_account: String,
    /// `CREATE`, `FIND` or `DELETE`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "CREATE"))]
    pub action: Action,
    /// `net` or `vm`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "net"))]
    pub item: ItemKind,
    /// The element acted on: required for DELETE; for CREATE/FIND a new id is made when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "5b0c6f1e-2a1d-4c4e-9f1a-1d2e3f4a5b6c"))]
    pub item_id: Option<ItemId>,
    /// `NetParams` or `VmParams`, by `item`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// FIND filter; with a net CREATE it makes a FIND-then-CREATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<FindFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DepRef>,
}

/// A dependency: the index of a task of the same action, or `"<action_id>.<index>"` (also the
/// legacy `"TASK-<index>"` / `"TASK-<action_id>.<index>"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum DepRef {
    Index(u32),
    Key(String),
}

/// A refused submission: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// What the planner needs to know of the database.
pub trait Lookup {
    /// A VIM account by id or name.
    fn account(&mut self, reference: &str) -> Result<Option<VimAccountId>, StoreError>;
    /// The VIM account an existing item belongs to.
    fn item(&mut self, kind: ItemKind, id: ItemId) -> Result<Option<VimAccountId>, StoreError>;
    /// An existing task: its item and action.
    fn task(&mut self, key: TaskKey) -> Result<Option<(ItemKind, ItemId, Action)>, StoreError>;
}

/// The rows of an accepted action, and what the caller is told.
#[derive(Debug, Clone)]
pub struct Plan {
    pub action: NewAction,
}

impl Plan {
    /// `(task index, item id)` of every task, in order.
    pub fn items(&self) -> Vec<(u32, ItemKind, ItemId)> {
        self.action
            .tasks
            .iter()
            .map(|t| (t.index, t.item_kind, t.item_id))
            .collect()
    }
}

/// Checks a request against the database and turns it into rows, in named steps: its size,
/// the item and account of every task ([`targets`]), then each task ([`Planner::task`]: its
/// dependencies, who owns its element, its shape, its VM interfaces' nets, the item row it
/// adds), and last the dependency cycles. `Err` names the first bad field, or says that the
/// database could not be asked.
pub fn plan(req: &ActionRequest, db: &mut dyn Lookup) -> Result<Plan, PlanError> {
    check_size(req)?;
    let action = ActionId::generate();
    let (items, vims) = targets(req, db)?;
    let mut planner = Planner {
        ctx: Ctx {
            req,
            items: &items,
            action,
        },
        vims: &vims,
        first_of: first_of(req, &items),
        new_items: BTreeSet::new(),
        nets: Vec::new(),
        vms: Vec::new(),
    };
    let mut tasks = Vec::with_capacity(req.tasks.len());
    for i in 0..req.tasks.len() {
        tasks.push(planner.task(i, db)?);
    }
    check_cycles(action, &tasks)?;
    let Planner { nets, vms, .. } = planner;
    Ok(Plan {
        action: NewAction {
            id: action,
            description: req.description.clone(),
            tasks,
            nets,
            vms,
        },
    })
}

fn check_size(req: &ActionRequest) -> Result<(), PlanError> {
    if req.tasks.is_empty() {
        return Err(field("tasks", "must hold at least one task"));
    }
    if req.tasks.len() > MAX_TASKS {
        return Err(field(
            "tasks",
            format!("at most {MAX_TASKS} tasks per action"),
        ));
    }
    Ok(())
}

/// The item id and the VIM account of every task. Item ids come first because references
/// between tasks of this action need them; accounts are looked up once per distinct reference
/// (an action of thousands of tasks names few accounts).
fn targets(
    req: &ActionRequest,
    db: &mut dyn Lookup,
) -> Result<(Vec<ItemId>, Vec<VimAccountId>), PlanError> {
    let mut items = Vec::with_capacity(req.tasks.len());
    let mut vims = Vec::with_capacity(req.tasks.len());
    let mut accounts: HashMap<&str, Option<VimAccountId>> = HashMap::new();
    for (i, t) in req.tasks.iter().enumerate() {
        items.push(match (t.action, t.item_id) {
            (_, Some(id)) => id,
            (Action::Delete, None) => {
                return Err(field(
                    format!("tasks[{i}].item_id"),
                    "is required for DELETE",
                ));
            }
            (_, None) => ItemId::generate(),
        });
        let vim = match accounts.get(t.vim_account.as_str()) {
            Some(found) => *found,
            None => {
                let found = db.account(&t.vim_account).map_err(PlanError::Lookup)?;
                accounts.insert(t.vim_account.as_str(), found);
                found
            }
        };
        vims.push(vim.ok_or_else(|| {
            field(
                format!("tasks[{i}].vim_account"),
                format!("no VIM account '{}'", t.vim_account),
            )
        })?);
    }
    Ok((items, vims))
}

/// The index of the first task on each element of the action.
fn first_of(req: &ActionRequest, items: &[ItemId]) -> HashMap<(ItemKind, ItemId), usize> {
    let mut first = HashMap::with_capacity(items.len());
    for (i, (t, item)) in req.tasks.iter().zip(items).enumerate() {
        first.entry((t.item, *item)).or_insert(i);
    }
    first
}

/// Plans the tasks one by one, gathering the item rows the action adds.
struct Planner<'a> {
    ctx: Ctx<'a>,
    vims: &'a [VimAccountId],
    /// The first task of the action on each element.
    first_of: HashMap<(ItemKind, ItemId), usize>,
    new_items: BTreeSet<ItemId>,
    nets: Vec<NewNet>,
    vms: Vec<NewVm>,
}

impl Planner<'_> {
    fn task(&mut self, i: usize, db: &mut dyn Lookup) -> Result<NewTask, PlanError> {
        let t = &self.ctx.req.tasks[i];
        let at = |f: &str| format!("tasks[{i}].{f}");
        let (vim, item) = (self.vims[i], self.ctx.items[i]);
        let mut depends_on = self.explicit_deps(i, db)?;
        let known = self.owner(i, db)?;
        let params = task_shape(t, item, known.is_some(), &at)?;
        match &params {
            Some(TaskParams::Vm(vm)) => {
                let interfaces = self.interfaces(i, vm, db, &mut depends_on)?;
                if known.is_none() && self.new_items.insert(item) {
                    self.vms.push(NewVm {
                        id: item,
                        vim_account: vim,
                        name: vm.name.clone(),
                        interfaces,
                    });
                }
            }
            // A net row once per new net (FIND-then-CREATE and CREATE of one item share it).
            _ if t.item == ItemKind::Net && known.is_none() && self.new_items.insert(item) => {
                let net = new_net(item, vim, params.as_ref(), t.find.as_ref());
                self.nets.push(net);
            }
            // An adopted VM: named by its filter; its interfaces are the VIM's, not rows.
            _ if t.item == ItemKind::Vm
                && t.action == Action::Adopt
                && known.is_none()
                && self.new_items.insert(item) =>
            {
                let f = t.find.clone().unwrap_or_default();
                self.vms.push(NewVm {
                    id: item,
                    vim_account: vim,
                    name: f.name.or(f.id).unwrap_or_default(),
                    interfaces: Vec::new(),
                });
            }
            _ if t.item == ItemKind::Vm && known.is_none() && t.action != Action::Adopt => {
                return Err(field(at("params"), "a new VM needs its params"));
            }
            _ => {}
        }
        depends_on.sort_by_key(|k| (k.action.0, k.index));
        depends_on.dedup();
        let mut task = NewTask::new(i as u32, vim, t.item, item, t.action);
        task.params = params;
        task.find = t.find.clone();
        task.depends_on = depends_on;
        Ok(task)
    }

    /// The task's `depends_on`, each naming a task that exists.
    fn explicit_deps(&self, i: usize, db: &mut dyn Lookup) -> Result<Vec<TaskKey>, PlanError> {
        let t = &self.ctx.req.tasks[i];
        let mut deps = Vec::with_capacity(t.depends_on.len());
        for (d, dep) in t.depends_on.iter().enumerate() {
            let fld = format!("tasks[{i}].depends_on[{d}]");
            let key = resolve_dep(self.ctx.action, dep).ok_or_else(|| {
                let text = match dep {
                    DepRef::Index(n) => n.to_string(),
                    DepRef::Key(k) => k.clone(),
                };
                field(
                    &fld,
                    format!("'{text}' is neither a task index nor <action_id>.<index>"),
                )
            })?;
            self.ctx.task_ref(key, i, db).map_err(|e| e.within(&fld))?;
            deps.push(key);
        }
        Ok(deps)
    }

    /// The account of the task's element if it exists already (earlier in this action or in
    /// the database), which must be the task's own.
    fn owner(&self, i: usize, db: &mut dyn Lookup) -> Result<Option<VimAccountId>, PlanError> {
        let t = &self.ctx.req.tasks[i];
        let (vim, item) = (self.vims[i], self.ctx.items[i]);
        let known = match self.first_of.get(&(t.item, item)).filter(|j| **j < i) {
            Some(j) => Some(self.vims[*j]),
            // An id the planner made for a new item names nothing stored yet.
            None if t.item_id.is_none() => None,
            None => db.item(t.item, item).map_err(PlanError::Lookup)?,
        };
        match known {
            Some(owner) if owner != vim => Err(field(
                format!("tasks[{i}].item_id"),
                format!("{} {item} belongs to VIM account {owner}", t.item),
            )),
            _ => Ok(known),
        }
    }

    /// The rows of a VM's interfaces: each net reference checked, and a net made by a task
    /// becomes a dependency (the one place references turn into dependencies at submission).
    fn interfaces(
        &self,
        i: usize,
        vm: &VmParams,
        db: &mut dyn Lookup,
        deps: &mut Vec<TaskKey>,
    ) -> Result<Vec<NewInterface>, PlanError> {
        let mut out = Vec::with_capacity(vm.networks.len());
        for (n, iface) in vm.networks.iter().enumerate() {
            let fld = format!("tasks[{i}].params.networks[{n}].net");
            let net = match (&iface.net, iface.net.task_key(self.ctx.action)) {
                (_, Some(key)) => {
                    let (_, net_item, _) = self
                        .ctx
                        .task_ref(key, i, db)
                        .map_err(|e| e.within(&fld))
                        .and_then(|found| expect_net(found, &fld))?;
                    deps.push(key);
                    Some(net_item)
                }
                (NetRef::NetItem(id), None) => {
                    let known = self.new_items.contains(id)
                        || db
                            .item(ItemKind::Net, *id)
                            .map_err(PlanError::Lookup)?
                            .is_some();
                    if !known {
                        return Err(field(fld, format!("no net {id}")));
                    }
                    Some(*id)
                }
                _ => None,
            };
            out.push(NewInterface {
                id: ItemId::generate(),
                index: n as u32,
                net,
                iface_type: iface.iface_type,
                floating_ip: iface.floating_ip,
                port_security: iface.port_security,
            });
        }
        Ok(out)
    }
}

/// The task's shape checked ([`rovim_core::check_task_shape`]), then its params parsed (a
/// CREATE's) and its filter checked.
fn task_shape(
    t: &TaskRequest,
    item: ItemId,
    exists: bool,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<TaskParams>, PlanError> {
    check_task_shape(&TaskShape {
        action: t.action,
        item: t.item,
        item_id: item,
        has_params: t.params.is_some(),
        has_find: t.find.is_some(),
        exists,
    })
    .map_err(|e| field(at(e.field), e.reason))?;
    // The shape check saw to it that a CREATE carries params and nothing else does.
    let params = match &t.params {
        Some(raw) => Some(parse_params(t.item, raw, at)?),
        None => None,
    };
    if let Some(f) = &t.find {
        f.validate().map_err(|e| param(e, &at("find")))?;
    }
    Ok(params)
}

/// The row of a net this action adds: named by its params, or by what its filter looks for.
fn new_net(
    id: ItemId,
    vim: VimAccountId,
    params: Option<&TaskParams>,
    find: Option<&FindFilter>,
) -> NewNet {
    let (name, net_type) = match (params, find) {
        (Some(TaskParams::Net(p)), _) => (p.name.clone(), p.net_type),
        (_, Some(f)) => (
            f.name.clone().or(f.id.clone()).unwrap_or_default(),
            Default::default(),
        ),
        _ => (String::new(), Default::default()),
    };
    NewNet {
        id,
        vim_account: vim,
        name,
        net_type,
    }
}

/// Why a plan was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("cannot check the request against the database: {0}")]
    Lookup(#[from] StoreError),
}

impl PlanError {
    fn within(self, prefix: &str) -> PlanError {
        match self {
            PlanError::Field(f) if f.field.is_empty() => field(prefix, f.reason),
            other => other,
        }
    }
}

fn field(f: impl Into<String>, reason: impl Into<String>) -> PlanError {
    PlanError::Field(FieldError {
        field: f.into(),
        reason: reason.into(),
    })
}

fn param(e: ParamError, prefix: &str) -> PlanError {
    let ParamError { field: f, reason } = e;
    if f.is_empty() || prefix.ends_with(&f) {
        field(prefix, reason)
    } else {
        field(format!("{prefix}.{f}"), reason)
    }
}

fn parse_params(
    item: ItemKind,
    raw: &serde_json::Value,
    at: &dyn Fn(&str) -> String,
) -> Result<TaskParams, PlanError> {
    let bad = |e: serde_json::Error| field(at("params"), e.to_string());
    Ok(match item {
        ItemKind::Net => {
            let p: NetParams = serde_json::from_value(raw.clone()).map_err(bad)?;
            p.validate().map_err(|e| param(e, &at("params")))?;
            TaskParams::Net(p)
        }
        ItemKind::Vm => {
            let p: VmParams = serde_json::from_value(raw.clone()).map_err(bad)?;
            p.validate().map_err(|e| param(e, &at("params")))?;
            TaskParams::Vm(p)
        }
    })
}

/// The task a `depends_on` entry names; `None` when the text names no task.
fn resolve_dep(action: ActionId, dep: &DepRef) -> Option<TaskKey> {
    match dep {
        DepRef::Index(n) => Some(TaskKey::new(action, *n)),
        DepRef::Key(text) => NetRef::parse_legacy(text).ok()?.task_key(action),
    }
}

struct Ctx<'a> {
    req: &'a ActionRequest,
    items: &'a [ItemId],
    action: ActionId,
}

impl Ctx<'_> {
    /// The task `key` names, which must exist (in this action, other than `me`, or in the
    /// database): its item kind, item id and action.
    fn task_ref(
        &self,
        key: TaskKey,
        me: usize,
        db: &mut dyn Lookup,
    ) -> Result<(ItemKind, ItemId, Action), PlanError> {
        if key.action == self.action {
            let idx = key.index as usize;
            if idx == me {
                return Err(field("", "a task cannot depend on itself"));
            }
            let Some(t) = self.req.tasks.get(idx) else {
                return Err(field(
                    "",
                    format!(
                        "there is no task {idx} in this action ({} tasks)",
                        self.req.tasks.len()
                    ),
                ));
            };
            return Ok((t.item, self.items[idx], t.action));
        }
        match db.task(key).map_err(PlanError::Lookup)? {
            Some(found) => Ok(found),
            None => Err(field("", format!("no task {key}"))),
        }
    }
}

fn expect_net(
    found: (ItemKind, ItemId, Action),
    fld: &str,
) -> Result<(ItemKind, ItemId, Action), PlanError> {
    match found {
        (ItemKind::Net, _, a) if a != Action::Delete => Ok(found),
        (ItemKind::Net, _, _) => Err(field(fld, "names a DELETE task")),
        (kind, _, _) => Err(field(fld, format!("names a {kind} task, not a net"))),
    }
}

fn check_cycles(action: ActionId, tasks: &[NewTask]) -> Result<(), PlanError> {
    // Kahn's algorithm over the dependencies inside this action.
    let n = tasks.len();
    let mut indegree = vec![0usize; n];
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    for t in tasks {
        for d in t.depends_on.iter().filter(|d| d.action == action) {
            indegree[t.index as usize] += 1;
            dependents
                .entry(d.index as usize)
                .or_default()
                .push(t.index as usize);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|i| indegree[*i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = ready.pop() {
        seen += 1;
        for j in dependents.get(&i).into_iter().flatten() {
            indegree[*j] -= 1;
            if indegree[*j] == 0 {
                ready.push(*j);
            }
        }
    }
    if seen < n {
        let first = (0..n).find(|i| indegree[*i] > 0).unwrap_or(0);
        return Err(field(
            format!("tasks[{first}].depends_on"),
            "dependencies form a cycle",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
