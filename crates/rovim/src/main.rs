//! `rovim`: the service binary and its CLI.
//!
//! Commands: `migrate` (create or upgrade the database and print its schema), `demo` (a
//! sample deployment on a simulated VIM, end to end), `serve` (the service), `rotate-key`
//! (secrets at rest), `probe` (a health check), `bench` (the baseline workload, timed), the client commands (`vim`, `sdn`, `action`)
//! and `sim-vim` (a simulated VIM over HTTP).
#![forbid(unsafe_code)]

mod bench;
mod client;
mod config;
mod demo;
mod logging;
mod secrets;
mod serve;
mod sim_vim;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rovim_store::{Store, redact_url};

/// rovim: the resource orchestrator's VIM task engine.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Database URL: a SQLite file path or postgres://user@host/db (default ./rovim.db, or the
    /// service config's database_url).
    #[arg(
        long,
        global = true,
        env = "ROVIM_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,

    /// Log format: terminal, json, or auto (terminal on a TTY, JSON otherwise).
    #[arg(long, global = true, env = "ROVIM_LOG_FORMAT", default_value = "auto")]
    log_format: logging::LogFormat,

    /// Least severe log level shown [default: info; warning for `demo`, whose output is for a
    /// person: `--log-level info` shows the service's own lines between it].
    #[arg(long, global = true, env = "ROVIM_LOG_LEVEL")]
    log_level: Option<logging::LogLevel>,

    #[command(flatten)]
    api: client::Api,

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
    /// Run the service: the engine behind the HTTP API, until SIGINT/SIGTERM.
    Serve {
        /// YAML config file (see deploy/rovim.example.yaml).
        #[arg(long, env = "ROVIM_CONFIG")]
        config: Option<std::path::PathBuf>,
        /// Address of the HTTP API (overrides the config's listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Seal every stored VIM/SDN password with a new key (AES-256-GCM), opening them with the
    /// current one (from the config or ROVIM_SECRET_KEY; none if they are in clear). Stop the
    /// service first, then start it with the new key.
    RotateKey {
        /// YAML config file (for the database URL and the current key).
        #[arg(long, env = "ROVIM_CONFIG")]
        config: Option<std::path::PathBuf>,
        /// A file with the new key: 64 hex digits (`openssl rand -hex 32 > key; chmod 600 key`).
        #[arg(long)]
        new_key_file: std::path::PathBuf,
    },
    /// Deploy a sample (2 nets, 3 VMs) on a simulated VIM, show it, delete it, check the VIM is
    /// empty. Uses a temporary database: nothing is left behind. `--vim libvirt` deploys on a
    /// libvirt host with the Ryu controller instead: two booted guests ping each other over the
    /// SDN VLAN (`bash .ci/sdn.sh; bash .ci/libvirt.sh` make such a lab on one machine).
    Demo {
        #[arg(long, value_enum, default_value = "sim")]
        vim: demo::DemoVim,
        #[command(flatten)]
        lab: demo::LibvirtDemo,
    },
    /// VIM accounts (over the API of a running rovim).
    #[command(subcommand)]
    Vim(client::VimCommand),
    /// SDN controllers (over the API).
    #[command(subcommand)]
    Sdn(client::SdnCommand),
    /// Actions: submit, show, watch, list (over the API).
    #[command(subcommand)]
    Action(client::ActionCommand),
    /// The rovim instances sharing the database, with the VIM accounts each runs (over the API;
    /// `*` marks the one that answered).
    Instances,
    /// Exit 0 when the rovim at --api-url answers /healthz within 3 s, 1 otherwise: the
    /// container HEALTHCHECK (the image has no shell tools to probe with).
    Probe,
    /// Time OSM RO's baseline workload through the HTTP API: tasks/s, first task done, VIM
    /// calls and rows written per task, CPU seconds per 1,000 tasks, peak RSS. Starts its own
    /// `rovim serve` (SQLite in a temporary directory unless --database-url) unless --api-url.
    Bench(bench::BenchArgs),
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

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The embedded default database.
const DEFAULT_DATABASE: &str = "./rovim.db";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    rovim_vim::tls::init();
    // The demo talks to a person: routine lines (each request, each actor started) would come
    // between its own, so it shows warnings unless asked for more; its dependencies' routine
    // lines (the HTTP server's workers, connection pools) never, their warnings still.
    let demo = matches!(cli.command, Command::Demo { .. });
    let level = cli.log_level.unwrap_or(if demo {
        logging::LogLevel::Warning
    } else {
        logging::LogLevel::Info
    });
    let (log, _guard) = logging::init(cli.log_format, level);
    let dependencies = if demo {
        level.min(logging::LogLevel::Warning)
    } else {
        level
    };
    let _bridge = logging::bridge(&log, dependencies);
    match cli.command {
        Command::Migrate { columns } => migrate(
            &log,
            cli.database_url.as_deref().unwrap_or(DEFAULT_DATABASE),
            columns,
        ),
        Command::Serve { config, listen } => {
            let mut config = config::ServiceConfig::load(config.as_deref(), std::env::vars())?;
            if let Some(l) = listen {
                config.listen = l;
            }
            let url = cli
                .database_url
                .or(config.database_url.clone())
                .unwrap_or_else(|| DEFAULT_DATABASE.into());
            serve::run(log, config, url)
        }
        Command::RotateKey {
            config,
            new_key_file,
        } => {
            let config = config::ServiceConfig::load(config.as_deref(), std::env::vars())?;
            let url = cli
                .database_url
                .or(config.database_url.clone())
                .unwrap_or_else(|| DEFAULT_DATABASE.into());
            let store = Store::open(&url)
                .with_context(|| format!("opening {}", redact_url(&url)))?
                .with_key(config.secret_key()?);
            secrets::rotate_key(store, &new_key_file)
        }
        Command::Demo { vim, lab } => demo::run(log, vim, lab),
        Command::Vim(c) => client::vim(&cli.api, c),
        Command::Sdn(c) => client::sdn(&cli.api, c),
        Command::Action(c) => client::action(&cli.api, c),
        Command::Probe => client::probe(&cli.api),
        Command::Instances => client::instances(&cli.api),
        Command::Bench(args) => bench::run(&cli.api, cli.database_url, args),
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
