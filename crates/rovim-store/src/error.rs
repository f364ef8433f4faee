//! The one error type of the store.

use rovim_core::{UnknownValue, VimAccountId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("cannot open database {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("migrations failed: {0}")]
    Migration(String),
    /// The database was migrated by a newer rovim: running on it could corrupt what the newer
    /// version wrote.
    #[error(
        "the database schema is newer than this rovim: it has migration {found}, this version \
         knows up to {known}; run the newer rovim (or restore a backup taken before the upgrade)"
    )]
    SchemaNewer { found: String, known: String },
    #[error("corrupt row in {table}.{column}: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        reason: String,
    },
    /// Stored secrets that cannot be opened or sealed as asked (the reason names the keys).
    #[error("secrets at rest: {0}")]
    Secrets(String),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    /// The write's account is no longer leased to its writer at the epoch it started with:
    /// another instance runs it now. Nothing was committed.
    #[error("VIM account {vim} is run by another instance now (lease lost); the write was refused")]
    Fenced { vim: VimAccountId },
    /// A read could not run (its blocking thread panicked or the runtime is stopping).
    #[error("database read failed: {0}")]
    Read(String),
    /// The DbActor could not run the write (it panicked or is gone): nothing was committed.
    #[error("database writer failed: {0}")]
    Writer(String),
}

impl StoreError {
    /// A unique or foreign-key violation: the caller's input clashes with what is stored.
    pub fn is_conflict(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        matches!(
            self,
            StoreError::Conflict(_)
                | StoreError::Db(E::DatabaseError(
                    K::UniqueViolation | K::ForeignKeyViolation,
                    _
                ))
        )
    }

    pub(crate) fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: impl ToString,
    ) -> Self {
        StoreError::Corrupt {
            table,
            column,
            reason: reason.to_string(),
        }
    }
}

pub(crate) fn parse_col<T: std::str::FromStr>(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| StoreError::corrupt(table, column, e))
}

pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(table, column, e))
}

impl From<(&'static str, &'static str, UnknownValue)> for StoreError {
    fn from((table, column, e): (&'static str, &'static str, UnknownValue)) -> Self {
        StoreError::corrupt(table, column, e)
    }
}
