//! `rovim demo` end to end: the binary starts the service, deploys the sample over HTTP on its sim
//! VIM and SDN controller, shows addresses and ports, tears it down and exits 0 only if both are
//! empty again.

use std::process::Command;

#[test]
fn the_demo_deploys_shows_and_tears_down() {
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--log-format", "json", "--log-level", "info", "demo"])
        .env_remove("ROVIM_LOG_LEVEL")
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
    assert!(
        stdout.contains("dashboard: http://127.0.0.1:") && stdout.contains("/ui"),
        "{stdout}"
    );
    assert!(
        !stderr
            .lines()
            .any(|l| l.contains("\"source\":\"dependency\"") && l.contains("\"level\":\"INFO\"")),
        "no routine lines of dependencies between the demo's own: {stderr}"
    );
    // Logs are JSON lines on stderr, with the VIM account as a field.
    let first = stderr.lines().next().expect("some log line");
    let v: serde_json::Value = serde_json::from_str(first).expect("JSON log line");
    assert!(v.get("msg").is_some(), "{first}");
    assert!(stderr.contains("\"vim\":"), "{stderr}");
}

/// By default the demo's output is all a person sees: no log line of the service's routine
/// (each request, each actor started) comes between its lines.
#[test]
fn the_demo_alone_shows_only_its_own_output_and_warnings() {
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--log-format", "json", "demo"])
        .env_remove("ROVIM_LOG_LEVEL")
        .output()
        .expect("run rovim demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("DONE: 5/5 done, 0 failed"), "{stdout}");
    for line in stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: a JSON log line: {line}"));
        assert!(
            v["level"].is_string()
                && !matches!(
                    v["level"].as_str(),
                    Some("INFO" | "DEBG" | "DEBUG" | "TRCE" | "TRACE")
                ),
            "only warnings and errors: {line}"
        );
    }
}

/// `rovim demo --vim libvirt` on the lab of `.ci/sdn.sh` and `.ci/libvirt.sh`: two booted
/// guests reach each other over the SDN VLAN, and nothing is left on libvirt or Ryu after.
#[cfg_attr(
    any(rovim_no_libvirt, rovim_no_ryu),
    ignore = "needs libvirt, Open vSwitch and Ryu: eval \"$(bash .ci/sdn.sh)\"; eval \"$(bash .ci/libvirt.sh)\""
)]
#[test]
fn the_libvirt_demo_boots_guests_that_ping_over_the_sdn_vlan() {
    let Some(lab) = rovim_vim::testing::libvirt_lab() else {
        return;
    };
    let ryu = std::env::var("ROVIM_TEST_RYU_URL")
        .expect("ROVIM_TEST_RYU_URL (eval \"$(bash .ci/sdn.sh)\")");
    let out = Command::new(env!("CARGO_BIN_EXE_rovim"))
        .args(["--log-format", "json", "demo", "--vim", "libvirt"])
        .args([
            "--libvirt-uri",
            &lab.uri,
            "--guest-dir",
            &lab.guest_dir,
            "--ryu-url",
            &ryu,
        ])
        .output()
        .expect("run rovim demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("VMs: rovim-demo-a ACTIVE rovim-demo-b ACTIVE"),
        "{stdout}"
    );
    assert!(stdout.contains("192.168.123."), "DHCP addresses: {stdout}");
    assert!(
        stdout.contains("rovim-demo-a: ROVIM-PING 10.98.0.2 ok")
            && stdout.contains("rovim-demo-b: ROVIM-PING 10.98.0.1 ok"),
        "the guests reach each other: {stdout}"
    );
    assert!(
        stdout.contains(
            "libvirt has none of the demo's domains and networks left, and Ryu none of its rules"
        ),
        "{stdout}"
    );
}
