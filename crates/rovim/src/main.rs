//! `rovim`: the service binary and its CLI.
//!
//! Commands: `migrate` (create or upgrade the database and print its schema), `demo` (a
//! sample deployment on a simulated VIM, end to end) and `sim-vim` (a simulated VIM over HTTP). The service (`serve`) and the client
//! commands follow in later issues.
#![forbid(unsafe_code)]

mod demo;
mod logging;
mod sim_vim;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rovim_store::{Store, redact_url};

/// rovim: the resource orchestrator's VIM task engine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Database URL: a SQLite file path (the default) or postgres://user@host/db.
    #[arg(
        long,
        global = true,
        env = "ROVIM_DATABASE_URL",
        default_value = "./rovim.db"
    )]
    database_url: String,

    /// Log format: terminal, json, or auto (terminal on a TTY, JSON otherwise).
    #[arg(long, global = true, env = "ROVIM_LOG_FORMAT", default_value = "auto")]
    log_format: logging::LogFormat,

    /// Least severe log level shown.
    #[arg(long, global = true, env = "ROVIM_LOG_LEVEL", default_value = "info")]
    log_level: logging::LogLevel,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or upgrade the database schema and print its version and tables.
    Migrate {
        /// Also print every column.
        #[arg(long)]
        columns: bool,
    },
    /// Deploy a sample (2 nets, 3 VMs) on a simulated VIM, show it, delete it, check the VIM is
    /// empty. Uses a temporary database: nothing is left behind.
    Demo,
    /// Run a simulated VIM as its own HTTP service (state in memory), for tests and demos that
    /// need a VIM to outlive rovim. Register it as a `sim` account with its http:// URL.
    SimVim {
        /// Address to listen on; port 0 picks a free one. The chosen address is printed.
        #[arg(long, default_value = "127.0.0.1:9191")]
        listen: String,
        /// The simulator's knobs as JSON, e.g. '{"build_seconds": 5, "latency_ms": 20}'.
        #[arg(long, default_value = "{}")]
        settings: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (log, _guard) = logging::init(cli.log_format, cli.log_level);
    match cli.command {
        Command::Migrate { columns } => migrate(&log, &cli.database_url, columns),
        Command::Demo => demo::run(log),
        Command::SimVim { listen, settings } => sim_vim::run(log, &listen, &settings),
    }
}

fn migrate(log: &slog::Logger, url: &str, show_columns: bool) -> anyhow::Result<()> {
    let shown = redact_url(url);
    let store = Store::open(url).with_context(|| format!("opening {shown}"))?;
    let version = store.schema_version()?.unwrap_or_else(|| "none".into());
    slog::info!(log, "database ready"; "database" => &shown, "backend" => store.backend().name(), "schema_version" => &version);
    let cols = rovim_store::introspect::columns(&mut *store.conn()?)?;
    println!("database: {shown} ({})", store.backend().name());
    println!("schema version: {version}");
    let mut tables: Vec<&str> = cols.iter().map(|c| c.table.as_str()).collect();
    tables.dedup();
    println!("tables: {}", tables.join(", "));
    if show_columns {
        for c in &cols {
            let null = if c.nullable { "NULL" } else { "NOT NULL" };
            println!("  {}.{} {} {}", c.table, c.name, c.sql_type, null);
        }
    }
    Ok(())
}
