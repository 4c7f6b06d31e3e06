//! Test harness: private MariaDB servers for integration tests.
//!
//! This module owns the lifecycle of the MariaDB servers the tests talk to:
//! - [`shared()`] lazily starts ONE server per test binary with the standard flags (binlog on,
//!   ROW format, FULL row image and metadata), shared by all tests of that binary;
//! - [`start_server`] starts a fresh private server, with extra flags, for tests that need special
//!   settings (TLS, missing binlog settings) or want to stop/kill/restart it.
//!
//! Each server lives in its own temp dir (`data/` datadir, `server.log`, `server.pid`) and listens
//! on a free port of 127.0.0.1; `root` has no password. A small shell watchdog, started with each
//! server, kills the server and removes the temp dir as soon as the test process is gone — even if
//! it panicked, aborted or was SIGKILLed (statics such as the shared server are never dropped, so
//! the watchdog is what cleans those up). [`MariaDb`]'s `Drop` does the same for private servers.
//!
//! It also creates the ERP fixtures: the core database ([`MariaDb::create_core`]) and tenant
//! databases ([`MariaDb::create_tenant`]) from `tests/fixtures/*.sql`.
//!
//! Connections made with sqlx ([`MariaDb::pool`], [`MariaDb::connect`], [`MariaDb::exec`]) carry
//! sqlx's session defaults, notably `time_zone='+00:00'`: insert explicit DATETIMEs rather than
//! relying on `DEFAULT CURRENT_TIMESTAMP`.

#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool};
use sqlx::{ConnectOptions, Connection};

pub mod flowtally;

const CORE_SQL: &str = include_str!("../fixtures/core.sql");
const MV_TABLES_SQL: &str = include_str!("../../migrations/0001_mv_tables.sql");
const TENANT_SOURCE_SQL: &str = include_str!("../fixtures/tenant_source.sql");

/// How long a server may take to accept connections (after start or restart).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful shutdown (SIGTERM) may take before we SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Ports tried when the free port we picked is taken before mariadbd binds it.
const PORT_ATTEMPTS: usize = 3;

/// Kills the server whose pid is in `$2/server.pid` and removes the temp dir `$2` once process
/// `$1` (the test binary) is gone. The harness deletes `server.pid` whenever it reaps the server
/// itself, so a stale pid is never killed.
const WATCHDOG_SH: &str = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
if pid=$(cat "$2/server.pid" 2>/dev/null); then
  kill -9 "$pid" 2>/dev/null && sleep 0.3
fi
rm -rf "$2"
"#;

static SHARED: OnceLock<MariaDb> = OnceLock::new();

/// The server shared by all tests of this test binary, started on first use with the standard
/// flags. Tests sharing it must use distinct tenant codes (see [`unique_code`]).
pub fn shared() -> &'static MariaDb {
    SHARED.get_or_init(|| start_server(&[]))
}

