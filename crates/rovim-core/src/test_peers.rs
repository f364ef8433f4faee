//! Tests that need a third-party server (PostgreSQL, moto, Keystone and Neutron, Nova, Ryu,
//! libvirt) or a privilege (mounting a tmpfs) skip without it, saying so, so that the test
//! command passes on a bare machine; under `CI=true` the server's absence is a failure, never a
//! skip.

/// Reports that what a test needs is absent: a failure under `CI=true`, else a note that the
/// test is skipped. `what` says what is missing and how to get it.
pub fn absent(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} (required under CI=true)");
    }
    eprintln!("skipping: {what}");
}
