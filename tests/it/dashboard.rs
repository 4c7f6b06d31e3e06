//! The Production Dashboard end to end: `flowtally run` (the real binary) serving its pages,
//! driven in a real browser (Debian's Chromium through chromedriver, by WebDriver) under
//! simulated traffic; and its access control and TLS over plain HTTP.
//!
//! The browser test needs `chromium` and `chromedriver`: it runs `scripts/ensure-chromium.sh`
//! when either is missing, and skips (saying so) only if they cannot be installed. Its
//! screenshots (1366×768 and 1920×1080) land in `target/dashboard-screenshots/`; the ones in
//! `docs/screenshots/` are made by `dashboard_words` (Thai, the wall screen, a phone).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flowtally::http::access::{hash_password, hash_token};
use flowtally_testkit::simulate::{self, SimOptions};
use serde_json::{json, Value};

use crate::common::process::{seeded_tenant, traffic_on, Flowtally};
use crate::common::{self, Flavor};

on_all!(
    dashboard_in_a_browser_is_live_and_equals_the_api,
    run_guards_every_tenant_with_access_entries,
    run_serves_tls_when_configured,
);

pub(crate) const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;
pub(crate) const VIEWS: [&str; 5] = ["summary", "bottlenecks", "workload", "cycle_time", "trends"];

// ---------------------------------------------------------------------------------------------
// HTTP with headers (the harness's http_get sends none)
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    head: String,
    pub(crate) body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn parse_reply(raw: &[u8]) -> Reply {
    let raw = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {raw:?}"));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let mut reply = Reply {
        status,
        head: head.to_string(),
        body: String::new(),
    };
    reply.body = if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    reply
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn request_text(
    method: &str,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req
}

/// One request on 127.0.0.1:`port`, blocking.
fn call(method: &str, port: u16, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(request_text(method, port, path, headers, body).as_bytes())
        .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    parse_reply(&raw)
}

pub(crate) async fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Reply {
    let path = path.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        call("GET", port, &path, &h, "")
    })
    .await
    .expect("http task")
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `[[http.access]]` entries: a token for `a`, a token for `b`, user `ops` (password `pw_ops`)
/// for every tenant; `/metrics` protected.
fn access_toml(a: &str, b: &str, tok_a: &str, tok_b: &str) -> String {
    let hash = hash_password("pw_ops").expect("argon2");
    format!(
        "metrics = \"protected\"\n\
         [[http.access]]\nname = \"viewer-a\"\ntoken_sha256 = \"{}\"\ntenants = [\"{a}\"]\n\
         [[http.access]]\nname = \"viewer-b\"\ntoken_sha256 = \"{}\"\ntenants = [\"{b}\"]\n\
         [[http.access]]\nname = \"ops\"\nuser = \"ops\"\npassword_hash = \"{hash}\"\ntenants = [\"*\"]\n",
        hash_token(tok_a),
        hash_token(tok_b)
    )
}

