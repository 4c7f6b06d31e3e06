//! `flowtally run`: the HTTP listener first (a port in use is a start-up error, not a late
//! surprise), the shutdown signal, then the service (see [`crate::service`]).

use std::process::ExitCode;
use std::sync::Arc;

use super::{load, CommandError, Outcome};
use crate::cli::Cli;
use crate::live::Live;
use crate::service::shutdown;

pub async fn run(cli: &Cli) -> Outcome {
    let (cfg, http) = load(cli)?;
    if let Some(e) = http.exposure_error() {
        return Err(CommandError::Usage(format!("config: {e}")));
    }
    if let Some(files) = &http.tls {
        // A certificate that does not load is a start-up error, not a failed first request.
        crate::http::tls::acceptor(files)
            .map_err(|e| CommandError::Usage(format!("config: {e}")))?;
    }
    let live = Arc::new(Live::new(cfg.timezone));
    let listener = tokio::net::TcpListener::bind(&http.listen)
        .await
        .map_err(|e| {
            CommandError::Failed(format!(
                "cannot listen on [http] listen = \"{}\": {e}",
                http.listen
            ))
        })?;
    match listener.local_addr() {
        Ok(addr) => tracing::info!(
            addr = %addr,
            tls = http.tls.is_some(),
            access_entries = http.access.len(),
            "http listening"
        ),
        Err(_) => tracing::info!(addr = %http.listen, "http listening"),
    }
    let http_live = live.clone();
    let http_cfg = http;
    tokio::spawn(async move {
        if let Err(e) = crate::http::serve_with(listener, http_live, &http_cfg).await {
            tracing::error!(error = %e, "http server stopped");
        }
    });
    let (trigger, stop) = shutdown::channel();
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down: finishing the snapshots in flight, writing the checkpoint");
        trigger.fire();
    });
    match crate::service::run(cfg, live, stop).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CommandError::Failed(e.to_string())),
    }
}

/// SIGTERM or SIGINT.
async fn signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
