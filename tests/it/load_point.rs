//! Where a tenant's snapshot load sits in the binlog: the end of the binlog as the status
//! statements report it, and the exact point a load saw, which decides which streamed
//! transactions the load already holds.

use flowtally::source::snapshot::{binlog_end, load_tenant, LoadPoint};

use crate::common::{self, Flavor, Server};

on_all!(the_binlog_end_is_read_as_a_position);
on_mysql!(
    a_load_without_gtids_is_at_the_binlog_position_it_bracketed,
    "MySQL with gtid_mode OFF: the load brackets its consistent snapshot between two reads of \
     the binlog end. MariaDB always has GTIDs and reports the snapshot's own position, and MySQL \
     with GTIDs uses @@gtid_executed (both run in every other load of the suite)"
);

/// `SHOW BINARY LOG STATUS` / `SHOW MASTER STATUS` report the offset as a number: it reads as
/// the file and offset the server's binlog ends at.
async fn the_binlog_end_is_read_as_a_position(flavor: Flavor) {
    let db = common::start_server(flavor, &[]);
    let mut conn = db.connect().await;
    let end = binlog_end(&mut conn)
        .await
        .expect("binlog status")
        .expect("a binlog position");
    let files = std::fs::read_dir(&db.datadir)
        .expect("datadir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert!(files.contains(&end.file), "{end:?} not among {files:?}");
    let len = std::fs::metadata(db.datadir.join(&end.file))
        .expect("binlog file")
        .len();
    assert_eq!(
        end.pos, len,
        "an idle server's binlog ends where its file does"
    );
}

/// With GTIDs off the load's point is a binlog position: the end of the binlog when the
/// snapshot started, on an idle server the one the status statement shows.
async fn a_load_without_gtids_is_at_the_binlog_position_it_bracketed(flavor: Flavor) {
    let db: Server = common::start_server(
        flavor,
        &["--gtid-mode=OFF", "--enforce-gtid-consistency=OFF"],
    );
    let pool = db.pool().await;
    let code = common::unique_code("Lp");
    let tenant = common::tenant_at(&db, &pool, &code, 3, chrono::Utc::now().timestamp()).await;
    let mut conn = db.connect().await;
    let before = binlog_end(&mut conn)
        .await
        .expect("binlog status")
        .expect("a binlog position");
    let loaded = load_tenant(&mut conn, &tenant, chrono::Utc::now().date_naive())
        .await
        .expect("load");
    assert_eq!(loaded.point, Some(LoadPoint::Position(before)));
    assert!(loaded.rows > 0, "the simulator's graphs, nodes and teams");
}
