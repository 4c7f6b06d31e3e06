//! The `flowtally` command line: its arguments, as clap parses them. What each command does is
//! in [`crate::commands`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
    /// Check, without starting the service or writing anything, everything `run` needs: one
    /// line per check, `ok: ...` or `FAIL: ... — fix: ...`; exit 1 when any fails.
    Check,
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
    /// Make a credential for the dashboard and the API: prints an [[http.access]] entry with
    /// its hash (the config stores only hashes).
    HttpCredential {
        #[command(subcommand)]
        kind: CredentialKind,
    },
}

#[derive(Subcommand, Debug)]
pub enum CredentialKind {
    /// A new random token (printed once), and its SHA-256 for the config.
    Token {
        /// The entry's name (shown in logs and on the page).
        #[arg(long, default_value = "dashboard")]
        name: String,
        /// The tenants it may read, comma-separated codes, or * for all.
        #[arg(long, default_value = "*")]
        tenants: String,
        /// Hash a token read from standard input (one line) instead of making one.
        #[arg(long)]
        stdin: bool,
    },
    /// The argon2 hash of a password read from standard input (one line).
    Password {
        /// The user name (HTTP Basic and the login form).
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: Option<String>,
        /// The tenants it may read, comma-separated codes, or * for all.
        #[arg(long, default_value = "*")]
        tenants: String,
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