/// `flowtally run` for tenants `a` and `b` with [`access_toml`]'s entries: the process and the
/// two tokens.
fn start_with_access(server_port: u16, a: &str, b: &str) -> (Flowtally, String, String) {
    let (tok_a, tok_b) = (
        flowtally::http::access::new_token(),
        flowtally::http::access::new_token(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    Flowtally::config(
        dir.path(),
        server_port,
        &[a, b],
        &access_toml(a, b, &tok_a, &tok_b),
    );
    (Flowtally::start_in(dir), tok_a, tok_b)
}

/// Waits until `path` answers 200 with `headers`.
pub(crate) async fn wait_ok(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    ft: &Flowtally,
) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = get(port, path, headers).await;
        if r.status == 200 {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still {} after 90 s: {}\n{}",
            r.status,
            r.body,
            ft.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Access control and TLS, over plain HTTP
// ---------------------------------------------------------------------------------------------

async fn run_guards_every_tenant_with_access_entries(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let a = common::unique_code("Ga");
    let b = common::unique_code("Gb");
    let db_a = seeded_tenant(&pool, &a, 7).await;
    let db_b = seeded_tenant(&pool, &b, 8).await;
    let now = chrono::Utc::now().timestamp();
    traffic_on(&pool, &[db_a, db_b], 31, now - 3_600, 20, 60, false).await;
    let (mut ft, tok_a, tok_b) = start_with_access(server.port, &a, &b);
    let port = ft.http_port();
    let bearer_a = format!("Bearer {tok_a}");
    let bearer_b = format!("Bearer {tok_b}");
    let ops = basic("ops", "pw_ops");
    let as_a = [("Authorization", bearer_a.as_str())];
    let as_b = [("Authorization", bearer_b.as_str())];
    let as_ops = [("Authorization", ops.as_str())];
    wait_ok(port, &format!("/api/v1/tenants/{a}/summary"), &as_a, &ft).await;
    wait_ok(port, &format!("/api/v1/tenants/{b}/summary"), &as_b, &ft).await;

    // A's credential on B, B's on A: 403 on the pages, the events and every API path.
    for (who, other) in [(&as_a, &b), (&as_b, &a)] {
        for path in [
            format!("/tenants/{other}"),
            format!("/tenants/{other}/events"),
            format!("/api/v1/tenants/{other}"),
            format!("/api/v1/tenants/{other}/summary"),
            format!("/api/v1/tenants/{}/trends", other.to_lowercase()),
        ] {
            let r = get(port, &path, who.as_slice()).await;
            assert_eq!(r.status, 403, "{path}: {}", r.body);
            assert!(
                !r.body.contains("wip_count"),
                "{path} leaked rows: {}",
                r.body
            );
        }
    }
    let r = get(port, &format!("/tenants/{a}"), &as_a).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("data-kpi=\"wip\""),
        "the dashboard: {}",
        r.body
    );
    let list = get(port, "/api/v1/tenants", &as_a).await.json();
    let codes: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["code"].as_str())
        .collect();
    assert!(
        codes.contains(&a.as_str()) && !codes.contains(&b.as_str()),
        "{codes:?}"
    );
    // The user for every tenant, by HTTP Basic (argon2 once, then cached).
    for _ in 0..3 {
        for code in [&a, &b] {
            let r = get(port, &format!("/api/v1/tenants/{code}/workload"), &as_ops).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
    }
    let wrong = basic("ops", "nope");
    let r = get(
        port,
        "/api/v1/tenants",
        &[("Authorization", wrong.as_str())],
    )
    .await;
    assert_eq!(r.status, 401);
    // No credential: programs get 401, people the login page.
    assert_eq!(get(port, "/api/v1/tenants", &[]).await.status, 401);
    let r = get(port, &format!("/tenants/{a}"), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some(format!("/login?next=%2Ftenants%2F{a}"))
    );
    // The login form: a token logs in with an HttpOnly session cookie.
    let p = port;
    let body = format!("token={tok_a}&next=%2Ftenants%2F{a}");
    let r = tokio::task::spawn_blocking(move || call("POST", p, "/login", &[], &body))
        .await
        .expect("login");
    assert_eq!(r.status, 303, "{}", r.body);
    let set_cookie = r.header("set-cookie").expect("a session cookie");
    assert!(set_cookie.contains("HttpOnly") && !set_cookie.contains("Secure"));
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_string();
    let with_cookie = [("Cookie", cookie.as_str())];
    assert_eq!(
        get(port, &format!("/tenants/{a}"), &with_cookie)
            .await
            .status,
        200
    );
    assert_eq!(
        get(port, &format!("/tenants/{b}"), &with_cookie)
            .await
            .status,
        403
    );
    // /healthz is open; /metrics wants a credential for every tenant.
    assert_ne!(get(port, "/healthz", &[]).await.status, 401);
    assert_eq!(get(port, "/metrics", &[]).await.status, 401);
    assert_eq!(get(port, "/metrics", &as_a).await.status, 403);
    let m = get(port, "/metrics", &as_ops).await;
    assert_eq!(m.status, 200);
    assert!(m.body.contains("flowtally_tenants"));

    // An open page renews its session (a wall screen is never reloaded): a later expiry.
    let expiry = |set_cookie: &str| -> i64 {
        set_cookie
            .split(';')
            .next()
            .and_then(|c| c.split('.').nth(1))
            .and_then(|e| e.parse().ok())
            .unwrap_or_else(|| panic!("no expiry in {set_cookie}"))
    };
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let cookie_header = cookie.clone();
    let r = tokio::task::spawn_blocking(move || {
        call(
            "POST",
            p,
            "/session",
            &[("Cookie", cookie_header.as_str())],
            "",
        )
    })
    .await
    .expect("renew");
    assert_eq!(r.status, 204, "{}", r.body);
    let renewed = r.header("set-cookie").expect("a renewed cookie");
    assert!(
        expiry(&renewed) > expiry(&set_cookie),
        "{renewed} vs {set_cookie}"
    );
    // Sessions outlive a restart: the key that signs them is kept in the state directory.
    let first_log = ft.log();
    ft.clear_log();
    ft.restart();
    let port = ft.http_port();
    let with_cookie = [("Cookie", cookie.as_str())];
    let r = wait_ok(port, &format!("/tenants/{a}"), &with_cookie, &ft).await;
    assert!(r.body.contains("data-kpi=\"wip\""), "{}", r.body);
    assert_eq!(
        get(port, &format!("/tenants/{b}"), &with_cookie)
            .await
            .status,
        403
    );

    // Credentials never reach the log.
    let (_, log) = ft.stop();
    let log = first_log + &log;
    for secret in [tok_a.as_str(), tok_b.as_str(), "pw_ops", &ops[6..], &cookie] {
        assert!(!log.contains(secret), "a credential in the log:\n{log}");
    }
}

async fn run_serves_tls_when_configured(flavor: Flavor) {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Tl");
    seeded_tenant(&pool, &code, 9).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).expect("write key");
    let token = flowtally::http::access::new_token();
    let extra = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"\n[[http.access]]\nname = \"t\"\ntoken_sha256 = \"{}\"\ntenants = [\"*\"]\n",
        cert_pem.display(),
        key_pem.display(),
        hash_token(&token)
    );
    Flowtally::config(dir.path(), server.port, &[&code], &extra);
    let mut ft = Flowtally::start_in(dir);
    let port = ft.http_port();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let https =
        |method: &'static str, path: String, headers: Vec<(String, String)>, body: String| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect");
                let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
                let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                tls.write_all(request_text(method, port, &path, &h, &body).as_bytes())
                    .await
                    .expect("send");
                let mut raw = Vec::new();
                let _ = tls.read_to_end(&mut raw).await;
                parse_reply(&raw)
            }
        };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let auth = vec![("Authorization".to_string(), format!("Bearer {token}"))];
        let r = https(
            "GET",
            format!("/api/v1/tenants/{code}/summary"),
            auth,
            String::new(),
        )
        .await;
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 200 over TLS: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let r = https("GET", "/healthz".into(), vec![], String::new()).await;
    assert!(r.status == 200 || r.status == 503, "{}", r.status);
    // Over TLS the session cookie is Secure.
    let r = https("POST", "/login".into(), vec![], format!("token={token}")).await;
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.contains("; Secure")),
        "{:?}",
        r.head
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15)))
            .expect("timeout");
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        raw
    })
    .await
    .expect("plain");
    assert!(!plain.starts_with(b"HTTP/1.1 200"), "plain HTTP answered");
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    assert!(log.contains("tls=true"), "{log}");
}

