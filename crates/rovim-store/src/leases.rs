//! Several instances on one database: membership, the lease of each VIM account, and the fence
//! every engine write passes.
//!
//! An instance registers a row in `instances` and, on PostgreSQL, holds a session advisory lock
//! `(LIVENESS_NS, lock_key)` on its coordination connection for as long as it lives: the lock
//! (read back from `pg_locks`) is what makes it live, so a killed instance's accounts are free
//! the moment its connection is gone, while a paused one keeps them until its lease expires.
//! On SQLite there is only ever one instance (see [`crate::instance_lock`]): every other owner
//! is dead and its leases are free at once. Times are the database's own, so the instances'
//! clocks do not matter.
//!
//! A lease's epoch grows at every change of owner. A write carries a [`Fence`] (account, owner,
//! epoch) and is committed only if the lease still reads the same in its transaction (on
//! PostgreSQL under `FOR SHARE`, so a takeover waits for it or it sees the takeover).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use rovim_core::VimAccountId;
use rovim_core::lease_plan::{LeasePlan, plan};

use crate::connection::AnyConnection;
use crate::error::{StoreError, parse_col};
use crate::schema::vim_leases;

/// The first key of every instance's liveness lock ("rovi").
pub const LIVENESS_NS: i32 = 0x726f_7669;

/// Who an instance is, as it registers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// Where its API answers (as configured to be advertised).
    pub address: String,
    pub version: String,
    /// The second key of its liveness lock (a positive `i32`).
    pub lock_key: i64,
}

/// The account's owner at the epoch a writer started with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence {
    pub vim: VimAccountId,
    pub owner: std::sync::Arc<str>,
    pub epoch: i64,
}

/// A lease held: the account and the epoch its owner writes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lease {
    pub vim: VimAccountId,
    pub epoch: i64,
}

/// What one round left this instance with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Every lease it holds now (renewed and newly claimed).
    pub held: Vec<Lease>,
    /// Those it claimed in this round.
    pub claimed: Vec<Lease>,
    /// Accounts it handed back in this round.
    pub released: Vec<VimAccountId>,
    pub live_instances: usize,
    pub accounts: usize,
}

/// An instance as `GET /v1/instances` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub id: String,
    pub address: String,
    pub version: String,
    pub started_at: NaiveDateTime,
    pub heartbeat_at: NaiveDateTime,
    pub accounts: Vec<VimAccountId>,
}

/// The SQL of the database's current time, of `secs` from now (UTC, like every stored time)
/// and of `secs` ago.
fn times(conn: &AnyConnection, secs: f64) -> (&'static str, String, String) {
    match conn {
        AnyConnection::Postgresql(_) => (
            "(now() AT TIME ZONE 'UTC')",
            format!("((now() AT TIME ZONE 'UTC') + make_interval(secs => {secs}))"),
            format!("((now() AT TIME ZONE 'UTC') - make_interval(secs => {secs}))"),
        ),
        AnyConnection::Sqlite(_) => (
            "strftime('%Y-%m-%d %H:%M:%f', 'now')",
            format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '+{secs} seconds')"),
            format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '-{secs} seconds')"),
        ),
    }
}

/// The ids of the live instances. PostgreSQL: those whose liveness lock is held in this
/// database and, with `fresh` set, whose heartbeat is younger than `fresh` (a paused instance
/// still holds its lock); SQLite: only `me` (`$1`).
fn live_sql(conn: &AnyConnection, fresh: Option<&str>) -> String {
    match conn {
        AnyConnection::Postgresql(_) => format!(
            "SELECT i.id FROM instances i WHERE EXISTS (SELECT 1 FROM pg_locks l \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid = {LIVENESS_NS}::oid AND l.objid::bigint = i.lock_key){}",
            fresh
                .map(|since| format!(" AND (i.heartbeat_at > {since} OR i.id = $1)"))
                .unwrap_or_default()
        ),
        AnyConnection::Sqlite(_) => "SELECT $1 AS id".to_owned(),
    }
}

