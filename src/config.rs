//! The configuration: a TOML file (see config/flowtally.toml), `FLOWTALLY_<SECTION>_<KEY>` environment overrides,
//! and secrets from environment variables or files. Every error names the key and the fix.
//!
//! Each section is a serde struct owned by the layer that reads it: this file's for the
//! sections of the low layers, `crate::http::access::HttpSection` for `[http]` (config must not
//! know `http`, which sits above it); `commands::assemble` reads them all from one
//! [`Document`] and refuses a section nobody read. A section struct is the one list of its
//! keys: [`Document::section`] takes the keys it accepts from the file and from the
//! environment from the struct's fields, and reads a variable as its field's type asks (bool,
//! whole number, comma-separated list, enum name, text).
//!
//! To add a key: add the field to its section struct, its default to that struct's `Default`
//! (an `Option` when "unset" means something, like inheriting another key), its check to
//! [`Config::from_document`], and carry it into [`Config`]. `FLOWTALLY_<SECTION>_<KEY>` then
//! works by itself, and `commands::tests::every_key_is_honoured_from_the_environment` checks it.
//!
//! To add a section (`[ha]`, say): a struct like `TenantsSection` (`#[serde(default,
//! deny_unknown_fields)]` and a `Default` with the defaults), one
//! `let ha: HaSection = doc.section("ha")?;` in [`Config::from_document`] with its checks, and
//! its fields in [`Config`]. Then a row in the README's Configuration table. (A section only a
//! higher layer reads may live there instead, as `[http]` does, with one line in
//! `commands::assemble`.)

mod document;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

pub use document::{env_var, Document};

#[derive(Debug, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// TLS on a server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SslMode {
    Disabled,
    #[default]
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    /// The name in the config file.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where and as whom to connect; `Display` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub ssl_mode: SslMode,
    /// PEM file of the CA(s) that sign the server's certificate (`verify_ca`, `verify_identity`).
    pub ssl_ca: Option<PathBuf>,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pw = if self.password.is_some() { ":***" } else { "" };
        write!(f, "mysql://{}{pw}@{}:{}", self.user, self.host, self.port)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub source: Endpoint,
    pub server_id: u32,
    pub heartbeat_secs: u64,
    pub sink: Endpoint,
    pub core_db: String,
    pub db_prefix: String,
    pub discover: bool,
    pub include: Vec<String>,
    pub timezone: Tz,
    pub state_dir: PathBuf,
    pub checkpoint_secs: u64,
    /// Tenants loaded from their source tables at once (start-up, new tenants).
    pub load_concurrency: usize,
    /// Tenants whose snapshots are written at once.
    pub write_concurrency: usize,
    /// `[ha]`.
    pub ha: Ha,
    /// `[andon]`.
    pub andon: Andon,
}

/// `[source]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SourceSection {
    url: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    server_id: u32,
    ssl_mode: SslMode,
    ssl_ca: Option<PathBuf>,
    heartbeat_secs: u64,
}

impl Default for SourceSection {
    fn default() -> Self {
        SourceSection {
            url: None,
            password_env: None,
            password_file: None,
            server_id: 4_187,
            ssl_mode: SslMode::Preferred,
            ssl_ca: None,
            heartbeat_secs: 1,
        }
    }
}

/// `[sink]`. Unset, `url`, `ssl_mode` and `ssl_ca` are the source's.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SinkSection {
    url: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    ssl_mode: Option<SslMode>,
    ssl_ca: Option<PathBuf>,
    write_concurrency: usize,
}

impl Default for SinkSection {
    fn default() -> Self {
        SinkSection {
            url: None,
            password_env: None,
            password_file: None,
            ssl_mode: None,
            ssl_ca: None,
            write_concurrency: 8,
        }
    }
}

/// `[tenants]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TenantsSection {
    core_db: String,
    db_prefix: String,
    discover: bool,
    include: Vec<String>,
    load_concurrency: usize,
}

impl Default for TenantsSection {
    fn default() -> Self {
        TenantsSection {
            core_db: "bgerp".into(),
            db_prefix: "bgerp_t_".into(),
            discover: true,
            include: Vec::new(),
            load_concurrency: 8,
        }
    }
}

/// `[time]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TimeSection {
    timezone: String,
}

