//! `flowtally check`: every check passes on a good setup (three tenants, the README's grants,
//! `[ha]`, a checkpoint from a brief `run`); each failure provoked for real — a server setting,
//! a revoked reader and writer grant, a tenant not migrated, the binlog purged under the
//! checkpoint, a checkpoint of the bincode era (which `run` then recomputes over) — is one FAIL
//! line naming the problem and its fix, with exit 1.

use std::path::Path;

use flowtally::checkpoint::Manifest;
use flowtally::model::View;
use sqlx::MySqlPool;

use crate::common::process::{http_get, seeded_tenant, Flowtally};
use crate::common::{self, Flavor, Server};
use crate::privileges::{command_to_exit, write_config, Exited};

on_all!(
    all_ok_on_a_good_setup_then_a_purged_binlog_and_an_older_checkpoint_fail,
    a_wrong_server_setting_is_named_with_its_fix,
    revoked_grants_and_a_tenant_not_migrated_are_named_with_their_fixes,
);

fn monitor(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => "BINLOG MONITOR",
        Flavor::MySql => "REPLICATION CLIENT",
    }
}

fn user(prefix: &str) -> String {
    common::unique_code(prefix).to_lowercase()
}

/// The README's reader, per table, on `dbs`.
async fn create_reader(server: &Server, user: &str, dbs: &[&str]) {
    let mut sql = format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw';\n\
         GRANT REPLICATION SLAVE, {} ON *.* TO '{user}'@'%';\n\
         GRANT SELECT ON bgerp.organization TO '{user}'@'%';\n",
        monitor(server.flavor)
    );
    for db in dbs {
        for t in common::SOURCE_TABLES {
            sql += &format!("GRANT SELECT ON `{db}`.`{t}` TO '{user}'@'%';\n");
        }
    }
    server.exec(&sql).await;
}

/// `flowtally check` on the config in `dir`: its status, and its FAIL lines.
fn check(dir: &Path) -> (Exited, Vec<String>) {
    let out = command_to_exit(dir, &["check"], &[]);
    let fails = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL: "))
        .map(str::to_string)
        .collect();
    eprintln!("{}", out.stdout);
    (out, fails)
}

fn assert_all_ok(out: &Exited, fails: &[String]) {
    assert!(
        fails.is_empty() && out.status.code() == Some(0),
        "exit {:?}, FAIL lines {fails:#?}\n{}\n{}",
        out.status.code(),
        out.stdout,
        out.stderr
    );
    for line in out.stdout.lines() {
        assert!(line.starts_with("ok: "), "{line}");
    }
}

fn assert_has(out: &Exited, line: &str) {
    assert!(
        out.stdout.lines().any(|l| l == line),
        "no line {line:?} in:\n{}",
        out.stdout
    );
}

