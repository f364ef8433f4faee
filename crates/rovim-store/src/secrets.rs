//! The store's side of secrets at rest: the key it was given, sealing what is written, opening
//! what the engine needs, and the whole-table operations: a census at start (which refuses a
//! database whose secrets it cannot open), sealing the secrets stored in clear before a key was
//! given, and key rotation, each in one transaction.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::accounts::Secret;
use crate::error::{StoreError, parse_col};
use crate::schema::{sdn_controllers, vim_accounts};
use crate::sealing::{self, SealError, SecretKey, SecretOwner};
use crate::store::Store;

/// How the stored secrets stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    pub clear: usize,
    /// Sealed secrets by the id of the key that sealed them.
    pub sealed: BTreeMap<String, usize>,
}

/// What [`Store::prepare_secrets`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    /// Secrets found in clear and sealed now (with a key).
    pub sealed_now: usize,
    /// Secrets left in clear (without a key).
    pub in_clear: usize,
}

/// Every stored secret with its owner.
fn stored(conn: &mut crate::AnyConnection) -> Result<Vec<(SecretOwner, String)>, StoreError> {
    let mut all = Vec::new();
    for (id, secret) in vim_accounts::table
        .select((vim_accounts::id, vim_accounts::secret))
        .filter(vim_accounts::secret.is_not_null())
        .load::<(String, Option<String>)>(conn)?
    {
        let owner = SecretOwner::VimAccount(parse_col("vim_accounts", "id", &id)?);
        all.push((owner, secret.unwrap_or_default()));
    }
    for (id, secret) in sdn_controllers::table
        .select((sdn_controllers::id, sdn_controllers::secret))
        .filter(sdn_controllers::secret.is_not_null())
        .load::<(String, Option<String>)>(conn)?
    {
        let owner = SecretOwner::SdnController(parse_col("sdn_controllers", "id", &id)?);
        all.push((owner, secret.unwrap_or_default()));
    }
    Ok(all)
}

fn write(
    conn: &mut crate::AnyConnection,
    owner: SecretOwner,
    value: String,
) -> Result<(), StoreError> {
    match owner {
        SecretOwner::VimAccount(id) => {
            diesel::update(vim_accounts::table.find(id.to_string()))
                .set(vim_accounts::secret.eq(value))
                .execute(conn)?;
        }
        SecretOwner::SdnController(id) => {
            diesel::update(sdn_controllers::table.find(id.to_string()))
                .set(sdn_controllers::secret.eq(value))
                .execute(conn)?;
        }
    }
    Ok(())
}

fn refused(e: SealError) -> StoreError {
    StoreError::Secrets(e.to_string())
}

impl Store {
    /// The key secrets are sealed with from now on (none: stored in clear).
    pub fn with_key(mut self, key: Option<SecretKey>) -> Store {
        self.key = key.map(std::sync::Arc::new);
        self
    }

    pub fn key(&self) -> Option<&SecretKey> {
        self.key.as_deref()
    }

    /// `secret` as it is to be stored for `owner`: sealed when there is a key.
    pub fn seal_secret(&self, owner: SecretOwner, secret: Secret) -> Secret {
        match (self.key(), secret.expose()) {
            (Some(key), Ok(plain)) => Secret::from_column(key.seal(owner, plain)),
            _ => secret,
        }
    }

    /// `secret` of `owner` in clear, for a connector.
    pub fn open_secret(&self, owner: SecretOwner, secret: &Secret) -> Result<Secret, StoreError> {
        match secret.sealed_text() {
            None => Ok(secret.clone()),
            Some(text) => sealing::open(self.key(), owner, text)
                .map(Secret::new)
                .map_err(refused),
        }
    }

    pub fn census(&self) -> Result<Census, StoreError> {
        let mut census = Census::default();
        for (_, value) in stored(&mut *self.conn()?)? {
            match sealing::sealed_with(&value) {
                Some(id) => *census.sealed.entry(id.to_owned()).or_default() += 1,
                None => census.clear += 1,
            }
        }
        Ok(census)
    }

    /// Refuses a database holding secrets that the key given (or its absence) cannot open,
    /// naming the keys; otherwise says how the secrets stand.
    pub fn check_secrets(&self) -> Result<Census, StoreError> {
        let census = self.census()?;
        let given = self.key().map(SecretKey::id);
        let foreign: Vec<String> = census
            .sealed
            .iter()
            .filter(|(id, _)| Some(id.as_str()) != given)
            .map(|(id, n)| format!("{n} with key {id}"))
            .collect();
        if foreign.is_empty() {
            return Ok(census);
        }
        let what = match given {
            None => {
                "no key was given: set secrets.key_file, ROVIM_SECRET_KEY_FILE or ROVIM_SECRET_KEY"
                    .to_owned()
            }
            Some(id) => format!(
                "the key given is {id}: give the key they were sealed with, or change keys with `rovim rotate-key`"
            ),
        };
        Err(StoreError::Secrets(format!(
            "stored secrets are sealed ({}), and {what}",
            foreign.join(", ")
        )))
    }

    /// At start: [`Store::check_secrets`], then, with a key, seals the secrets still in clear.
    pub fn prepare_secrets(&self) -> Result<Prepared, StoreError> {
        let census = self.check_secrets()?;
        if self.key().is_none() || census.clear == 0 {
            return Ok(Prepared {
                sealed_now: 0,
                in_clear: census.clear,
            });
        }
        Ok(Prepared {
            sealed_now: self.reseal(None)?,
            in_clear: 0,
        })
    }

    /// Seals every stored secret with `new` (opening them with the current key), in one
    /// transaction; the store uses `new` from then on. Returns how many were sealed.
    pub fn rotate_key(self, new: SecretKey) -> Result<(Store, usize), StoreError> {
        let n = self.reseal(Some(&new))?;
        Ok((self.with_key(Some(new)), n))
    }

    /// Opens every secret with the current key and seals it with `to` (the current key when
    /// `None`), in one transaction.
    fn reseal(&self, to: Option<&SecretKey>) -> Result<usize, StoreError> {
        let to = to
            .or(self.key())
            .ok_or_else(|| StoreError::Secrets("no key to seal with".into()))?;
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let mut n = 0;
            for (owner, value) in stored(conn)? {
                // Already sealed with `to`: nothing to do (nor, when rotating, could the current
                // key open it).
                if sealing::sealed_with(&value) == Some(to.id()) {
                    continue;
                }
                let plain = if sealing::is_sealed(&value) {
                    sealing::open(self.key(), owner, &value).map_err(refused)?
                } else {
                    value
                };
                write(conn, owner, to.seal(owner, &plain))?;
                n += 1;
            }
            Ok(n)
        })
    }
}
