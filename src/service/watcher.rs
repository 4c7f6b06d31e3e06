//! The tenant watcher: a task beside the applier that surveys the tenants every
//! [`SURVEY_SECS`], or less often when a survey is slow (sooner when the applier pokes it
//! after an organization change): which
//! tenants the registry lists, whether their databases exist, whether their source tables have
//! every column flowtally reads (checked as the reader) and whether their mv_ tables exist
//! (checked as the writer). One query per question for all tenants, and the answer goes to the
//! applier as one [`Survey`]; the applier acts on it without any I/O of its own.
//!
//! The tables of a tenant that is served and was found whole are read again only at every
//! [`RECHECK_EVERY`]th survey: reading every tenant's tables is what a survey costs the server (a
//! stream's changed columns are seen in the stream anyway), and every other tenant (new, not
//! served, or with a problem) is checked at every survey.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::MySqlPool;
use tokio::sync::{mpsc, Notify};

use super::left_out::LeftOutLog;
use crate::catalog;
use crate::config::Config;
use crate::db::describe;
use crate::live::LiveView;
use crate::model::View;
use crate::ratelimit::WARNINGS;
use crate::schema::SchemaProblem;
use crate::shutdown::Shutdown;
use crate::tenants::{self, Tenant, TenantKey};

/// Seconds between two surveys, at least.
pub const SURVEY_SECS: u64 = 10;
/// A survey waits this many times as long as the last one took before the next: its
/// information_schema reads cost the server in proportion to the tables of every tenant
/// (5 s a query with 10,000 tenants on MariaDB), and must not take more than a tenth of a
/// core of the server it watches.
const SURVEY_SHARE: u32 = 9;
/// Every this many surveys, every tenant's tables are read: once a minute at the usual pace.
/// Counted in surveys, not seconds: a survey that reads them all may take long enough that
/// the pause after it outlasts any interval in seconds, and then no survey would be light.
pub const RECHECK_EVERY: u64 = 6;

/// The databases a survey takes to be whole without reading their tables: those found whole
/// by the last survey and served, but none at the first survey and every [`RECHECK_EVERY`]th.
fn trusted(made: u64, whole: &HashSet<String>, served: impl Fn(&str) -> bool) -> HashSet<String> {
    if made.is_multiple_of(RECHECK_EVERY) {
        return HashSet::new();
    }
    whole.iter().filter(|db| served(db)).cloned().collect()
}

/// One tenant as the survey found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Surveyed {
    pub code: String,
    /// Its database, when the server has it.
    pub db: Option<String>,
    /// What keeps it from being served, if anything.
    pub problem: Option<SchemaProblem>,
}

/// The tenants the registry lists now, each with its problem if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub tenants: Vec<Surveyed>,
}

/// Surveys until shutdown (or until the applier is gone): once at once, then every
/// [`SURVEY_SECS`] (or [`SURVEY_SHARE`] times the last survey's time, if longer) or when
/// `poke` is notified.
pub async fn watch(
    cfg: Arc<Config>,
    source: MySqlPool,
    sink: MySqlPool,
    live: LiveView,
    poke: Arc<Notify>,
    out: mpsc::Sender<Survey>,
    mut shutdown: Shutdown,
) {
    let mut left_out = LeftOutLog::default();
    // The databases found whole at the last survey, and how many surveys were made.
    let mut whole: HashSet<String> = HashSet::new();
    let mut made = 0;
    loop {
        let started = std::time::Instant::now();
        let trusted = trusted(made, &whole, |db| live.contains(&TenantKey::of_db(db)));
        let surveyed = tokio::select! {
            _ = shutdown.fired() => return,
            s = survey(&cfg, &source, &sink, &trusted) => s,
        };
        let pause = (started.elapsed() * SURVEY_SHARE).max(Duration::from_secs(SURVEY_SECS));
        match surveyed {
            Ok(s) => {
                made += 1;
                whole = s
                    .tenants
                    .iter()
                    .filter(|t| t.problem.is_none())
                    .filter_map(|t| t.db.as_deref().map(str::to_lowercase))
                    .collect();
                if out.send(s).await.is_err() {
                    return;
                }
                left_out.pass(&live);
            }
            Err(e) => {
                if let Some(suppressed) = WARNINGS.check("tenant survey") {
                    tracing::warn!(error = %e, suppressed, "tenant survey failed; retrying");
                }
            }
        }
        tokio::select! {
            _ = shutdown.fired() => return,
            _ = poke.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// A survey that could not be made (it is tried again at the next one).
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {}", describe(.source))]
pub struct SurveyError {
    doing: &'static str,
    source: sqlx::Error,
}

fn doing(what: &'static str) -> impl Fn(sqlx::Error) -> SurveyError {
    move |source| SurveyError {
        doing: what,
        source,
    }
}

/// One survey: the registry, the databases, then the source and mv_ tables of all tenants but
/// those whose databases (lowercased) are `trusted` (found whole a moment ago: they are taken
/// to be whole still).
pub async fn survey(
    cfg: &Config,
    source: &MySqlPool,
    sink: &MySqlPool,
    trusted: &HashSet<String>,
) -> Result<Survey, SurveyError> {
    let found = {
        let mut conn = source.acquire().await.map_err(doing("connecting"))?;
        tenants::discover(&mut conn, cfg)
            .await
            .map_err(doing("reading the tenants"))?
    };
    let dbs: Vec<String> = found
        .iter()
        .filter_map(|t| t.db.clone())
        .filter(|db| !trusted.contains(&db.to_lowercase()))
        .collect();
    let sources = {
        let mut conn = source.acquire().await.map_err(doing("connecting"))?;
        catalog::read_sources(&mut conn, &dbs)
            .await
            .map_err(doing("checking the source tables"))?
    };
    let mv_tables: Vec<&'static str> = View::ALL.iter().map(|v| v.table()).collect();
    let sinks = {
        let mut conn = sink
            .acquire()
            .await
            .map_err(doing("connecting to the sink"))?;
        catalog::read(&mut conn, &dbs, &mv_tables)
            .await
            .map_err(doing("checking the mv_ tables"))?
    };
    let tenants = found
        .into_iter()
        .map(|Tenant { code, db }| {
            let problem = match &db {
                None => Some(SchemaProblem::NoDatabase),
                Some(db) if trusted.contains(&db.to_lowercase()) => None,
                Some(db) => sources.source_problem(db).or_else(|| {
                    let tables = sinks.missing_tables(db, &mv_tables);
                    (!tables.is_empty()).then_some(SchemaProblem::NoMvTables { tables })
                }),
            };
            Surveyed { code, db, problem }
        })
        .collect();
    Ok(Survey { tenants })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_tenants_found_whole_are_trusted_but_at_every_sixth_survey() {
        let whole: HashSet<String> = ["bgerp_t_a", "bgerp_t_b"].map(String::from).into();
        let served = |db: &str| db != "bgerp_t_b";
        assert!(trusted(0, &whole, served).is_empty(), "the first reads all");
        let light: HashSet<String> = ["bgerp_t_a"].map(String::from).into();
        for made in 1..RECHECK_EVERY {
            assert_eq!(trusted(made, &whole, served), light, "survey {made}");
        }
        assert!(trusted(RECHECK_EVERY, &whole, served).is_empty());
        assert_eq!(trusted(RECHECK_EVERY + 1, &whole, served), light);
    }
}
