//! The configuration: a TOML file (see config/flowtally.toml), `FLOWTALLY_<SECTION>_<KEY>` environment overrides,
//! and secrets from environment variables or files. Every error names the key and the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

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
    pub http_listen: String,
    /// The rest of `[http]`: access control, TLS, who may read /metrics.
    pub http: HttpConfig,
    /// Tenants loaded from their source tables at once (start-up, new tenants).
    pub load_concurrency: usize,
    /// Tenants whose snapshots are written at once.
    pub write_concurrency: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    source: RawSource,
    #[serde(default)]
    sink: RawSink,
    #[serde(default)]
    tenants: RawTenants,
    #[serde(default)]
    time: RawTime,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    http: RawHttp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    url: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    server_id: Option<u32>,
    ssl_mode: Option<SslMode>,
    ssl_ca: Option<PathBuf>,
    heartbeat_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSink {
    url: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    ssl_mode: Option<SslMode>,
    ssl_ca: Option<PathBuf>,
    write_concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenants {
    core_db: Option<String>,
    db_prefix: Option<String>,
    discover: Option<bool>,
    include: Option<Vec<String>>,
    load_concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTime {
    timezone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: Option<PathBuf>,
    checkpoint_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
    allow_open_access: Option<bool>,
    metrics: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    access: Option<Vec<RawAccess>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    name: Option<String>,
    token_sha256: Option<String>,
    user: Option<String>,
    password_hash: Option<String>,
    tenants: Option<Vec<String>>,
}

/// `[http]` beyond `listen`: who may read what, and TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpConfig {
    /// `[[http.access]]` entries; empty: no access control (loopback only, unless allowed).
    pub access: Vec<AccessEntry>,
    /// Serve a non-loopback `listen` without access entries (a proxy guards it).
    pub allow_open_access: bool,
    /// `/metrics` needs a credential that reads every tenant (its labels name them all).
    pub protect_metrics: bool,
    pub tls: Option<TlsFiles>,
}

/// The listener's certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One `[[http.access]]` entry: a credential, stored hashed, and the tenants it may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// Names the entry in logs and on the page (never the credential).
    pub name: String,
    pub credential: Credential,
    pub tenants: TenantScope,
}

/// How an access entry authenticates. Only hashes are held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A long random token (a bearer token, or the password of HTTP Basic), by its SHA-256.
    Token { sha256: [u8; 32] },
    /// A user name and a password, by its argon2 hash in PHC form (`$argon2id$v=19$...`).
    User { user: String, password_hash: String },
}

/// The tenants an access entry may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantScope {
    All,
    /// Organization codes, lowercased (codes match case-insensitively).
    Only(BTreeSet<String>),
}

impl TenantScope {
    pub fn allows(&self, code: &str) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(codes) => codes.contains(&code.to_ascii_lowercase()),
        }
    }
}

/// The keys each section takes; environment variables for other names are not ours (a
/// `FLOWTALLY_SOURCE_PASSWORD` holding a secret, say) and are left alone.
const KEYS: &[(&str, &[&str])] = &[
    (
        "source",
        &[
            "url",
            "password_env",
            "password_file",
            "server_id",
            "ssl_mode",
            "ssl_ca",
            "heartbeat_secs",
        ],
    ),
    (
        "sink",
        &[
            "url",
            "password_env",
            "password_file",
            "ssl_mode",
            "ssl_ca",
            "write_concurrency",
        ],
    ),
    (
        "tenants",
        &[
            "core_db",
            "db_prefix",
            "discover",
            "include",
            "load_concurrency",
        ],
    ),
    ("time", &["timezone"]),
    ("state", &["dir", "checkpoint_secs"]),
    (
        "http",
        &[
            "listen",
            "allow_open_access",
            "metrics",
            "tls_cert",
            "tls_key",
        ],
    ),
];

