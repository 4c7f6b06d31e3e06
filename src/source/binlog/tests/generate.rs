//! The generator of the binlog fixtures (`src/source/binlog/fixtures/{mariadb,mysql}/*.bin`):
//! starts a private MariaDB and a private MySQL ([`flowtally_testkit::Server`]), runs the SQL
//! below and copies each closed binlog file from the datadir as it is: the 4-byte magic, then
//! the events (format description first), ending with the rotate to the next file. Never run by
//! the ordinary tests, which only read the committed files.
//!
//! Regenerate (both servers needed: `source scripts/ensure-mariadb.sh`, `source
//! scripts/ensure-mysql.sh`) with
//!
//! ```text
//! cargo test --lib regenerate_binlog_fixtures -- --ignored
//! ```
//!
//! then run the tests: positions are computed from the files, but GTIDs, table ids and values
//! are written down in the tests and must still hold. Everything is deterministic except the
//! wall-clock fields the decoder never reads (MySQL's commit timestamps in GTID events, MariaDB's
//! binlog checkpoint event time): `SET timestamp` fixes the event times, the MySQL server uuid is
//! fixed ([`MYSQL_UUID`]) and the statements run in a fixed order on one connection per script.
//!
//! MariaDB runs with `binlog_annotate_row_events=OFF`: flowtally's dump request never asks for
//! ANNOTATE_ROWS events, so the files hold what the stream carries (and stay small). Before each
//! script the generator waits for MariaDB's binlog checkpoint of the new file, which the server
//! writes in the background (it would otherwise land between two transactions now and then). A new
//! fixture needs an (empty) file in place before the first run, as the tests `include_bytes!` it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use flowtally_testkit::{Flavor as ServerFlavor, Server};

use super::{Fixture, FIXTURES};
use crate::source::Flavor;

/// The server uuid the MySQL fixtures carry (written to `auto.cnf` before the setup runs).
pub(super) const MYSQL_UUID: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

#[tokio::test(flavor = "current_thread")]
#[ignore = "starts MariaDB and MySQL and rewrites src/source/binlog/fixtures"]
async fn regenerate_binlog_fixtures() {
    for flavor in [Flavor::MariaDb, Flavor::MySql] {
        generate(flavor).await;
    }
}

async fn generate(flavor: Flavor) {
    let mut server = match flavor {
        Flavor::MariaDb => {
            Server::start(ServerFlavor::MariaDb, &["--binlog-annotate-row-events=OFF"])
        }
        Flavor::MySql => {
            let mut server = Server::start(ServerFlavor::MySql, &[]);
            server.stop();
            std::fs::write(
                server.datadir.join("auto.cnf"),
                format!("[auto]\nserver-uuid={MYSQL_UUID}\n"),
            )
            .expect("write auto.cnf");
            server.restart();
            server
        }
    };
    server.exec(&sql(SETUP, flavor)).await;
    for fixture in FIXTURES.iter().filter(|f| f.flavor == flavor) {
        let file = current_binlog(&server);
        if flavor == Flavor::MariaDb {
            wait_for_own_checkpoint(&server, &file);
        }
        assert_eq!(
            file, fixture.file,
            "{flavor:?} {}: the script runs in another binlog file than the tests expect",
            fixture.name
        );
        server.exec(&sql(script(fixture), flavor)).await;
        let bytes = std::fs::read(server.datadir.join(&file)).expect("read the binlog file");
        let path = fixture_path(fixture);
        std::fs::write(&path, &bytes).expect("write the fixture");
        eprintln!("{}: {} bytes from {file}", path.display(), bytes.len());
    }
    server.stop();
}

/// The binlog file the server writes to now: the last line of its index.
fn current_binlog(server: &Server) -> String {
    let index = std::fs::read_to_string(server.datadir.join("bin.index")).expect("bin.index");
    let last = index.lines().last().expect("an index line");
    last.rsplit('/').next().unwrap_or(last).to_string()
}