async fn all_ok_on_a_good_setup_then_a_purged_binlog_and_an_older_checkpoint_fail(flavor: Flavor) {
    // Private: the binlog is purged, `run` follows the whole binlog, and the lease table is
    // the core database's.
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let mut codes = Vec::new();
    let mut dbs = Vec::new();
    for (i, prefix) in ["Cka", "Ckb", "Ckc"].into_iter().enumerate() {
        let code = common::unique_code(prefix);
        dbs.push(seeded_tenant(&pool, &code, 70 + i as u64).await);
        codes.push(code);
    }
    let db_refs: Vec<&str> = dbs.iter().map(String::as_str).collect();
    let (reader, writer) = (user("ckr"), user("ckw"));
    create_reader(&server, &reader, &db_refs).await;
    server
        .exec(&format!(
            "{};\n\
             CREATE USER '{writer}'@'%' IDENTIFIED BY 'pw';\n\
             GRANT SELECT, INSERT, DELETE ON `bgerp\\_t\\_%`.* TO '{writer}'@'%';\n\
             GRANT SELECT, INSERT, UPDATE ON bgerp.{} TO '{writer}'@'%';\n",
            flowtally::sink::lease::create_sql("bgerp"),
            flowtally::sink::lease::TABLE
        ))
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let config = write_config(
        dir.path(),
        &format!("url = \"mysql://{reader}:pw@127.0.0.1:{}\"", server.port),
        &format!("url = \"mysql://{writer}:pw@127.0.0.1:{}\"", server.port),
        &code_refs,
    );
    let mut text = std::fs::read_to_string(&config).expect("config");
    text += "[ha]\nenabled = true\n";
    std::fs::write(&config, text).expect("config");
    let state = dir.path().join("state");

    let (out, fails) = check(dir.path());
    assert_all_ok(&out, &fails);
    assert_has(&out, "ok: binlog_row_metadata = FULL");
    assert_has(
        &out,
        &format!("ok: 3 tenant(s) to serve: {}", codes.join(", ")),
    );
    assert_has(
        &out,
        &format!(
            "ok: 3 tenant(s) migrated (every mv_ column flowtally writes): {}",
            codes.join(", ")
        ),
    );
    assert_has(&out, "ok: [ha] lease table bgerp.flowtally_lease exists");
    assert_has(
        &out,
        &format!(
            "ok: no checkpoint in {}: run starts with a full recompute",
            state.display()
        ),
    );
    // `preferred` says what it ended up as: MySQL and MariaDB 11.8 make themselves a
    // certificate, the private MariaDB 10.11 has none.
    let tls = match flavor {
        Flavor::MariaDb => ": plain text",
        Flavor::MySql | Flavor::MariaDb118 => ": TLS (",
    };
    for side in ["source", "binlog"] {
        let prefix = format!(
            "ok: {side} connection mysql://{reader}:***@127.0.0.1:{} (ssl_mode = preferred){tls}",
            server.port
        );
        assert!(
            out.stdout.lines().any(|l| l.starts_with(&prefix)),
            "no {prefix:?} in:\n{}",
            out.stdout
        );
    }

    // A checkpoint from a brief run: resumable.
    let mut ft = Flowtally::start_in(dir);
    ft.wait_started();
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    let (out, fails) = check(ft.dir.path());
    assert_all_ok(&out, &fails);
    let manifest = Manifest::load(&state).expect("checkpoint");
    let resumable = format!(
        "ok: checkpoint in {} resumable at {} (3 tenant(s)), taken ",
        state.display(),
        manifest.position
    );
    assert!(
        out.stdout.lines().any(|l| l.starts_with(&resumable)),
        "no {resumable:?} in:\n{}",
        out.stdout
    );

    // The binlog purged past it.
    purge_all_but_the_current(&server, &pool).await;
    let (out, fails) = check(ft.dir.path());
    let retention = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => {
            "binlog_expire_logs_seconds = 0: never purged by the server"
        }
        Flavor::MySql => "binlog retention 30 d (2592000 s)",
    };
    assert_eq!(
        fails,
        vec![format!(
            "FAIL: checkpoint cannot be resumed: the binlog file {} the checkpoint resumes from \
             is no longer on the server (purged) — fix: nothing to do: `flowtally run` \
             recomputes every tenant from the source tables at its next start (or discard it \
             now: flowtally checkpoint reset); keep the binlog longer than any downtime \
             ({retention})",
            manifest.position.file
        )],
        "{}",
        out.stdout
    );
    assert_eq!(out.status.code(), Some(1));

    // A checkpoint of the bincode era: refused, said, and `run` recomputes.
    std::fs::write(
        state.join("checkpoint.bin"),
        include_bytes!("../../src/checkpoint/testdata/manifest-v3-bincode.bin"),
    )
    .expect("old checkpoint");
    let (out, fails) = check(ft.dir.path());
    let refusal = format!(
        "checkpoint {} is from an older flowtally (format version 3; this one reads and \
         writes version {}): it is not read, and flowtally recomputes every tenant from the \
         source tables",
        state.join("checkpoint.bin").display(),
        flowtally::checkpoint::FORMAT_VERSION
    );
    assert_eq!(
        fails,
        vec![format!(
            "FAIL: checkpoint cannot be resumed: {refusal} — fix: nothing to do: `flowtally \
             run` recomputes every tenant from the source tables at its next start (or discard \
             it now: flowtally checkpoint reset)"
        )],
        "{}",
        out.stdout
    );
    assert_eq!(out.status.code(), Some(1));
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("full recompute");
    assert!(ft.log().contains(&refusal), "{}", ft.log());
    for code in &codes {
        ft.wait_until_log(&format!("tenant loaded tenant={code}"));
    }
    let metrics = http_get(ft.http_port(), "/metrics");
    assert!(
        metrics
            .body
            .contains("flowtally_recomputes_total{reason=\"old_format\"} 1"),
        "{}",
        metrics.body
    );
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    // Written anew, in the current format.
    Manifest::load(&state).expect("a checkpoint of the current format");
}

