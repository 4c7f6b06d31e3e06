//! The `flowtally` command line (SPEC §5): parses arguments and wires the parts together for
//! each command. Exit codes: 0 success, 1 failure, 2 usage or configuration error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sqlx::MySqlPool;

use crate::config::Config;
use crate::db::{self, describe};
use crate::model::views::{parse_list, View};
use crate::tenants::{self, Tenant};

#[derive(Parser, Debug)]
#[command(
    name = "flowtally",
    version,
    about = "Keeps the Production Dashboard tables current from the binlog"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = "config/flowtally.toml")]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The service: start or resume, tail the binlog, write snapshots on cadence, serve HTTP.
    Run,
    /// One-shot full recompute from the source tables (drop-in for the cron script).
    Refresh {
        /// Only this tenant (organization code, any case).
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated: summary,bottlenecks,workload,cycle_time,trends.
        #[arg(long)]
        tables: Option<String>,
    },
    /// Recompute the latest written snapshot with SQL and print every difference.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
        /// Only these tables (as for refresh); default all five.
        #[arg(long)]
        tables: Option<String>,
    },
    /// Show or reset the checkpoint.
    Checkpoint {
        #[command(subcommand)]
        action: CheckpointAction,
    },
    /// Create or upgrade the mv_ tables in the tenant databases.
    Migrate {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CheckpointAction {
    /// Print the checkpoint.
    Show,
    /// Discard it (all, or one tenant's state) so the next start recomputes.
    Reset {
        #[arg(long)]
        tenant: Option<String>,
    },
}

/// A command's failure with the exit code it calls for.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

pub type Outcome = Result<ExitCode, Failure>;

pub fn load_config(cli: &Cli) -> Result<Config, Failure> {
    Config::load(&cli.config).map_err(|e| Failure::usage(e.to_string()))
}

/// Connects a pool to `ep`; a refused login is a failure naming the endpoint (never the
/// password).
pub async fn connect(ep: &crate::config::Endpoint, role: &str) -> Result<MySqlPool, Failure> {
    db::pool(ep, 4).await.map_err(|e| {
        Failure::failed(format!(
            "cannot connect to the {role} server {ep}: {}",
            db::connect_error(ep, &e)
        ))
    })
}

/// The tenants a command works on: all configured ones, or the one `--tenant` names.
pub async fn select_tenants(
    cfg: &Config,
    pool: &MySqlPool,
    only: Option<&str>,
) -> Result<Vec<Tenant>, Failure> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Failure::failed(describe(&e)))?;
    let all = tenants::discover(&mut conn, cfg).await.map_err(|e| {
        Failure::failed(format!(
            "cannot read the tenants from {}.organization: {}",
            cfg.core_db,
            describe(&e)
        ))
    })?;
    match only {
        None => Ok(all),
        Some(code) => {
            let picked: Vec<Tenant> = all
                .iter()
                .filter(|t| t.code.eq_ignore_ascii_case(code))
                .cloned()
                .collect();
            if picked.is_empty() {
                let known: Vec<&str> = all.iter().map(|t| t.code.as_str()).collect();
                return Err(Failure::usage(format!(
                    "unknown tenant '{code}': the active tenants are {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            Ok(picked)
        }
    }
}

pub async fn refresh(cli: &Cli, tenant: Option<&str>, tables: Option<&str>) -> Outcome {
    let views = match tables {
        Some(list) => parse_list(list).map_err(Failure::usage)?,
        None => View::ALL.to_vec(),
    };
    let cfg = load_config(cli)?;
    let at = crate::refresh::instant_now(&cfg);
    let source = connect(&cfg.source, "source").await?;
    let sink = connect(&cfg.sink, "sink").await?;
    let tenants = select_tenants(&cfg, &source, tenant).await?;
    let ok =
        crate::refresh::run(&source, &sink, &tenants, &views, at, &mut std::io::stdout()).await;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn migrate(cli: &Cli, tenant: Option<&str>) -> Outcome {
    let cfg = load_config(cli)?;
    let source = connect(&cfg.source, "source").await?;
    let sink = connect(&cfg.sink, "sink").await?;
    let tenants = select_tenants(&cfg, &source, tenant).await?;
    let mut ok = true;
    for t in &tenants {
        let Some(db) = &t.db else {
            println!("{}: no database on the server, skipped", t.code);
            ok = false;
            continue;
        };
        let mut conn = sink
            .acquire()
            .await
            .map_err(|e| Failure::failed(describe(&e)))?;
        match crate::sink::migrate::migrate(&mut conn, db).await {
            Ok(m) => println!(
                "{} ({db}): created [{}], added columns [{}]",
                t.code,
                m.created.join(", "),
                m.columns_added.join(", ")
            ),
            Err(e) => {
                ok = false;
                println!("{} ({db}): failed: {}", t.code, describe(&e));
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn verify(cli: &Cli, tenant: Option<&str>, tables: Option<&str>) -> Outcome {
    let views = match tables {
        Some(list) => parse_list(list).map_err(Failure::usage)?,
        None => View::ALL.to_vec(),
    };
    let cfg = load_config(cli)?;
    let source = connect(&cfg.source, "source").await?;
    let sink = connect(&cfg.sink, "sink").await?;
    let tenants = select_tenants(&cfg, &source, tenant).await?;
    let mut differences = 0usize;
    for t in &tenants {
        let Some(db) = &t.db else {
            println!("{}: no database on the server, skipped", t.code);
            continue;
        };
        let conns = tokio::try_join!(source.acquire(), sink.acquire());
        let (mut sources, mut written) = conns.map_err(|e| Failure::failed(describe(&e)))?;
        match crate::verify::verify_tenant(&mut sources, &mut written, db, &views).await {
            Ok(diffs) => {
                for d in &diffs {
                    println!("{} {d}", t.code);
                }
                println!("{}: {} difference(s)", t.code, diffs.len());
                differences += diffs.len();
            }
            Err(e) => {
                println!("{}: verify failed: {}", t.code, describe(&e));
                differences += 1;
            }
        }
    }
    Ok(if differences == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn checkpoint(cli: &Cli, action: &CheckpointAction) -> Outcome {
    use crate::checkpoint::{Checkpoint, Refused};
    let cfg = load_config(cli)?;
    let dir = &cfg.state_dir;
    match action {
        CheckpointAction::Show => match Checkpoint::load(dir, None) {
            Ok(cp) => {
                let age = chrono::Utc::now().timestamp() - cp.taken_at;
                let bytes = std::fs::metadata(Checkpoint::path(dir)).map_or(0, |m| m.len());
                println!(
                    "checkpoint: {} ({bytes} bytes)",
                    Checkpoint::path(dir).display()
                );
                println!("server:     {}", cp.server);
                println!("position:   {}", cp.position);
                println!("taken:      {age} s ago");
                for (cadence, t) in cp.last_per_cadence() {
                    let local = crate::model::clock::Instant(t).local(cfg.timezone);
                    println!("last {cadence:<12} {local}");
                }
                for t in &cp.tenants {
                    println!("tenant {} ({}): {} rows", t.code, t.db, t.rows.len());
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(Refused::Missing(_)) => {
                println!(
                    "no checkpoint in {}: the next start recomputes",
                    dir.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Err(Failure::failed(e.to_string())),
        },
        CheckpointAction::Reset { tenant: None } => {
            let existed = Checkpoint::reset(dir).map_err(|e| Failure::failed(e.to_string()))?;
            println!(
                "{}",
                if existed {
                    "checkpoint discarded: the next start recomputes every tenant"
                } else {
                    "no checkpoint to discard"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        CheckpointAction::Reset { tenant: Some(code) } => {
            let mut cp = match Checkpoint::load(dir, None) {
                Ok(cp) => cp,
                Err(Refused::Missing(_)) => {
                    println!("no checkpoint: the next start recomputes every tenant anyway");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(Failure::failed(e.to_string())),
            };
            if !cp.reset_tenant(code) {
                return Err(Failure::usage(format!(
                    "the checkpoint holds no tenant '{code}'"
                )));
            }
            cp.save(dir).map_err(|e| Failure::failed(e.to_string()))?;
            println!("tenant {code} discarded: it is recomputed at the next start");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn run(cli: &Cli) -> Outcome {
    let cfg = load_config(cli)?;
    let live = std::sync::Arc::new(crate::live::Live::new(cfg.timezone));
    // Bound before anything else starts: a port in use is a start-up error, not a late surprise.
    let listener = tokio::net::TcpListener::bind(&cfg.http_listen)
        .await
        .map_err(|e| {
            Failure::failed(format!(
                "cannot listen on [http] listen = \"{}\": {e}",
                cfg.http_listen
            ))
        })?;
    match listener.local_addr() {
        Ok(addr) => tracing::info!(addr = %addr, "http listening"),
        Err(_) => tracing::info!(addr = %cfg.http_listen, "http listening"),
    }
    let http_live = live.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::http::serve(listener, http_live).await {
            tracing::error!(error = %e, "http server stopped");
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing the snapshot in flight, writing the checkpoint");
        let _ = stop.send(());
    });
    match crate::service::run(cfg, live, stopped).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::failed(e.to_string())),
    }
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
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
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
