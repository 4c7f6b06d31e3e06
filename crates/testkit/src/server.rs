//! Private database servers: a MariaDB (10.11 or 11.8) or a MySQL of its own for each test
//! binary, benchmark or demo, in a temp dir, on a free port of 127.0.0.1, with the settings
//! flowtally needs (binlog on, ROW format, FULL row image and metadata, utf8mb4; GTIDs on for
//! MySQL).
//!
//! - MariaDB 10.11 is Debian's `mariadb-server` package (`mariadb-install-db`, `mariadbd`).
//! - MariaDB 11.8 is Debian sid's `mariadb-server-core`, unpacked into a private root by
//!   `scripts/ensure-mariadb-11.8.sh` (which exports `FLOWTALLY_MARIADB118_BIN`), the same way
//!   as MySQL below.
//! - MySQL is Debian sid's `mysql-server-core`, unpacked into a private root by
//!   `scripts/ensure-mysql.sh` (which exports `FLOWTALLY_MYSQL_BIN`, a folder of wrappers that run
//!   each binary through the root's own loader). Nothing is installed.
//!
//! Each server lives in its own temp dir (`data/` datadir, `server.log`, `server.pid`); `root`
//! has no password. A small shell watchdog, started with each server, kills the server and
//! removes the temp dir as soon as the process that started it is gone, even after a panic or
//! SIGKILL (statics such as a shared server are never dropped, so the watchdog is what cleans
//! those up). Dropping a [`Server`] does the same at once.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection};

/// Which server family, and for MariaDB which release line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavor {
    /// MariaDB 10.11 (Debian 12's).
    MariaDb,
    MySql,
    /// MariaDB 11.8 LTS (Debian sid's, unpacked privately).
    MariaDb118,
}

impl Flavor {
    pub const ALL: [Flavor; 3] = [Flavor::MariaDb, Flavor::MySql, Flavor::MariaDb118];

