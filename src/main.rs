//! The `flowtally` binary: parse the command line, set up logging, run the command.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use flowtally::cli::{self, Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_env("FLOWTALLY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flowtally: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        match &cli.command {
            Command::Refresh { tenant, tables } => {
                cli::refresh(&cli, tenant.as_deref(), tables.as_deref()).await
            }
            Command::Migrate { tenant } => cli::migrate(&cli, tenant.as_deref()).await,
            Command::Verify { tenant, tables } => {
                cli::verify(&cli, tenant.as_deref(), tables.as_deref()).await
            }
            Command::Checkpoint { action } => cli::checkpoint(&cli, action),
            Command::Run => cli::run(&cli).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(f) => {
            eprintln!("flowtally: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
