//! End to end: the `rovim migrate` binary on a fresh SQLite file (and PostgreSQL when
//! configured) creates the schema, prints its version, and is idempotent.

use std::process::Command;

fn rovim(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--database-url", url, "--log-format", "json"])
        .args(args)
        .output()
        .expect("run rovim");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_creates_the_sqlite_file_and_prints_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rovim.db");
    let url = db.to_str().unwrap();
    let (ok, out, err) = rovim(url, &["migrate", "--columns"]);
    assert!(ok, "{err}");
    assert!(db.exists());
    assert!(out.contains("schema version: 20261203000001"), "{out}");
    assert!(
        out.contains(
            "tables: actions, installation, instances, interfaces, nets, sdn_controllers, tasks, vim_accounts, vim_leases, vms"
        ),
        "{out}"
    );
    assert!(
        out.contains("  tasks.idempotency_token text NOT NULL"),
        "{out}"
    );
    assert!(
        err.contains(r#""msg":"database ready""#),
        "JSON logs on stderr: {err}"
    );
    // a second run finds nothing to do and says the same
    let (ok, again, _) = rovim(url, &["migrate"]);
    assert!(ok);
    assert!(again.contains("schema version: 20261203000001"));
}

#[cfg_attr(
    rovim_no_pg,
    ignore = "needs PostgreSQL: set ROVIM_TEST_DATABASE_URL (bash .ci/run does)"
)]
#[test]
fn migrate_on_postgres_hides_the_password() {
    let Ok(url) = std::env::var("ROVIM_TEST_DATABASE_URL") else {
        rovim_core::test_peers::absent("PostgreSQL: ROVIM_TEST_DATABASE_URL is not set");
        return;
    };
    // a wrong password on a URL: the error names the database without the secret
    let bad = url
        .replacen("postgres://rovim@", "postgres://nobody:s3cret@", 1)
        .replace(":5432", ":1");
    let (ok, _, err) = rovim(&bad, &["migrate"]);
    assert!(!ok);
    assert!(!err.contains("s3cret"), "{err}");
    assert!(err.contains("nobody:***@"), "{err}");
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let (ok, _, err) = rovim("/nonexistent/dir/rovim.db", &["migrate"]);
    assert!(!ok);
    assert!(err.contains("opening /nonexistent/dir/rovim.db"), "{err}");
}