/// Takes this instance's liveness lock (PostgreSQL; nothing on SQLite). Session-level: held until
/// the connection closes, so call it on the connection the instance keeps.
pub fn hold_liveness(conn: &mut AnyConnection, me: &Member) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(_) = conn {
        diesel::sql_query(format!(
            "SELECT pg_advisory_lock({LIVENESS_NS}, {})",
            me.lock_key
        ))
        .execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct LeaseRow {
    #[diesel(sql_type = Text)]
    vim_account_id: String,
    #[diesel(sql_type = BigInt)]
    epoch: i64,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Nullable<Text>)]
    owner: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn leases(rows: Vec<LeaseRow>) -> Result<Vec<Lease>, StoreError> {
    let mut out = rows
        .into_iter()
        .map(|r| {
            Ok(Lease {
                vim: parse_col("vim_leases", "vim_account_id", &r.vim_account_id)?,
                epoch: r.epoch,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.sort();
    Ok(out)
}

/// One round of an instance, in one transaction: heartbeat, renew what it holds, then claim or
/// hand back as [`plan`] says. `lease_secs` is how long a lease lasts unrenewed.
pub fn lease_round(
    conn: &mut AnyConnection,
    me: &Member,
    lease_secs: f64,
) -> Result<Round, StoreError> {
    conn.transaction(|c| {
        let (now, expiry, since) = times(c, lease_secs);
        diesel::sql_query(format!(
            "INSERT INTO instances (id, address, version, lock_key, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, {now}, {now}) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, \
             address = EXCLUDED.address"
        ))
        .bind::<Text, _>(&me.id)
        .bind::<Text, _>(&me.address)
        .bind::<Text, _>(&me.version)
        .bind::<BigInt, _>(me.lock_key)
        .execute(c)?;
        diesel::sql_query(
            "INSERT INTO vim_leases (vim_account_id, owner, epoch, expires_at) \
             SELECT a.id, NULL, 0, NULL FROM vim_accounts a \
             WHERE NOT EXISTS (SELECT 1 FROM vim_leases l WHERE l.vim_account_id = a.id)",
        )
        .execute(c)?;
        // Departed instances (no lock, or not this SQLite's one instance) leave the list.
        diesel::sql_query(format!(
            "DELETE FROM instances WHERE id <> $1 AND id NOT IN ({})",
            live_sql(c, None)
        ))
        .bind::<Text, _>(&me.id)
        .execute(c)?;
        let renewed = leases(
            diesel::sql_query(format!(
                "UPDATE vim_leases SET expires_at = {expiry} WHERE owner = $1 \
                 RETURNING vim_account_id, epoch"
            ))
            .bind::<Text, _>(&me.id)
            .load(c)?,
        )?;
        // Live for sharing: locked and heartbeating (a paused instance's leases expire and go).
        let live = live_sql(c, Some(&since));
        let live_ids: Vec<String> = diesel::sql_query(format!("SELECT id FROM ({live}) AS live"))
            .bind::<Text, _>(&me.id)
            .load::<IdRow>(c)?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let counts: HashMap<Option<String>, i64> =
            diesel::sql_query("SELECT owner, COUNT(*) AS n FROM vim_leases GROUP BY owner")
                .load::<CountRow>(c)?
                .into_iter()
                .map(|r| (r.owner, r.n))
                .collect();
        let accounts = counts.values().sum::<i64>() as usize;
        let others: Vec<usize> = live_ids
            .iter()
            .filter(|id| **id != me.id)
            .map(|id| counts.get(&Some(id.clone())).copied().unwrap_or(0) as usize)
            .collect();
        let LeasePlan { claim, release } = plan(accounts, renewed.len(), &others);
        let mut round = Round {
            live_instances: others.len() + 1,
            accounts,
            ..Round::default()
        };
        if claim > 0 {
            let skip_locked = match c {
                AnyConnection::Postgresql(_) => "FOR UPDATE SKIP LOCKED",
                AnyConnection::Sqlite(_) => "",
            };
            round.claimed = leases(
                diesel::sql_query(format!(
                    "UPDATE vim_leases SET owner = $1, epoch = epoch + 1, expires_at = {expiry} \
                     WHERE vim_account_id IN (SELECT vim_account_id FROM vim_leases \
                     WHERE owner IS NULL OR (owner <> $1 AND (expires_at < {now} \
                     OR owner NOT IN ({live}))) \
                     ORDER BY vim_account_id LIMIT {claim} {skip_locked}) \
                     RETURNING vim_account_id, epoch"
                ))
                .bind::<Text, _>(&me.id)
                .load(c)?,
            )?;
        }
        let mut held = renewed;
        if release > 0 {
            // The newest-numbered ones: the same choice every round, so no churn among them.
            let give: Vec<Lease> = held.split_off(held.len() - release.min(held.len()));
            let ids: Vec<String> = give.iter().map(|l| l.vim.to_string()).collect();
            diesel::update(
                vim_leases::table
                    .filter(vim_leases::vim_account_id.eq_any(&ids))
                    .filter(vim_leases::owner.eq(&me.id)),
            )
            .set((
                vim_leases::owner.eq(None::<String>),
                vim_leases::expires_at.eq(None::<NaiveDateTime>),
            ))
            .execute(c)?;
            round.released = give.into_iter().map(|l| l.vim).collect();
            crate::notify::send(c, crate::notify::LEASES, &me.id)?;
        }
        held.extend(round.claimed.iter().copied());
        held.sort();
        round.held = held;
        Ok(round)
    })
}

/// Tells the other instances that `me` joined, after its first round: they run a round at
/// once, sharing the accounts with it and relaying their events to it from then on, instead of
/// at their next renewal (`cluster.renew_secs` later).
pub fn announce(conn: &mut AnyConnection, me: &str) -> Result<(), StoreError> {
    crate::notify::send(conn, crate::notify::LEASES, me)
}

/// Hands back every lease of `me` and leaves the member list (a planned stop).
pub fn leave(conn: &mut AnyConnection, me: &str) -> Result<usize, StoreError> {
    conn.transaction(|c| {
        let n = diesel::update(vim_leases::table.filter(vim_leases::owner.eq(me)))
            .set((
                vim_leases::owner.eq(None::<String>),
                vim_leases::expires_at.eq(None::<NaiveDateTime>),
            ))
            .execute(c)?;
        diesel::delete(crate::schema::instances::table.filter(crate::schema::instances::id.eq(me)))
            .execute(c)?;
        crate::notify::send(c, crate::notify::LEASES, me)?;
        Ok(n)
    })
}

/// The fences among `fences` that the leases no longer match (another owner or epoch, or no
/// lease). Run inside the transaction of the writes they guard: the lease rows are read `FOR
/// SHARE`, so a takeover waits for that transaction or is seen by it. PostgreSQL only: SQLite
/// has one instance.
pub(crate) fn stale_fences<'a>(
    conn: &mut PgConnection,
    fences: &[&'a Fence],
) -> Result<Vec<&'a Fence>, StoreError> {
    if fences.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = fences.iter().map(|f| f.vim.to_string()).collect();
    ids.sort();
    ids.dedup();
    let rows: Vec<(String, Option<String>, i64)> = vim_leases::table
        .filter(vim_leases::vim_account_id.eq_any(ids))
        .order(vim_leases::vim_account_id)
        .select((
            vim_leases::vim_account_id,
            vim_leases::owner,
            vim_leases::epoch,
        ))
        .for_share()
        .load(conn)?;
    let now: HashMap<String, (Option<String>, i64)> =
        rows.into_iter().map(|(v, o, e)| (v, (o, e))).collect();
    Ok(fences
        .iter()
        .copied()
        .filter(|f| {
            now.get(&f.vim.to_string()).is_none_or(|(owner, epoch)| {
                owner.as_deref() != Some(&*f.owner) || *epoch != f.epoch
            })
        })
        .collect())
}

/// The live instances with the accounts each holds, oldest first.
pub fn list_instances(conn: &mut AnyConnection) -> Result<Vec<InstanceRecord>, StoreError> {
    use crate::schema::instances::dsl as i;
    let rows: Vec<(String, String, String, NaiveDateTime, NaiveDateTime)> = i::instances
        .order((i::started_at, i::id))
        .select((
            i::id,
            i::address,
            i::version,
            i::started_at,
            i::heartbeat_at,
        ))
        .load(conn)?;
    let mut by_owner: HashMap<String, Vec<VimAccountId>> = HashMap::new();
    for (vim, owner) in account_owners(conn)? {
        by_owner.entry(owner).or_default().push(vim);
    }
    Ok(rows
        .into_iter()
        .map(|(id, address, version, started_at, heartbeat_at)| {
            let mut accounts = by_owner.remove(&id).unwrap_or_default();
            accounts.sort();
            InstanceRecord {
                id,
                address,
                version,
                started_at,
                heartbeat_at,
                accounts,
            }
        })
        .collect())
}

/// The instance that holds each leased account (an account no instance holds is absent).
pub fn account_owners(
    conn: &mut AnyConnection,
) -> Result<HashMap<VimAccountId, String>, StoreError> {
    let rows: Vec<(String, Option<String>)> = vim_leases::table
        .filter(vim_leases::owner.is_not_null())
        .select((vim_leases::vim_account_id, vim_leases::owner))
        .load(conn)?;
    rows.into_iter()
        .filter_map(|(vim, owner)| Some((vim, owner?)))
        .map(|(vim, owner)| Ok((parse_col("vim_leases", "vim_account_id", &vim)?, owner)))
        .collect()
}
