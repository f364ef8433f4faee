//! Migrations at start: instances started together on a fresh PostgreSQL database migrate it
//! once (issue 14: two of three used to fail on `pg_type_typname_nsp_index`), and a database
//! migrated by a newer rovim is refused with a message saying so, on both backends.

use diesel::connection::SimpleConnection;
use rovim_store::test_support::{TestDb, backends, postgres_empty};
use rovim_store::{AnyConnection, Store, StoreError};

#[test]
#[cfg_attr(
    rovim_no_pg,
    ignore = "needs PostgreSQL: set ROVIM_TEST_DATABASE_URL (bash .ci/run does)"
)]
fn instances_started_together_on_a_fresh_postgres_database_all_migrate_it() {
    for _ in 0..3 {
        let db = postgres_empty().expect("ROVIM_TEST_DATABASE_URL");
        let barrier = std::sync::Barrier::new(4);
        let results: Vec<Result<Store, StoreError>> = std::thread::scope(|s| {
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        Store::open(&db.url)
                    })
                })
                .collect();
            opens.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in &results {
            assert!(
                r.is_ok(),
                "an instance failed to start: {:?}",
                r.as_ref().err()
            );
        }
        let store = results.into_iter().next().unwrap().unwrap();
        assert!(store.is_migrated().unwrap());
        assert_eq!(store.migrate().unwrap(), Vec::<String>::new());
    }
}

fn fake_future_migration(db: &TestDb) {
    let mut conn = db.store.conn().unwrap();
    let sql = "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000001')";
    match &mut *conn {
        AnyConnection::Sqlite(c) => c.batch_execute(sql).unwrap(),
        AnyConnection::Postgresql(c) => c.batch_execute(sql).unwrap(),
    }
}

#[test]
fn a_database_migrated_by_a_newer_rovim_is_refused_with_a_clear_message() {
    for db in backends() {
        fake_future_migration(&db);
        let err = Store::open(&db.url).expect_err(db.name());
        assert!(matches!(err, StoreError::SchemaNewer { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("29991231000001"), "{msg}");
        assert!(msg.contains("newer"), "{msg}");
        // Nothing was undone: this build's migrations still read as applied.
        assert!(db.store.is_migrated().unwrap(), "{}", db.name());
    }
}