    /// `mariadb`, `mysql` or `mariadb-11.8`, as the switches spell it.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::MariaDb => "mariadb",
            Flavor::MySql => "mysql",
            Flavor::MariaDb118 => "mariadb-11.8",
        }
    }

    /// Both MariaDB release lines speak MariaDB's dialect and binlog (GTIDs, grants, status
    /// statements); only MySQL differs.
    pub fn is_mariadb(self) -> bool {
        matches!(self, Flavor::MariaDb | Flavor::MariaDb118)
    }

    pub fn parse(s: &str) -> Option<Flavor> {
        Flavor::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The flavours the tests run against: `FLOWTALLY_TEST_SERVERS` = `all` (the default),
    /// `both` (MariaDB 10.11 and MySQL, as before 11.8 joined), or a comma-separated list of
    /// `mariadb`, `mysql`, `mariadb-11.8`.
    pub fn selected() -> Vec<Flavor> {
        let Ok(v) = std::env::var("FLOWTALLY_TEST_SERVERS") else {
            return Flavor::ALL.to_vec();
        };
        let v = v.trim();
        if v.is_empty() || v.eq_ignore_ascii_case("all") {
            return Flavor::ALL.to_vec();
        }
        if v.eq_ignore_ascii_case("both") {
            return vec![Flavor::MariaDb, Flavor::MySql];
        }
        let picked: Vec<Flavor> = v.split(',').filter_map(Flavor::parse).collect();
        assert!(
            !picked.is_empty(),
            "FLOWTALLY_TEST_SERVERS={v:?}: use all, both, or a list of mariadb, mysql, mariadb-11.8"
        );
        picked
    }

    pub fn is_selected(self) -> bool {
        Flavor::selected().contains(&self)
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long a server may take to accept connections (after start or restart).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful shutdown (SIGTERM) may take before we SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Ports tried when the free port we picked is taken before the server binds it.
const PORT_ATTEMPTS: usize = 3;

/// Kills the server whose pid is in `$2/server.pid` and removes the temp dir `$2` once process
/// `$1` is gone. The launcher deletes `server.pid` whenever it reaps the server itself, so a
/// stale pid is never killed.
const WATCHDOG_SH: &str = r#"
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
if pid=$(cat "$2/server.pid" 2>/dev/null); then
  kill -9 "$pid" 2>/dev/null && sleep 0.3
fi
rm -rf "$2"
"#;

/// A server started here. Dropping it kills the server and removes its temp dir.
pub struct Server {
    pub flavor: Flavor,
    /// TCP port on 127.0.0.1; kept across restarts.
    pub port: u16,
    /// The server's datadir (inside the temp dir); kept across restarts.
    pub datadir: PathBuf,
    /// Temp dir holding `data/`, `server.log` and `server.pid`.
    root: PathBuf,
    server_id: u32,
    extra_args: Vec<String>,
    server: Option<Child>,
    watchdog: Option<Child>,
}

/// Why a launch failed: `port_taken` lets [`Server::try_start`] retry with another port.
struct LaunchError {
    message: String,
    port_taken: bool,
}

impl Server {
    /// Starts a fresh private server with the standard flags followed by `extra_args` (the
    /// servers keep the last value of an option, so e.g. `--binlog-format=STATEMENT` or
    /// `--skip-log-bin` override the defaults). Panics, with the end of the server log, if it
    /// does not come up.
    pub fn start(flavor: Flavor, extra_args: &[&str]) -> Server {
        Self::try_start(flavor, extra_args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Server::start`] with server id `server_id` (a replication pair needs two).
    pub fn start_with_id(flavor: Flavor, server_id: u32, extra_args: &[&str]) -> Server {
        Self::launch_new(flavor, server_id, None, extra_args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Server::start`], with the failure as an error.
    pub fn try_start(flavor: Flavor, extra_args: &[&str]) -> Result<Server, String> {
        Self::launch_new(flavor, 1, None, extra_args)
    }

    /// [`Server::try_start`] on a given port (the demo's fixed one).
    pub fn try_start_on(flavor: Flavor, port: u16, extra_args: &[&str]) -> Result<Server, String> {
        Self::launch_new(flavor, 1, Some(port), extra_args)
    }

    fn launch_new(
        flavor: Flavor,
        server_id: u32,
        port: Option<u16>,
        extra_args: &[&str],
    ) -> Result<Server, String> {
        let started = Instant::now();
        let root = tempfile::Builder::new()
            .prefix(&format!("flowtally-{}-", flavor.name()))
            .tempdir()
            .map_err(|e| format!("create a temp dir for a {flavor} server: {e}"))?
            .keep();
        // The watchdog goes first so that the temp dir is cleaned up even if we fail below.
        let watchdog = spawn_watchdog(&root)?;
        let mut server = Server {
            flavor,
            port: 0,
            datadir: root.join("data"),
            root,
            server_id,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            server: None,
            watchdog: Some(watchdog),
        };
        initialize(flavor, &server.datadir)?;
        let initialized = started.elapsed();
        let mut attempt = 1;
        loop {
            server.port = match port {
                Some(p) => p,
                None => free_port()?,
            };
            match server.launch() {
                Err(e) if e.port_taken && port.is_some() => {
                    return Err(format!("port {} is taken: {}", server.port, e.message))
                }
                Ok(()) => break,
                Err(e) if e.port_taken && attempt < PORT_ATTEMPTS => attempt += 1,
                Err(e) => return Err(e.message),
            }
        }
        eprintln!(
            "{flavor} on 127.0.0.1:{} ready in {} ms (datadir {} ms), dir {}",
            server.port,
            started.elapsed().as_millis(),
            initialized.as_millis(),
            server.root.display()
        );
        Ok(server)
    }

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
        MySqlPoolOptions::new()
            .max_connections(8)
            .connect_with(self.connect_options())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "connect a pool to the test {} at {}: {e}",
                    self.flavor,
                    self.url()
                )
            })
    }

    /// A single new root connection.
    pub async fn connect(&self) -> MySqlConnection {
        self.connect_options().connect().await.unwrap_or_else(|e| {
            panic!("connect to the test {} at {}: {e}", self.flavor, self.url())
        })
    }

    /// Runs a multi-statement SQL script on a fresh connection (so `USE db` in the script does
    /// not leak into other connections), as plain text (nothing is prepared); stops at the
    /// first failing statement.
    pub async fn try_exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        let mut conn = self.connect().await;
        let result = sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ());
        let _ = conn.close().await;
        result
    }

    /// [`Self::try_exec`], panicking with the error and the script if it fails.
    pub async fn exec(&self, sql: &str) {
        if let Err(e) = self.try_exec(sql).await {
            panic!(
                "SQL script failed on {} {}: {e}\n--- script ---\n{sql}",
                self.flavor,
                self.url()
            );
        }
    }

    /// The temp dir holding `data/`, `server.log` and `server.pid` (removed with the server).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(|c| c.id())
    }

    pub fn server_id(&self) -> u32 {
        self.server_id
    }

    /// Whether the server process is running (as far as this launcher knows).
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
                        "test {} on port {} ignored SIGTERM for {STOP_TIMEOUT:?}; killing it",
                        self.flavor, self.port
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
            "test {} on 127.0.0.1:{} restarted in {} ms",
            self.flavor,
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

    /// The standard flags of this flavour, before the extra ones.
    fn standard_args(&self) -> Result<(PathBuf, Vec<String>), String> {
        let d = self.datadir.display();
        let r = self.root.display();
        let mut args = vec![
            "--no-defaults".to_string(),
            format!("--user={}", current_user()),
            format!("--datadir={d}"),
            format!("--socket={r}/s"),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".into(),
            format!("--server-id={}", self.server_id),
            format!("--log-bin={d}/bin"),
            "--binlog-row-image=FULL".into(),
            "--binlog-row-metadata=FULL".into(),
            "--character-set-server=utf8mb4".into(),
            "--collation-server=utf8mb4_unicode_ci".into(),
            "--max-allowed-packet=256M".into(),
        ];
        let bin = match self.flavor {
            Flavor::MariaDb | Flavor::MariaDb118 => {
                // A tmpdir of its own: mariadbd deletes every #sql* file in its tmpdir at
                // start-up, i.e. the on-disk temporary tables of the other servers.
                let tmp = self.root.join("tmp");
                fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                args.push(format!("--tmpdir={}", tmp.display()));
                args.push("--binlog-format=ROW".into());
                if self.flavor == Flavor::MariaDb {
                    find_bin("mariadbd")
                } else {
                    args.extend(mariadb118_paths()?);
                    mariadb118_bin("mariadbd")?
                }
            }
            Flavor::MySql => {
                let files = self.root.join("files");
                let tmp = self.root.join("tmp");
                for dir in [&files, &tmp] {
                    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                args.extend([
                    // ROW is MySQL's default (and the flag is deprecated).
                    "--gtid-mode=ON".into(),
                    "--enforce-gtid-consistency=ON".into(),
                    "--mysqlx=OFF".into(),
                    format!("--secure-file-priv={}", files.display()),
                    format!("--tmpdir={}", tmp.display()),
                    format!("--pid-file={r}/mysqld.pid"),
                    "--innodb-redo-log-capacity=8M".into(),
                ]);
                mysql_bin("mysqld")?
            }
        };
        Ok((bin, args))
    }

    /// Starts the server on `self.port` and waits until it accepts connections.
    fn launch(&mut self) -> Result<(), LaunchError> {
        assert!(self.server.is_none(), "launch while the server runs");
        let fail = |message: String| LaunchError {
            message,
            port_taken: false,
        };
        let log_path = self.log_path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| fail(format!("open {}: {e}", log_path.display())))?;
        // Only this run's part of the log matters when reporting a failure.
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log_err = log.try_clone().map_err(|e| fail(e.to_string()))?;
        let (bin, args) = self.standard_args().map_err(fail)?;
        let child = Command::new(&bin)
            .args(&args)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Keep terminal signals away: the launcher and its watchdog decide when it dies.
            .process_group(0)
            .spawn()
            .map_err(|e| fail(format!("spawn {}: {e}", bin.display())))?;

        // Written via rename so the watchdog never reads a partial pid.
        let tmp = self.root.join("server.pid.tmp");
        fs::write(&tmp, child.id().to_string())
            .and_then(|()| fs::rename(&tmp, self.pid_path()))
            .map_err(|e| fail(format!("write server.pid: {e}")))?;
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
                    port_taken: log.contains("Address already in use")
                        || log.contains("Do you already have another"),
                    message: format!(
                        "test {} on 127.0.0.1:{} {what}; end of its log:\n{}",
                        self.flavor,
                        self.port,
                        tail(&log, 40)
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Called once the server has been reaped: its pid may be reused, the watchdog must not
    /// kill it.
    fn forget_pid(&self) {
        let _ = fs::remove_file(self.pid_path());
    }
}

impl Drop for Server {
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

fn spawn_watchdog(root: &Path) -> Result<Child, String> {
    Command::new("sh")
        .args(["-c", WATCHDOG_SH, "flowtally-server-watchdog"])
        .arg(std::process::id().to_string())
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Own process group: a Ctrl-C aimed at `cargo test` must not kill the watchdog before
        // it has killed the server.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawn the server watchdog shell: {e}"))
}

/// A fresh datadir at `datadir`.
fn initialize(flavor: Flavor, datadir: &Path) -> Result<(), String> {
    match flavor {
        Flavor::MariaDb => install_mariadb(datadir),
        Flavor::MySql => copy_mysql_template(datadir),
        Flavor::MariaDb118 => copy_mariadb118_template(datadir),
    }
}

/// Seen to fail now and then when several servers are installed at once on 2 cores
/// ("Installation of system tables failed"): retried on a clean directory.
fn install_mariadb(datadir: &Path) -> Result<(), String> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let out = Command::new(find_bin("mariadb-install-db"))
            .arg("--no-defaults")
            .arg(format!("--user={}", current_user()))
            .arg(format!("--datadir={}", datadir.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                format!("run mariadb-install-db: {e} (run scripts/ensure-mariadb.sh to install MariaDB)")
            })?;
        if out.status.success() {
            return Ok(());
        }
        if attempt == ATTEMPTS {
            return Err(format!(
                "mariadb-install-db --datadir={} failed {ATTEMPTS} times ({}):\n{}\n{}",
                datadir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let _ = fs::remove_dir_all(datadir);
        std::thread::sleep(Duration::from_millis(200 * attempt as u64));
    }
    Ok(())
}

/// `mysqld --initialize-insecure` takes seconds: it runs once per process into a template,
/// which each server copies. The copy drops `auto.cnf`, so each server makes its own
/// server_uuid at its first start, as a freshly initialised one would.
fn copy_mysql_template(datadir: &Path) -> Result<(), String> {
    static TEMPLATE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let template = TEMPLATE
        .get_or_init(|| {
            let root = tempfile::Builder::new()
                .prefix("flowtally-mysql-template-")
                .tempdir()
                .map_err(|e| e.to_string())?
                .keep();
            // Left running for the life of the process: it removes the template afterwards.
            std::mem::forget(spawn_watchdog(&root)?);
            let data = root.join("data");
            let files = root.join("files");
            fs::create_dir_all(&files).map_err(|e| e.to_string())?;
            let out = Command::new(mysql_bin("mysqld")?)
                .args([
                    "--no-defaults",
                    &format!("--user={}", current_user()),
                    &format!("--datadir={}", data.display()),
                    &format!("--secure-file-priv={}", files.display()),
                    "--innodb-redo-log-capacity=8M",
                    "--initialize-insecure",
                ])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("run mysqld --initialize-insecure: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "mysqld --initialize-insecure failed ({}):\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(data)
        })
        .clone()?;
    copy_datadir(&template, datadir)?;
    let _ = fs::remove_file(datadir.join("auto.cnf"));
    Ok(())
}

fn copy_datadir(template: &Path, datadir: &Path) -> Result<(), String> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(datadir)
        .status()
        .map_err(|e| format!("cp -a {}: {e}", template.display()))?;
    if !status.success() {
        return Err(format!(
            "cp -a {} {} failed",
            template.display(),
            datadir.display()
        ));
    }
    Ok(())
}

/// What `mariadb-install-db --auth-root-authentication-method=normal --skip-test-db` feeds
/// `mariadbd --bootstrap`, in its order (the script itself cannot be used: it runs
/// `ROOT/usr/sbin/mariadbd` and `my_print_defaults` directly, which the system's older glibc
/// cannot load). Lines naming `@current_hostname` are dropped as the script drops them for a
/// server whose host name does not resolve: root gets localhost, 127.0.0.1 and ::1.
const MARIADB_BOOTSTRAP_FILES: [&str; 6] = [
    "mariadb_system_tables.sql",
    "mariadb_performance_tables.sql",
    "mariadb_system_tables_data.sql",
    "fill_help_tables.sql",
    "maria_add_gis_sp_bootstrap.sql",
    "mariadb_sys_schema.sql",
];

/// A MariaDB 11.8 datadir, bootstrapped once per process into a template (about 4 s) that each
/// server copies, as for MySQL.
fn copy_mariadb118_template(datadir: &Path) -> Result<(), String> {
    static TEMPLATE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let template = TEMPLATE
        .get_or_init(|| {
            let root = tempfile::Builder::new()
                .prefix("flowtally-mariadb-11.8-template-")
                .tempdir()
                .map_err(|e| e.to_string())?
                .keep();
            // Left running for the life of the process: it removes the template afterwards.
            std::mem::forget(spawn_watchdog(&root)?);
            let data = root.join("data");
            let tmp = root.join("tmp");
            for dir in [&data, &tmp] {
                fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let share = mariadb118_root()?.join("usr/share/mariadb");
            let mut sql = String::from(
                "create database if not exists mysql;\nuse mysql;\nSET @auth_root_socket=NULL;\n",
            );
            for file in MARIADB_BOOTSTRAP_FILES {
                let path = share.join(file);
                let text = fs::read_to_string(&path)
                    .map_err(|e| format!("read {}: {e}", path.display()))?;
                for line in text.lines().filter(|l| !l.contains("@current_hostname")) {
                    sql.push_str(line);
                    sql.push('\n');
                }
            }
            let mut child = Command::new(mariadb118_bin("mariadbd")?)
                .arg("--no-defaults")
                .arg(format!("--user={}", current_user()))
                .arg("--bootstrap")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .args(mariadb118_paths()?)
                .args([
                    "--log-warnings=0",
                    "--enforce-storage-engine=",
                    "--max-allowed-packet=8M",
                    "--net-buffer-length=16K",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("run mariadbd --bootstrap (MariaDB 11.8): {e}"))?;
            // Written from a thread: mariadbd logs while it reads, and both pipes must drain.
            let stdin = child.stdin.take();
            let writer = std::thread::spawn(move || {
                if let Some(mut stdin) = stdin {
                    let _ = std::io::Write::write_all(&mut stdin, sql.as_bytes());
                }
            });
            let out = child
                .wait_with_output()
                .map_err(|e| format!("wait for mariadbd --bootstrap: {e}"))?;
            let _ = writer.join();
            if !out.status.success() {
                return Err(format!(
                    "mariadbd --bootstrap (MariaDB 11.8) failed ({}):\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    tail(&String::from_utf8_lossy(&out.stderr), 40)
                ));
            }
            // As mariadb-install-db does, so the server does not ask for mariadb-upgrade.
            let _ = fs::write(data.join("mariadb_upgrade_info"), "11.8");
            let _ = fs::remove_dir_all(&tmp);
            Ok(data)
        })
        .clone()?;
    copy_datadir(&template, datadir)
}

/// A MySQL binary: the wrapper `scripts/ensure-mysql.sh` made in `FLOWTALLY_MYSQL_BIN`, or in
/// its default cache.
pub fn mysql_bin(name: &str) -> Result<PathBuf, String> {
    let dir = match std::env::var_os("FLOWTALLY_MYSQL_BIN") {
        Some(d) => PathBuf::from(d),
        None => default_cache("FLOWTALLY_MYSQL_CACHE").join("mysql-9.7/bin"),
    };
    let bin = dir.join(name);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "no MySQL {name} in {}: run scripts/ensure-mysql.sh (it unpacks MySQL 9.7 from \
             Debian's packages into a private folder and sets FLOWTALLY_MYSQL_BIN), or test \
             MariaDB only with FLOWTALLY_TEST_SERVERS=mariadb",
            dir.display()
        ))
    }
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}/flowtally`, or `$var` when set: where the ensure scripts
/// unpack their servers.
fn default_cache(var: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("flowtally")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/flowtally")))
        .unwrap_or_else(|| PathBuf::from(".cache/flowtally"))
}

const MARIADB118_HINT: &str = "run scripts/ensure-mariadb-11.8.sh (it unpacks MariaDB 11.8 \
     from Debian's packages into a private folder and sets FLOWTALLY_MARIADB118_BIN), or leave \
     it out with FLOWTALLY_TEST_SERVERS=both";

/// A MariaDB 11.8 binary: the wrapper `scripts/ensure-mariadb-11.8.sh` made in
/// `FLOWTALLY_MARIADB118_BIN`, or in its default cache.
pub fn mariadb118_bin(name: &str) -> Result<PathBuf, String> {
    let dir = match std::env::var_os("FLOWTALLY_MARIADB118_BIN") {
        Some(d) => PathBuf::from(d),
        None => default_cache("FLOWTALLY_MARIADB118_CACHE").join("mariadb-11.8/bin"),
    };
    let bin = dir.join(name);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "no MariaDB 11.8 {name} in {}: {MARIADB118_HINT}",
            dir.display()
        ))
    }
}

/// The unpacked root of MariaDB 11.8: `FLOWTALLY_MARIADB118_ROOT`, or `root` beside the
/// wrappers' folder.
fn mariadb118_root() -> Result<PathBuf, String> {
    let root = match std::env::var_os("FLOWTALLY_MARIADB118_ROOT") {
        Some(r) => PathBuf::from(r),
        None => mariadb118_bin("mariadbd")?
            .parent()
            .and_then(Path::parent)
            .map(|base| base.join("root"))
            .ok_or_else(|| format!("no MariaDB 11.8 root: {MARIADB118_HINT}"))?,
    };
    if root.join("usr/share/mariadb").is_dir() {
        Ok(root)
    } else {
        Err(format!(
            "no MariaDB 11.8 in {}: {MARIADB118_HINT}",
            root.display()
        ))
    }
}

/// The paths mariadbd 11.8 needs spelled out: its compiled-in ones are under /usr, where the
/// system's MariaDB 10.11 keeps error messages, character sets and plugins that 11.8 must not
/// read.
fn mariadb118_paths() -> Result<[String; 4], String> {
    let usr = mariadb118_root()?.join("usr");
    Ok([
        format!("--basedir={}", usr.display()),
        format!("--lc-messages-dir={}", usr.join("share/mariadb").display()),
        format!(
            "--character-sets-dir={}",
            usr.join("share/mariadb/charsets").display()
        ),
        format!("--plugin-dir={}", usr.join("lib/mysql/plugin").display()),
    ])
}

/// A port that was free a moment ago (the OS picks it); [`Server::try_start`] retries if it is
/// taken by the time the server binds it.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("find a free TCP port on 127.0.0.1: {e}"))
}

/// True once the server sends its handshake greeting (protocol version 10) on a new
/// connection: both servers only listen once their engines are up.
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

/// The user name for `--user=`: both servers refuse to run as root unless told `--user=root`.
fn current_user() -> &'static str {
    static USER: OnceLock<String> = OnceLock::new();
    USER.get_or_init(|| {
        Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "root".to_string())
    })
}

/// Finds a binary on PATH, or in the sbin dirs that a non-root PATH often lacks (Debian installs
/// mariadbd in /usr/sbin).
pub fn find_bin(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
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
