//! The service's configuration: a YAML file (every key documented in
//! `deploy/rovim.example.yaml`), then `ROVIM_*` environment variables, then flags.
//!
//! Environment: `ROVIM_LISTEN`, `ROVIM_DATABASE_URL`, `ROVIM_WORKERS`, `ROVIM_API_TOKENS`
//! (comma-separated), `ROVIM_SECRET_KEY_FILE`, `ROVIM_SECRET_KEY` (the key itself, never in
//! the file), and any engine key as `ROVIM_ENGINE__<KEY>` (nested with `__`, e.g.
//! `ROVIM_ENGINE__REFRESH__ACTIVE_SECS=30`). Values are read as YAML scalars.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rovim_engine::EngineConfig;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Address of the HTTP API.
    pub listen: String,
    /// Database URL (SQLite path or postgres://); `./rovim.db` when absent everywhere.
    pub database_url: Option<String>,
    /// HTTP worker threads.
    pub workers: usize,
    pub auth: AuthConfig,
    pub secrets: SecretsConfig,
    pub engine: EngineConfig,
}

/// The key VIM passwords are sealed with in the database (AES-256-GCM): 64 hex digits.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// A file holding the key (e.g. a mounted Kubernetes Secret).
    pub key_file: Option<PathBuf>,
    /// The key from `ROVIM_SECRET_KEY` (not settable in the file).
    #[serde(skip)]
    pub key_from_env: Option<HiddenKey>,
}

/// A key given in the environment; never shown.
#[derive(Clone, PartialEq)]
pub struct HiddenKey(String);

impl std::fmt::Debug for HiddenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HiddenKey(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Bearer tokens accepted by the API. Required when `listen` is not a loopback address.
    pub tokens: Vec<String>,
    /// A file with one token per line (kept apart from the config, e.g. a Kubernetes Secret).
    pub tokens_file: Option<PathBuf>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            listen: "127.0.0.1:9090".into(),
            database_url: None,
            workers: 2,
            auth: AuthConfig::default(),
            secrets: SecretsConfig::default(),
            engine: EngineConfig::default(),
        }
    }
}

impl ServiceConfig {
    /// Reads the file (if any), applies the environment, and checks the result.
    pub fn load(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<ServiceConfig> {
        let mut doc: Value = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let v = rovim_core::yaml::to_json_value(&text)
                    .with_context(|| format!("{}: not YAML", path.display()))?;
                if v.is_null() {
                    Value::Object(Default::default())
                } else {
                    v
                }
            }
            None => Value::Object(Default::default()),
        };
        let mut key_from_env = None;
        for (key, value) in env {
            let path: Vec<String> = match key.as_str() {
                "ROVIM_SECRET_KEY" => {
                    key_from_env = Some(HiddenKey(value));
                    continue;
                }
                "ROVIM_SECRET_KEY_FILE" => vec!["secrets".into(), "key_file".into()],
                "ROVIM_LISTEN" => vec!["listen".into()],
                "ROVIM_DATABASE_URL" => vec!["database_url".into()],
                "ROVIM_WORKERS" => vec!["workers".into()],
                "ROVIM_API_TOKENS" => {
                    let tokens: Vec<Value> = value
                        .split(',')
                        .map(|t| Value::String(t.trim().to_owned()))
                        .collect();
                    set(
                        &mut doc,
                        &["auth".into(), "tokens".into()],
                        Value::Array(tokens),
                    )?;
                    continue;
                }
                k => match k.strip_prefix("ROVIM_ENGINE__") {
                    Some(rest) => std::iter::once("engine".to_owned())
                        .chain(rest.split("__").map(str::to_ascii_lowercase))
                        .collect(),
                    None => continue,
                },
            };
            let scalar: Value =
                rovim_core::yaml::to_json_value(&value).unwrap_or(Value::String(value.clone()));
            set(&mut doc, &path, scalar)?;
        }
        let mut config: ServiceConfig =
            serde_json::from_value(doc).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        config.secrets.key_from_env = key_from_env;
        config.engine.validate()?;
        if config.workers == 0 {
            bail!("configuration: workers: must be at least 1");
        }
        Ok(config)
    }

    /// The key to seal secrets with: `ROVIM_SECRET_KEY`, else the key file; none when neither
    /// is given (secrets are then stored in clear, and `serve` says so).
    pub fn secret_key(&self) -> anyhow::Result<Option<rovim_store::SecretKey>> {
        if let Some(HiddenKey(hex)) = &self.secrets.key_from_env {
            return Ok(Some(
                rovim_store::SecretKey::from_hex(hex).context("ROVIM_SECRET_KEY")?,
            ));
        }
        let Some(path) = &self.secrets.key_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("secrets.key_file: reading {}", path.display()))?;
        let key = rovim_store::SecretKey::from_hex(&text)
            .with_context(|| format!("secrets.key_file {}", path.display()))?;
        Ok(Some(key))
    }

    /// The tokens from the config and the tokens file.
    pub fn tokens(&self) -> anyhow::Result<Vec<String>> {
        let mut tokens = self.auth.tokens.clone();
        if let Some(path) = &self.auth.tokens_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            tokens.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        Ok(tokens)
    }
}

