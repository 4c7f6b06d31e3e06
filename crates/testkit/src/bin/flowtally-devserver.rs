//! `flowtally-devserver`: a throwaway MariaDB or MySQL with the settings flowtally needs, in a
//! temp dir, until SIGINT or SIGTERM (then it is killed and its directory removed). For the demo
//! and for trying flowtally by hand; the tests start theirs in-process.

use std::process::ExitCode;

use clap::Parser;
use flowtally_testkit::{Flavor, Server};

#[derive(Parser, Debug)]
#[command(
    name = "flowtally-devserver",
    about = "A throwaway MariaDB or MySQL for flowtally"
)]
struct Args {
    /// mariadb or mysql.
    #[arg(long, default_value = "mariadb", value_parser = parse_flavor)]
    flavor: Flavor,
    /// TCP port on 127.0.0.1 (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Extra server flags (repeat), e.g. --arg=--binlog-transaction-compression=ON.
    #[arg(long = "arg", allow_hyphen_values = true)]
    args: Vec<String>,
}

fn parse_flavor(s: &str) -> Result<Flavor, String> {
    Flavor::parse(s).ok_or_else(|| format!("unknown flavour '{s}': use mariadb or mysql"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let extra: Vec<&str> = args.args.iter().map(String::as_str).collect();
    let started = match args.port {
        Some(port) => Server::try_start_on(args.flavor, port, &extra),
        None => Server::try_start(args.flavor, &extra),
    };
    let server = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("flowtally-devserver: {e}");
            return ExitCode::from(1);
        }
    };
    // The one line a script waits for.
    println!("ready {}", server.url());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flowtally-devserver: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
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
    });
    drop(server);
    ExitCode::SUCCESS
}
