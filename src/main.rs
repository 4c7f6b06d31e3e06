//! The `flowtally` binary: parse the command line, set up logging, run the command, exit with
//! its code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use flowtally::cli::{Cli, LogFormat};
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
    match runtime.block_on(flowtally::commands::execute(&cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("flowtally: {}", flowtally::causes::Causes(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
