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
use crate::schema::{nets, tasks, vms};

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

#[derive(QueryableByName)]
struct ActionCounts {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    number_tasks: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    number_done: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    number_failed: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    stored: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    done: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    failed: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    open: i64,
}

/// The invariants that hold at every moment, over the whole database. One statement, so one
/// snapshot on both backends while the engine keeps writing.
pub fn check_counters(conn: &mut AnyConnection) -> Result<Vec<Violation>, StoreError> {
    let count = |statuses: &[TaskStatus]| {
        let list: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
        format!(
            "(SELECT COUNT(*) FROM tasks t WHERE t.action_id = a.id AND t.status IN ({}))",
            list.join(", ")
        )
    };
    let by = |c: Option<Counter>| -> Vec<TaskStatus> {
        TaskStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.counted_as() == c)
            .collect()
    };
    let sql = format!(
        "SELECT a.id, a.number_tasks, a.number_done, a.number_failed, \
         (SELECT COUNT(*) FROM tasks t WHERE t.action_id = a.id) AS stored, \
         {} AS done, {} AS failed, {} AS open FROM actions a",
        count(&by(Some(Counter::Done))),
        count(&by(Some(Counter::Failed))),
        count(&by(None)),
    );
    let rows: Vec<ActionCounts> = diesel::sql_query(sql).load(conn)?;
    let mut out = Vec::new();
    for r in rows {
        let (id, number_tasks, done, failed) =
            (r.id, r.number_tasks, r.number_done, r.number_failed);
        if done + failed > number_tasks {
            out.push(Violation(format!(
                "action {id}: done {done} + failed {failed} > {number_tasks} tasks"
            )));
        }
        if (i64::from(done), i64::from(failed)) != (r.done, r.failed) {
            out.push(Violation(format!(
                "action {id}: counters say {done} done / {failed} failed, its tasks {} / {}",
                r.done, r.failed
            )));
        }
        if r.stored != i64::from(number_tasks) {
            out.push(Violation(format!(
                "action {id}: number_tasks {number_tasks}, {} stored",
                r.stored
            )));
        }
        if done + failed >= number_tasks && r.open > 0 {
            out.push(Violation(format!(
                "action {id}: reads settled while {} task(s) are open",
                r.open
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
