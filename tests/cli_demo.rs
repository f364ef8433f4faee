//! `rovim demo` end to end: the binary starts the service, deploys the sample over HTTP on its sim
//! VIM and SDN controller, shows addresses and ports, tears it down and exits 0 only if both are
//! empty again.

use std::process::Command;

#[test]
fn the_demo_deploys_shows_and_tears_down() {
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--log-format", "json", "demo"])
        .output()
        .expect("run rovim demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("DONE: 5/5 done, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("192.168.100."),
        "VM addresses come from the mgmt subnet: {stdout}"
    );
    assert!(
        stdout.contains("VMs: web ACTIVE db ACTIVE dpi ACTIVE"),
        "refresh saw them boot: {stdout}"
    );
    assert!(
        stdout.contains("SDN controller: 1 network(s), 1 external port(s)"),
        "the SR-IOV port is wired: {stdout}"
    );
    assert!(
        stdout.contains("rovim is serving on http://127.0.0.1:"),
        "the real service, over HTTP: {stdout}"
    );
    assert!(stdout.contains("the VIM is empty again"), "{stdout}");
    // Logs are JSON lines on stderr, with the VIM account as a field.
    let first = stderr.lines().next().expect("some log line");
    let v: serde_json::Value = serde_json::from_str(first).expect("JSON log line");
    assert!(v.get("msg").is_some(), "{first}");
    assert!(stderr.contains("\"vim\":"), "{stderr}");
}
