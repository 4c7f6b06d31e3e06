//! Tests of the test harness itself (flowtally_testkit's servers and fixtures): the servers it
//! starts have the settings flowtally needs, fixtures are created as documented, private
//! servers survive restarts, and no server outlives its test process.

use std::process::Command;
use std::time::{Duration, Instant};

use sqlx::Row;

use crate::common::{self, Flavor};

on_all!(
    shared_server_has_binlog_settings_and_passwordless_root,
    create_tenant_builds_clean_tenant_databases,
    private_server_keeps_data_across_stop_kill_and_restart,
);

async fn shared_server_has_binlog_settings_and_passwordless_root(flavor: Flavor) {
    let db = common::shared(flavor);
    assert_eq!(db.url(), format!("mysql://root@127.0.0.1:{}", db.port));
    // Connecting as root without a password is itself part of the contract.
    let pool = db.pool().await;
    let row = sqlx::query(
        "SELECT @@log_bin, CAST(@@binlog_format AS CHAR), CAST(@@binlog_row_image AS CHAR), \
         CAST(@@binlog_row_metadata AS CHAR), CAST(@@character_set_server AS CHAR), \
         CAST(@@server_id AS SIGNED), CAST(CURRENT_USER() AS CHAR)",
    )
    .fetch_one(&pool)
    .await
    .expect("query server variables");
    assert_eq!(row.get::<i64, _>(0), 1, "log_bin");
    assert_eq!(row.get::<String, _>(1), "ROW");
    assert_eq!(row.get::<String, _>(2), "FULL");
    assert_eq!(row.get::<String, _>(3), "FULL");
    assert_eq!(row.get::<String, _>(4), "utf8mb4");
    assert_eq!(row.get::<i64, _>(5), 1, "server_id");
    assert!(row.get::<String, _>(6).starts_with("root@"));

    // exec runs multi-statement scripts and reports a failing later statement.
    db.exec("CREATE DATABASE IF NOT EXISTS harness_exec; DROP DATABASE harness_exec;")
        .await;
    let err = db
        .try_exec("SELECT 1; SELECT * FROM no_such_db.no_such_table;")
        .await
        .expect_err("second statement fails");
    assert!(err.to_string().contains("no_such"), "{err}");
}

async fn create_tenant_builds_clean_tenant_databases(flavor: Flavor) {
    let db = common::shared(flavor);
    let pool = db.pool().await;

    let tables = |schema: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = ? ORDER BY table_name",
            )
            .bind(schema)
            .fetch_all(&pool)
            .await
            .expect("list tables")
        }
    };

    let a_code = common::unique_code("HarnessA");
    let a_db = common::tenant_db(&a_code);
    common::create_tenant(db, &a_code, true).await;
    let a = tables(a_db.clone()).await;
    for t in [
        "flow_token",
        "token_assignment",
        "team_member",
        "mv_token_flow_summary",
    ] {
        assert!(a.iter().any(|x| x == t), "{t} missing from {a:?}");
    }
    assert_eq!(a.len(), 7 + 5, "{a:?}");

    // Without mv_ tables: only the seven source tables.
    let code = common::unique_code("Hb");
    common::create_tenant(db, &code, false).await;
    let b_db = common::tenant_db(&code);
    assert_eq!(b_db, format!("bgerp_t_hb{}", &code[2..]));
    let b = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?",
    )
    .bind(&b_db)
    .fetch_one(&pool)
    .await
    .expect("count tables");
    assert_eq!(b, 7);

    // Recreating drops old rows and keeps one active organization row per code.
    sqlx::query(&format!(
        "INSERT INTO {a_db}.flow_token (id_instance, status) VALUES (1, 'ready')"
    ))
    .execute(&pool)
    .await
    .expect("insert a token");
    sqlx::query("UPDATE bgerp.organization SET status = 'inactive' WHERE code = ?")
        .bind(&a_code)
        .execute(&pool)
        .await
        .expect("deactivate");
    common::create_tenant(db, &a_code, true).await;
    let tokens: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {a_db}.flow_token"))
        .fetch_one(&pool)
        .await
        .expect("count tokens");
    assert_eq!(tokens, 0);
    let orgs: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT code, name, CAST(status AS CHAR) FROM bgerp.organization WHERE code = ?",
    )
    .bind(&a_code)
    .fetch_all(&pool)
    .await
    .expect("read organization");
    assert_eq!(
        orgs,
        vec![(a_code.clone(), a_code.clone(), "active".into())]
    );
}

