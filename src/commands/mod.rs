//! What each `flowtally` command does, one file per command; this file holds what they share
//! (configuration, connections, the tenants a command works on, output) and the error type
//! that knows its exit code: 0 success, 1 failure, 2 usage or configuration error.

mod check;
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
use crate::config::{Config, ConfigError, Document, Endpoint};
use crate::db::{self, describe};
use crate::http::access::HttpConfig;
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
        Command::Check => check::check(cli).await,
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
    Ok(load(cli)?.0)
}

/// The whole configuration, `[http]` included: every command checks all of it, so that a
/// mistake shows at the first command, not at the next `run`.
fn load(cli: &Cli) -> Result<(Config, HttpConfig), CommandError> {
    Ok(assemble(&Document::load(&cli.config)?)?)
}

/// Each layer reads its own sections (`config` can't see `http`'s, which sits above it);
/// a section none of them read is a mistake.
fn assemble(doc: &Document) -> Result<(Config, HttpConfig), ConfigError> {
    let cfg = Config::from_document(doc)?;
    let http = HttpConfig::from_document(doc)?;
    doc.finish()?;
    Ok((cfg, http))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::env_var;

    /// Every key of every section that `assemble` reads, set from its `FLOWTALLY_<SECTION>_<KEY>`
    /// variable alone, changes the configuration for one of the candidate values. A new key is
    /// walked as soon as its section struct has it; one that no candidate fits needs one here
    /// (or, if it holds tables, a place in `NOT_FROM_ENV` and a word in the README).
    #[test]
    fn every_key_is_honoured_from_the_environment() {
        const NOT_FROM_ENV: &[&str] = &["FLOWTALLY_HTTP_ACCESS"];
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
        let base = format!(
            "[source]\nurl = \"mysql://u@h:1\"\n[tenants]\ninclude = [\"A\"]\n\
             [http]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            file("cert.pem", cert),
            file("key.pem", key)
        );
        let candidates = [
            "7".to_string(),
            "false".into(),
            "true".into(),
            "UTC".into(),
            "protected".into(),
            "required".into(),
            "en".into(),
            "127.0.0.1:7777".into(),
            "mysql://c@candidate:1".into(),
            "http://hook.example:1/andon".into(),
            "WALK_PASSWORD".into(),
            file("pw", "secret\n"),
            file("ca.pem", cert),
            file("key2.pem", key),
            file(
                "access.toml",
                &format!(
                    "[[http.access]]\nname = \"x\"\ntoken_sha256 = \"{}\"\ntenants = [\"*\"]\n",
                    crate::http::access::hash_token("t")
                ),
            ),
        ];
        let load = |extra: Option<(&str, &str)>| {
            let mut env = BTreeMap::from([("WALK_PASSWORD".to_string(), "pw".to_string())]);
            env.extend(extra.map(|(k, v)| (k.to_string(), v.to_string())));
            let doc = Document::parse(&base, "walk.toml", &env).unwrap();
            let loaded = assemble(&doc).map(|c| format!("{c:?}"));
            (doc.keys(), loaded)
        };
        let (keys, plain) = load(None);
        let plain = plain.unwrap();
        let mut walked = Vec::new();
        for (section, fields) in keys {
            for field in fields {
                let var = env_var(&section, field);
                let honoured = candidates
                    .iter()
                    .any(|value| matches!(load(Some((&var, value))).1, Ok(c) if c != plain));
                if NOT_FROM_ENV.contains(&var.as_str()) {
                    assert!(!honoured, "{var} is honoured: take it off NOT_FROM_ENV");
                    let e = load(Some((&var, "x"))).1.unwrap_err().to_string();
                    assert!(e.contains(&var) && e.contains("environment"), "{e}");
                } else {
                    assert!(
                        honoured,
                        "{var} changed nothing with any candidate value: is its key carried \
                         into the configuration? If so, add a value it accepts to the candidates"
                    );
                }
                walked.push(var);
            }
        }
        // The variables of the hand-kept list this walk replaced, so none was lost on the way.
        for key in [
            "SOURCE_URL SOURCE_PASSWORD_ENV SOURCE_PASSWORD_FILE SOURCE_SERVER_ID SOURCE_SSL_MODE",
            "SOURCE_SSL_CA SOURCE_HEARTBEAT_SECS SINK_URL SINK_PASSWORD_ENV SINK_PASSWORD_FILE",
            "SINK_SSL_MODE SINK_SSL_CA SINK_WRITE_CONCURRENCY TENANTS_CORE_DB TENANTS_DB_PREFIX",
            "TENANTS_DISCOVER TENANTS_INCLUDE TENANTS_LOAD_CONCURRENCY TIME_TIMEZONE STATE_DIR",
            "STATE_CHECKPOINT_SECS HTTP_LISTEN HTTP_ALLOW_OPEN_ACCESS HTTP_METRICS HTTP_TLS_CERT",
            "HTTP_TLS_KEY",
        ]
        .iter()
        .flat_map(|line| line.split(' '))
        {
            let var = format!("FLOWTALLY_{key}");
            assert!(walked.contains(&var), "{var} was not walked: {walked:?}");
        }
    }

    #[test]
    fn an_unknown_section_is_refused() {
        let doc = Document::parse(
            "[source]\nurl = \"mysql://u@h:1\"\n[htpp]\nlisten = \"0.0.0.0:1\"\n",
            "t.toml",
            &BTreeMap::new(),
        )
        .unwrap();
        let e = assemble(&doc).unwrap_err().to_string();
        assert!(
            e.contains("unknown section [htpp]") && e.contains("[http]"),
            "{e}"
        );
    }
}
