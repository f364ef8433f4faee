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

/// What the database says of a token: its state, and the element its item records (the
/// net's or VM's `vim_id`), which tells a twin from the owned element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub state: TokenState,
    pub item_vim_id: Option<String>,
}

/// The owner of each of `tokens` (a token no task carries is [`TokenState::Unknown`]).
pub fn token_states(
    conn: &mut AnyConnection,
    tokens: &[String],
) -> Result<HashMap<String, TokenOwner>, StoreError> {
    let deleted = ItemStatus::Deleted.as_str();
    let unknown = TokenOwner {
        state: TokenState::Unknown,
        item_vim_id: None,
    };
    let mut out: HashMap<String, TokenOwner> = tokens
        .iter()
        .map(|t| (t.clone(), unknown.clone()))
        .collect();
    for chunk in tokens.chunks(CHUNK) {
        let carried: Vec<(String, String)> = tasks::table
            .filter(tasks::idempotency_token.eq_any(chunk))
            .select((tasks::idempotency_token, tasks::item_id))
            .load(conn)?;
        let items: Vec<&String> = carried.iter().map(|(_, item)| item).collect();
        let mut status: HashMap<String, (String, Option<String>)> = nets::table
            .filter(nets::id.eq_any(&items))
            .select((nets::id, nets::status, nets::vim_id))
            .load::<(String, String, Option<String>)>(conn)?
            .into_iter()
            .map(|(id, s, v)| (id, (s, v)))
            .collect();
        status.extend(
            vms::table
                .filter(vms::id.eq_any(&items))
                .select((vms::id, vms::status, vms::vim_id))
                .load::<(String, String, Option<String>)>(conn)?
                .into_iter()
                .map(|(id, s, v)| (id, (s, v))),
        );
        for (token, item) in carried {
            let owner = match status.get(&item) {
                None => TokenOwner {
                    state: TokenState::ItemGone,
                    item_vim_id: None,
                },
                Some((s, vim_id)) => TokenOwner {
                    state: if s == deleted {
                        TokenState::ItemDeleted
                    } else {
                        TokenState::Live
                    },
                    item_vim_id: vim_id.clone(),
                },
            };
            out.insert(token, owner);
        }
    }
    Ok(out)
}
