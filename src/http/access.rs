//! Who may read what over HTTP: the `[[http.access]]` entries of the config, checked on every
//! request but `/healthz`, the login page and the static assets (and `/metrics` unless
//! `[http] metrics = "protected"`).
//!
//! A request carries its credential one of three ways:
//!
//! - `Authorization: Bearer <token>`: the token's SHA-256 is looked up among the token entries;
//! - `Authorization: Basic` (user and password; or any user name and a token as the password):
//!   the password is checked against the entry's argon2 hash once, then remembered by a SHA-256
//!   of (entry, password), so a client polling every second pays the slow hash once;
//! - the `flowtally_session` cookie set by `POST /login` (browsers: `EventSource` cannot send
//!   headers): the entry, an expiry and an HMAC-SHA256 of both and of the entry's stored hash,
//!   keyed by a random key of this process. Changing an entry's credential voids its cookies;
//!   a restart voids all of them (the page then asks to log in again).
//!
//! A credential reads the tenants its entry lists (`*`: all). Nothing here logs a credential:
//! a rejected one is logged by kind only, rate-limited.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{AccessEntry, Credential, HttpConfig, TenantScope};

/// The session cookie's name.
pub const COOKIE: &str = "flowtally_session";

/// How long a login lasts (re-issued on every page load, so a wall screen stays in).
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
    session_key: [u8; 32],
    /// SHA-256 of (entry, password) of Basic passwords already verified.
    verified: Mutex<HashMap<[u8; 32], usize>>,
    argon2_gate: tokio::sync::Semaphore,
    /// `/metrics` needs a credential that reads every tenant.
    pub protect_metrics: bool,
    /// Cookies get `Secure` (the listener speaks TLS).
    pub secure_cookies: bool,
}

impl Access {
    pub fn new(cfg: &HttpConfig) -> Access {
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
        let mut session_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut session_key);
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
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.session_key).ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
        let access = Access::new(&entries(&hash));
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
        // Another process (another key) does not take this one's cookies.
        let other = Access::new(&entries(&hash));
        assert_eq!(
            other
                .check(&headers(&[(header::COOKIE, &value)]), now)
                .await,
            Verdict::Rejected
        );
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
}
