//! One connection type over both backends (diesel `MultiConnection`), the per-connection SQLite
//! settings, and the dispatch macro for the few queries MultiConnection cannot express.

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::{PgConnection, SqliteConnection};

/// A connection to either backend; the URL decides which.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a [`crate::Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `postgres://` and `postgresql://` URLs are PostgreSQL; anything else is a SQLite path
    /// (an optional `sqlite://` prefix is accepted).
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The SQLite file path of a URL.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

/// A URL fit for logs and errors: the password, if any, is replaced.
pub fn redact_url(url: &str) -> String {
    // A key=value connection string (`host=db password=…`).
    if !url.contains("://") && url.contains('=') {
        return url
            .split(' ')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{creds}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "sslpassword",
        "key",
    ]
    .iter()
    .any(|s| k == *s || k.ends_with(&format!("_{s}")))
}

/// Runs the same diesel expression on whichever inner connection this is, for queries that
/// type-check on each backend but not on MultiConnection (multi-row insert, upsert).
#[macro_export]
#[doc(hidden)]
macro_rules! with_inner {
    ($conn:expr, $inner:ident => $body:expr) => {
        match $conn {
            $crate::connection::AnyConnection::Postgresql($inner) => $body,
            $crate::connection::AnyConnection::Sqlite($inner) => $body,
        }
    };
}

/// Per-connection SQLite settings (see [`configure`]). WAL is set once on the file before the pool opens (it
/// persists in the file; switching it from many pooled connections at once hits "database is
/// locked"), the rest must be set on every connection. busy_timeout first, so the others wait.
/// Every commit of the DbActor invalidates the other connections' page caches: reads come from
/// the mapped file (`mmap_size`) rather than one `read()` per page (the pages stay in the
/// kernel's cache, shared, rather than in each connection's heap). The statement journals and
/// the materialized `VALUES` of the batched updates are temporary tables: in memory, not one
/// file under /var/tmp each (they were two in five of the writer's `pwrite` calls).
pub(crate) const SQLITE_CONNECTION_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
     PRAGMA mmap_size = 268435456; PRAGMA temp_store = MEMORY;";

/// Per-session PostgreSQL settings. A transaction of rovim never waits on anything but the
/// database, so one left open for seconds belongs to a process that is paused (SIGSTOP, a VM
/// frozen) or cut off: the server ends that session, so its row locks (the fence's `FOR
/// SHARE` on a lease) and its liveness lock do not hold up the takeover of its accounts.
pub(crate) const POSTGRES_SESSION: &str = "SET idle_in_transaction_session_timeout = '2s'";

/// The settings every new connection gets, on either backend.
pub(crate) fn configure(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => c.batch_execute(SQLITE_CONNECTION_PRAGMAS),
        AnyConnection::Postgresql(c) => c.batch_execute(POSTGRES_SESSION),
    }
}

/// A connection to `url` with each backend's own establish (MultiConnection's answers "Invalid
/// connection url for multiconnection" whatever PostgreSQL said, e.g. while it is down), and
/// the session settings of [`configure`].
pub(crate) fn establish(backend: Backend, url: &str) -> Result<AnyConnection, diesel::r2d2::Error> {
    use diesel::Connection;
    let mut conn = match backend {
        Backend::Sqlite => SqliteConnection::establish(sqlite_path(url)).map(AnyConnection::Sqlite),
        Backend::Postgres => PgConnection::establish(url).map(AnyConnection::Postgresql),
    }
    .map_err(diesel::r2d2::Error::ConnectionError)?;
    configure(&mut conn).map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}

/// Makes the pool's connections ([`establish`]).
#[derive(Debug, Clone)]
pub struct Manager {
    pub(crate) backend: Backend,
    pub(crate) url: String,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        establish(self.backend, &self.url)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_picked_from_the_url() {
        assert_eq!(Backend::of_url("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of_url("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(Backend::of_url("./rovim.db"), Backend::Sqlite);
        assert_eq!(sqlite_path("sqlite:///tmp/x.db"), "/tmp/x.db");
    }

    #[test]
    fn passwords_never_leave_in_urls() {
        assert_eq!(
            redact_url("postgres://rovim:s3cret@127.0.0.1/rovim"),
            "postgres://rovim:***@127.0.0.1/rovim"
        );
        assert_eq!(
            redact_url("postgres://rovim@127.0.0.1/rovim"),
            "postgres://rovim@127.0.0.1/rovim"
        );
        assert_eq!(redact_url("./rovim.db"), "./rovim.db");
    }

    /// Issue 11: a `?password=` in a URL, a password in a key=value connection string or in a
    /// VIM URL's user info were shown as they were.
    #[test]
    fn passwords_in_queries_connection_strings_and_vim_urls_are_redacted_too() {
        for (url, redacted) in [
            (
                "postgres://rovim@db/rovim?sslmode=require&password=s3cret",
                "postgres://rovim@db/rovim?sslmode=require&password=***",
            ),
            (
                "host=db user=rovim password=s3cret",
                "host=db user=rovim password=***",
            ),
            (
                "https://admin:s3cret@keystone:5000/v3",
                "https://admin:***@keystone:5000/v3",
            ),
            (
                "https://keystone:5000/v3?auth_token=s3cret",
                "https://keystone:5000/v3?auth_token=***",
            ),
            ("http://a:s3c@ret@h:1/p", "http://a:***@h:1/p"),
            ("http://h:1/p?q=1", "http://h:1/p?q=1"),
        ] {
            assert_eq!(redact_url(url), redacted);
            assert!(!redact_url(url).contains("s3c"));
        }
    }
}
