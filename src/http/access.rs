//! Who may read what over HTTP: the `[[http.access]]` entries of the config, checked on every
//! request but `/healthz`, the login page and the static assets (and `/metrics` unless
//! `[http] metrics = "protected"`). The `[http]` section itself (its keys, defaults and checks,
//! [`HttpSection`] and [`HttpConfig::from_document`]) is here too: `crate::config` is below
//! `http` and reads only the sections of the layers below.
//!
//! A request carries its credential one of three ways:
//!
//! - `Authorization: Bearer <token>`: the token's SHA-256 is looked up among the token entries;
//! - `Authorization: Basic` (user and password; or any user name and a token as the password):
//!   the password is checked against the entry's argon2 hash once, then remembered by a SHA-256
//!   of (entry, password), so a client polling every second pays the slow hash once;
//! - the `flowtally_session` cookie set by `POST /login` (browsers: `EventSource` cannot send
//!   headers): the entry, an expiry and an HMAC-SHA256 of both and of the entry's stored hash,
//!   keyed by the [`SessionKey`] (a file, so sessions outlive a restart). Changing an entry's
//!   credential voids its cookies. A page renews its cookie (`POST /session`) while it is open,
//!   so a wall screen stays signed in for as long as its entry stands.
//!
//! A credential reads the tenants its entry lists (`*`: all). Nothing here logs a credential:
//! a rejected one is logged by kind only, rate-limited.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::dashboard::i18n::Lang;
use super::session_key::SessionKey;
use crate::config::{ConfigError, Document};

/// The session cookie's name.
pub const COOKIE: &str = "flowtally_session";

/// How long a login lasts without a page renewing it (pages renew it every hour).
pub const SESSION_SECS: i64 = 7 * 86_400;

/// argon2 verifications at once: a guessing client must not take every core.
const ARGON2_AT_ONCE: usize = 2;

/// What a request may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The access entry, `None` when access control is off.
    pub entry: Option<String>,
    scope: TenantScope,
}

impl Grant {
    /// Everything: access control is off.
    pub fn open() -> Grant {
        Grant {
            entry: None,
            scope: TenantScope::All,
        }
    }

    pub fn may_read(&self, code: &str) -> bool {
        self.scope.allows(code)
    }

    pub fn reads_all(&self) -> bool {
        self.scope == TenantScope::All
    }
}

/// The outcome of checking a request's credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Granted(Grant),
    /// No credential at all.
    Missing,
    /// A credential that is wrong, expired or malformed.
    Rejected,
}

pub struct Access {
    entries: Vec<AccessEntry>,
    tokens: HashMap<[u8; 32], usize>,
    users: HashMap<String, usize>,
    session_key: SessionKey,
    /// SHA-256 of (entry, password) of Basic passwords already verified.
    verified: Mutex<HashMap<[u8; 32], usize>>,
    argon2_gate: tokio::sync::Semaphore,
    /// `/metrics` needs a credential that reads every tenant.
    pub protect_metrics: bool,
    /// Cookies get `Secure` (the listener speaks TLS).
    pub secure_cookies: bool,
}

impl Access {
    pub fn new(cfg: &HttpConfig, session_key: SessionKey) -> Access {
        let mut tokens = HashMap::new();
        let mut users = HashMap::new();
        for (i, e) in cfg.access.iter().enumerate() {
            match &e.credential {
                Credential::Token { sha256 } => {
                    tokens.insert(*sha256, i);
                }
                Credential::User { user, .. } => {
                    users.insert(user.clone(), i);
                }
            }
        }
        Access {
            entries: cfg.access.clone(),
            tokens,
            users,
            session_key,
            verified: Mutex::new(HashMap::new()),
            argon2_gate: tokio::sync::Semaphore::new(ARGON2_AT_ONCE),
            protect_metrics: cfg.protect_metrics,
            secure_cookies: cfg.tls.is_some(),
        }
    }

    /// Whether any access entry is configured (otherwise everything is open).
    pub fn enabled(&self) -> bool {
        !self.entries.is_empty()
    }

    fn grant(&self, entry: usize) -> Grant {
        let e = &self.entries[entry];
        Grant {
            entry: Some(e.name.clone()),
            scope: e.tenants.clone(),
        }
    }

