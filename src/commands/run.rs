//! `flowtally run`: the HTTP listener first (a port in use is a start-up error, not a late
//! surprise), the shutdown signal, then the service (see [`crate::service`]).

use std::process::ExitCode;

use super::{load, CommandError, Outcome};
use crate::causes::Causes;
use crate::cli::Cli;
use crate::http::session_key::SessionKey;
use crate::live::LiveWriter;
use crate::service::tasks::Tasks;
use crate::shutdown;

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
    // Before anything else, so that a second `run` on the directory says so at once.
    let lock = crate::checkpoint::lock::lock(&cfg.state_dir)
        .map_err(|e| CommandError::Failed(Causes(&e).to_string()))?;
    // Sessions signed with it outlive this process (a wall screen stays signed in).
    let key_file = http
        .session_key_file
        .clone()
        .unwrap_or_else(|| cfg.state_dir.join("http-session.key"));
    let session_key = SessionKey::load_or_create(&key_file)
        .map_err(|e| CommandError::Failed(Causes(&e).to_string()))?;
    let live = LiveWriter::with_limits(cfg.timezone, crate::service::andon::limits(&cfg.andon));
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
    let (trigger, shutdown) = shutdown::channel();
    let mut tasks = Tasks::new(trigger.clone(), shutdown.clone());
    tasks.spawn(
        "HTTP",
        crate::http::serve_with(listener, live.view(), http, session_key, shutdown),
    );
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutting down: finishing the snapshots in flight, writing the checkpoint");
        trigger.fire();
    });
    crate::service::run(cfg, lock, live, tasks).await?;
    Ok(ExitCode::SUCCESS)
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
