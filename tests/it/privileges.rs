//! Least privilege, secrets and TLS (SPEC §4): `flowtally run` as a reader and a writer holding
//! exactly the grants the README lists, clear start-up errors for a missing grant or a wrong
//! password (which never shows), a writer missing a grant that keeps retrying and says which, and
//! TLS per `ssl_mode` on both connections against a server with a certificate made here.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use flowtally::model::View;

use crate::common::process::Flowtally;
use crate::common::process::{
    differences, http_get, local, mark, next_minute, traffic, wait_for_instant,
};
use crate::common::{self, Flavor, Server};

on_all!(
    run_with_exactly_the_documented_grants_keeps_the_tables_right,
    a_missing_reader_grant_stops_the_start_naming_it,
    a_wrong_password_is_one_clear_line_that_never_shows_it,
    a_writer_without_insert_keeps_retrying_and_names_table_and_grant,
    tls_required_on_both_connections_against_a_server_requiring_it,
    tls_verify_identity_with_the_right_ca,
    tls_preferred_uses_tls_when_the_server_offers_it,
    tls_an_untrusted_certificate_or_plain_text_fails_at_start,
);

/// A tenant with seeded dimensions and some history, on `server`.
pub(crate) async fn tenant(server: &Server, prefix: &str) -> (String, String) {
    let pool = server.pool().await;
    let code = common::unique_code(prefix);
    let db = common::tenant_db(&code);
    common::process::seeded_tenant(&pool, &code, 5).await;
    traffic(
        &pool,
        &db,
        21,
        chrono::Utc::now().timestamp() - 2 * 86_400,
        600,
        150,
    )
    .await;
    (code, db)
}

/// The latest event time any test of this module wrote on a server of `flavor` (the shared one
/// or the TLS one). Every flowtally on a server follows its whole binlog, so one test's
/// future-dated traffic moves every other's clock: live traffic runs one test at a time per
/// flavour, dated after everything written before. (No other module writes future-dated
/// events on the shared servers.)
pub(crate) fn event_time(flavor: Flavor) -> &'static tokio::sync::Mutex<i64> {
    static MARIADB: tokio::sync::Mutex<i64> = tokio::sync::Mutex::const_new(0);
    static MYSQL: tokio::sync::Mutex<i64> = tokio::sync::Mutex::const_new(0);
    static MARIADB118: tokio::sync::Mutex<i64> = tokio::sync::Mutex::const_new(0);
    match flavor {
        Flavor::MariaDb => &MARIADB,
        Flavor::MySql => &MYSQL,
        Flavor::MariaDb118 => &MARIADB118,
    }
}

/// Live traffic dated from `start` (default: the next minute but one), then a marker past the
/// next 15-minute boundary: once flowtally wrote that instant, every table has a snapshot there
/// and `verify` must agree. Returns that instant.
pub(crate) async fn live_traffic_and_verify(
    server: &Server,
    db: &str,
    ft: &Flowtally,
    start: Option<i64>,
) -> i64 {
    let pool = server.pool().await;
    let mut latest = event_time(server.flavor).lock().await;
    let start = start
        .unwrap_or_else(|| next_minute(chrono::Utc::now().timestamp()) + 60)
        .max(next_minute(*latest) + 60);
    let last = traffic(&pool, db, start as u64, start, 2, 300)
        .await
        .last_epoch;
    let last = (last / 900 + 1) * 900;
    mark(&pool, last + 1).await;
    *latest = last + 1;
    wait_for_instant(&pool, db, local(last), ft).await;
    drop(latest);
    let diffs = differences(&pool, db).await;
    assert!(diffs.is_empty(), "{db}: {diffs:#?}\n{}", ft.log());
    last
}