    /// The credential of a request: its `Authorization` header, else its session cookie.
    pub async fn check(&self, headers: &HeaderMap, now: i64) -> Verdict {
        if !self.enabled() {
            return Verdict::Granted(Grant::open());
        }
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            let Ok(auth) = auth.to_str() else {
                return self.rejected("authorization header");
            };
            return match self.authorization(auth).await {
                Some(i) => Verdict::Granted(self.grant(i)),
                None => self.rejected("authorization header"),
            };
        }
        match cookie(headers, COOKIE) {
            Some(value) => match self.session(value, now) {
                Some(i) => Verdict::Granted(self.grant(i)),
                None => self.rejected("session cookie"),
            },
            None => Verdict::Missing,
        }
    }

    fn rejected(&self, kind: &str) -> Verdict {
        if let Some(suppressed) = crate::ratelimit::WARNINGS.check("http credential rejected") {
            tracing::info!(kind, suppressed, "http: credential rejected");
        }
        Verdict::Rejected
    }

    /// The entry an `Authorization` header value authenticates as.
    async fn authorization(&self, value: &str) -> Option<usize> {
        let (scheme, rest) = value.trim().split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.token(rest);
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = STANDARD.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        self.user_or_token(user, password).await
    }

    fn token(&self, token: &str) -> Option<usize> {
        self.tokens.get(&sha256(token.as_bytes())).copied()
    }

    /// A user's password, or (for a name that is no user) a token given as the password.
    pub async fn user_or_token(&self, user: &str, password: &str) -> Option<usize> {
        match self.users.get(user) {
            Some(&i) => self.password(i, password).await.then_some(i),
            None => self.token(password),
        }
    }

    /// Whether `password` is entry `i`'s: from the cache, else by argon2 (off the runtime's
    /// threads, at most [`ARGON2_AT_ONCE`] at a time).
    async fn password(&self, i: usize, password: &str) -> bool {
        let Credential::User { password_hash, .. } = &self.entries[i].credential else {
            return false;
        };
        let mut key = Sha256::new();
        key.update((i as u64).to_le_bytes());
        key.update(password_hash.as_bytes());
        key.update([0]);
        key.update(password.as_bytes());
        let key: [u8; 32] = key.finalize().into();
        if self.verified_lock().get(&key) == Some(&i) {
            return true;
        }
        let Ok(_permit) = self.argon2_gate.acquire().await else {
            return false;
        };
        let (hash, pw) = (password_hash.clone(), password.to_string());
        let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
            .await
            .unwrap_or(false);
        if ok {
            self.verified_lock().insert(key, i);
        }
        ok
    }

    fn verified_lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], usize>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the entry's session MAC covers besides entry and expiry: its stored hash, so that
    /// a changed credential voids the cookies issued for the old one.
    fn fingerprint(&self, i: usize) -> Vec<u8> {
        match &self.entries[i].credential {
            Credential::Token { sha256 } => sha256.to_vec(),
            Credential::User { password_hash, .. } => password_hash.as_bytes().to_vec(),
        }
    }

    fn mac(&self, i: usize, expires: i64) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.session_key.0).ok()?;
        mac.update(format!("v1.{i}.{expires}.").as_bytes());
        mac.update(&self.fingerprint(i));
        Some(mac)
    }

    /// The entry a session cookie value stands for, if it is genuine and not expired.
    fn session(&self, value: &str, now: i64) -> Option<usize> {
        let mut parts = value.split('.');
        let (i, expires, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let i: usize = i.parse().ok()?;
        let expires: i64 = expires.parse().ok()?;
        if i >= self.entries.len() || expires <= now {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(i, expires)?.verify_slice(&tag).ok()?;
        Some(i)
    }

    /// A `Set-Cookie` value logging entry `i` in until [`SESSION_SECS`] from `now`.
    pub fn session_cookie(&self, i: usize, now: i64) -> Option<String> {
        let expires = now + SESSION_SECS;
        let tag = URL_SAFE_NO_PAD.encode(self.mac(i, expires)?.finalize().into_bytes());
        Some(format!(
            "{COOKIE}={i}.{expires}.{tag}; Path=/; Max-Age={SESSION_SECS}; HttpOnly; SameSite=Strict{}",
            if self.secure_cookies { "; Secure" } else { "" }
        ))
    }

    /// The session cookie of this request re-issued for another [`SESSION_SECS`], if it has
    /// one that is genuine.
    pub fn renewed_cookie(&self, headers: &HeaderMap, now: i64) -> Option<String> {
        let i = self.session(cookie(headers, COOKIE)?, now)?;
        self.session_cookie(i, now)
    }

    /// A `Set-Cookie` value that logs out.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
            if self.secure_cookies { "; Secure" } else { "" }
        )
    }

    /// The entry a login form's fields authenticate as: a token, or a user and password.
    pub async fn login(&self, token: &str, user: &str, password: &str) -> Option<usize> {
        let token = token.trim();
        if !token.is_empty() {
            return self.token(token);
        }
        if user.is_empty() {
            return None;
        }
        self.user_or_token(user, password).await
    }

    /// The name of entry `i`.
    pub fn entry_name(&self, i: usize) -> &str {
        &self.entries[i].name
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// One cookie's value from the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The SHA-256 of a token, in hex: what `token_sha256` stores.
pub fn hash_token(token: &str) -> String {
    sha256(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token: 32 bytes from the OS, base64url, prefixed `ft_`.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("ft_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The argon2id hash (PHC form, random salt, the crate's default cost) of a password: what
/// `password_hash` stores.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The `[http]` section: its keys, defaults and checks
// ---------------------------------------------------------------------------------------------

/// Where `run` listens when `[http] listen` is not set.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9187";

/// `[http]` as written (`FLOWTALLY_HTTP_<KEY>` applied): the one list of its keys, with their
/// defaults.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    listen: String,
    allow_open_access: bool,
    metrics: String,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// The dashboard's language when the browser asks for none it speaks: `th` or `en`.
    language: String,
    /// A TOML file of more `[[http.access]]` entries (a mounted secret, say): the way to give
    /// entries without editing the config file, as tables cannot come from the environment.
    access_file: Option<PathBuf>,
    /// Where the key that signs session cookies is kept (default: in the state directory).
    session_key_file: Option<PathBuf>,
    access: Vec<RawAccess>,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: DEFAULT_LISTEN.into(),
            allow_open_access: false,
            metrics: "open".into(),
            tls_cert: None,
            tls_key: None,
            language: Lang::DEFAULT.code().into(),
            access_file: None,
            session_key_file: None,
            access: Vec::new(),
        }
    }
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

/// What `[http] access_file` may hold: `[[http.access]]` entries (as `flowtally
/// http-credential` prints them), nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessFile {
    #[serde(default)]
    http: AccessFileHttp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessFileHttp {
    #[serde(default)]
    access: Vec<RawAccess>,
}

/// `[http]`, checked: where to listen, who may read what, and TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: String,
    /// `[[http.access]]` entries; empty: no access control (loopback only, unless allowed).
    pub access: Vec<AccessEntry>,
    /// Serve a non-loopback `listen` without access entries (a proxy guards it).
    pub allow_open_access: bool,
    /// `/metrics` needs a credential that reads every tenant (its labels name them all).
    pub protect_metrics: bool,
    pub tls: Option<TlsFiles>,
    /// The dashboard's language for a browser that asks for none it speaks (`th` or `en`).
    pub language: Lang,
    /// `[http] session_key_file`; `None`: `http-session.key` in the state directory.
    pub session_key_file: Option<PathBuf>,
}

/// No access control, on the default address (as with no `[http]` section).
impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: DEFAULT_LISTEN.into(),
            access: Vec::new(),
            allow_open_access: false,
            protect_metrics: false,
            tls: None,
            language: Lang::DEFAULT,
            session_key_file: None,
        }
    }
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