impl Default for TimeSection {
    fn default() -> Self {
        TimeSection {
            timezone: "Asia/Bangkok".into(),
        }
    }
}

/// `[state]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StateSection {
    dir: PathBuf,
    checkpoint_secs: u64,
}

impl Default for StateSection {
    fn default() -> Self {
        StateSection {
            dir: "state".into(),
            checkpoint_secs: 10,
        }
    }
}

/// `[ha]`: two or more instances, one writer (docs/operations.md, "High availability").
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct HaSection {
    enabled: bool,
    lease_secs: u64,
}

impl Default for HaSection {
    fn default() -> Self {
        HaSection {
            enabled: false,
            lease_secs: 10,
        }
    }
}

/// `[andon]`: the floor's alert thresholds the ERP's data does not give, and where to announce
/// alerts (docs/dashboard.md, "Andon").
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct AndonSection {
    amber_percent: u32,
    wait_minutes: u32,
    queue_growth_tokens: u32,
    queue_growth_minutes: u32,
    token_age_hours: u32,
    evaluate_secs: u64,
    webhook_url: Option<String>,
    webhook_timeout_secs: u64,
    webhook_retries: u32,
}

impl Default for AndonSection {
    fn default() -> Self {
        AndonSection {
            amber_percent: 80,
            wait_minutes: 60,
            queue_growth_tokens: 10,
            queue_growth_minutes: 15,
            token_age_hours: 8,
            evaluate_secs: 5,
            webhook_url: None,
            webhook_timeout_secs: 5,
            webhook_retries: 5,
        }
    }
}

/// The floor's alerts: thresholds (0 turns a rule off), how often they are evaluated without a
/// reader, and the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Andon {
    pub amber_percent: u32,
    pub wait_minutes: u32,
    pub queue_growth_tokens: u32,
    pub queue_growth_minutes: u32,
    pub token_age_hours: u32,
    pub evaluate_secs: u64,
    /// Where alerts are posted (none: not posted).
    pub webhook_url: Option<url::Url>,
    pub webhook_timeout_secs: u64,
    /// Attempts after the first, with backoff.
    pub webhook_retries: u32,
}

impl Default for Andon {
    fn default() -> Self {
        let s = AndonSection::default();
        Andon {
            amber_percent: s.amber_percent,
            wait_minutes: s.wait_minutes,
            queue_growth_tokens: s.queue_growth_tokens,
            queue_growth_minutes: s.queue_growth_minutes,
            token_age_hours: s.token_age_hours,
            evaluate_secs: s.evaluate_secs,
            webhook_url: None,
            webhook_timeout_secs: s.webhook_timeout_secs,
            webhook_retries: s.webhook_retries,
        }
    }
}

fn andon(s: AndonSection) -> Result<Andon, ConfigError> {
    let range = |key: &str, v: u64, lo: u64, hi: u64, unit: &str, default: u64| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            err(format!(
                "[andon] {key} = {v} is out of range: use {lo} to {hi}{unit} (default {default})"
            ))
        }
    };
    let d = AndonSection::default();
    range(
        "amber_percent",
        s.amber_percent.into(),
        1,
        100,
        " percent",
        d.amber_percent.into(),
    )?;
    range(
        "wait_minutes",
        s.wait_minutes.into(),
        0,
        10_080,
        " minutes, 0 for off",
        d.wait_minutes.into(),
    )?;
    range(
        "queue_growth_tokens",
        s.queue_growth_tokens.into(),
        0,
        1_000_000,
        " tokens, 0 for off",
        d.queue_growth_tokens.into(),
    )?;
    range(
        "queue_growth_minutes",
        s.queue_growth_minutes.into(),
        1,
        360,
        " minutes",
        d.queue_growth_minutes.into(),
    )?;
    range(
        "token_age_hours",
        s.token_age_hours.into(),
        0,
        720,
        " hours, 0 for off",
        d.token_age_hours.into(),
    )?;
    range(
        "evaluate_secs",
        s.evaluate_secs,
        1,
        300,
        " seconds",
        d.evaluate_secs,
    )?;
    range(
        "webhook_timeout_secs",
        s.webhook_timeout_secs,
        1,
        120,
        " seconds",
        d.webhook_timeout_secs,
    )?;
    range(
        "webhook_retries",
        s.webhook_retries.into(),
        0,
        20,
        "",
        d.webhook_retries.into(),
    )?;
    let webhook_url = match s.webhook_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let url = url::Url::parse(text).map_err(|e| {
                ConfigError(format!(
                    "[andon] webhook_url '{text}' is not a URL ({e}): use e.g. \
                     \"https://alerts.example/flowtally\""
                ))
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return err(format!(
                    "[andon] webhook_url '{text}' must be an http:// or https:// URL with a host"
                ));
            }
            Some(url)
        }
    };
    Ok(Andon {
        amber_percent: s.amber_percent,
        wait_minutes: s.wait_minutes,
        queue_growth_tokens: s.queue_growth_tokens,
        queue_growth_minutes: s.queue_growth_minutes,
        token_age_hours: s.token_age_hours,
        evaluate_secs: s.evaluate_secs,
        webhook_url,
        webhook_timeout_secs: s.webhook_timeout_secs,
        webhook_retries: s.webhook_retries,
    })
}