/// A config for `flowtally run`: `source` and `sink` are the bodies of those sections.
pub(crate) fn write_config(dir: &Path, source: &str, sink: &str, codes: &[&str]) -> PathBuf {
    let include: Vec<String> = codes.iter().map(|c| format!("\"{c}\"")).collect();
    let text = format!(
        "[source]\n{source}\nserver_id = {}\nheartbeat_secs = 1\n[sink]\n{sink}\n\
         [tenants]\ninclude = [{}]\n[state]\ndir = \"{}\"\ncheckpoint_secs = 2\n\
         [http]\nlisten = \"127.0.0.1:0\"\n",
        common::next_server_id(),
        include.join(", "),
        dir.join("state").display()
    );
    let path = dir.join("flowtally.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// What a `flowtally run` that must stop by itself printed.
pub(crate) struct Exited {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `flowtally run` on the config in `dir` and waits (60 s at most) for it to exit.
pub(crate) fn run_to_exit(dir: &Path, env: &[(&str, &str)]) -> Exited {
    command_to_exit(dir, &["run"], env)
}

/// Runs `flowtally <args>` on the config in `dir` and waits (60 s at most) for it to exit.
pub(crate) fn command_to_exit(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Exited {
    let out = std::fs::File::create(dir.join("stdout")).expect("stdout file");
    let err = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtally"))
        .arg("--config")
        .arg(dir.join("flowtally.toml"))
        .args(args)
        .env("FLOWTALLY_LOG", "info,flowtally=debug")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn flowtally");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "flowtally {args:?} still running after 60 s:\n{}",
                std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    Exited {
        status,
        stdout: read("stdout"),
        stderr: read("stderr"),
    }
}

impl Exited {
    /// The failure line `main` prints; exactly one.
    pub(crate) fn failure(&self) -> String {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("flowtally: "))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "one failure line expected:\n{}",
            self.stderr
        );
        assert!(
            !self.status.success() && self.status.code().is_some(),
            "exit {} (non-zero expected):\n{}",
            self.status,
            self.stderr
        );
        eprintln!("{}", lines[0]);
        lines[0].to_string()
    }

    pub(crate) fn assert_never_shows(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "the password {secret:?} shows:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Least privilege
// ---------------------------------------------------------------------------------------------

/// What the reader is granted; `Reader::FULL` is exactly the README's recipe.
#[derive(Clone, Copy)]
struct Reader {
    replication_slave: bool,
    /// BINLOG MONITOR on MariaDB (≥ 10.5), REPLICATION CLIENT on MySQL.
    binlog_monitor: bool,
    organization: bool,
}

/// The grant that lets a login read the binlog position: MariaDB 10.5 renamed MySQL's
/// REPLICATION CLIENT to BINLOG MONITOR.
fn binlog_monitor(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => "BINLOG MONITOR",
        Flavor::MySql => "REPLICATION CLIENT",
    }
}

impl Reader {
    const FULL: Reader = Reader {
        replication_slave: true,
        binlog_monitor: true,
        organization: true,
    };
}

/// Creates `user` identified by `password` with the reader's grants on `dbs`.
async fn create_reader(server: &Server, user: &str, password: &str, g: Reader, dbs: &[&str]) {
    let mut sql = format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';\n");
    let global: Vec<&str> = [
        (g.replication_slave, "REPLICATION SLAVE"),
        (g.binlog_monitor, binlog_monitor(server.flavor)),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, p)| *p)
    .collect();
    if !global.is_empty() {
        sql += &format!("GRANT {} ON *.* TO '{user}'@'%';\n", global.join(", "));
    }
    if g.organization {
        sql += &format!("GRANT SELECT ON bgerp.organization TO '{user}'@'%';\n");
    }
    for db in dbs {
        for t in common::SOURCE_TABLES {
            sql += &format!("GRANT SELECT ON `{db}`.`{t}` TO '{user}'@'%';\n");
        }
    }
    server.exec(&sql).await;
}

/// Creates `user` with `privileges` (e.g. "SELECT, INSERT, DELETE") on the five mv_ tables of
/// `dbs`, and nothing else.
async fn create_writer(
    server: &Server,
    user: &str,
    password: &str,
    privileges: &str,
    dbs: &[&str],
) {
    let mut sql = format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';\n");
    for db in dbs {
        for v in View::ALL {
            sql += &format!(
                "GRANT {privileges} ON `{db}`.`{}` TO '{user}'@'%';\n",
                v.table()
            );
        }
    }
    server.exec(&sql).await;
}

fn user(prefix: &str) -> String {
    common::unique_code(prefix).to_lowercase()
}

async fn run_with_exactly_the_documented_grants_keeps_the_tables_right(flavor: Flavor) {
    let server = common::shared(flavor);
    let (code, db) = tenant(server, "Lp").await;
    let (reader, writer) = (user("ftr"), user("ftw"));
    let (reader_pw, writer_pw) = ("Rd#Pw-5512-secret", "Wr#Pw-7781-secret");
    create_reader(server, &reader, reader_pw, Reader::FULL, &[&db]).await;
    create_writer(server, &writer, writer_pw, "SELECT, INSERT, DELETE", &[&db]).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let pw_file = dir.path().join("writer.pw");
    std::fs::write(&pw_file, format!("{writer_pw}\n")).expect("password file");
    write_config(
        dir.path(),
        &format!(
            "url = \"mysql://{reader}@127.0.0.1:{}\"\npassword_env = \"FT_TEST_READER_PW\"",
            server.port
        ),
        &format!(
            "url = \"mysql://{writer}@127.0.0.1:{}\"\npassword_file = \"{}\"",
            server.port,
            pw_file.display()
        ),
        &[&code],
    );
    let mut ft = Flowtally::start_in_with_env(dir, &[("FT_TEST_READER_PW", reader_pw)]);
    ft.wait_started();
    let last = live_traffic_and_verify(server, &db, &ft, None).await;

    // A restart resumes from the checkpoint (SHOW BINARY LOGS as the reader) and stays clean.
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    assert!(
        !log.contains("lacks mv_"),
        "mv_ tables seen as missing:\n{log}"
    );
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("resuming from checkpoint");
    live_traffic_and_verify(server, &db, &ft, Some(last + 60)).await;
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    for secret in [reader_pw, writer_pw] {
        assert!(!log.contains(secret), "password in the log:\n{log}");
    }

    // The one-shot commands need no more: refresh writes a snapshot, verify reads both sides.
    let env = [("FT_TEST_READER_PW", reader_pw)];
    for args in [&["refresh"][..], &["verify"]] {
        let out = command_to_exit(ft.dir.path(), args, &env);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}\n{}",
            out.status,
            out.stdout,
            out.stderr
        );
        out.assert_never_shows(reader_pw);
        out.assert_never_shows(writer_pw);
    }
}

