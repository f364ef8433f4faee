//! The SQLite and PostgreSQL migrations must give the same tables and columns.

use rovim_store::introspect::columns;
use rovim_store::test_support::{postgres, sqlite};

#[test]
fn both_backends_have_the_same_tables_and_columns() {
    let lite = sqlite();
    let lite_cols = columns(&mut lite.store.conn().unwrap()).unwrap();
    assert!(
        lite_cols
            .iter()
            .any(|c| c.table == "tasks" && c.name == "idempotency_token" && !c.nullable)
    );
    assert!(
        lite_cols
            .iter()
            .any(|c| c.table == "interfaces" && c.name == "sdn_port_id" && c.nullable)
    );
    let Some(pg) = postgres() else { return };
    let pg_cols = columns(&mut pg.store.conn().unwrap()).unwrap();
    let only = |a: &[rovim_store::introspect::Column], b: &[rovim_store::introspect::Column]| {
        a.iter()
            .filter(|c| !b.contains(c))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(only(&lite_cols, &pg_cols), vec![], "in SQLite only");
    assert_eq!(only(&pg_cols, &lite_cols), vec![], "in PostgreSQL only");
    assert_eq!(
        lite.store.schema_version().unwrap(),
        pg.store.schema_version().unwrap()
    );
}
