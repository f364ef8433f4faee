//! The `rovim serve` a bench starts: this binary in a child process, on a loopback port, with
//! a temporary SQLite database unless `--database-url` names one; and, for `--restart`, a
//! `rovim sim-vim` child the accounts share. Both killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};
use rovim_store::redact_url;

pub struct Service {
    child: Child,
    pub base: String,
    /// What the report says about the database (its URL without a password).
    pub database: String,
    url: String,
    dir: tempfile::TempDir,
}

impl Service {
    pub fn start(
        database_url: Option<&str>,
        max_in_flight: Option<usize>,
    ) -> anyhow::Result<Service> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let url = match database_url {
            Some(u) => u.to_owned(),
            None => dir.path().join("bench.db").to_string_lossy().into_owned(),
        };
        let mut config = String::from("listen: 127.0.0.1:0\n");
        if let Some(n) = max_in_flight {
            config.push_str(&format!("engine:\n  max_in_flight: {n}\n"));
        }
        std::fs::write(dir.path().join("bench.yaml"), config)?;
        let (child, base) = spawn(dir.path(), &url)?;
        Ok(Service {
            base,
            database: redact_url(&url),
            url,
            child,
            dir,
        })
    }

    /// Kills the service and starts it again on the same database (and port 0: a new address).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base) = spawn(self.dir.path(), &self.url)?;
        self.child = child;
        self.base = base;
        Ok(())
    }
}

/// A simulated VIM in its own process: it keeps its elements while the service restarts.
pub struct SimVim {
    child: Child,
    pub base: String,
}

impl SimVim {
    pub fn start(latency_ms: u64) -> anyhow::Result<SimVim> {
        let settings = serde_json::json!({"latency_ms": latency_ms, "build_seconds": 0});
        let mut child = Command::new(std::env::current_exe()?)
            .args(["sim-vim", "--listen", "127.0.0.1:0", "--settings"])
            .arg(settings.to_string())
            .env("ROVIM_LOG_LEVEL", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting rovim sim-vim")?;
        let base = listening_on(&mut child)?.context("rovim sim-vim did not start")?;
        Ok(SimVim { child, base })
    }
}

impl Drop for SimVim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address a child prints first (`listening on URL`), or `None` if it printed else.
fn listening_on(child: &mut Child) -> anyhow::Result<Option<String>> {
    let stdout = child.stdout.take().context("the child's stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    Ok(line.trim().strip_prefix("listening on ").map(str::to_owned))
}

fn spawn(dir: &std::path::Path, url: &str) -> anyhow::Result<(Child, String)> {
    let config_path = dir.join("bench.yaml");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("ROVIM_DATABASE_URL", url)
        .env("ROVIM_LOG_FORMAT", "json")
        .env("ROVIM_LOG_LEVEL", "warning")
        .env_remove("ROVIM_API_TOKENS")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("starting rovim serve")?;
    let Some(base) = listening_on(&mut child)? else {
        let _ = child.kill();
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        bail!("rovim serve did not start: {log}");
    };
    Ok((child, base))
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