async fn a_missing_reader_grant_stops_the_start_naming_it(flavor: Flavor) {
    let server = common::shared(flavor);
    let (code, db) = tenant(server, "Lg").await;
    let writer = user("ftw");
    create_writer(server, &writer, "w-pw-1", "SELECT, INSERT, DELETE", &[&db]).await;
    let cases = [
        (
            Reader {
                replication_slave: false,
                ..Reader::FULL
            },
            "GRANT REPLICATION SLAVE",
        ),
        (
            Reader {
                binlog_monitor: false,
                ..Reader::FULL
            },
            binlog_monitor(flavor),
        ),
        (
            Reader {
                organization: false,
                ..Reader::FULL
            },
            "bgerp.organization",
        ),
    ];
    for (grants, needle) in cases {
        let reader = user("ftr");
        create_reader(server, &reader, "r-pw-1", grants, &[&db]).await;
        let dir = tempfile::tempdir().expect("tempdir");
        write_config(
            dir.path(),
            &format!(
                "url = \"mysql://{reader}@127.0.0.1:{}\"\npassword_env = \"FT_TEST_PW\"",
                server.port
            ),
            &format!(
                "url = \"mysql://{writer}:w-pw-1@127.0.0.1:{}\"",
                server.port
            ),
            &[&code],
        );
        let out = run_to_exit(dir.path(), &[("FT_TEST_PW", "r-pw-1")]);
        let line = out.failure();
        assert!(
            line.contains(needle),
            "{needle} not named: {line}\n{}",
            out.stderr
        );
        out.assert_never_shows("r-pw-1");
        out.assert_never_shows("w-pw-1");
    }
}

