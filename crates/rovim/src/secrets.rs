//! Secrets at rest, the operator's side: what `serve` checks and says at start, and
//! `rovim rotate-key`.

use std::path::Path;

use anyhow::Context;
use rovim_store::{SecretKey, Store};

/// At start: refuses a database whose sealed secrets the key given cannot open, seals the
/// secrets still in clear when there is a key, and warns when there is none.
pub fn prepare(log: &slog::Logger, store: &Store) -> anyhow::Result<()> {
    let prepared = store.prepare_secrets()?;
    match store.key() {
        Some(key) => {
            slog::info!(log, "secrets sealed at rest"; "key_id" => key.id(), "sealed_now" => prepared.sealed_now)
        }
        None if prepared.in_clear > 0 => {
            slog::warn!(log, "VIM passwords are stored in clear: give a key (secrets.key_file or ROVIM_SECRET_KEY) to seal them";
                "secrets_in_clear" => prepared.in_clear);
        }
        None => {}
    }
    Ok(())
}

/// Seals every stored secret with the key in `new_key_file`, opening them with the current
/// key (or reading them in clear). One transaction: all or nothing.
pub fn rotate_key(store: Store, new_key_file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(new_key_file)
        .with_context(|| format!("reading {}", new_key_file.display()))?;
    let new = SecretKey::from_hex(&text).with_context(|| format!("{}", new_key_file.display()))?;
    // The current key must open what is stored before anything changes.
    store.check_secrets()?;
    let id = new.id().to_owned();
    let (_, n) = store.rotate_key(new)?;
    println!(
        "{n} secret(s) sealed with key {id}; start rovim with this key (secrets.key_file or ROVIM_SECRET_KEY)"
    );
    Ok(())
}
