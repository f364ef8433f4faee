//! `rovim serve`: the engine behind the HTTP API until SIGINT/SIGTERM, then a graceful stop:
//! the server stops taking requests, the engine stops its actors and the DbActor commits what
//! was queued, and the process exits 0.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use rovim_api::{ApiState, Tokens, configure};
use rovim_engine::{Connectors, Engine};
use rovim_store::{InstanceLock, Store, redact_url};

use crate::config::ServiceConfig;

pub fn run(log: slog::Logger, config: ServiceConfig, database_url: String) -> anyhow::Result<()> {
    let tokens = Tokens::new(config.tokens()?)?;
    let addr: SocketAddr = config
        .listen
        .parse()
        .with_context(|| format!("listen: '{}' is not an address:port", config.listen))?;
    if tokens.is_empty() && !addr.ip().is_loopback() {
        bail!(
            "refusing to listen on {addr} without authentication: set auth.tokens (or ROVIM_API_TOKENS)"
        );
    }
    // Before the database is opened: a second instance on a SQLite file must not even migrate.
    let _instance = InstanceLock::acquire(&database_url)
        .with_context(|| format!("opening {}", redact_url(&database_url)))?;
    let store = Store::open(&database_url)
        .with_context(|| format!("opening {}", redact_url(&database_url)))?
        .with_key(config.secret_key()?);
    slog::info!(log, "database ready"; "database" => redact_url(&database_url), "backend" => store.backend().name());
    crate::secrets::prepare(&log, &store)?;
    // Bound before the engine starts, so the instance advertises the address it really has.
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr().context("no listening address")?;
    let mut engine_config = config.engine.clone();
    engine_config
        .cluster
        .advertise
        .get_or_insert_with(|| format!("http://{bound}"));
    actix_rt::System::new().block_on(async move {
        let engine = Engine::start(store, engine_config, Arc::new(Connectors::new()), log.clone())
            .await?;
        let state = ApiState {
            engine: engine.clone(),
            tokens,
        };
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().configure(configure(state.clone()))
        })
        .workers(config.workers)
        .shutdown_timeout(10)
        .listen(listener)
        .with_context(|| format!("cannot listen on {addr}"))?;
        slog::info!(log, "rovim serving"; "address" => bound.to_string(), "instance" => engine.instance_id());
        println!("listening on http://{bound}");
        std::io::stdout().flush()?;
        server.run().await.context("HTTP server")?;
        slog::info!(
            log,
            "shutting down: stopping actors, flushing the database writer, handing the leases back"
        );
        engine.shutdown().await?;
        slog::info!(log, "stopped");
        Ok(())
    })
}