async fn a_wrong_password_is_one_clear_line_that_never_shows_it(flavor: Flavor) {
    let server = common::shared(flavor);
    let (code, db) = tenant(server, "Lw").await;
    let (reader, writer) = (user("ftr"), user("ftw"));
    create_reader(server, &reader, "Right-r-pw", Reader::FULL, &[&db]).await;
    create_writer(
        server,
        &writer,
        "Right-w-pw",
        "SELECT, INSERT, DELETE",
        &[&db],
    )
    .await;
    let port = server.port;
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong_file = dir.path().join("wrong.pw");
    std::fs::write(&wrong_file, "Wrong-file-pw-93\n").expect("password file");
    let right_file = dir.path().join("right.pw");
    std::fs::write(&right_file, "Right-w-pw\n").expect("password file");
    let cases = [
        // Wrong password in the URL: the endpoint shows as user:***@host.
        (
            format!("url = \"mysql://{reader}:Wrong-url-pw-17@127.0.0.1:{port}\""),
            format!(
                "url = \"mysql://{writer}@127.0.0.1:{port}\"\npassword_file = \"{}\"",
                right_file.display()
            ),
            "Wrong-url-pw-17",
            "source",
        ),
        // Wrong password from the environment.
        (
            format!("url = \"mysql://{reader}@127.0.0.1:{port}\"\npassword_env = \"FT_TEST_PW\""),
            format!(
                "url = \"mysql://{writer}@127.0.0.1:{port}\"\npassword_file = \"{}\"",
                right_file.display()
            ),
            "Wrong-env-pw-55",
            "source",
        ),
        // Right reader, wrong writer password from a file.
        (
            format!("url = \"mysql://{reader}:Right-r-pw@127.0.0.1:{port}\""),
            format!(
                "url = \"mysql://{writer}@127.0.0.1:{port}\"\npassword_file = \"{}\"",
                wrong_file.display()
            ),
            "Wrong-file-pw-93",
            "sink",
        ),
    ];
    for (source, sink, secret, role) in cases {
        write_config(dir.path(), &source, &sink, &[&code]);
        let out = run_to_exit(dir.path(), &[("FT_TEST_PW", "Wrong-env-pw-55")]);
        let line = out.failure();
        assert!(
            line.contains(&format!("cannot connect to the {role} server"))
                && line.contains("Access denied"),
            "{line}"
        );
        if secret.contains("url") {
            assert!(
                line.contains(&format!("mysql://{reader}:***@127.0.0.1:{port}")),
                "{line}"
            );
        }
        out.assert_never_shows(secret);
        out.assert_never_shows("Right-r-pw");
        out.assert_never_shows("Right-w-pw");
    }
}