/// MariaDB opens a file with a binlog checkpoint naming the previous file, and writes one
/// naming the new file once the previous file's transactions are durable, in the background:
/// without this wait it may land after the first transaction, one run in several.
fn wait_for_own_checkpoint(server: &Server, file: &str) {
    const BINLOG_CHECKPOINT: u8 = 161;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bytes = std::fs::read(server.datadir.join(file)).expect("read the binlog file");
        let mut at = 4;
        let mut checkpoints = 0;
        while at + 19 <= bytes.len() {
            if bytes[at + 4] == BINLOG_CHECKPOINT {
                checkpoints += 1;
            }
            let size = u32::from_le_bytes(bytes[at + 9..at + 13].try_into().expect("4 bytes"));
            at += size as usize;
        }
        if checkpoints >= 2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no binlog checkpoint of {file} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn fixture_path(fixture: &Fixture) -> PathBuf {
    let dir = match fixture.flavor {
        Flavor::MariaDb => "mariadb",
        Flavor::MySql => "mysql",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/source/binlog/fixtures")
        .join(dir)
        .join(format!("{}.bin", fixture.name))
}

fn script(fixture: &Fixture) -> &'static str {
    match fixture.name {
        "tables" => TABLES,
        "rows" => ROWS,
        "transactions" => TRANSACTIONS,
        "partial_json" => PARTIAL_JSON,
        other => panic!("no script for fixture {other}"),
    }
}

/// The script with its flavour-specific parts filled in: flow_token has a VECTOR column on MySQL
/// and INET6 and UUID columns on MariaDB (types the other lacks), and the transactions script's `{other_gtid}` statement
/// gives a tagged GTID on MySQL and a GTID of another replication domain on MariaDB.
fn sql(script: &str, flavor: Flavor) -> String {
    let (extra_def, extra_col, extra_val, other_gtid, back) = match flavor {
        Flavor::MariaDb => (
            "ip INET6 NULL, u UUID NULL,",
            " ip, u,",
            " '::1', '123e4567-e89b-12d3-a456-426655440000',",
            "SET SESSION gtid_domain_id = 7",
            "SET SESSION gtid_domain_id = 0",
        ),
        Flavor::MySql => (
            "vec VECTOR(2) NULL,",
            " vec,",
            " STRING_TO_VECTOR('[1.5,2.5]'),",
            "SET gtid_next = 'AUTOMATIC:fixture'",
            "SET gtid_next = 'AUTOMATIC'",
        ),
    };
    script
        .replace("{extra_def}", extra_def)
        .replace("{extra_col}", extra_col)
        .replace("{extra_val}", extra_val)
        .replace("{other_gtid}", other_gtid)
        .replace("{back}", back)
}

/// Not in any fixture: the tables, ending with a rotate to the first fixture's file.
///
/// - `bgerp_t_acme`: a tenant. Its `flow_token` has the 7 columns flowtally reads spread among
///   extra columns of every width class (an UNSIGNED id after YEAR/DECIMAL/FLOAT/DOUBLE, which
///   own signedness bits too; an ENUM before the ENUMs read; VARCHARs with 1- and 2-byte lengths;
///   CHAR(100) of 400 bytes; BLOBs with 1- to 4-byte lengths; JSON; POINT; MySQL's VECTOR;
///   MariaDB's INET6 and UUID ...).
///   `routing_node.node_name` is VARBINARY (bytes that are not UTF-8).
/// - `bgerp_t_drift.flow_token` lacks `status` and `completed_at` (it has `state`).
/// - `bgerp_t_loose.flow_token` has no primary key: `id_token` can be NULL.
/// - untracked: `bgerp_t_acme.scratch_notes`, `other_db.flow_token`, `bgerp.audit_log`.
const SETUP: &str = "
SET timestamp = 1767225600;
CREATE DATABASE bgerp CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE bgerp.organization (
  id_org     INT PRIMARY KEY AUTO_INCREMENT,
  code       VARCHAR(50) NOT NULL UNIQUE,
  name       VARCHAR(200) NULL,
  status     ENUM('active','inactive') NOT NULL DEFAULT 'active',
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;
CREATE TABLE bgerp.audit_log (id INT PRIMARY KEY, note VARCHAR(50)) ENGINE=InnoDB;
CREATE DATABASE other_db;
CREATE TABLE other_db.flow_token (id_token INT PRIMARY KEY, status VARCHAR(20)) ENGINE=InnoDB;
CREATE DATABASE bgerp_t_acme CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE bgerp_t_acme.flow_token (
  id_token        INT NOT NULL PRIMARY KEY,
  yr              YEAR NULL,
  amount          DECIMAL(20,6) NULL,
  f               FLOAT NULL,
  d               DOUBLE NULL,
  id_instance     INT UNSIGNED NOT NULL,
  b10             BIT(10) NULL,
  tags            SET('a','b','c') NULL,
  label           VARCHAR(50) NULL,
  serial_number   VARCHAR(100) NULL,
  grade           ENUM('x','y','z') NULL,
  token_type      ENUM('batch','piece','component') NOT NULL DEFAULT 'piece',
  dt3             DATETIME(3) NULL,
  t3              TIME(3) NULL,
  ts6             TIMESTAMP(6) NULL,
  m               MEDIUMINT UNSIGNED NULL,
  big             BIGINT NULL,
  c100            CHAR(100) NULL,
  c5              CHAR(5) NULL,
  current_node_id INT NULL,
  tt              TINYTEXT NULL,
  bl              BLOB NULL,
  mb              MEDIUMBLOB NULL,
  lt              LONGTEXT NULL,
  metadata        JSON NULL,
  day             DATE NULL,
  pt              POINT NULL,
  {extra_def}
  status          ENUM('ready','active','waiting','paused','completed','scrapped') NOT NULL DEFAULT 'ready',
  spawned_at      DATETIME NULL,
  completed_at    DATETIME(6) NULL
) ENGINE=InnoDB;
CREATE TABLE bgerp_t_acme.token_assignment (
  id_assignment       INT PRIMARY KEY,
  id_token            INT NOT NULL,
  id_node             INT NOT NULL,
  assigned_to_user_id INT NOT NULL,
  assigned_by_user_id INT NOT NULL DEFAULT 0,
  status              ENUM('assigned','accepted','started','paused','completed','cancelled','rejected') NOT NULL DEFAULT 'assigned',
  pinned_by           INT NULL,
  assigned_at         DATETIME NULL,
  started_at          DATETIME NULL,
  completed_at        DATETIME NULL
) ENGINE=InnoDB;
CREATE TABLE bgerp_t_acme.routing_node (
  id_node       INT PRIMARY KEY,
  id_graph      INT NOT NULL,
  node_code     VARCHAR(50) NOT NULL,
  node_name     VARBINARY(200) NOT NULL,
  team_category ENUM('cutting','sewing','qc','finishing','general') NULL
) ENGINE=InnoDB;
CREATE TABLE bgerp_t_acme.scratch_notes (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB;
CREATE DATABASE bgerp_t_drift;
CREATE TABLE bgerp_t_drift.flow_token (
  id_token        INT PRIMARY KEY,
  id_instance     INT NOT NULL,
  token_type      VARCHAR(20) NOT NULL,
  current_node_id INT NULL,
  state           VARCHAR(20) NOT NULL,
  spawned_at      DATETIME NULL
) ENGINE=InnoDB;
CREATE DATABASE bgerp_t_loose;
CREATE TABLE bgerp_t_loose.flow_token (
  id_token        INT NULL,
  id_instance     INT NULL,
  token_type      VARCHAR(20) NULL,
  current_node_id INT NULL,
  status          VARCHAR(20) NULL,
  spawned_at      DATETIME NULL,
  completed_at    DATETIME NULL
) ENGINE=InnoDB;
FLUSH BINARY LOGS;
";

/// `tables.bin`: table maps. 1: a token of many types, rows of the three untracked tables and
/// an organization, in one transaction; 2: another token (its map re-sent unchanged); 3: a row
/// of the drifted table and an assignment; 4: the drifted table again.
const TABLES: &str = "
SET time_zone = '+00:00';
SET timestamp = 1767229200;
BEGIN;
INSERT INTO bgerp_t_acme.flow_token (id_token, yr, amount, f, d, id_instance, b10, tags, label,
    serial_number, grade, token_type, dt3, t3, ts6, m, big, c100, c5, current_node_id, tt, bl,
    mb, lt, metadata, day, pt,{extra_col} status, spawned_at, completed_at)
  VALUES (1, 2024, -12345678.123456, 1.5, -2.25, 4000000000, b'1010101010', 'a,c', 'short',
    REPEAT('€', 90), 'y', 'batch', '2026-01-01 00:00:00.123', '12:34:56.789',
    '2026-01-01 00:00:00.123456', 16777215, -9000000000, 'ééé', 'c5', 44, 'tiny', X'00ff00',
    REPEAT('m', 300), 'long text', '{\"k\": [1, 2, 3]}', '2026-02-03',
    ST_GeomFromText('POINT(1 2)'),{extra_val} 'completed', '2026-01-07 01:02:03',
    '2026-01-07 02:03:04.567891');
INSERT INTO bgerp_t_acme.scratch_notes VALUES (1, 'not tracked');
INSERT INTO other_db.flow_token VALUES (1, 'ready');
INSERT INTO bgerp.audit_log VALUES (1, 'not tracked either');
INSERT INTO bgerp.organization (id_org, code, name, status) VALUES (1, 'ACME', REPEAT('n', 150), 'active');
COMMIT;
SET timestamp = 1767229201;
INSERT INTO bgerp_t_acme.flow_token (id_token, id_instance, token_type, status, spawned_at)
  VALUES (2, 7, 'piece', 'waiting', '2026-01-08 00:00:00');
SET timestamp = 1767229202;
BEGIN;
INSERT INTO bgerp_t_drift.flow_token VALUES (1, 1, 'piece', NULL, 'ready', '2026-01-09 00:00:00');
INSERT INTO bgerp_t_acme.token_assignment (id_assignment, id_token, id_node, assigned_to_user_id,
    status, assigned_at)
  VALUES (3, 1, 44, 5, 'assigned', '2026-01-09 00:00:01');
COMMIT;
SET timestamp = 1767229203;
INSERT INTO bgerp_t_drift.flow_token VALUES (2, 1, 'piece', NULL, 'ready', '2026-01-09 00:00:02');
FLUSH BINARY LOGS;
";

/// `rows.bin`: rows events. 1: a token inserted with NULLs, updated, its key changed, deleted;
/// 2: two assignments inserted, updated in one statement each, one deleted; 3: an invalid ENUM
/// value and a zero date (sql_mode ''), a node name that is not UTF-8, a NULL key and a good row
/// of the keyless table; 4: an organization inserted, deactivated, its id changed, deleted.
const ROWS: &str = "
SET timestamp = 1767232800;
BEGIN;
INSERT INTO bgerp_t_acme.flow_token (id_token, id_instance, token_type, status, spawned_at)
  VALUES (10, 100, 'component', 'ready', '2026-01-02 08:00:00');
UPDATE bgerp_t_acme.flow_token SET status = 'active', current_node_id = 7, label = 'moved'
  WHERE id_token = 10;
UPDATE bgerp_t_acme.flow_token SET id_token = 11 WHERE id_token = 10;
DELETE FROM bgerp_t_acme.flow_token WHERE id_token = 11;
COMMIT;
SET timestamp = 1767232801;
BEGIN;
INSERT INTO bgerp_t_acme.token_assignment (id_assignment, id_token, id_node, assigned_to_user_id,
    status, pinned_by, assigned_at)
  VALUES (1, 11, 7, 501, 'assigned', 9, '2026-01-02 09:00:00'),
    (2, 11, 8, 502, 'accepted', NULL, NULL);
UPDATE bgerp_t_acme.token_assignment SET status = 'started', started_at = '2026-01-02 09:30:00'
  WHERE id_assignment IN (1, 2);
DELETE FROM bgerp_t_acme.token_assignment WHERE id_assignment = 2;
COMMIT;
SET timestamp = 1767232802;
SET SESSION sql_mode = '';
BEGIN;
INSERT INTO bgerp_t_acme.flow_token (id_token, id_instance, token_type, status, spawned_at,
    completed_at)
  VALUES (12, 100, 'piece', 'no-such-status', '2026-01-02 10:00:00', '0000-00-00 00:00:00');
INSERT INTO bgerp_t_acme.routing_node VALUES (8, 9, 'CUT', X'4e6f6465ff20c328', 'cutting');
INSERT INTO bgerp_t_loose.flow_token VALUES (NULL, 1, 'piece', NULL, 'ready', NULL, NULL),
  (5, 1, 'batch', 3, 'paused', '2026-01-02 11:00:00', NULL);
COMMIT;
SET SESSION sql_mode = DEFAULT;
SET timestamp = 1767232803;
BEGIN;
INSERT INTO bgerp.organization (id_org, code, name, status) VALUES (2, 'BETA', 'Beta', 'active');
UPDATE bgerp.organization SET status = 'inactive' WHERE id_org = 2;
UPDATE bgerp.organization SET id_org = 3 WHERE id_org = 2;
DELETE FROM bgerp.organization WHERE id_org = 3;
COMMIT;
FLUSH BINARY LOGS;
";

/// `transactions.bin`: grouping. 1: DDL; 2: two token changes around an untracked row; 3:
/// untracked rows only; 4: a token under a tagged GTID (MySQL) or in GTID domain 7 (MariaDB);
/// 5: an XA transaction's PREPARE; 6: its XA COMMIT; 7: DDL again.
const TRANSACTIONS: &str = "
SET timestamp = 1767236400;
CREATE TABLE bgerp_t_acme.scratch2 (id INT PRIMARY KEY);
SET timestamp = 1767236401;
BEGIN;
INSERT INTO bgerp_t_acme.flow_token (id_token, id_instance, status, spawned_at)
  VALUES (30, 300, 'ready', '2026-01-04 08:00:00');
INSERT INTO bgerp_t_acme.scratch_notes VALUES (30, 'untracked, between two tracked changes');
UPDATE bgerp_t_acme.flow_token SET status = 'paused' WHERE id_token = 30;
COMMIT;
SET timestamp = 1767236402;
INSERT INTO bgerp_t_acme.scratch_notes VALUES (31, 'untracked rows only');
SET timestamp = 1767236403;
{other_gtid};
INSERT INTO bgerp_t_acme.flow_token (id_token, id_instance, status, spawned_at)
  VALUES (33, 300, 'waiting', '2026-01-04 08:30:00');
{back};
SET timestamp = 1767236404;
XA START 'fx';
INSERT INTO bgerp_t_acme.flow_token (id_token, id_instance, status, spawned_at)
  VALUES (32, 300, 'active', '2026-01-04 09:00:00');
XA END 'fx';
XA PREPARE 'fx';
SET timestamp = 1767236405;
XA COMMIT 'fx';
SET timestamp = 1767236406;
DROP TABLE bgerp_t_acme.scratch2;
FLUSH BINARY LOGS;
";

/// `partial_json.bin` (MySQL only): a token inserted, then updated with JSON_SET under
/// `binlog_row_value_options = PARTIAL_JSON`, which MySQL logs as a PARTIAL_UPDATE_ROWS_EVENT
/// whose after image carries a diff of the JSON column, before columns flowtally reads.
const PARTIAL_JSON: &str = "
SET timestamp = 1767240000;
INSERT INTO bgerp_t_acme.flow_token (id_token, id_instance, token_type, status, metadata, spawned_at)
  VALUES (20, 200, 'piece', 'ready', '{\"step\": 1, \"note\": \"a document long enough for a diff\"}',
    '2026-01-03 08:00:00');
SET SESSION binlog_row_value_options = 'PARTIAL_JSON';
UPDATE bgerp_t_acme.flow_token SET metadata = JSON_SET(metadata, '$.step', 2), status = 'active'
  WHERE id_token = 20;
SET SESSION binlog_row_value_options = '';
FLUSH BINARY LOGS;
";
