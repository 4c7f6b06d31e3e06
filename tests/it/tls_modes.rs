//! TLS on MySQL's terms: `ssl_mode = "verify_ca"` checks only that `ssl_ca` signed the server's
//! certificate, `verify_identity` also that the certificate is issued for the host of the url.
//! Both clients are checked, mysql_async (the binlog connection) and sqlx (the pools), each on
//! its own and then through `flowtally run` and `flowtally refresh`:
//!
//! - MySQL's own auto-generated certificates (`ca.pem`, `server-cert.pem` in the datadir) name
//!   no host: `verify_ca` with the datadir's `ca.pem` streams and writes, `verify_identity`
//!   refuses them at start with one line that names the host the certificate lacks.
//! - A certificate for 127.0.0.1 and localhost signed by a CA made here (the TLS server of
//!   `privileges`): both modes pass, and a certificate of another CA fails both.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flowtally::config::{Endpoint, SslMode};
use flowtally::source::binlog::{check_server, BinlogOptions, BinlogStream, StreamEvent};
use flowtally::source::Position;
use mysql_async::prelude::Queryable;

use crate::common::process::Flowtally;
use crate::common::{self, Flavor, Server};
use crate::privileges::{command_to_exit, live_traffic_and_verify, run_to_exit, tenant, tls};

on_mysql!(
    mysql_auto_generated_certificates_pass_verify_ca_and_fail_verify_identity,
    "MariaDB 10.11 generates no certificates of its own, and 11.8's is self-signed in memory \
     with no CA file to give ssl_ca; the CA-signed certificate of \
     a_certificate_for_the_host_passes_both_modes_and_another_ca_fails_both covers both"
);
on_all!(a_certificate_for_the_host_passes_both_modes_and_another_ca_fails_both);

/// Root on 127.0.0.1:`port` with `mode` and `ca`.
fn endpoint(port: u16, host: &str, mode: SslMode, ca: &Path) -> Endpoint {
    Endpoint {
        host: host.to_string(),
        port,
        user: "root".into(),
        password: None,
        ssl_mode: mode,
        ssl_ca: Some(ca.to_path_buf()),
    }
}

/// What each client made of `ep`: the TLS version the server reports for the session, or the
/// error as flowtally words it. The mysql_async side also opens a binlog stream (its own
/// connection, from the same options) and reads one event from it.
struct Clients {
    sqlx: Result<String, String>,
    mysql_async: Result<String, String>,
    stream: Result<(), String>,
}

async fn connect_both(ep: &Endpoint) -> Clients {
    let sqlx = match flowtally::db::pool(ep, 1).await {
        Ok(pool) => {
            let row = sqlx::query("SHOW SESSION STATUS LIKE 'Ssl_version'")
                .fetch_one(&pool)
                .await
                .expect("Ssl_version over sqlx");
            pool.close().await;
            Ok(common::text(&row, 1))
        }
        Err(e) => Err(flowtally::db::connect_error(ep, &e)),
    };
    let mysql_async = match flowtally::db::binlog_conn(ep).await {
        Ok((mut conn, mode)) => {
            assert_eq!(mode, ep.ssl_mode, "the mode stays as configured");
            let row: Option<(String, String)> = conn
                .query_first("SHOW SESSION STATUS LIKE 'Ssl_version'")
                .await
                .expect("Ssl_version over mysql_async");
            let _ = conn.disconnect().await;
            Ok(row.map(|(_, v)| v).unwrap_or_default())
        }
        Err(e) => Err(flowtally::db::binlog_connect_error(ep, &e)),
    };
    let options = BinlogOptions {
        opts: flowtally::db::binlog_opts(ep),
        server_id: common::next_server_id(),
        heartbeat: Duration::from_secs(1),
        core_db: "bgerp".into(),
        db_prefix: "bgerp_t_".into(),
    };
    // From the end of the binlog (read over TLS without verification), as start-up does: the
    // first event is a heartbeat at the latest (or a transaction of another test).
    let end = end_of_binlog(&Endpoint {
        ssl_mode: SslMode::Required,
        ..ep.clone()
    })
    .await;
    let stream = match BinlogStream::connect(&options, &end).await {
        Ok(mut stream) => match stream.next().await {
            Ok(StreamEvent::Heartbeat | StreamEvent::Transaction(_)) => Ok(()),
            Err(e) => Err(flowtally::causes::Causes(&e).to_string()),
        },
        Err(e) => Err(flowtally::causes::Causes(&e).to_string()),
    };
    Clients {
        sqlx,
        mysql_async,
        stream,
    }
}

