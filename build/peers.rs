// Which third-party servers the tests can reach, decided when the tests are built, so a test
// whose server is missing shows as `ignored` (with the reason) in `cargo test`, not as a
// silent `ok`. Under `CI=true` nothing is ignored: a missing server fails its test.
// Shared by the build scripts of the crates with such tests (`#[path]` module).

use std::path::PathBuf;

/// The cfg of each absent server.
pub fn missing() -> Vec<&'static str> {
    for var in [
        "CI",
        "ROVIM_MOTO_SERVER",
        "HOME",
        "ROVIM_TEST_KEYSTONE_URL",
        "ROVIM_TEST_NEUTRON_AUTH_URL",
        "ROVIM_TEST_NOVA_URL",
        "ROVIM_TEST_RYU_URL",
        "ROVIM_TEST_LIBVIRT_URL",
        "ROVIM_TEST_GUEST_DIR",
        "ROVIM_TEST_PG_CTL",
        "ROVIM_TEST_DATABASE_URL",
        "ROVIM_TOOLS_VENV",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    for cfg in [
        "rovim_no_moto",
        "rovim_no_keystone",
        "rovim_no_neutron_auth",
        "rovim_no_nova",
        "rovim_no_ryu",
        "rovim_no_libvirt",
        "rovim_no_chromium",
        "rovim_no_pg_ctl",
        "rovim_no_pg",
        "rovim_no_openapi_validator",
        "rovim_no_kubernetes_validate",
        "rovim_no_systemd_analyze",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Vec::new();
    }
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.is_empty());
    let moto = std::env::var("ROVIM_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/rovim/moto-venv/bin/moto_server")
        });
    println!("cargo::rerun-if-changed={}", moto.display());
    let mut out = Vec::new();
    if !moto.exists() {
        out.push("rovim_no_moto");
    }
    if !set("ROVIM_TEST_KEYSTONE_URL") {
        out.push("rovim_no_keystone");
    }
    if !set("ROVIM_TEST_NEUTRON_AUTH_URL") {
        out.push("rovim_no_neutron_auth");
    }
    if !(set("ROVIM_TEST_NOVA_URL") && set("ROVIM_TEST_KEYSTONE_URL")) {
        out.push("rovim_no_nova");
    }
    if !set("ROVIM_TEST_RYU_URL") {
        out.push("rovim_no_ryu");
    }
    if !(set("ROVIM_TEST_LIBVIRT_URL") && set("ROVIM_TEST_GUEST_DIR")) {
        out.push("rovim_no_libvirt");
    }
    println!("cargo::rerun-if-changed=/usr/bin/chromedriver");
    if !std::path::Path::new("/usr/bin/chromedriver").exists() {
        out.push("rovim_no_chromium");
    }
    if !set("ROVIM_TEST_DATABASE_URL") {
        out.push("rovim_no_pg");
    }
    if !(set("ROVIM_TEST_PG_CTL") && set("ROVIM_TEST_DATABASE_URL")) {
        out.push("rovim_no_pg_ctl");
    }
    let validator = tools_venv().join("bin/openapi-spec-validator");
    println!("cargo::rerun-if-changed={}", validator.display());
    if !validator.exists() {
        out.push("rovim_no_openapi_validator");
    }
    let kubernetes_validate = tools_venv().join("bin/kubernetes-validate");
    println!("cargo::rerun-if-changed={}", kubernetes_validate.display());
    if !kubernetes_validate.exists() {
        out.push("rovim_no_kubernetes_validate");
    }
    if !std::path::Path::new("/usr/bin/systemd-analyze").exists() {
        out.push("rovim_no_systemd_analyze");
    }
    out
}

/// The venv of the checking tools `.ci/run` installs (openapi-spec-validator,
/// kubernetes-validate): `ROVIM_TOOLS_VENV`, else `~/.cache/rovim/tools-venv`.
pub fn tools_venv() -> PathBuf {
    std::env::var("ROVIM_TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/rovim/tools-venv")
        })
}

/// Emits the cfgs; call from `main` of a build script.
pub fn emit() {
    for cfg in missing() {
        println!("cargo::rustc-cfg={cfg}");
    }
    // The tests find the tools where this script looked for them.
    println!(
        "cargo::rustc-env=ROVIM_TOOLS_VENV_AT_BUILD={}",
        tools_venv().display()
    );
}