/// A non-loopback listener without access entries is refused at start, naming the fix.
#[test]
fn run_refuses_an_open_network_listener_without_access_control() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("flowtally.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nurl = \"mysql://root@127.0.0.1:1\"\n[state]\ndir = \"{}\"\n[http]\nlisten = \"0.0.0.0:0\"\n",
            dir.path().join("state").display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_flowtally"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .output()
        .expect("run flowtally");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("[http] listen")
            && stderr.contains("allow_open_access")
            && stderr.contains("[[http.access]]"),
        "{stderr}"
    );
}

/// `flowtally http-credential` prints entries that the config takes and the service accepts.
#[test]
fn http_credential_prints_entries_the_config_takes() {
    let out = Command::new(env!("CARGO_BIN_EXE_flowtally"))
        .args([
            "http-credential",
            "token",
            "--name",
            "wall",
            "--tenants",
            "ACME,B",
        ])
        .output()
        .expect("http-credential token");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("# ft_"))
        .map(|t| format!("ft_{t}"))
        .unwrap_or_else(|| panic!("no token in {text}"));
    assert!(text.contains(&hash_token(&token)), "{text}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtally"))
        .args(["http-credential", "password", "--user", "ops"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("http-credential password");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"correct horse\n")
        .expect("write password");
    let out = child.wait_with_output().expect("output");
    let entry = String::from_utf8_lossy(&out.stdout);
    assert!(entry.contains("password_hash = \"$argon2id$"), "{entry}");
    assert!(!entry.contains("correct horse"));
    let doc = flowtally::config::Document::parse(
        &format!("[source]\nurl = \"mysql://u@h:1\"\n{text}\n{entry}"),
        "t.toml",
        &Default::default(),
    )
    .expect("the file parses");
    let http = flowtally::http::access::HttpConfig::from_document(&doc).expect("the entries parse");
    assert_eq!(http.access.len(), 2);
    assert!(http.access[0].tenants.allows("acme") && !http.access[0].tenants.allows("c"));
}

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium and chromedriver, installed by `scripts/ensure-chromium.sh` if missing.
fn chromium() -> Result<(PathBuf, PathBuf), String> {
    if which("chromium").is_none() || which("chromedriver").is_none() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-chromium.sh");
        let status = Command::new("bash").arg(&script).status();
        if !matches!(status, Ok(s) if s.success()) {
            return Err(format!("{} failed ({status:?})", script.display()));
        }
    }
    let driver = which("chromedriver").ok_or("no chromedriver on PATH")?;
    // Debian's /usr/bin/chromium is a wrapper script; chromedriver is given the browser itself.
    let browser = ["/usr/lib/chromium/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| which("chromium"))
        .ok_or("no chromium on PATH")?;
    Ok((browser, driver))
}

