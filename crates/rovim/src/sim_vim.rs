//! `rovim sim-vim`: a simulated VIM served over HTTP until SIGINT/SIGTERM.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use rovim_vim::sim::http_server;
use rovim_vim::{SimCloud, SimSettings};

pub fn run(log: slog::Logger, listen: &str, settings: &str) -> anyhow::Result<()> {
    let value: serde_json::Value =
        serde_json::from_str(settings).context("--settings is not JSON")?;
    let settings =
        SimSettings::from_config(&value).map_err(|e| anyhow::anyhow!("--settings: {e}"))?;
    let cloud = Arc::new(SimCloud::new(settings));
    actix_rt::System::new().block_on(async move {
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().configure(http_server::routes(cloud.clone()))
        })
        .workers(1)
        .bind(listen)
        .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .context("no listening address")?;
        slog::info!(log, "sim VIM listening"; "address" => addr.to_string());
        // The address on stdout, first line: tests and scripts read it to learn the port.
        println!("listening on http://{addr}");
        std::io::stdout().flush()?;
        server.run().await.context("sim VIM server")
    })
}