impl Config {
    /// Reads `path`, applies the process environment, validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read {}: {e}; pass --config FILE (see config/flowtally.toml for an example)",
                path.display()
            ))
        })?;
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::parse(&text, &path.display().to_string(), &env)
    }

    /// Parses config text with the given environment (for tests).
    pub fn parse(
        text: &str,
        origin: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError(format!("{origin}: {}", e.message())))?;
        apply_env(&mut doc, env)?;
        let raw = RawFile::deserialize(doc).map_err(|e| {
            ConfigError(format!(
                "{origin}: {} (see config/flowtally.toml for the keys)",
                e.message()
            ))
        })?;
        Self::validate(raw, env)
    }

    fn validate(raw: RawFile, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let Some(source_url) = raw.source.url.as_deref() else {
            return err("[source] url is missing: set url = \"mysql://user@host:3306\"");
        };
        let source = endpoint(
            "source",
            source_url,
            raw.source.password_env.as_deref(),
            raw.source.password_file.as_deref(),
            raw.source.ssl_mode.unwrap_or_default(),
            raw.source.ssl_ca.as_deref(),
            env,
        )?;
        // The sink's TLS follows the source's unless set.
        let sink_ca = raw.sink.ssl_ca.as_deref().or(source.ssl_ca.as_deref());
        let sink = match raw.sink.url.as_deref() {
            Some(url) => endpoint(
                "sink",
                url,
                raw.sink.password_env.as_deref(),
                raw.sink.password_file.as_deref(),
                raw.sink.ssl_mode.unwrap_or(source.ssl_mode),
                sink_ca,
                env,
            )?,
            None if raw.sink.password_env.is_some() || raw.sink.password_file.is_some() => {
                let mut sink = endpoint(
                    "sink",
                    source_url,
                    raw.sink.password_env.as_deref(),
                    raw.sink.password_file.as_deref(),
                    raw.sink.ssl_mode.unwrap_or(source.ssl_mode),
                    sink_ca,
                    env,
                )?;
                sink.password = sink.password.or_else(|| source.password.clone());
                sink
            }
            None => Endpoint {
                ssl_mode: raw.sink.ssl_mode.unwrap_or(source.ssl_mode),
                ssl_ca: ca_file("sink", sink_ca)?,
                ..source.clone()
            },
        };
        let tz_name = raw.time.timezone.as_deref().unwrap_or("Asia/Bangkok");
        let timezone: Tz = tz_name.parse().map_err(|_| {
            ConfigError(format!(
                "[time] timezone '{tz_name}' is not an IANA time zone name: use e.g. \"Asia/Bangkok\""
            ))
        })?;
        let heartbeat_secs = raw.source.heartbeat_secs.unwrap_or(1);
        if heartbeat_secs == 0 {
            return err("[source] heartbeat_secs must be at least 1");
        }
        let server_id = raw.source.server_id.unwrap_or(4_187);
        if server_id == 0 {
            return err(
                "[source] server_id must not be 0: pick an id no other server or replica uses",
            );
        }
        let discover = raw.tenants.discover.unwrap_or(true);
        let include = raw.tenants.include.unwrap_or_default();
        if !discover && include.is_empty() {
            return err(
                "[tenants] discover = false needs include = [\"CODE\", ...]: list the tenants",
            );
        }
        let listen = raw
            .http
            .listen
            .clone()
            .unwrap_or_else(|| "127.0.0.1:9187".into());
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return err(format!(
                "[http] listen '{listen}' is not an address: use host:port, e.g. \"127.0.0.1:9187\""
            ));
        }
        let http = http_config(raw.http)?;
        let concurrency = |key: &str, v: Option<usize>, default: usize| match v {
            Some(0) => err(format!("{key} must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let load_concurrency = concurrency(
            "[tenants] load_concurrency",
            raw.tenants.load_concurrency,
            8,
        )?;
        let write_concurrency =
            concurrency("[sink] write_concurrency", raw.sink.write_concurrency, 8)?;
        Ok(Config {
            source,
            server_id,
            heartbeat_secs,
            sink,
            core_db: raw.tenants.core_db.unwrap_or_else(|| "bgerp".into()),
            db_prefix: raw.tenants.db_prefix.unwrap_or_else(|| "bgerp_t_".into()),
            discover,
            include,
            timezone,
            state_dir: raw.state.dir.unwrap_or_else(|| "state".into()),
            checkpoint_secs: raw.state.checkpoint_secs.unwrap_or(10).max(1),
            http_listen: listen,
            http,
            load_concurrency,
            write_concurrency,
        })
    }
}