impl HttpConfig {
    /// Reads and checks `[http]` of `doc`: each error names the entry or key and the fix.
    /// (Whether `listen` may go without access control is decided when `run` binds it: see
    /// [`HttpConfig::exposure_error`].)
    pub fn from_document(doc: &Document) -> Result<HttpConfig, ConfigError> {
        let raw: HttpSection = doc.section("http")?;
        if raw.listen.parse::<std::net::SocketAddr>().is_err() {
            return err(format!(
                "[http] listen '{}' is not an address: use host:port, e.g. \"{DEFAULT_LISTEN}\"",
                raw.listen
            ));
        }
        let protect_metrics = match raw.metrics.as_str() {
            "open" => false,
            "protected" => true,
            other => {
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
                return err(
                    "[http] tls_cert and tls_key go together: set both (PEM files) or neither",
                )
            }
        };
        // Exactly a code we speak: a tag like `th-TH` belongs to browsers, not to the config.
        let Some(language) = Lang::ALL
            .into_iter()
            .find(|l| l.code() == raw.language.trim())
        else {
            return err(format!(
                "[http] language = \"{}\": use \"th\" (Thai) or \"en\" (English), the language \
                 of the dashboard for a browser that asks for neither",
                raw.language
            ));
        };
        let mut entries: Vec<(RawAccess, String)> =
            raw.access.into_iter().map(|e| (e, String::new())).collect();
        if let Some(path) = &raw.access_file {
            let from = format!(" (in {})", path.display());
            entries.extend(access_file(path)?.into_iter().map(|e| (e, from.clone())));
        }
        Ok(HttpConfig {
            listen: raw.listen,
            access: access_entries(entries)?,
            allow_open_access: raw.allow_open_access,
            protect_metrics,
            tls,
            language,
            session_key_file: raw.session_key_file,
        })
    }
    /// Why `run` must not serve `listen` as configured: a non-loopback address without access
    /// entries, unless `allow_open_access` says a proxy guards it.
    pub fn exposure_error(&self) -> Option<String> {
        let listen = &self.listen;
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

/// The entries of an `[http] access_file`.
fn access_file(path: &Path) -> Result<Vec<RawAccess>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "[http] access_file {}: {e}; point it at a TOML file of [[http.access]] entries",
            path.display()
        ))
    })?;
    let file: AccessFile = toml::from_str(&text).map_err(|e| {
        ConfigError(format!(
            "[http] access_file {}: {}; it holds [[http.access]] entries (name, token_sha256 or \
             user and password_hash, tenants) and nothing else",
            path.display(),
            e.message()
        ))
    })?;
    Ok(file.http.access)
}