/// The end of the binlog of the server at `ep`.
async fn end_of_binlog(ep: &Endpoint) -> Position {
    let mut conn = mysql_async::Conn::new(flowtally::db::binlog_opts(ep))
        .await
        .unwrap_or_else(|e| panic!("connect to {ep}: {e}"));
    let info = check_server(&mut conn)
        .await
        .expect("the server passes the checks");
    let _ = conn.disconnect().await;
    info.position
}

impl Clients {
    /// Both connected, over TLS, and the stream delivered.
    fn assert_tls(&self, what: &str) {
        for (client, r) in [("sqlx", &self.sqlx), ("mysql_async", &self.mysql_async)] {
            match r {
                Ok(version) => assert!(
                    version.starts_with("TLS"),
                    "{what}: {client} connected without TLS (Ssl_version {version:?})"
                ),
                Err(e) => panic!("{what}: {client} refused: {e}"),
            }
        }
        if let Err(e) = &self.stream {
            panic!("{what}: the binlog stream failed: {e}");
        }
    }

    /// Both clients refused, each error as flowtally words it containing every one of
    /// `needles`; the binlog stream refused too, for the certificate (`rustls_says`, rustls's
    /// own word for the problem).
    fn assert_refused(&self, what: &str, needles: &[&str], rustls_says: &str) {
        for (client, r) in [("sqlx", &self.sqlx), ("mysql_async", &self.mysql_async)] {
            let Err(e) = r else {
                panic!("{what}: {client} connected")
            };
            eprintln!("{what}: {client}: {e}");
            for needle in needles.iter().chain([&rustls_says]) {
                assert!(
                    e.contains(needle),
                    "{what}: {client}: no {needle:?} in: {e}"
                );
            }
        }
        match &self.stream {
            Ok(()) => panic!("{what}: the binlog stream connected"),
            Err(e) => assert!(
                e.contains("certificate") && e.contains(rustls_says),
                "{what}: the binlog stream: {e}"
            ),
        }
    }
}

/// `[source]` on 127.0.0.1:`port` with `mode` and `ssl_ca` = `ca`; the sink follows it.
fn source_section(port: u16, mode: &str, ca: &Path) -> String {
    format!(
        "url = \"mysql://root@127.0.0.1:{port}\"\nssl_mode = \"{mode}\"\nssl_ca = \"{}\"",
        ca.display()
    )
}

