//! The invariant checker every test runs after every step (feature `test-support`): what must
//! hold of the database at any moment, and of the database against a VIM's inventory once the
//! work on that VIM has settled.
//!
//! Always (any moment, even mid-run or right after a kill -9):
//! - per action, `number_done + number_failed ≤ number_tasks`, and each counter equals the
//!   number of its tasks settled into it (so no task is counted twice or lost);
//! - an action reads DONE or FAILED only when none of its tasks is open.
//!
//! Once settled, against the VIM's elements that carry a rovim token:
//! - each item has at most one VIM element (no twin);
//! - each live item's VIM id exists on the VIM;
//! - no element carries a token of no task, or of an item that is not live (no leak).

use std::collections::HashMap;

use diesel::prelude::*;
use rovim_core::{Counter, ItemStatus, TaskStatus};

use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::{actions, nets, tasks, vms};

/// The tokens rovim writes on what it creates start with this.
pub const TOKEN_PREFIX: &str = "rovim-";

/// One element a VIM holds, as its inventory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VimElement {
    /// `net`, `vm` or `port`.
    pub kind: String,
    pub vim_id: String,
    /// The idempotency token it carries (ports carry their VM's), if any.
    pub token: Option<String>,
}

/// A broken invariant, in words a failing test can print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The invariants that hold at every moment, over the whole database.
pub fn check_counters(conn: &mut AnyConnection) -> Result<Vec<Violation>, StoreError> {
    let rows: Vec<(String, i32, i32, i32)> = actions::table
        .select((
            actions::id,
            actions::number_tasks,
            actions::number_done,
            actions::number_failed,
        ))
        .load(conn)?;
    let statuses: Vec<(String, String)> = tasks::table
        .select((tasks::action_id, tasks::status))
        .load(conn)?;
    #[derive(Default)]
    struct Seen {
        tasks: i32,
        done: i32,
        failed: i32,
        open: i32,
    }
    let mut seen: HashMap<String, Seen> = HashMap::new();
    for (action, status) in statuses {
        let status: TaskStatus = status
            .parse()
            .map_err(|e| StoreError::corrupt("tasks", "status", e))?;
        let s = seen.entry(action).or_default();
        s.tasks += 1;
        match status.counted_as() {
            Some(Counter::Done) => s.done += 1,
            Some(Counter::Failed) => s.failed += 1,
            None => s.open += 1,
        }
    }
    let mut out = Vec::new();
    for (id, number_tasks, done, failed) in rows {
        let s = seen.remove(&id).unwrap_or_default();
        if done + failed > number_tasks {
            out.push(Violation(format!(
                "action {id}: done {done} + failed {failed} > {number_tasks} tasks"
            )));
        }
        if (done, failed) != (s.done, s.failed) {
            out.push(Violation(format!(
                "action {id}: counters say {done} done / {failed} failed, its tasks {} / {}",
                s.done, s.failed
            )));
        }
        if s.tasks != number_tasks {
            out.push(Violation(format!(
                "action {id}: number_tasks {number_tasks}, {} stored",
                s.tasks
            )));
        }
        if done + failed >= number_tasks && s.open > 0 {
            out.push(Violation(format!(
                "action {id}: reads settled while {} task(s) are open",
                s.open
            )));
        }
    }
    Ok(out)
}

/// The invariants between the database and one VIM account's inventory, once its work has
/// settled; includes [`check_counters`].
pub fn check_against_vim(
    conn: &mut AnyConnection,
    vim_account: &str,
    inventory: &[VimElement],
) -> Result<Vec<Violation>, StoreError> {
    let mut out = check_counters(conn)?;
    // token -> (item kind, item id)
    let tokens: HashMap<String, (String, String)> = tasks::table
        .filter(tasks::vim_account_id.eq(vim_account))
        .select((tasks::idempotency_token, tasks::item_kind, tasks::item_id))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(t, k, i)| (t, (k, i)))
        .collect();
    let mut items: HashMap<(String, String), (ItemStatus, Option<String>)> = HashMap::new();
    let net_rows: Vec<(String, String, Option<String>)> = nets::table
        .filter(nets::vim_account_id.eq(vim_account))
        .select((nets::id, nets::status, nets::vim_id))
        .load(conn)?;
    let vm_rows: Vec<(String, String, Option<String>)> = vms::table
        .filter(vms::vim_account_id.eq(vim_account))
        .select((vms::id, vms::status, vms::vim_id))
        .load(conn)?;
    for (kind, rows) in [("net", net_rows), ("vm", vm_rows)] {
        for (id, status, vim_id) in rows {
            let status: ItemStatus = status
                .parse()
                .map_err(|e| StoreError::corrupt("items", "status", e))?;
            items.insert((kind.to_owned(), id), (status, vim_id));
        }
    }
    let live = |s: ItemStatus| s != ItemStatus::Deleted;

    let mut per_item: HashMap<(String, String), Vec<&str>> = HashMap::new();
    for e in inventory.iter().filter(|e| e.kind != "port") {
        let Some(token) = e.token.as_deref().filter(|t| t.starts_with(TOKEN_PREFIX)) else {
            continue;
        };
        let Some(item) = tokens.get(token) else {
            out.push(Violation(format!(
                "{} {} carries token {token} of no task (leaked)",
                e.kind, e.vim_id
            )));
            continue;
        };
        match items.get(item) {
            Some((s, Some(vim_id))) if live(*s) && vim_id == &e.vim_id => {}
            Some((s, vim_id)) => out.push(Violation(format!(
                "{} {} of item {} is not what the item holds (status {s}, vim_id {vim_id:?}): leaked",
                e.kind, e.vim_id, item.1
            ))),
            None => out.push(Violation(format!(
                "{} {} carries the token of missing item {}",
                e.kind, e.vim_id, item.1
            ))),
        }
        per_item.entry(item.clone()).or_default().push(&e.vim_id);
    }
    for (item, ids) in per_item {
        if ids.len() > 1 {
            out.push(Violation(format!(
                "{} {} has {} VIM elements (twins): {ids:?}",
                item.0,
                item.1,
                ids.len()
            )));
        }
    }
    // Ports belong to a VM that rovim knows; a port whose VM is gone was left behind.
    let vm_tokens: std::collections::HashSet<&str> = inventory
        .iter()
        .filter(|e| e.kind == "vm")
        .filter_map(|e| e.token.as_deref())
        .collect();
    for p in inventory.iter().filter(|e| e.kind == "port") {
        match p.token.as_deref() {
            Some(t) if vm_tokens.contains(t) => {}
            t => out.push(Violation(format!(
                "port {} has no VM on the VIM (token {t:?}): leaked",
                p.vim_id
            ))),
        }
    }
    let present: std::collections::HashSet<(&str, &str)> = inventory
        .iter()
        .map(|e| (e.kind.as_str(), e.vim_id.as_str()))
        .collect();
    for ((kind, id), (status, vim_id)) in &items {
        if let (true, Some(vim_id)) = (live(*status), vim_id)
            && !present.contains(&(kind.as_str(), vim_id.as_str()))
        {
            out.push(Violation(format!(
                "{kind} {id} ({status}) holds VIM id {vim_id}, absent from the VIM"
            )));
        }
    }
    Ok(out)
}