fn set(doc: &mut Value, path: &[String], value: Value) -> anyhow::Result<()> {
    let mut at = doc;
    for (i, key) in path.iter().enumerate() {
        let Value::Object(map) = at else {
            bail!("configuration: {} is not a section", path[..i].join("."));
        };
        if i + 1 == path.len() {
            map.insert(key.clone(), value);
            return Ok(());
        }
        at = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rovim.yaml");
        std::fs::write(
            &path,
            "listen: 0.0.0.0:8080\nengine:\n  max_in_flight: 4\n  refresh: {active_secs: 30}\n",
        )
        .unwrap();
        let c = ServiceConfig::load(Some(&path), env(&[])).unwrap();
        assert_eq!(
            (
                c.listen.as_str(),
                c.engine.max_in_flight,
                c.engine.refresh.active_secs
            ),
            ("0.0.0.0:8080", 4, 30.0)
        );
        let c = ServiceConfig::load(
            Some(&path),
            env(&[
                ("ROVIM_ENGINE__MAX_IN_FLIGHT", "16"),
                ("ROVIM_API_TOKENS", "a, b"),
                ("ROVIM_LISTEN", "127.0.0.1:1"),
                ("ROVIM_ENGINE__REFRESH__BUILD_SECS", "2.5"),
                ("ROVIM_TEST_DATABASE_URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.engine.max_in_flight, 16);
        assert_eq!(c.engine.refresh.build_secs, 2.5);
        assert_eq!(c.auth.tokens, vec!["a", "b"]);
        assert_eq!(c.listen, "127.0.0.1:1");
    }

    #[test]
    fn the_example_config_documents_valid_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rovim.example.yaml");
        let c = ServiceConfig::load(Some(&path), env(&[])).unwrap();
        let defaults = ServiceConfig {
            database_url: Some("./rovim.db".into()),
            ..ServiceConfig::default()
        };
        assert_eq!(c, defaults, "the example shows the defaults");
    }

    #[test]
    fn the_secret_key_comes_from_the_environment_or_a_file_and_is_never_shown() {
        let hex = "c3".repeat(32);
        let c = ServiceConfig::load(None, env(&[("ROVIM_SECRET_KEY", &hex)])).unwrap();
        assert!(!format!("{c:?}").contains("c3c3"), "Debug hides the key");
        let id = c.secret_key().unwrap().unwrap().id().to_owned();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{hex}\n")).unwrap();
        let c = ServiceConfig::load(
            None,
            env(&[("ROVIM_SECRET_KEY_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.secret_key().unwrap().unwrap().id(), id, "the same key");
        assert!(ServiceConfig::default().secret_key().unwrap().is_none());
        let bad = ServiceConfig::load(None, env(&[("ROVIM_SECRET_KEY", "short")]))
            .unwrap()
            .secret_key()
            .unwrap_err();
        let text = format!("{bad:#}");
        assert!(
            text.contains("ROVIM_SECRET_KEY") && text.contains("64 hexadecimal digits"),
            "{text}"
        );
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rovim.yaml");
        std::fs::write(&path, "listne: x\n").unwrap();
        let e = ServiceConfig::load(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("listne"), "{e}");
        let e = ServiceConfig::load(None, env(&[("ROVIM_ENGINE__MAX_IN_FLIGHT", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_in_flight"), "{e}");
    }
}
