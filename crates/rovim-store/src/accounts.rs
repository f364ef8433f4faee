//! VIM accounts and SDN controllers: their rows, and the queries on them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rovim_core::{AccountStatus, SdnControllerId, VimAccountId, VimType};

use crate::connection::AnyConnection;
use crate::error::{StoreError, json_col, parse_col};
use crate::schema::{sdn_controllers, vim_accounts};
use crate::store::now;

/// A credential: in clear (as given, or read from a database without a key) or sealed (as
/// stored when a key is configured, see [`crate::sealing`]). Its `Debug` shows nothing, so it
/// cannot leak through a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Held);

#[derive(Clone, PartialEq, Eq)]
enum Held {
    Clear(String),
    Sealed(String),
}

/// A sealed secret was used where its clear text is needed: it was not opened with the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the secret is sealed and was not opened (no key or the wrong key)")]
pub struct StillSealed;

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Held::Clear(s.into()))
    }

    /// A value as the database holds it.
    pub(crate) fn from_column(text: String) -> Self {
        if crate::sealing::is_sealed(&text) {
            Secret(Held::Sealed(text))
        } else {
            Secret(Held::Clear(text))
        }
    }

    /// The value to store.
    pub(crate) fn column(&self) -> String {
        match &self.0 {
            Held::Clear(t) | Held::Sealed(t) => t.clone(),
        }
    }

    /// The stored form of a sealed secret.
    pub(crate) fn sealed_text(&self) -> Option<&str> {
        match &self.0 {
            Held::Sealed(t) => Some(t),
            Held::Clear(_) => None,
        }
    }

    pub fn is_sealed(&self) -> bool {
        matches!(self.0, Held::Sealed(_))
    }

    /// The secret itself, for the one place that must send it (a connector's login).
    pub fn expose(&self) -> Result<&str, StillSealed> {
        match &self.0 {
            Held::Clear(t) => Ok(t),
            Held::Sealed(_) => Err(StillSealed),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_sealed() {
            "Secret(sealed)"
        } else {
            "Secret(***)"
        })
    }
}

/// A VIM account to register.
#[derive(Debug, Clone)]
pub struct NewVimAccount {
    pub id: VimAccountId,
    pub name: String,
    pub vim_type: VimType,
    pub url: String,
    pub tenant: Option<String>,
    pub username: Option<String>,
    pub secret: Option<Secret>,
    /// Connector settings (JSON object).
    pub config: serde_json::Value,
    pub sdn_controller: Option<SdnControllerId>,
}

/// A stored VIM account (the reference's datacenter_tenant).
#[derive(Debug, Clone)]
pub struct VimAccount {
    pub id: VimAccountId,
    pub name: String,
    pub vim_type: VimType,
    pub url: String,
    pub tenant: Option<String>,
    pub username: Option<String>,
    pub secret: Option<Secret>,
    pub config: serde_json::Value,
    pub sdn_controller: Option<SdnControllerId>,
    pub status: AccountStatus,
    pub error_msg: Option<String>,
    pub restart_count: i32,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
}

#[derive(Queryable)]
struct VimAccountRow {
    id: String,
    name: String,
    vim_type: String,
    url: String,
    tenant: Option<String>,
    username: Option<String>,
    secret: Option<String>,
    config: String,
    sdn_controller_id: Option<String>,
    status: String,
    error_msg: Option<String>,
    restart_count: i32,
    created_at: NaiveDateTime,
    modified_at: NaiveDateTime,
}

const T: &str = "vim_accounts";

impl TryFrom<VimAccountRow> for VimAccount {
    type Error = StoreError;
    fn try_from(r: VimAccountRow) -> Result<Self, StoreError> {
        Ok(VimAccount {
            id: parse_col(T, "id", &r.id)?,
            name: r.name,
            vim_type: parse_col(T, "vim_type", &r.vim_type)?,
            url: r.url,
            tenant: r.tenant,
            username: r.username,
            secret: r.secret.map(Secret::from_column),
            config: json_col(T, "config", &r.config)?,
            sdn_controller: r
                .sdn_controller_id
                .map(|s| parse_col(T, "sdn_controller_id", &s))
                .transpose()?,
            status: parse_col(T, "status", &r.status)?,
            error_msg: r.error_msg,
            restart_count: r.restart_count,
            created_at: r.created_at,
            modified_at: r.modified_at,
        })
    }
}

