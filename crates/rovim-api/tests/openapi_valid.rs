//! Issue 11 (9): the OpenAPI document passes `openapi-spec-validator` (27 errors before), run
//! from the tools venv `.ci/run` installs.

use std::path::PathBuf;
use std::process::Command;

use rovim_api::openapi::ApiDoc;
use utoipa::OpenApi;

#[cfg_attr(
    rovim_no_openapi_validator,
    ignore = "needs openapi-spec-validator: .ci/run installs it in ~/.cache/rovim/tools-venv (or set ROVIM_TOOLS_VENV)"
)]
#[test]
fn the_openapi_document_passes_openapi_spec_validator() {
    let validator =
        PathBuf::from(env!("ROVIM_TOOLS_VENV_AT_BUILD")).join("bin/openapi-spec-validator");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(&ApiDoc::openapi()).unwrap(),
    )
    .unwrap();
    let out = Command::new(&validator)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{text}"
    );
    assert!(text.contains("OK"), "{text}");
}
