//! `Store`: the pool of read connections, migrations applied at open, and the time source.

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::r2d2::{Pool, PooledConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::{AnyConnection, Backend, Manager, establish, redact_url, sqlite_path};
use crate::error::StoreError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The PostgreSQL advisory lock key the migrations run under ("rovim-mi" in ASCII): one per
/// database, so concurrent test schemas in one database migrate one after the other.
const MIGRATION_LOCK: i64 = 0x726f_7669_6d2d_6d69;

/// Applies `source`'s pending migrations on `c` after checking that every migration already
/// applied is one this build knows.
fn migrate_one<DB, C>(c: &mut C, source: EmbeddedMigrations) -> Result<Vec<String>, StoreError>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    let known: Vec<String> = MigrationSource::<DB>::migrations(&source)
        .map_err(|e| StoreError::Migration(e.to_string()))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let applied = c
        .applied_migrations()
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    if let Some(unknown) = applied
        .iter()
        .map(|v| v.to_string())
        .filter(|v| !known.contains(v))
        .max()
    {
        return Err(StoreError::SchemaNewer {
            found: unknown,
            known: known.into_iter().max().unwrap_or_default(),
        });
    }
    let now = c
        .run_pending_migrations(source)
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(now.into_iter().map(|v| v.to_string()).collect())
}

pub type DbPool = Pool<Manager>;
pub type DbConn = PooledConnection<Manager>;

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision), so a
/// value reads back equal on both backends.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Creates the SQLite file readable and writable by its owner only (it holds VIM credentials),
/// before SQLite does with the umask's mode; SQLite gives its -wal and -shm files the mode of
/// the database file. An existing file is left as it is.
fn create_private(path: &str) -> std::io::Result<()> {
    if path == ":memory:" || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// What an SQLite open or write failure at start usually means.
pub(crate) const SQLITE_ACCESS: &str = "the database cannot be written: a read-only disk, or no write \
     permission on the file or its directory (SQLite makes -wal and -shm files beside it)";

/// How long a caller waits for a pooled connection before the database counts as unavailable.
const CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The same for the readiness probe, which must answer fast.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// An open database: migrated, with a connection pool for reads. Writes go through
/// [`crate::DbWriter`]; the typed queries take any connection.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
    backend: Backend,
    url: String,
    /// The key secrets are sealed with (see [`crate::secrets`]).
    pub(crate) key: Option<std::sync::Arc<crate::sealing::SecretKey>>,
    /// The instance this process registers as (see [`crate::leases`]): named in what its
    /// commits announce to the others.
    instance: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &redact_url(&self.url))
            .field("key", &self.key.as_ref().map(|k| k.id().to_owned()))
            .finish()
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let backend = Backend::of_url(url);
        let open_err = |reason: String| StoreError::Open {
            url: redact_url(url),
            reason,
        };
        let conn_url = match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                // journal_mode=WAL persists in the file: set it once, before any pooled connection.
                let unwritable = |e: String| open_err(format!("{e} ({SQLITE_ACCESS})"));
                create_private(path).map_err(|e| unwritable(e.to_string()))?;
                let mut c =
                    SqliteConnection::establish(path).map_err(|e| unwritable(e.to_string()))?;
                c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                    .map_err(|e| unwritable(e.to_string()))?;
                path.to_owned()
            }
            Backend::Postgres => {
                // One direct connection first: an unreachable server fails now, with its own
                // words, instead of after the pool's 30 s build timeout.
                PgConnection::establish(url).map_err(|e| open_err(e.to_string()))?;
                url.to_owned()
            }
        };
        let manager = Manager {
            backend,
            url: conn_url,
        };
        let size = match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 8,
        };
        let pool = Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            // A database that is down answers in seconds, not r2d2's default 30 s: callers
            // (the API's 503, the actors' restart) react while the outage lasts.
            .connection_timeout(CONNECTION_TIMEOUT)
            .build(manager)
            .map_err(|e| open_err(e.to_string()))?;
        let store = Store {
            pool,
            backend,
            url: url.to_owned(),
            key: None,
            instance: None,
        };
        store.migrate()?;
        if backend == Backend::Sqlite {
            // A file SQLite can read but not write (read-only disk or permissions) opens fine
            // and fails at the first write: refuse to start instead, saying why.
            let mut conn = store.conn()?;
            if let AnyConnection::Sqlite(c) = &mut *conn {
                use diesel::connection::SimpleConnection;
                // A real write (a lock alone succeeds on a read-only disk): the header's
                // user_version, set to what it is.
                #[derive(diesel::QueryableByName)]
                struct Version {
                    #[diesel(sql_type = diesel::sql_types::Integer)]
                    user_version: i32,
                }
                use diesel::RunQueryDsl;
                let v: Version = diesel::sql_query("PRAGMA user_version").get_result(c)?;
                c.batch_execute(&format!("PRAGMA user_version = {}", v.user_version))
                    .map_err(|e| open_err(format!("{e} ({SQLITE_ACCESS})")))?;
            }
        }
        Ok(store)
    }

    /// This process's instance id, for what its commits announce to other instances.
    pub fn with_instance(mut self, id: &str) -> Store {
        self.instance = Some(id.into());
        self
    }

    pub fn instance(&self) -> Option<&std::sync::Arc<str>> {
        self.instance.as_ref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL this store was opened with (may hold a password: use [`redact_url`] to show it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pooled connection.
    pub fn conn(&self) -> Result<DbConn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// A connection of its own, outside the pool, for a session that must last (the instance's
    /// liveness lock, `LISTEN`).
    pub fn dedicated_conn(&self) -> Result<AnyConnection, StoreError> {
        establish(self.backend, &self.url).map_err(|e| StoreError::Open {
            url: redact_url(&self.url),
            reason: e.to_string(),
        })
    }

    /// Applies pending migrations; returns the versions applied now. On PostgreSQL the
    /// migrations run under an advisory lock, so instances started together on a fresh database
    /// apply them once instead of racing (the loser used to fail on a duplicate `pg_type`
    /// entry); a database migrated by a newer rovim is refused, never run on.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        match &mut *conn {
            AnyConnection::Sqlite(c) => migrate_one(c, SQLITE_MIGRATIONS),
            AnyConnection::Postgresql(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let applied = migrate_one(c, POSTGRES_MIGRATIONS);
                // Released by the session's end anyway if this fails (a broken connection is
                // dropped by the pool, not reused).
                c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
                applied
            }
        }
    }

    /// The newest applied migration version, e.g. `20261202000001`.
    pub fn schema_version(&self) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn()?;
        let versions = match &mut *conn {
            AnyConnection::Sqlite(c) => c.applied_migrations(),
            AnyConnection::Postgresql(c) => c.applied_migrations(),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(versions.into_iter().map(|v| v.to_string()).max())
    }

    /// Whether every embedded migration has been applied (used by readiness checks, so it
    /// waits at most a second for a connection).
    pub fn is_migrated(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.get_timeout(READINESS_TIMEOUT)?;
        let pending = match &mut *conn {
            AnyConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            AnyConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(!pending)
    }
}
