//! What the other instances must hear of a commit (PostgreSQL `NOTIFY`, sent in the committing
//! transaction, so it is delivered if and only if the commit is): work stored for accounts they
//! may run (`rovim_work`) and settled tasks others may wait on (`rovim_settled`). Payloads start
//! with the sending instance, so it can skip its own. SQLite has one instance: nothing is sent.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::connection::AnyConnection;
use crate::db_actor::DbWrite;
use crate::error::StoreError;
use crate::write_batch::Applied;

/// New tasks: payload `"<instance> <vim account> <action>"`.
pub const WORK: &str = "rovim_work";
/// Settled tasks: payload `"<instance> <task key>,<task key>,…"` (as many as fit).
pub const SETTLED: &str = "rovim_settled";
/// Leases handed back: payload `"<instance>"`; every instance runs a round at once.
pub const LEASES: &str = "rovim_leases";
/// A VIM account edited: payload `"<instance> <vim account>"`; its owner restarts its actor
/// with the new settings.
pub const ACCOUNTS: &str = "rovim_accounts";

/// PostgreSQL refuses payloads of 8,000 bytes and more.
const MAX_PAYLOAD: usize = 7_000;

/// Subscribes the connection to every channel (PostgreSQL; nothing on SQLite).
pub fn listen(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(_) = conn {
        for channel in [WORK, SETTLED, LEASES, ACCOUNTS] {
            diesel::sql_query(format!("LISTEN {channel}")).execute(conn)?;
        }
    }
    Ok(())
}

/// Sends one notification (PostgreSQL; nothing on SQLite).
pub(crate) fn send(
    conn: &mut AnyConnection,
    channel: &str,
    payload: &str,
) -> Result<(), StoreError> {
    if let AnyConnection::Sqlite(_) = conn {
        return Ok(());
    }
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(channel)
        .bind::<Text, _>(payload)
        .execute(conn)?;
    Ok(())
}

/// Sends what the committed `writes` (with their `results`) announce.
pub(crate) fn after<'a>(
    conn: &mut AnyConnection,
    instance: Option<&str>,
    writes: impl IntoIterator<Item = &'a DbWrite>,
    results: &[Result<Applied, StoreError>],
) -> Result<(), StoreError> {
    let (Some(me), AnyConnection::Postgresql(_)) = (instance, &*conn) else {
        return Ok(());
    };
    let mut settled: Vec<String> = Vec::new();
    for (write, result) in writes.into_iter().zip(results) {
        let Ok(applied) = result else { continue };
        settled.extend(applied.settled.iter().map(|(k, _)| k.to_string()));
        match write {
            DbWrite::InsertAction(a) => {
                let vims: BTreeSet<_> = a.tasks.iter().map(|t| t.vim_account).collect();
                for vim in vims {
                    send(conn, WORK, &format!("{me} {vim} {}", a.id))?;
                }
            }
            DbWrite::UpdateVimAccount(vim, _) => send(conn, ACCOUNTS, &format!("{me} {vim}"))?,
            _ => {}
        }
    }
    let mut payload = String::new();
    for key in settled {
        if !payload.is_empty() && payload.len() + key.len() + 1 > MAX_PAYLOAD {
            send(conn, SETTLED, &payload)?;
            payload.clear();
        }
        if payload.is_empty() {
            payload.push_str(me);
            payload.push(' ');
        } else {
            payload.push(',');
        }
        payload.push_str(&key);
    }
    if !payload.is_empty() {
        send(conn, SETTLED, &payload)?;
    }
    Ok(())
}