/// FLUSH, then PURGE up to the new file (MariaDB keeps a file until its binlog checkpoint
/// passes it: purged until it is gone).
async fn purge_all_but_the_current(server: &Server, pool: &MySqlPool) {
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::raw_sql("FLUSH BINARY LOGS")
        .execute(&mut *conn)
        .await
        .expect("flush");
    let (current, _) = common::binlog_end(server).await;
    for _ in 0..100 {
        // As text: MySQL cannot prepare PURGE.
        sqlx::raw_sql(&format!("PURGE BINARY LOGS TO '{current}'"))
            .execute(&mut *conn)
            .await
            .expect("purge");
        if common::binlog_files(server).await.len() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("binlog files left after PURGE");
}

async fn a_wrong_server_setting_is_named_with_its_fix(flavor: Flavor) {
    let server = common::start_server(flavor, &["--binlog-row-metadata=MINIMAL"]);
    let pool = server.pool().await;
    let code = common::unique_code("Cks");
    seeded_tenant(&pool, &code, 80).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = format!("url = \"mysql://root@127.0.0.1:{}\"", server.port);
    write_config(dir.path(), &root, &root, &[&code]);
    let (out, fails) = check(dir.path());
    assert_eq!(
        fails,
        vec![
            "FAIL: binlog_row_metadata is MINIMAL, flowtally needs FULL — fix: run SET GLOBAL \
             binlog_row_metadata=FULL and add binlog_row_metadata=FULL to the server config"
                .to_string()
        ],
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(out.status.code(), Some(1));
    // `run` stops on the same, in the same words.
    let run = command_to_exit(dir.path(), &["run"], &[]);
    assert!(
        run.failure()
            .contains("binlog_row_metadata is MINIMAL, flowtally needs FULL"),
        "{}",
        run.stderr
    );

    // A configuration error is a usage error, as for every command: exit 2, nothing checked.
    std::fs::write(
        dir.path().join("flowtally.toml"),
        format!("[source]\n{root}\nserver_idd = 7\n"),
    )
    .expect("config");
    let (out, _) = check(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

async fn revoked_grants_and_a_tenant_not_migrated_are_named_with_their_fixes(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let good = common::unique_code("Ckg");
    let good_db = seeded_tenant(&pool, &good, 90).await;
    let bare = common::unique_code("Ckn");
    common::create_tenant(server, &bare, false).await;
    let bare_db = common::tenant_db(&bare);
    let (reader, writer) = (user("ckr"), user("ckw"));
    create_reader(server, &reader, &[&good_db, &bare_db]).await;
    let mut sql = format!(
        "REVOKE {} ON *.* FROM '{reader}'@'%';\n\
         REVOKE SELECT ON `{good_db}`.`team` FROM '{reader}'@'%';\n\
         CREATE USER '{writer}'@'%' IDENTIFIED BY 'pw';\n\
         GRANT SELECT, INSERT, DELETE ON `{bare_db}`.* TO '{writer}'@'%';\n",
        monitor(flavor)
    );
    for v in View::ALL {
        sql += &format!(
            "GRANT SELECT, INSERT, DELETE ON `{good_db}`.`{}` TO '{writer}'@'%';\n",
            v.table()
        );
    }
    sql += &format!("REVOKE INSERT ON `{good_db}`.`mv_team_workload` FROM '{writer}'@'%';\n");
    server.exec(&sql).await;

    let dir = tempfile::tempdir().expect("tempdir");
    write_config(
        dir.path(),
        &format!("url = \"mysql://{reader}:pw@127.0.0.1:{}\"", server.port),
        &format!("url = \"mysql://{writer}:pw@127.0.0.1:{}\"", server.port),
        &[&good, &bare],
    );
    let (out, mut fails) = check(dir.path());
    fails.sort();
    let m = monitor(flavor);
    let mut expected = vec![
        format!(
            "FAIL: the reader '{reader}'@'%' lacks {m}: it may not read the binlog position — \
             fix: GRANT {m} ON *.* TO '{reader}'@'%'"
        ),
        format!(
            "FAIL: the reader '{reader}'@'%' lacks SELECT on {good_db}.team — fix: GRANT \
             SELECT ON `{good_db}`.`team` TO '{reader}'@'%'"
        ),
        format!(
            "FAIL: tenant {bare} ({bare_db}) is not migrated: no mv_token_flow_summary; no \
             mv_node_bottlenecks; no mv_team_workload; no mv_cycle_time_analytics; no \
             mv_dashboard_trends — fix: flowtally migrate --tenant {bare}"
        ),
        format!(
            "FAIL: the writer '{writer}'@'%' lacks INSERT on {good_db}.mv_team_workload — fix: \
             GRANT INSERT ON `{good_db}`.`mv_team_workload` TO '{writer}'@'%'"
        ),
    ];
    expected.sort();
    assert_eq!(fails, expected, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_has(
        &out,
        &format!("ok: the reader '{reader}'@'%' has REPLICATION SLAVE (streams the binlog)"),
    );
    assert_has(
        &out,
        &format!("ok: 1 tenant(s) migrated (every mv_ column flowtally writes): {good}"),
    );

    // Each fix, as printed, makes its line pass.
    let mut conn = server.connect().await;
    for line in &fails {
        let Some((_, fix)) = line.split_once(" — fix: ") else {
            panic!("{line}")
        };
        for statement in fix.split("; ") {
            if statement.starts_with("GRANT ") {
                sqlx::raw_sql(statement)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
        }
    }
    common::migrate(server, &bare_db).await;
    let (out, fails) = check(dir.path());
    assert_all_ok(&out, &fails);
}
