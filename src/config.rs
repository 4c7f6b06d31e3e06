//! The configuration: a TOML file (see config/flowtally.toml), `FLOWTALLY_<SECTION>_<KEY>` environment overrides,
//! and secrets from environment variables or files. Every error names the key and the fix.

use std::collections::BTreeMap;
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
    ("http", &["listen"]),
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
        let listen = raw.http.listen.unwrap_or_else(|| "127.0.0.1:9187".into());
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return err(format!(
                "[http] listen '{listen}' is not an address: use host:port, e.g. \"127.0.0.1:9187\""
            ));
        }
        let concurrency = |key: &str, v: Option<usize>, default: usize| match v {
            Some(0) => err(format!("{key} must be at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let load_concurrency = concurrency(
            "[tenants] load_concurrency",
            raw.tenants.load_concurrency,
            4,
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
            load_concurrency,
            write_concurrency,
        })
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
                "discover" => toml::Value::Boolean(match raw.trim() {
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
}
