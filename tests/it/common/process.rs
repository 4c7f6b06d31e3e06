//! `flowtally run` as a child process for end-to-end tests: its own config and state directory
//! in a temp dir, its log in `flowtally.log` there, and a minimal HTTP/1.1 client for its API
//! (`[http] listen = "127.0.0.1:0"`; the bound port is read from the "http listening" log line).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use flowtally::model::View;
use sqlx::{ConnectOptions, Connection, Row};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;

/// A running `flowtally run` child process with its own config and state directory.
pub struct Flowtally {
    child: Child,
    pub dir: tempfile::TempDir,
    /// Extra environment of the child (e.g. a `password_env` variable), kept for restarts.
    env: Vec<(String, String)>,
}

impl Flowtally {
    pub fn config(dir: &Path, port: u16, codes: &[&str], extra: &str) -> PathBuf {
        let include: Vec<String> = codes.iter().map(|c| format!("\"{c}\"")).collect();
        let text = format!(
            "[source]\nurl = \"mysql://root@127.0.0.1:{port}\"\nserver_id = {}\nheartbeat_secs = 1\n\
             [tenants]\ninclude = [{}]\n[state]\ndir = \"{}\"\ncheckpoint_secs = 2\n\
             [http]\nlisten = \"127.0.0.1:0\"\n{extra}",
            super::next_server_id(),
            include.join(", "),
            dir.join("state").display()
        );
        let path = dir.join("flowtally.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    pub fn start(port: u16, codes: &[&str]) -> Flowtally {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::config(dir.path(), port, codes, "");
        Self::start_in(dir)
    }

    pub fn start_in(dir: tempfile::TempDir) -> Flowtally {
        Self::start_in_with_env(dir, &[])
    }

    /// [`Self::start_in`] with extra environment variables for the child.
    pub fn start_in_with_env(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Flowtally {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = Self::spawn(dir.path(), &env);
        Flowtally { child, dir, env }
    }

    fn spawn(dir: &Path, env: &[(String, String)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("flowtally.log"))
            .expect("log file");
        Command::new(env!("CARGO_BIN_EXE_flowtally"))
            .arg("--config")
            .arg(dir.join("flowtally.toml"))
            .arg("run")
            .env("FLOWTALLY_LOG", "info,flowtally=debug")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn flowtally")
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the process again on the same config and state directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.child = Self::spawn(self.dir.path(), &self.env);
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to this process, by its pid.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Exit status if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("flowtally.log")).unwrap_or_default()
    }

    /// Waits for the first checkpoint: start-up (recompute or resume) is done.
    pub fn wait_started(&mut self) {
        let cp = self.dir.path().join("state/checkpoint.bin");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cp.exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("flowtally exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no checkpoint after 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port of the HTTP API, from the "http listening" log line (waits up to 30 s for it).
    pub fn http_port(&mut self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if let Some(port) = log
                .lines()
                .filter(|l| l.contains("http listening"))
                .find_map(listening_port)
            {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("flowtally exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "no \"http listening\" line after 30 s:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Empties the log file (to look for what the next start says).
    pub fn clear_log(&self) {
        let _ = std::fs::write(self.dir.path().join("flowtally.log"), "");
    }

    /// Waits up to 60 s for `needle` in the log.
    pub fn wait_until_log(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log().contains(needle) {
            if let Some(status) = self.exited() {
                panic!("flowtally exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no \"{needle}\" in the log after 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, and the exit status; the state directory stays for a restart.
    pub fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log();
                return (status, log);
            }
            assert!(
                Instant::now() < deadline,
                "no exit 30 s after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Flowtally {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in a log line carrying `addr=127.0.0.1:PORT` (text) or `"addr":"127.0.0.1:PORT"`
/// (JSON).
fn listening_port(line: &str) -> Option<u16> {
    let line = strip_ansi(line);
    let at = line.find("addr")? + "addr".len();
    let rest = line[at..].trim_start_matches(['=', '"', ':']);
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    addr.rsplit_once(':')?.1.parse().ok()
}

/// `line` without ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An HTTP response: status code and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `GET path` on 127.0.0.1:`port` (HTTP/1.1, `Connection: close`). Blocking: call it from
/// `spawn_blocking` or a sync context.
pub fn http_get(port: u16, path: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {raw:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        content_type: header("content-type"),
        body,
    }
}

/// Decodes a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = body.split_once("\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size:?}"));
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
}

/// The next minute boundary after `epoch`.
pub fn next_minute(epoch: i64) -> i64 {
    (epoch / 60 + 1) * 60
}

pub fn local(epoch: i64) -> NaiveDateTime {
    flowtally::model::clock::local_time(epoch, TZ)
}

/// Commits a transaction stamped `epoch` on an untracked table: the stream has passed it.
pub async fn mark(pool: &sqlx::MySqlPool, epoch: i64) {
    let mut conn = pool.acquire().await.expect("conn");
    for sql in [
        "CREATE DATABASE IF NOT EXISTS flowtally_test".to_string(),
        "CREATE TABLE IF NOT EXISTS flowtally_test.marker (id INT AUTO_INCREMENT PRIMARY KEY, at BIGINT)".into(),
        format!("SET timestamp = {epoch}"),
        format!("INSERT INTO flowtally_test.marker (at) VALUES ({epoch})"),
        "SET timestamp = DEFAULT".into(),
    ] {
        sqlx::query(&sql).execute(&mut *conn).await.expect("marker");
    }
}

pub async fn snapshot_instants(pool: &sqlx::MySqlPool, db: &str) -> Vec<NaiveDateTime> {
    sqlx::query(&format!(
        "SELECT DISTINCT snapshot_at FROM `{db}`.mv_node_bottlenecks ORDER BY snapshot_at"
    ))
    .fetch_all(pool)
    .await
    .expect("instants")
    .iter()
    .map(|r| r.get::<NaiveDateTime, _>(0))
    .collect()
}

pub async fn wait_for_instant(pool: &sqlx::MySqlPool, db: &str, at: NaiveDateTime, ft: &Flowtally) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if snapshot_instants(pool, db).await.contains(&at) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot at {at} in {db} after 90 s:\n{}",
            ft.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn differences(pool: &sqlx::MySqlPool, db: &str) -> Vec<String> {
    let mut conn = pool.acquire().await.expect("conn");
    let mut conn2 = pool.acquire().await.expect("conn");
    // As `flowtally verify` does, at the factory's wall-clock time.
    let now = local(chrono::Utc::now().timestamp());
    flowtally::verify::verify_tenant(&mut conn, &mut conn2, db, &View::ALL, now)
        .await
        .expect("verify")
        .iter()
        .map(|d| d.to_string())
        .collect()
}

/// `n` simulated transactions over `dbs`, dated from `start` one every `step` seconds in the
/// factory's zone.
pub async fn traffic_on(
    pool: &sqlx::MySqlPool,
    dbs: &[String],
    seed: u64,
    start: i64,
    step: i64,
    n: u64,
    bad_rows: bool,
) -> flowtally_testkit::simulate::SimStats {
    use flowtally_testkit::simulate::{run, EventTime, SimOptions};
    run(
        pool,
        &SimOptions {
            seed,
            tenants: dbs.to_vec(),
            transactions: Some(n),
            event_time: Some(EventTime {
                start_epoch: start,
                step_secs: step,
            }),
            bad_rows,
            tz: TZ,
            ..SimOptions::default()
        },
    )
    .await
    .expect("simulated traffic")
}

/// [`traffic_on`] one tenant database, bad rows included.
pub async fn traffic(
    pool: &sqlx::MySqlPool,
    db: &str,
    seed: u64,
    start: i64,
    step: i64,
    n: u64,
) -> flowtally_testkit::simulate::SimStats {
    traffic_on(pool, &[db.to_string()], seed, start, step, n, true).await
}

/// A tenant database created from the test DDL, with the simulator's graphs, nodes and teams;
/// returns its name.
pub async fn seeded_tenant(pool: &sqlx::MySqlPool, code: &str, seed: u64) -> String {
    use flowtally_testkit::simulate;
    simulate::setup_tenant(pool, "bgerp", "bgerp_t_", code)
        .await
        .expect("setup tenant");
    let db = super::tenant_db(code);
    // A connection of its own, as `common::migrate` uses: migrate works on the connection's
    // default database, which must not leak into (or come from) the pool.
    let mut conn = pool
        .connect_options()
        .connect()
        .await
        .expect("a connection for migrate");
    flowtally::sink::migrate::migrate(&mut conn, &db)
        .await
        .expect("mv_ tables");
    let _ = conn.close().await;
    simulate::seed_dimensions(pool, &db, seed)
        .await
        .expect("seed dimensions");
    db
}

/// `flowtally --config <config> <args…>`, run to its end.
pub fn flowtally_cmd(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowtally"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run flowtally")
}