/// High availability: whether this instance competes for the writer's lease, and for how long
/// the lease is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ha {
    pub enabled: bool,
    pub lease_secs: u64,
}

impl Config {
    /// Parses config text with the given environment (for tests): this layer's sections only;
    /// `commands::load` also reads `[http]` and refuses sections nothing reads.
    pub fn parse(
        text: &str,
        origin: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        Self::from_document(&Document::parse(text, origin, env)?)
    }

    /// Reads and checks this layer's sections of `doc`.
    pub fn from_document(doc: &Document) -> Result<Config, ConfigError> {
        let raw_source: SourceSection = doc.section("source")?;
        let raw_sink: SinkSection = doc.section("sink")?;
        let tenants: TenantsSection = doc.section("tenants")?;
        let time: TimeSection = doc.section("time")?;
        let state: StateSection = doc.section("state")?;
        let ha: HaSection = doc.section("ha")?;
        let andon = andon(doc.section("andon")?)?;
        let env = doc.env();

        let Some(source_url) = raw_source.url.as_deref() else {
            return err("[source] url is missing: set url = \"mysql://user@host:3306\"");
        };
        let source = endpoint(
            "source",
            source_url,
            raw_source.password_env.as_deref(),
            raw_source.password_file.as_deref(),
            raw_source.ssl_mode,
            raw_source.ssl_ca.as_deref(),
            env,
        )?;
        let sink_ca = raw_sink.ssl_ca.as_deref().or(source.ssl_ca.as_deref());
        let sink_ssl_mode = raw_sink.ssl_mode.unwrap_or(source.ssl_mode);
        let sink = match raw_sink.url.as_deref() {
            Some(url) => endpoint(
                "sink",
                url,
                raw_sink.password_env.as_deref(),
                raw_sink.password_file.as_deref(),
                sink_ssl_mode,
                sink_ca,
                env,
            )?,
            None if raw_sink.password_env.is_some() || raw_sink.password_file.is_some() => {
                let mut sink = endpoint(
                    "sink",
                    source_url,
                    raw_sink.password_env.as_deref(),
                    raw_sink.password_file.as_deref(),
                    sink_ssl_mode,
                    sink_ca,
                    env,
                )?;
                sink.password = sink.password.or_else(|| source.password.clone());
                sink
            }
            None => Endpoint {
                ssl_mode: sink_ssl_mode,
                ssl_ca: ca_file("sink", sink_ca)?,
                ..source.clone()
            },
        };
        let tz_name = &time.timezone;
        let timezone: Tz = tz_name.parse().map_err(|_| {
            ConfigError(format!(
                "[time] timezone '{tz_name}' is not an IANA time zone name: use e.g. \"Asia/Bangkok\""
            ))
        })?;
        if raw_source.heartbeat_secs == 0 {
            return err("[source] heartbeat_secs must be at least 1");
        }
        if raw_source.server_id == 0 {
            return err(
                "[source] server_id must not be 0: pick an id no other server or replica uses",
            );
        }
        if !tenants.discover && tenants.include.is_empty() {
            return err(
                "[tenants] discover = false needs include = [\"CODE\", ...]: list the tenants",
            );
        }
        for (key, n) in [
            ("[tenants] load_concurrency", tenants.load_concurrency),
            ("[sink] write_concurrency", raw_sink.write_concurrency),
        ] {
            if n == 0 {
                return err(format!("{key} must be at least 1"));
            }
        }
        if !(3..=3600).contains(&ha.lease_secs) {
            return err(format!(
                "[ha] lease_secs = {} is out of range: use 3 to 3600 seconds (default 10)",
                ha.lease_secs
            ));
        }
        Ok(Config {
            andon,
            ha: Ha {
                enabled: ha.enabled,
                lease_secs: ha.lease_secs,
            },
            source,
            server_id: raw_source.server_id,
            heartbeat_secs: raw_source.heartbeat_secs,
            sink,
            core_db: tenants.core_db,
            db_prefix: tenants.db_prefix,
            discover: tenants.discover,
            include: tenants.include,
            timezone,
            state_dir: state.dir,
            checkpoint_secs: state.checkpoint_secs.max(1),
            load_concurrency: tenants.load_concurrency,
            write_concurrency: raw_sink.write_concurrency,
        })
    }
}