/// `[[http.access]]` entries, checked, each with where it came from (for messages).
fn access_entries(entries: Vec<(RawAccess, String)>) -> Result<Vec<AccessEntry>, ConfigError> {
    let mut access = Vec::new();
    let mut users = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    for (i, (e, from)) in entries.into_iter().enumerate() {
        let name = e.name.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let at = format!("[[http.access]] entry {name}{from}");
        if name.trim().is_empty() {
            return err(format!(
                "[[http.access]] entry #{}{from}: name is empty: name the entry (it appears in \
                 logs)",
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
    Ok(access)
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

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn entries(pw_hash: &str) -> HttpConfig {
        HttpConfig {
            access: vec![
                AccessEntry {
                    name: "acme".into(),
                    credential: Credential::Token {
                        sha256: sha256(b"tok-acme"),
                    },
                    tenants: TenantScope::Only(BTreeSet::from(["acme".to_string()])),
                },
                AccessEntry {
                    name: "ops".into(),
                    credential: Credential::User {
                        user: "ops".into(),
                        password_hash: pw_hash.into(),
                    },
                    tenants: TenantScope::All,
                },
            ],
            ..HttpConfig::default()
        }
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), v.parse().unwrap());
        }
        h
    }

    #[tokio::test]
    async fn tokens_users_and_cookies() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let key = SessionKey::random();
        let access = Access::new(&entries(&hash), key.clone());
        let now = 1_000_000;
        let check = |h: HeaderMap| {
            let access = &access;
            async move { access.check(&h, now).await }
        };
        assert_eq!(check(HeaderMap::new()).await, Verdict::Missing);
        let Verdict::Granted(g) =
            check(headers(&[(header::AUTHORIZATION, "Bearer tok-acme")])).await
        else {
            panic!("token refused")
        };
        assert!(g.may_read("ACME") && !g.may_read("default") && !g.reads_all());
        assert_eq!(
            check(headers(&[(header::AUTHORIZATION, "Bearer tok-acmf")])).await,
            Verdict::Rejected
        );
        let basic = |u: &str, p: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")));
        let Verdict::Granted(g) =
            check(headers(&[(header::AUTHORIZATION, &basic("ops", "s3cret"))])).await
        else {
            panic!("user refused")
        };
        assert!(g.reads_all());
        // The second time comes from the cache (same answer).
        assert!(matches!(
            check(headers(&[(header::AUTHORIZATION, &basic("ops", "s3cret"))])).await,
            Verdict::Granted(_)
        ));
        assert_eq!(
            check(headers(&[(header::AUTHORIZATION, &basic("ops", "wrong"))])).await,
            Verdict::Rejected
        );
        assert!(matches!(
            check(headers(&[(
                header::AUTHORIZATION,
                &basic("token", "tok-acme")
            )]))
            .await,
            Verdict::Granted(_)
        ));

        let set = access.session_cookie(0, now).unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let value = set.split(';').next().unwrap().to_string();
        let Verdict::Granted(g) = check(headers(&[(header::COOKIE, &value)])).await else {
            panic!("cookie refused")
        };
        assert_eq!(g.entry.as_deref(), Some("acme"));
        // Another entry's index with the same tag, a changed expiry, an expired cookie.
        let (_, rest) = value.split_once('=').unwrap();
        let parts: Vec<&str> = rest.split('.').collect();
        for forged in [
            format!("{COOKIE}=1.{}.{}", parts[1], parts[2]),
            format!(
                "{COOKIE}=0.{}.{}",
                parts[1].parse::<i64>().unwrap() + 1,
                parts[2]
            ),
            format!("{COOKIE}=0.{}.", parts[1]),
        ] {
            assert_eq!(
                check(headers(&[(header::COOKIE, &forged)])).await,
                Verdict::Rejected,
                "{forged}"
            );
        }
        let later = now + SESSION_SECS + 1;
        assert_eq!(
            access
                .check(&headers(&[(header::COOKIE, &value)]), later)
                .await,
            Verdict::Rejected
        );
        // Another key does not take this one's cookies; the same key (a restart) does.
        let other = Access::new(&entries(&hash), SessionKey::random());
        assert_eq!(
            other
                .check(&headers(&[(header::COOKIE, &value)]), now)
                .await,
            Verdict::Rejected
        );
        let restarted = Access::new(&entries(&hash), key);
        assert!(matches!(
            restarted
                .check(&headers(&[(header::COOKIE, &value)]), now)
                .await,
            Verdict::Granted(_)
        ));
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = new_token();
        assert!(t.starts_with("ft_") && t.len() == 46, "{t}");
        assert_ne!(t, new_token());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[(header::COOKIE, "a=1; flowtally_session=x.y.z; b=2")]);
        assert_eq!(cookie(&h, COOKIE), Some("x.y.z"));
        assert_eq!(cookie(&h, "c"), None);
    }

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<HttpConfig, ConfigError> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HttpConfig::from_document(&Document::parse(text, "test.toml", &env)?)
    }

    #[test]
    fn http_access_entries_tls_and_metrics() {
        let hash = hash_password("pw").unwrap();
        let text = format!(
            "[source]\nurl = \"mysql://u@h:1\"\n[http]\nlisten = \"0.0.0.0:9187\"\nmetrics = \"protected\"\n\
             [[http.access]]\nname = \"acme\"\ntoken_sha256 = \"{}\"\ntenants = [\"ACME\"]\n\
             [[http.access]]\nname = \"ops\"\nuser = \"ops\"\npassword_hash = \"{hash}\"\ntenants = [\"*\"]\n",
            hash_token("t")
        );
        let c = parse(&text, &[]).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9187");
        assert!(c.protect_metrics);
        assert_eq!(c.access.len(), 2);
        assert!(c.access[0].tenants.allows("acme"));
        assert!(!c.access[0].tenants.allows("other"));
        assert_eq!(c.access[1].tenants, TenantScope::All);
        assert_eq!(c.exposure_error(), None, "access entries guard it");

        let open = parse(
            "[source]\nurl = \"mysql://u@h:1\"\n[http]\nlisten = \"0.0.0.0:9187\"\n",
            &[],
        )
        .unwrap();
        let e = open.exposure_error().unwrap();
        assert!(
            e.contains("allow_open_access") && e.contains("[[http.access]]"),
            "{e}"
        );
        let allowed = parse(
            "[source]\nurl = \"mysql://u@h:1\"\n[http]\nlisten = \"0.0.0.0:9187\"\n",
            &[("FLOWTALLY_HTTP_ALLOW_OPEN_ACCESS", "true")],
        )
        .unwrap();
        assert_eq!(allowed.exposure_error(), None);
        let local = parse("[source]\nurl = \"mysql://u@h:1\"\n", &[]).unwrap();
        assert_eq!(local.exposure_error(), None);
        assert_eq!(local, HttpConfig::default());
        assert_eq!(local.listen, "127.0.0.1:9187");
        assert!(!local.protect_metrics && local.tls.is_none());

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

    #[test]
    fn listen_must_be_an_address() {
        let e = parse("[http]\nlisten = \"localhost\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[http] listen 'localhost' is not an address"),
            "{e}"
        );
        let c = parse("", &[("FLOWTALLY_HTTP_LISTEN", "0.0.0.0:80")]).unwrap();
        assert_eq!(c.listen, "0.0.0.0:80");
    }

    #[test]
    fn language_is_thai_unless_set_and_names_its_values() {
        assert_eq!(parse("", &[]).unwrap().language, Lang::Th);
        assert_eq!(
            parse("[http]\nlanguage = \"en\"\n", &[]).unwrap().language,
            Lang::En
        );
        let c = parse("", &[("FLOWTALLY_HTTP_LANGUAGE", "en")]).unwrap();
        assert_eq!(c.language, Lang::En);
        for bad in ["fr", "th-TH", "Thai", ""] {
            let e = parse(&format!("[http]\nlanguage = \"{bad}\"\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("[http] language = \"{bad}\""))
                    && e.contains("\"th\" (Thai) or \"en\" (English)"),
                "{e}"
            );
        }
    }

    #[test]
    fn access_file_adds_entries_and_its_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("access.toml");
        let token = |t: &str| {
            format!(
                "[[http.access]]\nname = \"{t}\"\ntoken_sha256 = \"{}\"\ntenants = [\"B\"]\n",
                hash_token(t)
            )
        };
        std::fs::write(&file, token("from-file")).unwrap();
        let in_config = format!("[http]\nlisten = \"0.0.0.0:9187\"\n{}", token("in-config"));
        let env = [("FLOWTALLY_HTTP_ACCESS_FILE", file.to_str().unwrap())];
        let c = parse(&in_config, &env).unwrap();
        let names: Vec<&str> = c.access.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["in-config", "from-file"]);
        assert!(c.access[1].tenants.allows("b"));

        let only_file = parse("[http]\nlisten = \"0.0.0.0:9187\"\n", &env).unwrap();
        assert_eq!(only_file.access.len(), 1);
        assert_eq!(
            only_file.exposure_error(),
            None,
            "the file's entries guard it"
        );

        std::fs::write(&file, token("in-config")).unwrap();
        let e = parse(&in_config, &env).unwrap_err().to_string();
        assert!(
            e.contains(&format!("entry in-config (in {})", file.display()))
                && e.contains("same token_sha256"),
            "{e}"
        );
        std::fs::write(&file, "[http]\nlisten = \"0.0.0.0:1\"\n").unwrap();
        let e = parse("", &env).unwrap_err().to_string();
        assert!(
            e.contains("[http] access_file") && e.contains("listen") && e.contains("nothing else"),
            "{e}"
        );
        let e = parse(
            "",
            &[("FLOWTALLY_HTTP_ACCESS_FILE", "/nonexistent/access.toml")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[http] access_file /nonexistent/access.toml"),
            "{e}"
        );
    }

    #[test]
    fn access_entries_cannot_come_from_the_environment() {
        let e = parse("", &[("FLOWTALLY_HTTP_ACCESS", "name=x")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("FLOWTALLY_HTTP_ACCESS:")
                && e.contains("cannot be set from the environment")
                && e.contains("FLOWTALLY_HTTP_ACCESS_FILE"),
            "{e}"
        );
    }
}
