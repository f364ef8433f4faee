//! What the sweeper asks of the database: the installation's id, and what each token an
//! element carries says of its owner.

use std::collections::HashMap;

use diesel::prelude::*;
use rovim_core::{ItemStatus, TokenState};

use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::{installation, nets, tasks, vms};

/// How many tokens one query looks up (well under both backends' bind limits).
const CHUNK: usize = 500;

/// The installation's id, made at the first migrate.
pub fn installation_id(conn: &mut AnyConnection) -> Result<String, StoreError> {
    Ok(installation::table
        .select(installation::id)
        .order(installation::created_at)
        .first(conn)?)
}

/// The state of each of `tokens` (a token no task carries is [`TokenState::Unknown`]).
pub fn token_states(
    conn: &mut AnyConnection,
    tokens: &[String],
) -> Result<HashMap<String, TokenState>, StoreError> {
    let deleted = ItemStatus::Deleted.as_str();
    let mut out: HashMap<String, TokenState> = tokens
        .iter()
        .map(|t| (t.clone(), TokenState::Unknown))
        .collect();
    for chunk in tokens.chunks(CHUNK) {
        let carried: Vec<(String, String)> = tasks::table
            .filter(tasks::idempotency_token.eq_any(chunk))
            .select((tasks::idempotency_token, tasks::item_id))
            .load(conn)?;
        let items: Vec<&String> = carried.iter().map(|(_, item)| item).collect();
        let mut status: HashMap<String, String> = nets::table
            .filter(nets::id.eq_any(&items))
            .select((nets::id, nets::status))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        status.extend(
            vms::table
                .filter(vms::id.eq_any(&items))
                .select((vms::id, vms::status))
                .load::<(String, String)>(conn)?,
        );
        for (token, item) in carried {
            let state = match status.get(&item) {
                None => TokenState::ItemGone,
                Some(s) if s == deleted => TokenState::ItemDeleted,
                Some(_) => TokenState::Live,
            };
            out.insert(token, state);
        }
    }
    Ok(out)
}
