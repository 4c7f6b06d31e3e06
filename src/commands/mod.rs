//! What each `flowtally` command does, one file per command; this file holds what they share
//! (configuration, connections, the tenants a command works on, output) and the error type
//! that knows its exit code: 0 success, 1 failure, 2 usage or configuration error.

mod checkpoint;
mod http_credential;
mod migrate;
mod refresh;
mod run;
mod verify;

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

use sqlx::MySqlPool;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError, Endpoint};
use crate::db::{self, describe};
use crate::model::views::{parse_list, View};
use crate::tenants::{self, Tenant};

/// Why a command failed, and so its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A usage or configuration error, reported before anything is written: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The command could not do its work: exit 1.
    #[error("{0}")]
    Failed(String),
    /// The service stopped with an error: exit 1.
    #[error(transparent)]
    Run(#[from] crate::service::RunError),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Usage(_) => 2,
            CommandError::Failed(_) | CommandError::Run(_) => 1,
        }
    }
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> Self {
        CommandError::Usage(e.to_string())
    }
}

pub type Outcome = Result<ExitCode, CommandError>;

/// Runs the command `cli` names.
pub async fn execute(cli: &Cli) -> Outcome {
    match &cli.command {
        Command::Run => run::run(cli).await,
        Command::Refresh { tenant, tables } => {
            refresh::refresh(cli, tenant.as_deref(), tables.as_deref()).await
        }
        Command::Verify { tenant, tables } => {
            verify::verify(cli, tenant.as_deref(), tables.as_deref()).await
        }
        Command::Migrate { tenant } => migrate::migrate(cli, tenant.as_deref()).await,
        Command::Checkpoint { action } => checkpoint::checkpoint(cli, action),
        Command::HttpCredential { kind } => http_credential::http_credential(kind),
    }
}

fn load_config(cli: &Cli) -> Result<Config, CommandError> {
    Ok(Config::load(&cli.config)?)
}

/// `--tables`, or all five.
fn views(tables: Option<&str>) -> Result<Vec<View>, CommandError> {
    match tables {
        Some(list) => parse_list(list).map_err(CommandError::Usage),
        None => Ok(View::ALL.to_vec()),
    }
}

/// Connects a pool to `ep`; a refused login is a failure naming the endpoint (never the
/// password).
async fn connect(ep: &Endpoint, role: &str) -> Result<MySqlPool, CommandError> {
    db::pool(ep, 4).await.map_err(|e| {
        CommandError::Failed(format!(
            "cannot connect to the {role} server {ep}: {}",
            db::connect_error(ep, &e)
        ))
    })
}

/// The tenants a command works on: all configured ones, or the one `--tenant` names.
async fn select_tenants(
    cfg: &Config,
    pool: &MySqlPool,
    only: Option<&str>,
) -> Result<Vec<Tenant>, CommandError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| CommandError::Failed(describe(&e)))?;
    let all = tenants::discover(&mut conn, cfg).await.map_err(|e| {
        CommandError::Failed(format!(
            "cannot read the tenants from {}.organization: {}",
            cfg.core_db,
            describe(&e)
        ))
    })?;
    let Some(code) = only else {
        return Ok(all);
    };
    let picked: Vec<Tenant> = all
        .iter()
        .filter(|t| t.code.eq_ignore_ascii_case(code))
        .cloned()
        .collect();
    if picked.is_empty() {
        let known: Vec<&str> = all.iter().map(|t| t.code.as_str()).collect();
        return Err(CommandError::Usage(format!(
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

/// Standard output for a command's report. A closed pipe (`flowtally checkpoint show | head`)
/// is not an error: the rest of the report is dropped, quietly.
pub struct Out {
    closed: bool,
}

impl Out {
    pub fn new() -> Out {
        Out { closed: false }
    }

    pub fn line(&mut self, text: impl Display) {
        if self.closed {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            self.closed = true;
        }
    }
}

impl Default for Out {
    fn default() -> Self {
        Out::new()
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