fn endpoint(
    section: &str,
    url: &str,
    password_env: Option<&str>,
    password_file: Option<&Path>,
    ssl_mode: SslMode,
    ssl_ca: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<Endpoint, ConfigError> {
    let bad = |why: &str| {
        ConfigError(format!(
            "[{section}] url {why}: use mysql://user[:password]@host:port (no database part)"
        ))
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if parsed.scheme() != "mysql" && parsed.scheme() != "mariadb" {
        return Err(bad(&format!("has scheme '{}'", parsed.scheme())));
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("has no host"))?
        .trim_matches(['[', ']'])
        .to_string();
    if !matches!(parsed.path(), "" | "/") {
        return Err(bad(&format!("names a database ('{}')", parsed.path())));
    }
    if parsed.username().is_empty() {
        return Err(bad("has no user"));
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let mut password = parsed.password().map(|p| Secret(decode(p)));
    if let Some(var) = password_env {
        match env.get(var) {
            Some(p) => password = Some(Secret(p.clone())),
            None => {
                return err(format!(
                "[{section}] password_env names {var}, which is not set: export {var}=<password>"
            ))
            }
        }
    }
    if let Some(file) = password_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigError(format!(
                "[{section}] password_file {}: {e}; create it with the password on one line",
                file.display()
            ))
        })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        password = Some(Secret(text.to_string()));
    }
    Ok(Endpoint {
        host,
        port: parsed.port().unwrap_or(3306),
        user: decode(parsed.username()),
        password,
        ssl_mode,
        ssl_ca: ca_file(section, ssl_ca)?,
    })
}

