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
/// An instance's own events (the engine's event stream), relayed after their commit:
/// payload `"<instance> [<event JSON>,…]"` (as many as fit).
pub const EVENTS: &str = "rovim_events";

/// PostgreSQL refuses payloads of 8,000 bytes and more.
const MAX_PAYLOAD: usize = 7_000;

/// Subscribes the connection to every channel (PostgreSQL; nothing on SQLite).
pub fn listen(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(_) = conn {
        for channel in [WORK, SETTLED, LEASES, ACCOUNTS, EVENTS] {
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

/// Relays `events` (each one JSON value) from instance `me` to the others, in as few
/// notifications as fit (PostgreSQL; nothing on SQLite). An event too large for one
/// notification alone is not sent; returns how many were not.
pub fn relay_events(
    conn: &mut AnyConnection,
    me: &str,
    events: &[String],
) -> Result<usize, StoreError> {
    let (payloads, too_large) = payloads(&format!("{me} ["), events, "]");
    for p in payloads {
        send(conn, EVENTS, &p)?;
    }
    Ok(too_large)
}

/// `items` joined by commas into payloads of `head`, items, `tail`, in order, each at most
/// [`MAX_PAYLOAD`] bytes; an item too large for a payload alone is left out (and counted).
fn payloads(head: &str, items: &[String], tail: &str) -> (Vec<String>, usize) {
    let room = MAX_PAYLOAD.saturating_sub(head.len() + tail.len());
    let (mut out, mut left_out, mut payload) = (Vec::new(), 0, String::new());
    for item in items {
        if item.len() > room {
            left_out += 1;
            continue;
        }
        if !payload.is_empty() && payload.len() + 1 + item.len() + tail.len() > MAX_PAYLOAD {
            payload.push_str(tail);
            out.push(std::mem::take(&mut payload));
        }
        if payload.is_empty() {
            payload.push_str(head);
        } else {
            payload.push(',');
        }
        payload.push_str(item);
    }
    if !payload.is_empty() {
        payload.push_str(tail);
        out.push(payload);
    }
    (out, left_out)
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
    for p in payloads(&format!("{me} "), &settled, "").0 {
        send(conn, SETTLED, &p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_go_in_order_into_as_few_payloads_as_fit() {
        let (one, left_out) = payloads("me [", &["1".into(), "2".into()], "]");
        assert_eq!((one, left_out), (vec!["me [1,2]".to_owned()], 0));

        let items: Vec<String> = (0..300).map(|n| format!("{n:0>99}")).collect();
        let (many, left_out) = payloads("me [", &items, "]");
        assert_eq!(left_out, 0);
        assert_eq!(
            many.len(),
            5,
            "100 bytes an item, under 7,000 bytes a payload"
        );
        assert!(
            many.iter()
                .all(|p| p.len() <= MAX_PAYLOAD && p.starts_with("me [") && p.ends_with(']'))
        );
        let back: Vec<String> = many
            .iter()
            .flat_map(|p| p["me [".len()..p.len() - 1].split(',').map(str::to_owned))
            .collect();
        assert_eq!(back, items);
    }

    #[test]
    fn an_item_too_large_for_a_payload_is_left_out_and_counted() {
        let items = vec!["a".to_owned(), "x".repeat(MAX_PAYLOAD), "b".to_owned()];
        let (out, left_out) = payloads("me ", &items, "");
        assert_eq!((out, left_out), (vec!["me a,b".to_owned()], 1));
    }
}