async fn private_server_keeps_data_across_stop_kill_and_restart(flavor: Flavor) {
    let mut db = common::start_server(flavor, &["--binlog-format=MIXED"]);
    let port = db.port;
    db.exec(
        "CREATE DATABASE h; CREATE TABLE h.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO h.t VALUES (1, 'before stop');",
    )
    .await;
    assert_eq!(
        binlog_format(&db).await,
        "MIXED",
        "extra args override defaults"
    );

    tokio::task::block_in_place(|| db.stop());
    assert!(!db.is_running());
    assert!(
        !common::accepts_connections(port),
        "stopped server still listens"
    );
    tokio::task::block_in_place(|| db.restart());
    db.exec("INSERT INTO h.t VALUES (2, 'before kill');").await;

    db.kill9();
    tokio::task::block_in_place(|| db.restart());
    assert_eq!(db.port, port);
    assert_eq!(
        binlog_format(&db).await,
        "MIXED",
        "flags kept across restarts"
    );
    let rows: Vec<(i32, String)> = sqlx::query_as("SELECT id, v FROM h.t ORDER BY id")
        .fetch_all(&db.pool().await)
        .await
        .expect("read h.t");
    assert_eq!(
        rows,
        vec![(1, "before stop".into()), (2, "before kill".into())]
    );

    let dir = db.dir().to_path_buf();
    drop(db);
    assert!(!dir.exists(), "drop removes {}", dir.display());
    assert!(
        !common::accepts_connections(port),
        "dropped server still listens"
    );
}

#[test]
fn startup_failure_says_so_with_the_server_log() {
    for flavor in Flavor::selected() {
        let err = match common::Server::try_start(flavor, &["--no-such-option"]) {
            Ok(_) => panic!("{flavor} started with an unknown option"),
            Err(e) => e,
        };
        assert!(
            err.contains("exited") && err.contains("no-such-option"),
            "{flavor}: {err}"
        );
    }
}

async fn binlog_format(db: &common::Server) -> String {
    sqlx::query_scalar("SELECT CAST(@@binlog_format AS CHAR)")
        .fetch_one(&db.pool().await)
        .await
        .expect("read binlog_format")
}

/// Set in the environment of the child process that runs `helper_start_server_then_die`.
const HELPER_ENV: &str = "FLOWTALLY_HARNESS_DIE_HELPER";

/// Run by `server_dies_with_its_test_process` in a child process: starts a server, reports it,
/// and SIGKILLs its own process so that no destructor runs.
#[test]
#[ignore = "helper run by server_dies_with_its_test_process"]
fn helper_start_server_then_die() {
    // Under `cargo test -- --include-ignored` this must not kill the whole test run.
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let flavor = std::env::var(HELPER_ENV)
        .ok()
        .and_then(|f| Flavor::parse(&f))
        .expect("a flavour in the helper's environment");
    let db = common::Server::start(flavor, &[]);
    println!(
        "SERVER {} {}",
        db.port,
        db.dir().to_str().expect("utf-8 temp dir")
    );
    let _ = Command::new("kill")
        .args(["-9", &std::process::id().to_string()])
        .status();
    std::thread::sleep(Duration::from_secs(10));
    unreachable!("SIGKILL did not kill the test process");
}

#[test]
fn server_dies_with_its_test_process() {
    for flavor in Flavor::selected() {
        dies_with_its_test_process(flavor);
    }
}

fn dies_with_its_test_process(flavor: Flavor) {
    let out = Command::new(std::env::current_exe().expect("current test binary"))
        .env(HELPER_ENV, flavor.name())
        .args([
            "--ignored",
            "--exact",
            "harness::helper_start_server_then_die",
            "--nocapture",
        ])
        .output()
        .expect("run the helper test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SERVER "))
        .unwrap_or_else(|| {
            panic!(
                "helper printed no SERVER line ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (port, dir) = line.split_once(' ').expect("SERVER <port> <dir>");
    let port: u16 = port.parse().expect("port");
    let dir = std::path::Path::new(dir);

    // The watchdog polls every 0.5 s; allow a few seconds on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    while (common::accepts_connections(port) || dir.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !common::accepts_connections(port),
        "server on port {port} outlived its test process"
    );
    assert!(!dir.exists(), "{} outlived its test process", dir.display());
}