/// Starts `flowtally run` on the config in `dir`, checks it streams and writes (verify agrees),
/// stops it, then runs `refresh` on the same config.
async fn run_and_refresh(server: &Server, db: &str, dir: tempfile::TempDir) {
    let mut ft = Flowtally::start_in(dir);
    ft.wait_started();
    live_traffic_and_verify(server, db, &ft, None).await;
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    let out = command_to_exit(ft.dir.path(), &["refresh"], &[]);
    assert!(
        out.status.success(),
        "refresh: {}\n{}\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
}

/// Both `run` and `refresh` on the config in `dir` fail at once with one line holding every
/// one of `needles`.
fn run_and_refresh_refused(dir: &Path, needles: &[&str]) {
    for args in [&["run"][..], &["refresh"]] {
        let out = if args == ["run"] {
            run_to_exit(dir, &[])
        } else {
            command_to_exit(dir, args, &[])
        };
        let line = out.failure();
        for needle in needles {
            assert!(line.contains(needle), "{args:?}: no {needle:?} in: {line}");
        }
    }
}

async fn mysql_auto_generated_certificates_pass_verify_ca_and_fail_verify_identity(flavor: Flavor) {
    // Private: flowtally follows its server's whole binlog. Plain connections are refused, so
    // that streaming proves the binlog connection took TLS too.
    let server = common::start_server(flavor, &["--require-secure-transport=ON"]);
    let ca: PathBuf = server.datadir.join("ca.pem");
    assert!(
        ca.is_file(),
        "MySQL made no ca.pem in {}",
        server.datadir.display()
    );

    let clients = connect_both(&endpoint(server.port, "127.0.0.1", SslMode::VerifyCa, &ca)).await;
    clients.assert_tls("verify_ca, MySQL's own CA");
    let clients = connect_both(&endpoint(
        server.port,
        "127.0.0.1",
        SslMode::VerifyIdentity,
        &ca,
    ))
    .await;
    clients.assert_refused(
        "verify_identity, MySQL's own certificate",
        &["not issued for the host 127.0.0.1", "verify_ca"],
        "NotValidForName",
    );

    let (code, db) = tenant(&server, "Tm").await;
    let dir = tempfile::tempdir().expect("tempdir");
    crate::privileges::write_config(
        dir.path(),
        &source_section(server.port, "verify_ca", &ca),
        "",
        &[&code],
    );
    run_and_refresh(&server, &db, dir).await;

    let dir = tempfile::tempdir().expect("tempdir");
    crate::privileges::write_config(
        dir.path(),
        &source_section(server.port, "verify_identity", &ca),
        "",
        &[&code],
    );
    run_and_refresh_refused(
        dir.path(),
        &[
            "cannot connect to the source server",
            "not issued for the host 127.0.0.1",
            "verify_ca",
        ],
    );
}

async fn a_certificate_for_the_host_passes_both_modes_and_another_ca_fails_both(flavor: Flavor) {
    let t = tls(flavor);
    let files = tempfile::tempdir().expect("tempdir");
    let ca = files.path().join("ca.pem");
    let other_ca = files.path().join("other-ca.pem");
    std::fs::write(&ca, &t.ca).expect("ca");
    std::fs::write(&other_ca, &t.other_ca).expect("other ca");
    let port = t.server.port;

    for mode in [SslMode::VerifyCa, SslMode::VerifyIdentity] {
        let clients = connect_both(&endpoint(port, "127.0.0.1", mode, &ca)).await;
        clients.assert_tls(&format!("{}, the CA that signed it", mode.name()));
        let clients = connect_both(&endpoint(port, "127.0.0.1", mode, &other_ca)).await;
        clients.assert_refused(
            &format!("{}, another CA", mode.name()),
            &["ssl_ca must be the CA that signed the server's certificate"],
            "UnknownIssuer",
        );
    }

    // End to end: verify_ca on the source (the binlog connection and the source pool),
    // verify_identity on the sink, both by IP address.
    let (code, db) = tenant(&t.server, "Th").await;
    let dir = tempfile::tempdir().expect("tempdir");
    crate::privileges::write_config(
        dir.path(),
        &source_section(port, "verify_ca", &ca),
        &format!(
            "url = \"mysql://root@127.0.0.1:{port}\"\nssl_mode = \"verify_identity\"\nssl_ca = \"{}\"",
            ca.display()
        ),
        &[&code],
    );
    run_and_refresh(&t.server, &db, dir).await;

    for mode in ["verify_ca", "verify_identity"] {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::privileges::write_config(
            dir.path(),
            &source_section(port, mode, &other_ca),
            "",
            &[&code],
        );
        run_and_refresh_refused(
            dir.path(),
            &[
                "cannot connect to the source server",
                "certificate",
                &format!("ssl_mode = \"{mode}\""),
            ],
        );
    }
}