/// Headless Chromium under chromedriver, in a process group of its own (killed whole on drop).
pub(crate) struct Browser {
    driver: Child,
    client: Option<fantoccini::Client>,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) async fn start() -> Option<Browser> {
        let (browser, driver) = match chromium() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("SKIPPED: the dashboard's browser test needs Chromium: {e}");
                return None;
            }
        };
        let port = free_port();
        let mut cmd = Command::new(&driver);
        cmd.arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({
            "goog:chromeOptions": {
                "binary": browser,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--window-size=1366,768",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!("an object")
        };
        let mut b = Browser {
            driver: child,
            client: None,
            _profile: profile,
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        b.client = Some(client);
        Some(b)
    }

    pub(crate) fn c(&self) -> &fantoccini::Client {
        self.client.as_ref().expect("a session")
    }

    pub(crate) async fn js(&self, script: &str) -> Value {
        self.c().execute(script, vec![]).await.expect("script")
    }

    /// Polls `script` (a JS expression) every 100 ms until it is true.
    pub(crate) async fn wait_true(&self, script: &str, secs: u64, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if self.js(&format!("return !!({script});")).await == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: not within {secs} s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sizes the window so that the page's viewport is `w`×`h` (the window is the viewport
    /// plus whatever the browser draws around it).
    pub(crate) async fn viewport(&self, w: u32, h: u32) {
        let c = self.c();
        c.set_window_size(w, h).await.expect("window size");
        let inner = self
            .js("return [window.innerWidth, window.innerHeight];")
            .await;
        let (iw, ih) = (
            inner[0].as_u64().unwrap_or(w as u64),
            inner[1].as_u64().unwrap_or(h as u64),
        );
        c.set_window_size(2 * w - iw as u32, 2 * h - ih as u32)
            .await
            .expect("window size");
    }

    pub(crate) async fn close(mut self) {
        if let Some(c) = self.client.take() {
            // Ends the session (the browser quits); the driver goes with the drop.
            let _ = tokio::time::timeout(Duration::from_secs(10), c.close()).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group of chromedriver and the browsers it started, all ours (by the group id,
        // through the system call: `kill -KILL -<n>` is not parsed alike by every `kill`).
        if let Ok(pgid) = i32::try_from(self.driver.id()) {
            if pgid > 1 {
                // SAFETY: kill(2) with a negative pid signals that process group only.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
        }
        let _ = self.driver.wait();
    }
}

/// Reads the dashboard back as data: the KPIs, and every table as rows of `data-col` cells.
/// A figure is its `data-value` (the view's number behind a duration) when it has one, else
/// its text; `texts` keeps what the page says (`33 h 21 min`).
pub(crate) const READ_DOM: &str = r#"
function readDom() {
  const main = document.getElementById('dashboard');
  const out = { at: main.dataset.at, seq: main.dataset.seq || '0', kpi: {}, kpiText: {}, tables: {} };
  const figure = (el) => (el.dataset.value ? el.dataset.value : el.textContent);
  for (const k of document.querySelectorAll('[data-kpi]')) {
    const v = k.querySelector('[data-value]');
    out.kpi[k.dataset.kpi] = figure(v);
    out.kpiText[k.dataset.kpi] = v.textContent;
  }
  for (const t of document.querySelectorAll('table[data-table]')) {
    const name = t.dataset.table + (t.dataset.graph !== undefined ? ':' + t.dataset.graph : '');
    const rows = [];
    for (const tr of (t.tBodies[0] ? t.tBodies[0].rows : [])) {
      const row = { attrs: Object.assign({}, tr.dataset), cells: {}, texts: {} };
      for (const c of tr.querySelectorAll('[data-col]')) {
        const key = c.dataset.team !== undefined ? c.dataset.col + ':' + c.dataset.team : c.dataset.col;
        row.cells[key] = figure(c);
        row.texts[key] = c.textContent;
      }
      rows.push(row);
    }
    out.tables[name] = rows;
  }
  return out;
}
"#;

/// `"1,234.50"` → 1234.5; `"—"` or empty → None.
fn num(text: &Value) -> Option<f64> {
    let s = text.as_str()?.replace(',', "");
    s.trim().parse().ok()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 0.006,
        (None, None) => true,
        _ => false,
    }
}

pub(crate) fn rows(api: &Value, view: &str) -> Vec<Value> {
    api[view]["rows"].as_array().cloned().unwrap_or_default()
}

fn id_text(v: &Value) -> String {
    if v.is_null() {
        "none".into()
    } else {
        v.to_string()
    }
}

/// `33 h 21 min`, `2 ชม. 3 นาที`, `3 d 4 h`, `45 วินาที` → (seconds, the smallest unit said in
/// seconds); `None` for anything else (`—`).
pub(crate) fn duration_secs(text: &str) -> Option<(i64, i64)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    let (mut secs, mut unit) = (0, i64::MAX);
    for pair in words.chunks(2) {
        let n: i64 = pair[0].replace(',', "").parse().ok()?;
        let u = match pair[1] {
            "s" | "วินาที" => 1,
            "min" | "นาที" => 60,
            "h" | "ชม." => 3_600,
            "d" | "วัน" => 86_400,
            _ => return None,
        };
        secs += n * u;
        unit = unit.min(u);
    }
    Some((secs, unit))
}

/// Every duration the page says (`texts`) against the figure behind it (`data-value`, minutes
/// or hours): the same to the unit said.
pub(crate) fn duration_differences(dom: &Value) -> Vec<String> {
    const MINUTES: [&str; 4] = [
        "avg_wait_minutes",
        "p50_minutes",
        "p95_minutes",
        "avg_minutes",
    ];
    const HOURS: [&str; 3] = ["avg_lead_time_hours", "lead_7", "lead_30"];
    let mut diffs = Vec::new();
    let mut check = |what: String, text: &Value, value: &Value, unit_secs: f64| {
        let Some(v) = num(value) else {
            return;
        };
        let text = text.as_str().unwrap_or_default();
        match duration_secs(text) {
            Some((secs, unit))
                if (secs as f64 - v * unit_secs).abs() <= unit as f64 / 2.0 + 1.0 => {}
            _ => diffs.push(format!("{what}: the page says {text:?} for {v}")),
        }
    };
    check(
        "lead time".into(),
        &dom["kpiText"]["lead_time_7d"],
        &dom["kpi"]["lead_time_7d"],
        3_600.0,
    );
    let mut seen = 0;
    for (table, rs) in dom["tables"].as_object().into_iter().flatten() {
        for r in rs.as_array().into_iter().flatten() {
            for (col, unit) in MINUTES
                .iter()
                .map(|c| (*c, 60.0))
                .chain(HOURS.iter().map(|c| (*c, 3_600.0)))
            {
                if !r["texts"][col].is_null() {
                    seen += 1;
                    check(
                        format!("{table} {} {col}", r["attrs"]),
                        &r["texts"][col],
                        &r["cells"][col],
                        unit,
                    );
                }
            }
        }
    }
    if seen == 0 {
        diffs.push("no duration on the page".into());
    }
    diffs
}

/// Every figure of the DOM against the API rows at the same instant; the differences.
pub(crate) fn differences(dom: &Value, api: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    fn check(diffs: &mut Vec<String>, what: String, shown: Option<f64>, want: Option<f64>) {
        if !close(shown, want) {
            diffs.push(format!("{what}: page {shown:?}, API {want:?}"));
        }
    }
    let summary = rows(api, "summary");
    let sum = |k: &str| summary.iter().filter_map(|r| r[k].as_i64()).sum::<i64>() as f64;
    let kpi = |k: &str| num(&dom["kpi"][k]);
    check(&mut diffs, "WIP".into(), kpi("wip"), Some(sum("wip_count")));
    check(
        &mut diffs,
        "queued".into(),
        kpi("queued"),
        Some(sum("waiting_count")),
    );
    check(
        &mut diffs,
        "in work".into(),
        kpi("in_work"),
        Some(sum("wip_count") - sum("waiting_count")),
    );
    check(
        &mut diffs,
        "completed today".into(),
        kpi("completed_today"),
        Some(sum("completed_count")),
    );
    let at = dom["at"].as_str().unwrap_or_default();
    let today =
        chrono::NaiveDate::parse_from_str(&at[..10.min(at.len())], "%Y-%m-%d").expect("a date");
    let trends = rows(api, "trends");
    let in_week = |r: &&Value| {
        r["period_date"]
            .as_str()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .is_some_and(|d| d >= today - chrono::Days::new(6))
    };
    let completed_7: f64 = trends
        .iter()
        .filter(in_week)
        .filter_map(|r| r["tokens_completed"].as_f64())
        .sum();
    check(
        &mut diffs,
        "7-day throughput".into(),
        kpi("throughput_7d"),
        Some((completed_7 / 7.0 * 100.0).round() / 100.0),
    );
    // In whole hundredths, rounded half away from zero as the page (and a DECIMAL) does: in
    // floats a mean that ends in exactly 5 thousandths can round down.
    let weighted = |rs: &[&Value]| {
        let (mut n, mut d) = (0i64, 0i64);
        for r in rs {
            if let (Some(l), Some(c)) = (
                r["avg_lead_time_hours"].as_f64(),
                r["tokens_completed"].as_i64(),
            ) {
                if c > 0 {
                    n += (l * 100.0).round() as i64 * c;
                    d += c;
                }
            }
        }
        (d > 0).then(|| {
            let q = (2 * n.abs() + d) / (2 * d);
            (if n < 0 { -q } else { q }) as f64 / 100.0
        })
    };
    let week: Vec<&Value> = trends.iter().filter(in_week).collect();
    check(
        &mut diffs,
        "lead time".into(),
        kpi("lead_time_7d"),
        weighted(&week),
    );

    // Bottlenecks: the API's top 10 by score, in order.
    let mut b = rows(api, "bottlenecks");
    b.sort_by(|x, y| {
        let f = |r: &Value, k: &str| r[k].as_f64().unwrap_or(0.0);
        f(y, "bottleneck_score")
            .total_cmp(&f(x, "bottleneck_score"))
            .then(f(y, "queue_depth").total_cmp(&f(x, "queue_depth")))
            .then(f(x, "node_id").total_cmp(&f(y, "node_id")))
    });
    b.truncate(10);
    let shown = dom["tables"]["bottlenecks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if shown.len() != b.len() {
        diffs.push(format!(
            "bottlenecks: {} rows shown, {} expected",
            shown.len(),
            b.len()
        ));
    }
    for (s, r) in shown.iter().zip(&b) {
        if s["attrs"]["node"] != r["node_id"].to_string().as_str() {
            diffs.push(format!(
                "bottleneck order: page node {}, API {}",
                s["attrs"]["node"], r["node_id"]
            ));
            continue;
        }
        for col in ["queue_depth", "avg_wait_minutes", "bottleneck_score"] {
            check(
                &mut diffs,
                format!("bottleneck {} {col}", r["node_id"]),
                num(&s["cells"][col]),
                r[col].as_f64(),
            );
        }
    }
    // Workload by team.
    let shown = dom["tables"]["workload"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let w = rows(api, "workload");
    if shown.len() != w.len() {
        diffs.push(format!(
            "workload: {} rows shown, {} expected",
            shown.len(),
            w.len()
        ));
    }
    for r in &w {
        let team = r["team_id"].to_string();
        let Some(s) = shown.iter().find(|s| s["attrs"]["team"] == team.as_str()) else {
            diffs.push(format!("workload: team {team} missing"));
            continue;
        };
        for col in ["active_tokens", "waiting_tokens", "avg_load"] {
            check(
                &mut diffs,
                format!("team {team} {col}"),
                num(&s["cells"][col]),
                r[col].as_f64(),
            );
        }
    }
    // Cycle time per node (the team_id NULL rows).
    let shown = dom["tables"]["cycle_time"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let c: Vec<Value> = rows(api, "cycle_time")
        .into_iter()
        .filter(|r| r["team_id"].is_null())
        .collect();
    if shown.len() != c.len() {
        diffs.push(format!(
            "cycle time: {} rows shown, {} expected",
            shown.len(),
            c.len()
        ));
    }
    for r in &c {
        let node = r["node_id"].to_string();
        let Some(s) = shown.iter().find(|s| s["attrs"]["node"] == node.as_str()) else {
            diffs.push(format!("cycle time: node {node} missing"));
            continue;
        };
        for col in ["p50_minutes", "p95_minutes", "avg_minutes", "token_count"] {
            check(
                &mut diffs,
                format!("cycle node {node} {col}"),
                num(&s["cells"][col]),
                r[col].as_f64(),
            );
        }
    }
    // Heat map: each summary row with WIP is one cell; no other cell holds a number.
    let mut cells_shown = 0;
    if let Some(tables) = dom["tables"].as_object() {
        for (name, rs) in tables.iter().filter(|(n, _)| n.starts_with("heatmap:")) {
            let _ = name;
            for r in rs.as_array().into_iter().flatten() {
                for (k, v) in r["cells"].as_object().into_iter().flatten() {
                    if k.starts_with("wip_count:") && num(v).is_some() {
                        cells_shown += 1;
                    }
                }
            }
        }
    }
    let with_wip: Vec<&Value> = summary
        .iter()
        .filter(|r| r["wip_count"].as_i64() > Some(0))
        .collect();
    if cells_shown != with_wip.len() {
        diffs.push(format!(
            "heat map: {cells_shown} cells shown, {} summary rows with WIP",
            with_wip.len()
        ));
    }
    for r in with_wip {
        let table = format!("heatmap:{}", id_text(&r["graph_id"]));
        let node = r["node_id"].to_string();
        let shown = dom["tables"][&table]
            .as_array()
            .and_then(|rs| rs.iter().find(|s| s["attrs"]["node"] == node.as_str()))
            .map(|s| num(&s["cells"][format!("wip_count:{}", id_text(&r["team_id"]))]));
        check(
            &mut diffs,
            format!("heat {table} node {node} team {}", id_text(&r["team_id"])),
            shown.flatten(),
            r["wip_count"].as_f64(),
        );
    }
    // The trends table: per (day, production type), the rows summed.
    let shown = dom["tables"]["trends"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut groups: std::collections::BTreeMap<(String, String), Vec<&Value>> = Default::default();
    for r in &trends {
        let kind = r["production_type"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("unspecified");
        groups
            .entry((
                r["period_date"].as_str().unwrap_or_default().to_string(),
                kind.to_string(),
            ))
            .or_default()
            .push(r);
    }
    if shown.len() != groups.len() {
        diffs.push(format!(
            "trends table: {} rows shown, {} (day, type) groups",
            shown.len(),
            groups.len()
        ));
    }
    for ((day, kind), rs) in &groups {
        let Some(s) = shown
            .iter()
            .find(|s| s["attrs"]["day"] == day.as_str() && s["attrs"]["type"] == kind.as_str())
        else {
            diffs.push(format!("trends: {day} {kind} missing"));
            continue;
        };
        let total = |k: &str| rs.iter().filter_map(|r| r[k].as_f64()).sum::<f64>();
        check(
            &mut diffs,
            format!("trends {day} {kind} spawned"),
            num(&s["cells"]["tokens_spawned"]),
            Some(total("tokens_spawned")),
        );
        check(
            &mut diffs,
            format!("trends {day} {kind} completed"),
            num(&s["cells"]["tokens_completed"]),
            Some(total("tokens_completed")),
        );
        check(
            &mut diffs,
            format!("trends {day} {kind} throughput"),
            num(&s["cells"]["throughput_per_day"]),
            Some((total("throughput_per_day") * 100.0).round() / 100.0),
        );
        check(
            &mut diffs,
            format!("trends {day} {kind} lead time"),
            num(&s["cells"]["avg_lead_time_hours"]),
            weighted(rs),
        );
    }
    diffs
}

/// Saves a screenshot under target/dashboard-screenshots (to look at after a run).
pub(crate) fn save_screenshot(png: &[u8], name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name), png);
}

async fn dashboard_in_a_browser_is_live_and_equals_the_api(flavor: Flavor) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    // Private: the live traffic below is the only traffic, dated now.
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let a = common::unique_code("Da");
    let b = common::unique_code("Db");
    let db_a = seeded_tenant(&pool, &a, 3).await;
    let db_b = seeded_tenant(&pool, &b, 4).await;
    // History over the last days: trends, cycle times, completions.
    let now = chrono::Utc::now().timestamp();
    traffic_on(
        &pool,
        &[db_a.clone(), db_b.clone()],
        11,
        now - 4 * 86_400,
        300,
        1_000,
        false,
    )
    .await;
    let (mut ft, tok_a, tok_b) = start_with_access(server.port, &a, &b);
    let port = ft.http_port();
    let bearer_a = format!("Bearer {tok_a}");
    wait_ok(
        port,
        &format!("/api/v1/tenants/{a}/summary"),
        &[("Authorization", bearer_a.as_str())],
        &ft,
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let c = browser.c();

    // Not logged in: the login page; a token for A logs in and lands on A's dashboard.
    // In English (remembered by a cookie from the first page on); dashboard_words has Thai.
    c.goto(&format!("{base}/tenants/{a}?lang=en"))
        .await
        .expect("goto");
    browser
        .wait_true("document.getElementById('token')", 15, "the login form")
        .await;
    assert!(c.current_url().await.expect("url").path() == "/login");
    c.find(fantoccini::Locator::Id("token"))
        .await
        .expect("token field")
        .send_keys(&tok_a)
        .await
        .expect("type the token");
    c.find(fantoccini::Locator::Id("login"))
        .await
        .expect("button")
        .click()
        .await
        .expect("log in");
    browser
        .wait_true("document.getElementById('dashboard')", 15, "A's dashboard")
        .await;
    assert_eq!(
        c.current_url().await.expect("url").path(),
        format!("/tenants/{a}")
    );
    browser
        .wait_true(
            "document.getElementById('conn').dataset.state === 'live'",
            20,
            "the live stream",
        )
        .await;

    // The credential in the browser: B's page and API refused, A's API served.
    let status = |path: String| {
        let script = format!(
            "const done = arguments[arguments.length - 1]; fetch('{path}').then(r => done(r.status), e => done(String(e)));"
        );
        async move { c.execute_async(&script, vec![]).await.expect("fetch") }
    };
    assert_eq!(
        status(format!("/api/v1/tenants/{b}/summary")).await,
        json!(403)
    );
    assert_eq!(status(format!("/tenants/{b}/events")).await, json!(403));
    assert_eq!(
        status(format!("/api/v1/tenants/{a}/summary")).await,
        json!(200)
    );
    c.goto(&format!("{base}/tenants/{b}"))
        .await
        .expect("goto B");
    let body = browser.js("return document.body.innerText;").await;
    assert!(
        body.as_str().is_some_and(|t| t.contains("Not allowed")),
        "{body}"
    );
    c.goto(&format!("{base}/tenants/{a}"))
        .await
        .expect("back to A");
    browser
        .wait_true(
            "document.getElementById('conn').dataset.state === 'live'",
            20,
            "the live stream",
        )
        .await;

    // A live update: commits arrive, a figure changes, without a reload.
    browser
        .js("window.__notReloaded = true; return null;")
        .await;
    let figures = "['wip','queued','in_work','completed_today'].map(k => document.querySelector('[data-kpi=\"' + k + '\"] [data-value]').textContent).join('|')";
    let before = browser.js(&format!("return {figures};")).await;
    let live_traffic = SimOptions {
        seed: 77,
        tenants: vec![db_a.clone()],
        transactions: Some(120),
        rate_per_sec: Some(20.0),
        tz: TZ,
        ..SimOptions::default()
    };
    let traffic = simulate::run(&pool, &live_traffic);
    let changed_js = format!("{figures} !== {before}");
    let changed = browser.wait_true(&changed_js, 60, "a figure changing under traffic");
    let (stats, ()) = tokio::join!(traffic, changed);
    stats.expect("live traffic");
    assert_eq!(
        browser.js("return window.__notReloaded === true;").await,
        json!(true),
        "reloaded"
    );
    // The traffic has stopped; let the stream deliver its tail.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The page at T against the API at T: the next frame, then the five views fetched at once
    // (retried if they fell in another second than the frame).
    let script = format!(
        "{READ_DOM}
        const done = arguments[arguments.length - 1];
        const main = document.getElementById('dashboard');
        const start = main.dataset.at;
        const views = {views};
        function poll() {{
          if (main.dataset.at === start) {{ setTimeout(poll, 5); return; }}
          const dom = readDom();
          Promise.all(views.map(v => fetch('/api/v1/tenants/{a}/' + v).then(r => r.json())))
            .then(rs => {{ const api = {{}}; views.forEach((v, i) => api[v] = rs[i]); done({{ dom: dom, api: api }}); }},
                  e => done({{ error: String(e) }}));
        }}
        poll();",
        views = json!(VIEWS)
    );
    c.update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
        Some(Duration::from_secs(30)),
        Some(Duration::from_secs(60)),
        Some(Duration::from_secs(0)),
    ))
    .await
    .expect("timeouts");
    let mut compared = false;
    for _ in 0..10 {
        let got = c
            .execute_async(&script, vec![])
            .await
            .expect("read the page and the API");
        let (dom, api) = (&got["dom"], &got["api"]);
        assert!(got["error"].is_null(), "{got}");
        if VIEWS.iter().any(|v| api[v]["at"] != dom["at"]) {
            continue;
        }
        let wip: i64 = rows(api, "summary")
            .iter()
            .filter_map(|r| r["wip_count"].as_i64())
            .sum();
        assert!(wip > 0, "the simulated factory has work in progress");
        let mut diffs = differences(dom, api);
        diffs.extend(duration_differences(dom));
        assert!(
            diffs.is_empty(),
            "the page differs from the API at {}:\n{}",
            dom["at"],
            diffs.join("\n")
        );
        compared = true;
        break;
    }
    assert!(
        compared,
        "never read the page and the API in the same second"
    );

    // Screenshots at a laptop's and a wall screen's size.
    for (w, h) in [(1366u32, 768u32), (1920, 1080)] {
        browser.viewport(w, h).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let png = c.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        save_screenshot(&png, &format!("dashboard-{w}x{h}.png"));
    }
    c.goto(&format!("{base}/")).await.expect("the tenant list");
    browser
        .wait_true(
            &format!("document.querySelector('[data-tenant=\"{a}\"]')"),
            10,
            "A listed",
        )
        .await;
    let listed_b = browser
        .js(&format!(
            "return !!document.querySelector('[data-tenant=\"{b}\"]');"
        ))
        .await;
    assert_eq!(listed_b, json!(false), "B is not listed for A's credential");
    c.set_window_size(1366, 768).await.expect("window size");
    save_screenshot(
        &c.screenshot().await.expect("screenshot"),
        "tenants-1366x768.png",
    );
    browser.close().await;
    let (_, log) = ft.stop();
    assert!(
        !log.contains(&tok_a) && !log.contains(&tok_b),
        "a token in the log"
    );
}
