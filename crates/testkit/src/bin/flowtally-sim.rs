//! `flowtally-sim`: seeded factory traffic into tenant databases, from the command line (the
//! demo, the docker stack). Writes the ERP's source tables: never point it at production.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use flowtally_testkit::simulate::{self, SimOptions};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

#[derive(Parser, Debug)]
#[command(
    name = "flowtally-sim",
    about = "Simulated factory traffic into the ERP's tenant databases (demo and tests; never production)"
)]
struct Args {
    /// The server, as mysql://user[:password]@host:port.
    #[arg(
        long,
        env = "FLOWTALLY_SIM_URL",
        default_value = "mysql://root@127.0.0.1:3307"
    )]
    url: String,
    /// An environment variable holding the password (wins over one in the URL).
    #[arg(long)]
    password_env: Option<String>,
    #[arg(long, default_value = "bgerp")]
    core_db: String,
    #[arg(long, default_value = "bgerp_t_")]
    db_prefix: String,
    /// The factory time zone DATETIMEs are written in.
    #[arg(long, default_value = "Asia/Bangkok")]
    timezone: chrono_tz::Tz,
    /// Tenant codes to create (with `--setup`) and drive.
    #[arg(long, value_delimiter = ',', default_value = "DEFAULT")]
    tenants: Vec<String>,
    /// Create the tenant databases and source tables (dropping existing ones) and seed graphs,
    /// nodes and teams; `flowtally migrate` then creates the mv_ tables.
    #[arg(long)]
    setup: bool,
    /// Transactions per second (0: as fast as possible).
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Stop after this many transactions (default: run until interrupted).
    #[arg(long)]
    transactions: Option<u64>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the ERP's bad rows (invalid status, NULL ids, missing nodes ...) now and then.
    #[arg(long)]
    bad_rows: bool,
    /// Make the node with this code (e.g. SEW, which the seed gives a WIP limit of 12) a
    /// bottleneck: its work goes ten times slower, so its queue grows past its limit.
    #[arg(long, value_name = "NODE_CODE")]
    bottleneck: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flowtally-sim: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowtally-sim: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let mut connect: MySqlConnectOptions = args
        .url
        .parse()
        .with_context(|| format!("--url {}: use mysql://user[:password]@host:port", args.url))?;
    if let Some(var) = &args.password_env {
        let pw = std::env::var(var).with_context(|| format!("--password-env {var} is not set"))?;
        connect = connect.password(&pw);
    }
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .connect_with(connect)
        .await
        .context("connecting")?;
    let mut dbs = Vec::new();
    for (i, code) in args.tenants.iter().enumerate() {
        let db = simulate::tenant_db(&args.db_prefix, code);
        if args.setup {
            simulate::setup_tenant(&pool, &args.core_db, &args.db_prefix, code)
                .await
                .with_context(|| format!("setting up tenant {code}"))?;
            simulate::seed_dimensions(&pool, &db, args.seed + i as u64)
                .await
                .with_context(|| format!("seeding tenant {code}"))?;
            println!("tenant {code}: database {db} created and seeded");
        }
        dbs.push(db);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        flag.store(true, Ordering::SeqCst);
    });
    let opts = SimOptions {
        seed: args.seed,
        tenants: dbs,
        transactions: args.transactions,
        rate_per_sec: (args.rate > 0.0).then_some(args.rate),
        event_time: None,
        bad_rows: args.bad_rows,
        tz: args.timezone,
        bottleneck: args.bottleneck.clone(),
    };
    let stats = simulate::run_until(&pool, &opts, &stop)
        .await
        .context("simulation stopped")?;
    println!(
        "{} transactions, {} rows written, {:.0} tx/s",
        stats.transactions,
        stats.rows_written(),
        stats.tx_per_sec()
    );
    Ok(())
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
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