pub(crate) fn insert_vim_account(
    conn: &mut AnyConnection,
    a: &NewVimAccount,
) -> Result<(), StoreError> {
    use vim_accounts::dsl as v;
    let t = now();
    diesel::insert_into(vim_accounts::table)
        .values((
            v::id.eq(a.id.to_string()),
            v::name.eq(&a.name),
            v::vim_type.eq(a.vim_type.as_str()),
            v::url.eq(&a.url),
            v::tenant.eq(&a.tenant),
            v::username.eq(&a.username),
            v::secret.eq(a.secret.as_ref().map(Secret::column)),
            v::config.eq(a.config.to_string()),
            v::sdn_controller_id.eq(a.sdn_controller.map(|s| s.to_string())),
            // ENABLED only once its actor is up and the VIM answered (the Supervisor says so).
            v::status.eq(AccountStatus::Starting.as_str()),
            v::error_msg.eq(None::<String>),
            v::restart_count.eq(0),
            v::created_at.eq(t),
            v::modified_at.eq(t),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every VIM account, by name.
pub fn list_vim_accounts(conn: &mut AnyConnection) -> Result<Vec<VimAccount>, StoreError> {
    vim_accounts::table
        .order(vim_accounts::name.asc())
        .load::<VimAccountRow>(conn)?
        .into_iter()
        .map(VimAccount::try_from)
        .collect()
}

pub fn get_vim_account(
    conn: &mut AnyConnection,
    id: VimAccountId,
) -> Result<VimAccount, StoreError> {
    vim_accounts::table
        .find(id.to_string())
        .first::<VimAccountRow>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what: "VIM account",
            id: id.to_string(),
        })?
        .try_into()
}

pub fn find_vim_account_by_name(
    conn: &mut AnyConnection,
    name: &str,
) -> Result<Option<VimAccount>, StoreError> {
    vim_accounts::table
        .filter(vim_accounts::name.eq(name))
        .first::<VimAccountRow>(conn)
        .optional()?
        .map(VimAccount::try_from)
        .transpose()
}

/// An SDN controller to register.
#[derive(Debug, Clone)]
pub struct NewSdnController {
    pub id: SdnControllerId,
    pub name: String,
    pub sdn_type: String,
    pub url: String,
    pub username: Option<String>,
    pub secret: Option<Secret>,
    pub config: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct SdnController {
    pub id: SdnControllerId,
    pub name: String,
    pub sdn_type: String,
    pub url: String,
    pub username: Option<String>,
    pub secret: Option<Secret>,
    pub config: serde_json::Value,
    pub created_at: NaiveDateTime,
}

impl SdnController {
    /// The controller `new` describes, before it is stored (to check it can be connected).
    pub fn unsaved(new: &NewSdnController) -> SdnController {
        SdnController {
            id: new.id,
            name: new.name.clone(),
            sdn_type: new.sdn_type.clone(),
            url: new.url.clone(),
            username: new.username.clone(),
            secret: new.secret.clone(),
            config: new.config.clone(),
            created_at: chrono::Utc::now().naive_utc(),
        }
    }
}

#[derive(Queryable)]
struct SdnControllerRow {
    id: String,
    name: String,
    sdn_type: String,
    url: String,
    username: Option<String>,
    secret: Option<String>,
    config: String,
    created_at: NaiveDateTime,
    _modified_at: NaiveDateTime,
}

impl TryFrom<SdnControllerRow> for SdnController {
    type Error = StoreError;
    fn try_from(r: SdnControllerRow) -> Result<Self, StoreError> {
        Ok(SdnController {
            id: parse_col("sdn_controllers", "id", &r.id)?,
            name: r.name,
            sdn_type: r.sdn_type,
            url: r.url,
            username: r.username,
            secret: r.secret.map(Secret::from_column),
            config: json_col("sdn_controllers", "config", &r.config)?,
            created_at: r.created_at,
        })
    }
}

pub(crate) fn insert_sdn_controller(
    conn: &mut AnyConnection,
    c: &NewSdnController,
) -> Result<(), StoreError> {
    use sdn_controllers::dsl as s;
    let t = now();
    diesel::insert_into(sdn_controllers::table)
        .values((
            s::id.eq(c.id.to_string()),
            s::name.eq(&c.name),
            s::sdn_type.eq(&c.sdn_type),
            s::url.eq(&c.url),
            s::username.eq(&c.username),
            s::secret.eq(c.secret.as_ref().map(Secret::column)),
            s::config.eq(c.config.to_string()),
            s::created_at.eq(t),
            s::modified_at.eq(t),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn list_sdn_controllers(conn: &mut AnyConnection) -> Result<Vec<SdnController>, StoreError> {
    sdn_controllers::table
        .order(sdn_controllers::name.asc())
        .load::<SdnControllerRow>(conn)?
        .into_iter()
        .map(SdnController::try_from)
        .collect()
}

/// Changes to a VIM account (`None` leaves a field alone; `Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct VimAccountChanges {
    pub name: Option<String>,
    pub url: Option<String>,
    pub tenant: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub secret: Option<Option<Secret>>,
    pub config: Option<serde_json::Value>,
    pub sdn_controller: Option<Option<SdnControllerId>>,
}

#[derive(AsChangeset)]
#[diesel(table_name = vim_accounts)]
struct VimAccountChangeset {
    name: Option<String>,
    url: Option<String>,
    tenant: Option<Option<String>>,
    username: Option<Option<String>>,
    secret: Option<Option<String>>,
    config: Option<String>,
    sdn_controller_id: Option<Option<String>>,
    modified_at: chrono::NaiveDateTime,
}

pub(crate) fn update_vim_account(
    conn: &mut AnyConnection,
    id: VimAccountId,
    c: &VimAccountChanges,
) -> Result<(), StoreError> {
    let changes = VimAccountChangeset {
        name: c.name.clone(),
        url: c.url.clone(),
        tenant: c.tenant.clone(),
        username: c.username.clone(),
        secret: c.secret.as_ref().map(|s| s.as_ref().map(Secret::column)),
        config: c.config.as_ref().map(|v| v.to_string()),
        sdn_controller_id: c.sdn_controller.map(|s| s.map(|s| s.to_string())),
        modified_at: now(),
    };
    let n = diesel::update(vim_accounts::table.find(id.to_string()))
        .set(&changes)
        .execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "VIM account",
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Deletes a VIM account with its tasks and item rows (its history goes with it).
/// Takes the account's tasks out of their actions' counters before they are deleted (a forced
/// removal), and deletes the actions left with no task: the counters keep matching the tasks.
fn forget_tasks_of(conn: &mut AnyConnection, vim: &str) -> Result<(), StoreError> {
    use crate::schema::{actions, tasks};
    use rovim_core::{Counter, TaskStatus};
    use std::collections::BTreeMap;
    let rows: Vec<(String, String)> = tasks::table
        .filter(tasks::vim_account_id.eq(vim))
        .select((tasks::action_id, tasks::status))
        .load(conn)?;
    let mut per_action: BTreeMap<String, (i32, i32, i32)> = BTreeMap::new();
    for (action, status) in rows {
        let counts = per_action.entry(action).or_default();
        counts.0 += 1;
        match status
            .parse::<TaskStatus>()
            .ok()
            .and_then(TaskStatus::counted_as)
        {
            Some(Counter::Done) => counts.1 += 1,
            Some(Counter::Failed) => counts.2 += 1,
            None => {}
        }
    }
    for (action, (n, done, failed)) in &per_action {
        diesel::update(actions::table.find(action))
            .set((
                actions::number_tasks.eq(actions::number_tasks - n),
                actions::number_done.eq(actions::number_done - done),
                actions::number_failed.eq(actions::number_failed - failed),
            ))
            .execute(conn)?;
    }
    let ids: Vec<&String> = per_action.keys().collect();
    for chunk in ids.chunks(500) {
        diesel::delete(
            actions::table
                .filter(actions::id.eq_any(chunk))
                .filter(actions::number_tasks.le(0)),
        )
        .execute(conn)?;
    }
    Ok(())
}

pub(crate) fn delete_vim_account(
    conn: &mut AnyConnection,
    id: VimAccountId,
) -> Result<(), StoreError> {
    use crate::schema::{interfaces, nets, tasks, vms};
    let vim = id.to_string();
    conn.transaction(|conn| {
        let vm_ids = vms::table
            .filter(vms::vim_account_id.eq(&vim))
            .select(vms::id);
        diesel::delete(interfaces::table.filter(interfaces::vm_id.eq_any(vm_ids))).execute(conn)?;
        let net_ids = nets::table
            .filter(nets::vim_account_id.eq(&vim))
            .select(nets::id.nullable());
        diesel::update(interfaces::table.filter(interfaces::net_id.eq_any(net_ids)))
            .set(interfaces::net_id.eq(None::<String>))
            .execute(conn)?;
        forget_tasks_of(conn, &vim)?;
        diesel::delete(tasks::table.filter(tasks::vim_account_id.eq(&vim))).execute(conn)?;
        diesel::delete(vms::table.filter(vms::vim_account_id.eq(&vim))).execute(conn)?;
        diesel::delete(nets::table.filter(nets::vim_account_id.eq(&vim))).execute(conn)?;
        let n = diesel::delete(vim_accounts::table.find(&vim)).execute(conn)?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "VIM account",
                id: vim.clone(),
            });
        }
        Ok(())
    })
}

/// Deletes an SDN controller; refused (a conflict) while a VIM account names it.
pub(crate) fn delete_sdn_controller(
    conn: &mut AnyConnection,
    id: SdnControllerId,
) -> Result<(), StoreError> {
    let users: i64 = vim_accounts::table
        .filter(vim_accounts::sdn_controller_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    if users > 0 {
        return Err(StoreError::Conflict(format!(
            "SDN controller {id} is used by {users} VIM account(s)"
        )));
    }
    let n = diesel::delete(sdn_controllers::table.find(id.to_string())).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "SDN controller",
            id: id.to_string(),
        });
    }
    Ok(())
}