async fn a_writer_without_insert_keeps_retrying_and_names_table_and_grant(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let (code, db) = tenant(server, "Li").await;
    let (reader, writer) = (user("ftr"), user("ftw"));
    create_reader(server, &reader, "r-pw-2", Reader::FULL, &[&db]).await;
    create_writer(server, &writer, "w-pw-2", "SELECT, DELETE", &[&db]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(
        dir.path(),
        &format!(
            "url = \"mysql://{reader}:r-pw-2@127.0.0.1:{}\"",
            server.port
        ),
        &format!(
            "url = \"mysql://{writer}:w-pw-2@127.0.0.1:{}\"",
            server.port
        ),
        &[&code],
    );
    let mut ft = Flowtally::start_in(dir);
    ft.wait_started();
    let http = ft.http_port();
    // Past the next minute: the first snapshot is due, and its INSERT is refused.
    let at = next_minute(chrono::Utc::now().timestamp());
    mark(&pool, at + 1).await;
    ft.wait_until_log("INSERT command denied");
    let log = ft.log();
    let line = log
        .lines()
        .find(|l| l.contains("INSERT command denied"))
        .expect("line");
    eprintln!("{line}");
    assert!(
        line.contains("retrying") && line.contains(&db) && line.contains("mv_"),
        "{line}"
    );
    let health = tokio::task::spawn_blocking(move || http_get(http, "/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status, 503, "{}", health.body);
    let body = health.json();
    assert_eq!(body["reason"], "sink_failing", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("INSERT")),
        "{body}"
    );
    assert!(
        ft.exited().is_none(),
        "the service must keep running:\n{}",
        ft.log()
    );

    // Granted now: the retry goes through and the snapshot is written.
    server
        .exec(
            &View::ALL
                .iter()
                .map(|v| {
                    format!(
                        "GRANT INSERT ON `{db}`.`{}` TO '{writer}'@'%';\n",
                        v.table()
                    )
                })
                .collect::<String>(),
        )
        .await;
    wait_for_instant(&pool, &db, local(at), &ft).await;
    let health = tokio::task::spawn_blocking(move || http_get(http, "/healthz"))
        .await
        .expect("healthz");
    assert_ne!(health.json()["reason"], "sink_failing", "{}", health.body);
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

/// A server serving TLS with a certificate for `localhost` and 127.0.0.1 signed by a CA made
/// here, refusing plain connections; and the PEM of that CA and of another one.
pub(crate) struct Tls {
    pub(crate) server: Server,
    pub(crate) ca: String,
    pub(crate) other_ca: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.pem"),
            "-subj",
            &format!("/CN=flowtally test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// The TLS server of `flavor`, started on first use and shared by the TLS tests.
pub(crate) fn tls(flavor: Flavor) -> &'static Tls {
    static MARIADB: OnceLock<Tls> = OnceLock::new();
    static MYSQL: OnceLock<Tls> = OnceLock::new();
    static MARIADB118: OnceLock<Tls> = OnceLock::new();
    let cell = match flavor {
        Flavor::MariaDb => &MARIADB,
        Flavor::MySql => &MYSQL,
        Flavor::MariaDb118 => &MARIADB118,
    };
    cell.get_or_init(|| {
        // The server reads its files at start: they only need to live until then.
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        make_ca(d, "ca");
        make_ca(d, "other-ca");
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server-key.pem",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("server.ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-set_serial",
                "2",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        let arg = |flag: &str, file: &str| format!("--{flag}={}", d.join(file).display());
        let args = [
            arg("ssl-ca", "ca.pem"),
            arg("ssl-cert", "server.pem"),
            arg("ssl-key", "server-key.pem"),
            "--require-secure-transport=ON".to_string(),
        ];
        let server =
            common::start_server(flavor, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let read = |f: &str| std::fs::read_to_string(d.join(f)).expect("read pem");
        Tls {
            server,
            ca: read("ca.pem"),
            other_ca: read("other-ca.pem"),
        }
    })
}

/// Starts flowtally on the TLS server with the given `[source]`/`[sink]` TLS settings (`{ca}`
/// and `{other_ca}` stand for CA files), checks it streams and writes, and that verify agrees.
async fn tls_run(
    flavor: Flavor,
    source: &str,
    sink: &str,
    source_host: &str,
    sink_host: &str,
    prefix: &str,
) {
    let t = tls(flavor);
    let (code, db) = tenant(&t.server, prefix).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (source, sink) = tls_sections(t, dir.path(), source, sink, source_host, sink_host);
    write_config(dir.path(), &source, &sink, &[&code]);
    let mut ft = Flowtally::start_in(dir);
    ft.wait_started();
    live_traffic_and_verify(&t.server, &db, &ft, None).await;
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
}

pub(crate) fn tls_sections(
    t: &Tls,
    dir: &Path,
    source: &str,
    sink: &str,
    source_host: &str,
    sink_host: &str,
) -> (String, String) {
    let ca = dir.join("ca.pem");
    let other_ca = dir.join("other-ca.pem");
    std::fs::write(&ca, &t.ca).expect("ca");
    std::fs::write(&other_ca, &t.other_ca).expect("other ca");
    let fill = |s: &str| {
        s.replace("{ca}", &ca.display().to_string())
            .replace("{other_ca}", &other_ca.display().to_string())
    };
    let port = t.server.port;
    (
        format!(
            "url = \"mysql://root@{source_host}:{port}\"\n{}",
            fill(source)
        ),
        format!("url = \"mysql://root@{sink_host}:{port}\"\n{}", fill(sink)),
    )
}

async fn tls_required_on_both_connections_against_a_server_requiring_it(flavor: Flavor) {
    tls_run(
        flavor,
        "ssl_mode = \"required\"",
        "ssl_mode = \"required\"",
        "127.0.0.1",
        "127.0.0.1",
        "Tr",
    )
    .await;
}

async fn tls_verify_identity_with_the_right_ca(flavor: Flavor) {
    tls_run(
        flavor,
        "ssl_mode = \"verify_identity\"\nssl_ca = \"{ca}\"",
        "ssl_mode = \"verify_ca\"",
        "localhost",
        "127.0.0.1",
        "Tv",
    )
    .await;
}

async fn tls_preferred_uses_tls_when_the_server_offers_it(flavor: Flavor) {
    // The server refuses plain connections: the binlog connection must take TLS as well.
    tls_run(
        flavor,
        "ssl_mode = \"preferred\"",
        "",
        "127.0.0.1",
        "127.0.0.1",
        "Tp",
    )
    .await;
}

async fn tls_an_untrusted_certificate_or_plain_text_fails_at_start(flavor: Flavor) {
    let t = tls(flavor);
    let (code, _db) = tenant(&t.server, "Tf").await;
    let cases = [
        // The server's certificate is not signed by this CA.
        (
            "ssl_mode = \"verify_identity\"\nssl_ca = \"{other_ca}\"",
            "",
            "certificate",
        ),
        // The sink alone fails to verify.
        (
            "ssl_mode = \"verify_identity\"\nssl_ca = \"{ca}\"",
            "ssl_mode = \"verify_ca\"\nssl_ca = \"{other_ca}\"",
            "certificate",
        ),
        // Plain text to a server that requires TLS.
        ("ssl_mode = \"disabled\"", "", "require_secure_transport"),
    ];
    for (source, sink, needle) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let (source, sink) = tls_sections(t, dir.path(), source, sink, "localhost", "localhost");
        write_config(dir.path(), &source, &sink, &[&code]);
        let out = run_to_exit(dir.path(), &[]);
        let line = out.failure();
        assert!(
            line.to_lowercase().contains(needle) && line.contains("cannot connect"),
            "{needle}: {line}\n{}",
            out.stderr
        );
    }
}

#[test]
fn a_missing_ca_file_is_a_config_error_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(
        dir.path(),
        "url = \"mysql://root@127.0.0.1:1\"\nssl_mode = \"verify_ca\"\nssl_ca = \"/nonexistent/ca.pem\"",
        "",
        &["X"],
    );
    let out = run_to_exit(dir.path(), &[]);
    let line = out.failure();
    assert_eq!(out.status.code(), Some(2), "{line}");
    assert!(
        line.contains("[source] ssl_ca /nonexistent/ca.pem"),
        "{line}"
    );
}