/// Starts a fresh private server with the standard flags followed by `extra_args` (mariadbd keeps
/// the last value of an option, so e.g. `--binlog-format=STATEMENT` or `--skip-log-bin` override
/// the defaults). Panics, with the tail of the server log, if it does not come up within 30 s.
pub fn start_server(extra_args: &[&str]) -> MariaDb {
    let started = Instant::now();
    let root = tempfile::Builder::new()
        .prefix("flowtally-mariadb-")
        .tempdir()
        .expect("create a temp dir for a test MariaDB")
        .keep();
    let datadir = root.join("data");

    // The watchdog goes first so that the temp dir is cleaned up even if we panic below.
    let watchdog = Command::new("sh")
        .args(["-c", WATCHDOG_SH, "flowtally-mariadb-watchdog"])
        .arg(std::process::id().to_string())
        .arg(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Own process group: a Ctrl-C aimed at `cargo test` must not kill the watchdog before it
        // has killed the server.
        .process_group(0)
        .spawn()
        .expect("spawn the MariaDB watchdog shell");

    let mut db = MariaDb {
        port: 0,
        datadir,
        root,
        extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
        server: None,
        watchdog: Some(watchdog),
    };
    install_db(&db.datadir);
    let installed = started.elapsed();

    let mut attempt = 1;
    loop {
        db.port = free_port();
        match db.launch() {
            Ok(()) => break,
            Err(e) if e.port_taken && attempt < PORT_ATTEMPTS => attempt += 1,
            Err(e) => panic!("{}", e.message),
        }
    }
    eprintln!(
        "test MariaDB on 127.0.0.1:{} ready in {} ms (install-db {} ms), dir {}",
        db.port,
        started.elapsed().as_millis(),
        installed.as_millis(),
        db.root.display()
    );
    db
}

/// A short tenant code, distinct within this test binary: `prefix` followed by a counter.
pub fn unique_code(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    assert_valid_code(prefix);
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A MariaDB server started by this harness. Dropping it kills the server and removes its temp dir.
pub struct MariaDb {
    /// TCP port on 127.0.0.1; kept across restarts.
    pub port: u16,
    /// The server's datadir (inside the temp dir); kept across restarts.
    pub datadir: PathBuf,
    /// Temp dir holding `data/`, `server.log` and `server.pid`.
    root: PathBuf,
    extra_args: Vec<String>,
    server: Option<Child>,
    watchdog: Option<Child>,
}

/// Why a launch failed: `port_taken` lets [`start_server`] retry with another port.
struct LaunchError {
    message: String,
    port_taken: bool,
}

impl MariaDb {
    /// `mysql://root@127.0.0.1:PORT` (root has no password).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Options for a root connection over TCP, without a default database.
    pub fn connect_options(&self) -> MySqlConnectOptions {
        MySqlConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username("root")
    }

    /// A new pool of root connections. Make one per test: a pool is bound to the tokio runtime
    /// it was created in, and each `#[tokio::test]` has its own runtime.
    pub async fn pool(&self) -> MySqlPool {
        MySqlPool::connect_with(self.connect_options())
            .await
            .unwrap_or_else(|e| panic!("connect a pool to test MariaDB at {}: {e}", self.url()))
    }

    /// A single new root connection.
    pub async fn connect(&self) -> MySqlConnection {
        self.connect_options()
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to test MariaDB at {}: {e}", self.url()))
    }

    /// Runs a multi-statement SQL script on a fresh connection (so `USE db` in the script does not
    /// leak into other connections); stops at the first failing statement.
    pub async fn try_exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        let mut conn = self.connect().await;
        let result = sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ());
        // Closing politely only matters to the server's connection counters; ignore failures.
        let _ = conn.close().await;
        result
    }

    /// [`Self::try_exec`], panicking with the error and the script if it fails.
    pub async fn exec(&self, sql: &str) {
        if let Err(e) = self.try_exec(sql).await {
            panic!(
                "SQL script failed on {}: {e}\n--- script ---\n{sql}",
                self.url()
            );
        }
    }

    /// Creates the core database `bgerp` with `bgerp.organization` (idempotent).
    pub async fn create_core(&self) {
        self.exec(CORE_SQL).await;
    }

    /// (Re)creates tenant database `bgerp_t_<lowercased code>` with the source tables (and the mv_
    /// tables if `with_mv_tables`), then upserts an active `bgerp.organization` row for `code`.
    /// Creates the core database first if needed. An existing tenant database is dropped first,
    /// so reruns start clean.
    pub async fn create_tenant(&self, code: &str, with_mv_tables: bool) {
        assert_valid_code(code);
        self.create_core().await;
        let db = tenant_db(code);
        let mut script = format!(
            "DROP DATABASE IF EXISTS `{db}`;\n\
             CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n\
             USE `{db}`;\n{TENANT_SOURCE_SQL}\n"
        );
        if with_mv_tables {
            script.push_str(MV_TABLES_SQL);
        }
        self.exec(&script).await;

        // After the tables exist, so a running flowtally that discovers the tenant finds them.
        let mut conn = self.connect().await;
        sqlx::query(
            "INSERT INTO bgerp.organization (code, name, status) VALUES (?, ?, 'active') \
             ON DUPLICATE KEY UPDATE code = VALUES(code), name = VALUES(name), status = 'active'",
        )
        .bind(code)
        .bind(code)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("upsert organization {code}: {e}"));
        let _ = conn.close().await;
    }

    /// The temp dir holding `data/`, `server.log` and `server.pid` (removed with the server).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(|c| c.id())
    }

    /// Whether the server process is running (as far as this harness knows).
    pub fn is_running(&mut self) -> bool {
        match &mut self.server {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Graceful shutdown (SIGTERM), waiting for the process to exit; SIGKILL after 30 s.
    /// No-op if the server is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!(
                        "test MariaDB on port {} ignored SIGTERM for {STOP_TIMEOUT:?}; killing it",
                        self.port
                    );
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        self.forget_pid();
    }

    /// Kills the server with SIGKILL (a crash, as far as the server is concerned) and reaps it.
    /// No-op if the server is not running.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.forget_pid();
    }

    /// Stops the server if it runs (gracefully) and starts it again with the same datadir, port
    /// and flags. Also the way to bring it back after [`Self::stop`] or [`Self::kill9`].
    pub fn restart(&mut self) {
        self.stop();
        let started = Instant::now();
        if let Err(e) = self.launch() {
            panic!("restart: {}", e.message);
        }
        eprintln!(
            "test MariaDB on 127.0.0.1:{} restarted in {} ms",
            self.port,
            started.elapsed().as_millis()
        );
    }

    /// The last `lines` lines of the server's log (stdout + stderr of every run).
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&read_lossy(&self.log_path(), 0), lines)
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }

    fn pid_path(&self) -> PathBuf {
        self.root.join("server.pid")
    }

    /// Starts mariadbd on `self.port` and waits until it accepts connections.
    fn launch(&mut self) -> Result<(), LaunchError> {
        assert!(self.server.is_none(), "launch while the server runs");
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open the test MariaDB log");
        // Only this run's part of the log matters when reporting a failure.
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log_err = log.try_clone().expect("clone the test MariaDB log handle");

        let d = self.datadir.display();
        let mut cmd = Command::new(find_bin("mariadbd"));
        cmd.arg("--no-defaults")
            .arg(format!("--user={}", current_user()))
            .arg(format!("--datadir={d}"))
            .arg(format!("--socket={d}/s"))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--server-id=1",
                &format!("--log-bin={d}/bin"),
                "--binlog-format=ROW",
                "--binlog-row-image=FULL",
                "--binlog-row-metadata=FULL",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--max-allowed-packet=256M",
            ])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Keep terminal signals away: the harness and its watchdog decide when it dies.
            .process_group(0);
        let child = cmd.spawn().expect("spawn mariadbd (is MariaDB installed?)");

        // Written via rename so the watchdog never reads a partial pid.
        let tmp = self.root.join("server.pid.tmp");
        fs::write(&tmp, child.id().to_string()).expect("write server.pid.tmp");
        fs::rename(&tmp, self.pid_path()).expect("rename server.pid");
        self.server = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            // The log line proves it is *our* server that listens (another process may have
            // taken the port between free_port() and the bind); the greeting that it serves.
            if read_lossy(&log_path, log_start).contains("ready for connections")
                && accepts_connections(self.port)
            {
                return Ok(());
            }
            let exited = match &mut self.server {
                Some(child) => child.try_wait().ok().flatten(),
                None => None,
            };
            let timed_out = Instant::now() >= deadline;
            if exited.is_some() || timed_out {
                self.kill9();
                let log = read_lossy(&log_path, log_start);
                let what = match exited {
                    Some(status) => format!("exited ({status}) during startup"),
                    None => format!("did not accept connections within {READY_TIMEOUT:?}"),
                };
                return Err(LaunchError {
                    port_taken: log.contains("Address already in use"),
                    message: format!(
                        "test MariaDB on 127.0.0.1:{} {what}; end of its log:\n{}",
                        self.port,
                        tail(&log, 40)
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Called once the server has been reaped: its pid may be reused, the watchdog must not kill it.
    fn forget_pid(&self) {
        let _ = fs::remove_file(self.pid_path());
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        // The datadir is thrown away, so there is no point in a graceful shutdown.
        self.kill9();
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `bgerp_t_<lowercased code>`.
pub fn tenant_db(code: &str) -> String {
    format!("bgerp_t_{}", code.to_lowercase())
}

/// Codes end up in database names and SQL text: keep them to `[A-Za-z0-9_]`.
fn assert_valid_code(code: &str) {
    assert!(
        !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "tenant code {code:?} must be non-empty [A-Za-z0-9_]"
    );
}

/// Seen to fail now and then when several servers are installed at once on 2 cores
/// ("Installation of system tables failed"): retried on a clean directory.
fn install_db(datadir: &Path) {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let out = Command::new(find_bin("mariadb-install-db"))
            .arg("--no-defaults")
            .arg(format!("--user={}", current_user()))
            .arg(format!("--datadir={}", datadir.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdin(Stdio::null())
            .output()
            .expect("run mariadb-install-db (is MariaDB installed?)");
        if out.status.success() {
            return;
        }
        assert!(
            attempt < ATTEMPTS,
            "mariadb-install-db --datadir={} failed {ATTEMPTS} times ({}):\n{}\n{}",
            datadir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = fs::remove_dir_all(datadir);
        std::thread::sleep(Duration::from_millis(200 * attempt as u64));
    }
}

/// A port that was free a moment ago (the OS picks it); [`start_server`] retries if it is taken
/// by the time mariadbd binds it.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free TCP port on 127.0.0.1")
}

/// True once the server sends its handshake greeting (protocol version 10) on a new connection.
/// mariadbd only listens once its engines are up, so this means it is ready for clients.
pub fn accepts_connections(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    // 3-byte payload length, 1-byte sequence id, then the payload's first byte: 10 for a
    // greeting, 0xff for an error packet (e.g. too many connections).
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && head[4] == 10
}

/// The user name for `--user=`: mariadbd refuses to run as root unless told `--user=root`.
fn current_user() -> &'static str {
    static USER: OnceLock<String> = OnceLock::new();
    USER.get_or_init(|| {
        let out = Command::new("id")
            .arg("-un")
            .output()
            .expect("run `id -un`");
        assert!(out.status.success(), "`id -un` failed: {}", out.status);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// Finds a MariaDB binary on PATH, or in the sbin dirs that a non-root PATH often lacks
/// (Debian installs mariadbd in /usr/sbin).
fn find_bin(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The file from byte `from` on, lossily decoded; empty if unreadable.
fn read_lossy(path: &Path, from: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = File::open(path) {
        if f.seek(SeekFrom::Start(from)).is_ok() {
            let _ = f.read_to_end(&mut bytes);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
