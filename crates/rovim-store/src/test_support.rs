//! Test databases for rovim's own tests (feature `test-support`): a fresh SQLite file in a
//! temporary directory, and, when `ROVIM_TEST_DATABASE_URL` names a PostgreSQL database, a fresh
//! schema in it, dropped afterwards. Under `CI=true` a missing PostgreSQL is a failure, not a skip.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::store::Store;

/// The variable naming the PostgreSQL database the tests may use.
pub const PG_URL_VAR: &str = "ROVIM_TEST_DATABASE_URL";

/// A migrated test database, removed when dropped.
pub struct TestDb {
    pub store: Store,
    /// Opens the same database again (a restart).
    pub url: String,
    _guard: Guard,
}

impl TestDb {
    pub fn reopen(&self) -> Store {
        Store::open(&self.url).expect("reopen test database")
    }

    pub fn name(&self) -> &'static str {
        self.store.backend().name()
    }
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, schema } = self
            && let Ok(mut c) = PgConnection::establish(admin_url)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// A fresh SQLite database file.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir
        .path()
        .join("rovim-test.db")
        .to_string_lossy()
        .into_owned();
    let store = Store::open(&url).expect("open SQLite test database");
    TestDb {
        store,
        url,
        _guard: Guard::Sqlite(dir),
    }
}

/// A fresh schema in the PostgreSQL test database, or `None` (with a note on stderr) when
/// `ROVIM_TEST_DATABASE_URL` is unset outside CI.
pub fn postgres() -> Option<TestDb> {
    let EmptyPg { url, guard } = postgres_empty()?;
    let store = Store::open(&url).expect("open PostgreSQL test schema");
    Some(TestDb {
        store,
        url,
        _guard: guard,
    })
}

/// A PostgreSQL schema with nothing in it, not even migrations: for tests of what happens at
/// first start. Dropped with the value.
pub struct EmptyPg {
    pub url: String,
    guard: Guard,
}

/// An empty schema in the PostgreSQL test database; `None` as for [`postgres`].
pub fn postgres_empty() -> Option<EmptyPg> {
    let admin_url = match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            rovim_core::test_peers::absent(&format!(
                "PostgreSQL: {PG_URL_VAR} is not set (SQLite only)"
            ));
            return None;
        }
    };
    let schema = format!("rovim_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = PgConnection::establish(&admin_url)
        .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but PostgreSQL is unreachable: {e}"));
    c.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create test schema");
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{sep}options=-csearch_path%3D{schema}");
    Some(EmptyPg {
        url,
        guard: Guard::Postgres { admin_url, schema },
    })
}

/// SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<TestDb> {
    let mut dbs = vec![sqlite()];
    dbs.extend(postgres());
    dbs
}

/// Registers a sim VIM account named `name` through the writer; returns its id.
pub async fn sim_account(w: &crate::DbWriter, name: &str) -> rovim_core::VimAccountId {
    let id = rovim_core::VimAccountId::generate();
    w.write(crate::DbWrite::InsertVimAccount(crate::NewVimAccount {
        id,
        name: name.into(),
        vim_type: rovim_core::VimType::Sim,
        url: "sim://".into(),
        tenant: None,
        username: None,
        secret: None,
        config: serde_json::json!({}),
        sdn_controller: None,
    }))
    .await
    .expect("insert the sim account");
    id
}