/// `[http]` access entries, TLS files and `metrics`, checked: each error names the entry or
/// key and the fix. (Whether `listen` may go without access control is decided when `run`
/// binds it: see [`HttpConfig::exposure_error`].)
fn http_config(raw: RawHttp) -> Result<HttpConfig, ConfigError> {
    let protect_metrics = match raw.metrics.as_deref() {
        None | Some("open") => false,
        Some("protected") => true,
        Some(other) => {
            return err(format!(
                "[http] metrics = \"{other}\": use \"open\" (anyone who reaches the listener) or \
                 \"protected\" (a credential that reads every tenant)"
            ))
        }
    };
    let tls = match (raw.tls_cert, raw.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            for (k, path, what) in [
                ("tls_cert", &cert, "CERTIFICATE"),
                ("tls_key", &key, "PRIVATE KEY"),
            ] {
                match std::fs::read_to_string(path) {
                    Ok(pem) if pem.contains("-----BEGIN") && pem.contains(what) => {}
                    Ok(_) => {
                        return err(format!(
                            "[http] {k} {} holds no PEM {what}: point it at a PEM file \
                             (-----BEGIN ...{what}-----)",
                            path.display()
                        ))
                    }
                    Err(e) => {
                        return err(format!(
                            "[http] {k} {}: {e}; point it at the PEM file of the listener's {}",
                            path.display(),
                            if k == "tls_cert" {
                                "certificate chain"
                            } else {
                                "private key"
                            }
                        ))
                    }
                }
            }
            Some(TlsFiles { cert, key })
        }
        (Some(_), None) | (None, Some(_)) => {
            return err("[http] tls_cert and tls_key go together: set both (PEM files) or neither")
        }
    };
    let mut access = Vec::new();
    let mut users = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    for (i, e) in raw.access.unwrap_or_default().into_iter().enumerate() {
        let name = e.name.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let at = format!("[[http.access]] entry {name}");
        if name.trim().is_empty() {
            return err(format!(
                "[[http.access]] entry #{}: name is empty: name the entry (it appears in logs)",
                i + 1
            ));
        }
        let credential = match (e.token_sha256, e.user, e.password_hash) {
            (Some(hex), None, None) => {
                let sha256 = parse_sha256(&hex).ok_or_else(|| {
                    ConfigError(format!(
                        "{at}: token_sha256 is not 64 hex digits: store the SHA-256 of the \
                         token, e.g. from `flowtally http-credential token`"
                    ))
                })?;
                if !tokens.insert(sha256) {
                    return err(format!("{at}: the same token_sha256 as an earlier entry"));
                }
                Credential::Token { sha256 }
            }
            (None, Some(user), Some(hash)) => {
                if user.is_empty() || user.contains(':') {
                    return err(format!(
                        "{at}: user '{user}' must be non-empty and without ':' (HTTP Basic splits \
                         on it)"
                    ));
                }
                if !argon2_phc(&hash) {
                    return err(format!(
                        "{at}: password_hash is not an argon2 hash in PHC form ($argon2id$...): \
                         make one with `flowtally http-credential password`"
                    ));
                }
                if !users.insert(user.clone()) {
                    return err(format!(
                        "{at}: user '{user}' appears in an earlier entry too"
                    ));
                }
                Credential::User {
                    user,
                    password_hash: hash,
                }
            }
            (None, Some(_), None) => {
                return err(format!(
                    "{at}: user without password_hash: add password_hash = \"$argon2id$...\" \
                     (from `flowtally http-credential password`)"
                ))
            }
            _ => {
                return err(format!(
                    "{at}: give either token_sha256, or user and password_hash (from \
                     `flowtally http-credential`)"
                ))
            }
        };
        let tenants = match e.tenants {
            None => {
                return err(format!(
                    "{at}: tenants is missing: list the organization codes it may read, or [\"*\"] \
                     for all"
                ))
            }
            Some(list) if list.is_empty() => {
                return err(format!(
                    "{at}: tenants is empty, so it grants nothing: list codes, or [\"*\"] for all"
                ))
            }
            Some(list) if list.iter().any(|c| c.trim() == "*") => TenantScope::All,
            Some(list) => TenantScope::Only(
                list.iter()
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty())
                    .collect(),
            ),
        };
        access.push(AccessEntry {
            name,
            credential,
            tenants,
        });
    }
    Ok(HttpConfig {
        access,
        allow_open_access: raw.allow_open_access.unwrap_or(false),
        protect_metrics,
        tls,
    })
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// An argon2 hash in PHC string form, with its parameters and salt.
fn argon2_phc(s: &str) -> bool {
    argon2::PasswordHash::new(s).is_ok_and(|h| {
        matches!(h.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") && h.hash.is_some()
    })
}

impl HttpConfig {
    /// Why `run` must not serve `listen` as configured: a non-loopback address without access
    /// entries, unless `allow_open_access` says a proxy guards it.
    pub fn exposure_error(&self, listen: &str) -> Option<String> {
        let addr: std::net::SocketAddr = listen.parse().ok()?;
        if addr.ip().is_loopback() || !self.access.is_empty() || self.allow_open_access {
            return None;
        }
        Some(format!(
            "[http] listen = \"{listen}\" is not a loopback address and [http] has no access \
             entries: every tenant's production data would be open to the network. Add \
             [[http.access]] entries (see docs/dashboard.md; hashes from `flowtally \
             http-credential`), or set [http] allow_open_access = true if a proxy guards the \
             listener, or listen on 127.0.0.1"
        ))
    }
}

/// Sets `doc[section][key]` from each `FLOWTALLY_<SECTION>_<KEY>` variable.
fn apply_env(doc: &mut toml::Table, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (section, keys) in KEYS {
        for key in *keys {
            let var = format!("FLOWTALLY_{}_{}", section, key).to_uppercase();
            let Some(raw) = env.get(&var) else { continue };
            let value = match *key {
                "include" => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.into()))
                        .collect(),
                ),
                "discover" | "allow_open_access" => toml::Value::Boolean(match raw.trim() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    other => {
                        return err(format!(
                            "{var}='{other}' is not a boolean: use true or false"
                        ))
                    }
                }),
                "server_id" | "heartbeat_secs" | "checkpoint_secs" | "load_concurrency"
                | "write_concurrency" => toml::Value::Integer(
                    raw.trim()
                        .parse()
                        .map_err(|_| ConfigError(format!("{var}='{raw}' is not a whole number")))?,
                ),
                _ => toml::Value::String(raw.clone()),
            };
            let table = doc
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match table {
                toml::Value::Table(t) => {
                    t.insert(key.to_string(), value);
                }
                _ => return err(format!("[{section}] must be a table")),
            }
        }
    }
    Ok(())
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
        assert_eq!(c.http_listen, "127.0.0.1:9187");
        assert_eq!(c.source.to_string(), "mysql://reader:***@db:3307");
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
    fn http_access_entries_tls_and_metrics() {
        let hash = crate::http::access::hash_password("pw").unwrap();
        let text = format!(
            "[source]\nurl = \"mysql://u@h:1\"\n[http]\nlisten = \"0.0.0.0:9187\"\nmetrics = \"protected\"\n\
             [[http.access]]\nname = \"acme\"\ntoken_sha256 = \"{}\"\ntenants = [\"ACME\"]\n\
             [[http.access]]\nname = \"ops\"\nuser = \"ops\"\npassword_hash = \"{hash}\"\ntenants = [\"*\"]\n",
            crate::http::access::hash_token("t")
        );
        let c = parse(&text, &[]).unwrap();
        assert!(c.http.protect_metrics);
        assert_eq!(c.http.access.len(), 2);
        assert!(c.http.access[0].tenants.allows("acme"));
        assert!(!c.http.access[0].tenants.allows("other"));
        assert_eq!(c.http.access[1].tenants, TenantScope::All);
        assert_eq!(
            c.http.exposure_error(&c.http_listen),
            None,
            "access entries guard it"
        );

        let open = parse(
            "[source]\nurl = \"mysql://u@h:1\"\n[http]\nlisten = \"0.0.0.0:9187\"\n",
            &[],
        )
        .unwrap();
        let e = open.http.exposure_error(&open.http_listen).unwrap();
        assert!(
            e.contains("allow_open_access") && e.contains("[[http.access]]"),
            "{e}"
        );
        let allowed = parse(
            "[source]\nurl = \"mysql://u@h:1\"\n[http]\nlisten = \"0.0.0.0:9187\"\n",
            &[("FLOWTALLY_HTTP_ALLOW_OPEN_ACCESS", "true")],
        )
        .unwrap();
        assert_eq!(allowed.http.exposure_error(&allowed.http_listen), None);
        let local = parse("[source]\nurl = \"mysql://u@h:1\"\n", &[]).unwrap();
        assert_eq!(local.http.exposure_error(&local.http_listen), None);
        assert!(!local.http.protect_metrics && local.http.tls.is_none());

        let base = "[source]\nurl = \"mysql://u@h:1\"\n[[http.access]]\nname = \"x\"\n";
        for (extra, needle) in [
            ("token_sha256 = \"abc\"\ntenants = [\"A\"]\n", "64 hex digits"),
            (
                "token_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
                "tenants is missing",
            ),
            (
                "token_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ntenants = []\n",
                "grants nothing",
            ),
            ("user = \"u\"\ntenants = [\"A\"]\n", "password_hash"),
            ("user = \"u\"\npassword_hash = \"plain\"\ntenants = [\"A\"]\n", "argon2"),
            ("tenants = [\"A\"]\n", "either token_sha256"),
            ("password = \"x\"\n", "password"),
        ] {
            let e = parse(&format!("{base}{extra}"), &[]).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
        for (extra, needle) in [
            ("metrics = \"secret\"\n", "[http] metrics"),
            ("tls_cert = \"/nonexistent.pem\"\n", "go together"),
            (
                "tls_cert = \"/nonexistent.pem\"\ntls_key = \"/nonexistent.key\"\n",
                "[http] tls_cert /nonexistent.pem",
            ),
        ] {
            let e = parse(
                &format!("[source]\nurl = \"mysql://u@h:1\"\n[http]\n{extra}"),
                &[],
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }
}