/// An `ssl_ca` path, checked now: a CA file that cannot be read is a config error, not a TLS
/// failure at the first connection.
fn ca_file(section: &str, path: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = path else { return Ok(None) };
    match std::fs::read(path) {
        Ok(pem) if String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") => {
            Ok(Some(path.to_path_buf()))
        }
        Ok(_) => err(format!(
            "[{section}] ssl_ca {} holds no PEM certificate: point it at the CA certificate \
             (-----BEGIN CERTIFICATE-----) that signed the server's",
            path.display()
        )),
        Err(e) => err(format!(
            "[{section}] ssl_ca {}: {e}; point it at the PEM file of the CA that signed the \
             server's certificate",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(text, "test.toml", &env)
    }

    #[test]
    fn defaults_and_sink_follows_source() {
        let c = parse("[source]\nurl = \"mysql://reader:pw@db:3307\"\n", &[]).unwrap();
        assert_eq!(c.source.host, "db");
        assert_eq!(c.source.port, 3307);
        assert_eq!(c.source.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(c.sink, c.source);
        assert_eq!(c.core_db, "bgerp");
        assert_eq!(c.db_prefix, "bgerp_t_");
        assert_eq!(c.timezone, chrono_tz::Asia::Bangkok);
        assert_eq!(c.source.to_string(), "mysql://reader:***@db:3307");
        assert_eq!((c.server_id, c.heartbeat_secs), (4_187, 1));
        assert_eq!(c.source.ssl_mode, SslMode::Preferred);
        assert!(c.discover && c.include.is_empty());
        assert_eq!((c.load_concurrency, c.write_concurrency), (8, 8));
        assert_eq!(c.state_dir, PathBuf::from("state"));
        assert_eq!(c.checkpoint_secs, 10);
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = parse("[source]\nurl = \"mysql://u@h:1\"\nurll = 1\n", &[]).unwrap_err();
        assert!(e.to_string().contains("urll"), "{e}");
    }

    #[test]
    fn env_overrides_and_password_env() {
        let c = parse(
            "[source]\nurl = \"mysql://u:inurl@h:1\"\npassword_env = \"DBPW\"\n",
            &[
                ("DBPW", "fromenv"),
                ("FLOWTALLY_TENANTS_INCLUDE", "a, B"),
                ("FLOWTALLY_TIME_TIMEZONE", "UTC"),
                ("FLOWTALLY_SOURCE_SERVER_ID", "77"),
                ("FLOWTALLY_SOURCE_PASSWORD", "not a config key"),
            ],
        )
        .unwrap();
        assert_eq!(
            c.source.password.as_ref().map(Secret::expose),
            Some("fromenv")
        );
        assert_eq!(c.include, vec!["a", "B"]);
        assert_eq!(c.timezone, chrono_tz::UTC);
        assert_eq!(c.server_id, 77);
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("[source]\nurl = \"postgres://u@h\"\n", "[source] url"),
            (
                "[source]\nurl = \"mysql://u@h:1/bgerp\"\n",
                "names a database",
            ),
            (
                "[source]\nurl = \"mysql://u@h:1\"\n[time]\ntimezone = \"Mars/Base\"\n",
                "timezone",
            ),
            (
                "[source]\nurl = \"mysql://u@h:1\"\npassword_file = \"/nonexistent/pw\"\n",
                "password_file",
            ),
            (
                "[source]\nurl = \"mysql://u@h:1\"\npassword_env = \"NOPE_NOT_SET\"\n",
                "NOPE_NOT_SET",
            ),
            (
                "[sink]\nurl = \"mysql://u@h:1\"\n",
                "[source] url is missing",
            ),
        ];
        for (text, needle) in cases {
            let e = parse(text, &[]).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }

    #[test]
    fn password_file_drops_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n\n").unwrap();
        let c = parse(
            &format!(
                "[source]\nurl = \"mysql://u@h:1\"\n[sink]\nurl = \"mysql://w@p:2\"\npassword_file = \"{}\"\n",
                f.display()
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            c.sink.password.as_ref().map(Secret::expose),
            Some("s3cret\n")
        );
        assert_eq!(c.source.password, None);
    }

    #[test]
    fn ssl_ca_is_checked_and_the_sink_follows_the_source() {
        let e = parse(
            "[source]\nurl = \"mysql://u@h:1\"\nssl_mode = \"verify_ca\"\nssl_ca = \"/nonexistent/ca.pem\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("[source] ssl_ca /nonexistent/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let e = parse(
            &format!(
                "[source]\nurl = \"mysql://u@h:1\"\n[sink]\nssl_ca = \"{}\"\n",
                junk.display()
            ),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[sink] ssl_ca") && e.contains("no PEM certificate"),
            "{e}"
        );

        let ca = dir.path().join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let text = format!(
            "[source]\nurl = \"mysql://u@h:1\"\nssl_mode = \"verify_identity\"\nssl_ca = \"{}\"\n",
            ca.display()
        );
        let c = parse(&text, &[]).unwrap();
        assert_eq!(c.source.ssl_ca.as_deref(), Some(ca.as_path()));
        assert_eq!(c.sink, c.source);
        let c = parse(
            &format!("{text}[sink]\nurl = \"mysql://w@p:2\"\nssl_mode = \"required\"\n"),
            &[],
        )
        .unwrap();
        assert_eq!(c.sink.ssl_mode, SslMode::Required);
        assert_eq!(c.sink.ssl_ca.as_deref(), Some(ca.as_path()));
        let c = parse(
            "[source]\nurl = \"mysql://u@h:1\"\n",
            &[("FLOWTALLY_SOURCE_SSL_CA", ca.to_str().unwrap())],
        )
        .unwrap();
        assert_eq!(c.source.ssl_ca.as_deref(), Some(ca.as_path()));
    }

    #[test]
    fn env_values_are_read_as_their_fields_ask() {
        let base = "[source]\nurl = \"mysql://u@h:1\"\n[tenants]\ninclude = [\"A\"]\n";
        let c = parse(
            base,
            &[
                ("FLOWTALLY_TENANTS_DISCOVER", "no"),
                ("FLOWTALLY_SOURCE_SSL_MODE", "verify_ca"),
                ("FLOWTALLY_SINK_WRITE_CONCURRENCY", " 3 "),
                ("FLOWTALLY_STATE_DIR", "/var/lib/x"),
                ("FLOWTALLY_TENANTS_CORE_DB", "2024"),
            ],
        )
        .unwrap();
        assert!(!c.discover);
        assert_eq!(c.include, vec!["A"], "the file's value stays");
        assert_eq!(c.source.ssl_mode, SslMode::VerifyCa);
        assert_eq!(c.sink.ssl_mode, SslMode::VerifyCa);
        assert_eq!(c.write_concurrency, 3);
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/x"));
        assert_eq!(c.core_db, "2024", "text stays text");

        for (var, value, needles) in [
            (
                "FLOWTALLY_TENANTS_DISCOVER",
                "maybe",
                &["FLOWTALLY_TENANTS_DISCOVER='maybe' is not a boolean: use true or false"][..],
            ),
            (
                "FLOWTALLY_SOURCE_SERVER_ID",
                "x7",
                &["FLOWTALLY_SOURCE_SERVER_ID='x7' is not a whole number"],
            ),
            (
                "FLOWTALLY_SINK_SSL_MODE",
                "strict",
                &[
                    "FLOWTALLY_SINK_SSL_MODE='strict'",
                    "[sink] ssl_mode",
                    "verify_ca",
                ],
            ),
        ] {
            let e = parse(base, &[(var, value)]).unwrap_err().to_string();
            for needle in needles {
                assert!(e.contains(needle), "{e} should mention {needle}");
            }
            assert!(!e.contains("test.toml"), "not the file's fault: {e}");
        }
    }

    #[test]
    fn andon_defaults_and_bad_values() {
        let base = "[source]\nurl = \"mysql://u@h:1\"\n";
        let c = parse(base, &[]).unwrap();
        assert_eq!(c.andon, Andon::default());
        assert_eq!(
            (
                c.andon.amber_percent,
                c.andon.wait_minutes,
                c.andon.token_age_hours
            ),
            (80, 60, 8)
        );
        let c = parse(
            &format!("{base}[andon]\nwebhook_url = \"https://hook.example/x\"\nwait_minutes = 0\n"),
            &[("FLOWTALLY_ANDON_WEBHOOK_RETRIES", "2")],
        )
        .unwrap();
        let hook = c.andon.webhook_url.as_ref().map(url::Url::as_str);
        assert_eq!(hook, Some("https://hook.example/x"));
        assert_eq!(
            (c.andon.webhook_retries, c.andon.webhook_timeout_secs),
            (2, 5)
        );
        assert_eq!(c.andon.wait_minutes, 0, "0 turns the rule off");
        for (text, needle) in [
            (
                "amber_percent = 0",
                "[andon] amber_percent = 0 is out of range: use 1 to 100",
            ),
            (
                "queue_growth_minutes = 0",
                "[andon] queue_growth_minutes = 0",
            ),
            ("evaluate_secs = 9999", "[andon] evaluate_secs = 9999"),
            (
                "webhook_url = \"ftp://x/y\"",
                "must be an http:// or https:// URL",
            ),
            (
                "webhook_url = \"not a url\"",
                "[andon] webhook_url 'not a url' is not a URL",
            ),
            ("token_age_hours = -1", "token_age_hours"),
        ] {
            let e = parse(&format!("{base}[andon]\n{text}\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }

    #[test]
    fn sections_nothing_reads_are_refused_by_finish() {
        let doc = Document::parse(
            "[source]\nurl = \"mysql://u@h:1\"\n[sourec]\nurl = 1\n",
            "test.toml",
            &BTreeMap::new(),
        )
        .unwrap();
        Config::from_document(&doc).unwrap();
        let e = doc.finish().unwrap_err().to_string();
        assert!(
            e.contains("test.toml: unknown section [sourec]") && e.contains("[source], [sink]"),
            "{e}"
        );
        let e = parse("source = 1\n", &[]).unwrap_err().to_string();
        assert!(e.contains("[source] must be a table"), "{e}");
        let e = parse(
            "[source]\nurl = \"mysql://u@h:1\"\nserver_id = \"x\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("test.toml: [source] server_id: invalid type"),
            "{e}"
        );
    }
}
