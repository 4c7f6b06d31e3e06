//! The floor's andon end to end, on every flavour: `flowtally run` (the real binary) follows
//! real binlog traffic that piles tokens up at a node past its `routing_node.wip_limit`; the
//! alerts API raises the breach (red, with since-when), the drill-down lists exactly the tokens
//! the views count there, the CSV keeps Thai names, a webhook receiver (a tiny HTTP server in
//! the test, which refuses the first post to make flowtally retry) gets the raise and then the
//! clear once the tokens move on. And a tenant whose tables lack the optional columns
//! (`wip_limit`, `routing_graph.name`) is served and checked as whole.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{MySqlPool, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::common::process::{flowtally_cmd, http_get, seeded_tenant, Flowtally, Response};
use crate::common::{self, Flavor};

on_all!(
    a_pile_up_raises_a_red_alert_drills_down_exports_and_clears_with_its_webhook,
    tables_without_the_optional_columns_are_served_and_checked_whole,
);

/// The seeded node `SEW` (id 2, graph 1 "Classic tote bag") and its seeded WIP limit.
const SEW: i64 = 2;
const SEW_LIMIT: i64 = flowtally_testkit::simulate::SEW_WIP_LIMIT;

async fn get(port: u16, path: &str) -> Response {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || http_get(port, &path))
        .await
        .expect("http task")
}

async fn get_json(port: u16, path: &str) -> Value {
    let r = get(port, path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

/// Polls `path` until `ok` holds for its JSON (90 s at most, then fails with the last answer).
async fn wait_json(
    port: u16,
    path: &str,
    what: &str,
    ft: &Flowtally,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = get(port, path).await;
        if r.status == 200 {
            let v = r.json();
            if ok(&v) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 90 s; {path} answers {} {}\n{}",
            r.status,
            r.body,
            ft.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A webhook receiver on 127.0.0.1: answers the first post 503 (flowtally must retry), every
/// later one 200, and hands over the bodies it answered 200.
async fn receiver() -> (u16, mpsc::UnboundedReceiver<Value>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind the receiver");
    let port = listener.local_addr().expect("its address").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // Head, then as many body bytes as Content-Length says.
            let body = loop {
                let Ok(n) = sock.read(&mut buf).await else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    assert!(head.starts_with("POST /hook "), "{head}");
                    break Some(body[..len].to_string());
                }
            };
            let Some(body) = body else { continue };
            let status = if first {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let _ = sock
                .write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
            if !first {
                if let Ok(v) = serde_json::from_str(&body) {
                    let _ = tx.send(v);
                }
            }
            first = false;
        }
    });
    (port, rx)
}

async fn next_notice(rx: &mut mpsc::UnboundedReceiver<Value>, ft: &Flowtally) -> Value {
    tokio::time::timeout(Duration::from_secs(90), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no webhook post within 90 s\n{}", ft.log()))
        .expect("the receiver runs")
}

/// Live tokens at `node` in the source tables, by id.
async fn live_at(pool: &MySqlPool, db: &str, node: i64) -> Vec<i64> {
    sqlx::query(&format!(
        "SELECT CAST(id_token AS SIGNED) FROM `{db}`.flow_token WHERE current_node_id = {node} \
         AND status IN ('ready','active','waiting','paused') ORDER BY id_token"
    ))
    .fetch_all(pool)
    .await
    .expect("live tokens")
    .iter()
    .map(|r| r.get::<i64, _>(0))
    .collect()
}

async fn a_pile_up_raises_a_red_alert_drills_down_exports_and_clears_with_its_webhook(
    flavor: Flavor,
) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("An");
    let db = seeded_tenant(&pool, &code, 21).await;
    let (hook_port, mut notices) = receiver().await;
    let dir = tempfile::tempdir().expect("tempdir");
    Flowtally::config(
        dir.path(),
        server.port,
        &[&code],
        &format!(
            "[andon]\nevaluate_secs = 1\nqueue_growth_tokens = 0\n\
             webhook_url = \"http://127.0.0.1:{hook_port}/hook\"\n"
        ),
    );
    let mut ft = Flowtally::start_in(dir);
    let port = ft.http_port();
    let alerts = format!("/api/v1/tenants/{code}/alerts");
    wait_json(port, &alerts, "the tenant served", &ft, |_| true).await;
    let none = get_json(port, &alerts).await;
    assert_eq!(none["alerts"], serde_json::json!([]), "a quiet floor");

    // 15 tokens pile up at SEW (limit 12), 11 queued and 4 in work: real binlog traffic.
    let pile = SEW_LIMIT + 3;
    let mut sql = format!(
        "INSERT INTO `{db}`.job_graph_instance (id_instance, id_job_ticket, id_graph, status) \
         VALUES (9001, 9001, 1, 'active');\
         INSERT INTO `{db}`.flow_token (id_token, id_instance, token_type, current_node_id, status, spawned_at) VALUES "
    );
    for i in 0..pile {
        let status = if i < 4 {
            "active"
        } else if i % 2 == 0 {
            "ready"
        } else {
            "waiting"
        };
        let sep = if i == 0 { "" } else { ", " };
        sql += &format!(
            "{sep}({}, 9001, 'piece', {SEW}, '{status}', NOW())",
            9100 + i
        );
    }
    sqlx::raw_sql(&sql)
        .execute(&pool)
        .await
        .expect("the pile-up");

    let raised = wait_json(port, &alerts, "the WIP limit breach", &ft, |v| {
        v["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["kind"] == "wip_limit"))
    })
    .await;
    let a = raised["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["kind"] == "wip_limit"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        a["subject"],
        serde_json::json!({"type": "node", "id": SEW}),
        "{raised}"
    );
    assert_eq!(a["level"], "red");
    assert_eq!(
        (
            a["figure"]
                .as_i64()
                .or(a["figure"].as_f64().map(|f| f as i64)),
            a["limit"].as_f64()
        ),
        (Some(pile), Some(SEW_LIMIT as f64))
    );
    assert!(
        a["label"].as_str().is_some_and(|l| l.starts_with("SEW")),
        "{a}"
    );
    let since = a["since"].as_str().unwrap_or_default().to_string();
    assert_eq!(since.len(), 19, "YYYY-MM-DD HH:MM:SS: {since}");
    // Still red a moment later, since unchanged.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = get_json(port, &alerts).await;
    assert_eq!(again["alerts"][0]["since"], since.as_str(), "{again}");
    let metrics = get(port, "/metrics").await.body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("flowtally_andon_alerts{level=\"red\"} ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "flowtally_tenant_andon_alerts{{tenant=\"{code}\",level=\"red\"}} 1"
        )),
        "{metrics}"
    );

    // The drill-down lists exactly the tokens the views count at SEW, and the source holds.
    let drill = get_json(port, &format!("/api/v1/tenants/{code}/nodes/{SEW}/tokens")).await;
    let mut ids: Vec<i64> = drill["tokens"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["token_id"].as_i64()).collect())
        .unwrap_or_default();
    ids.sort_unstable();
    assert_eq!(ids, live_at(&pool, &db, SEW).await);
    assert_eq!(drill["total"].as_i64(), Some(pile));
    let summary = get_json(port, &format!("/api/v1/tenants/{code}/summary")).await;
    let wip: i64 = summary["rows"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|r| r["node_id"] == SEW)
                .filter_map(|r| r["wip_count"].as_i64())
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(wip, pile, "the summary's WIP at SEW");
    let bottlenecks = get_json(port, &format!("/api/v1/tenants/{code}/bottlenecks")).await;
    let depth = bottlenecks["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["node_id"] == SEW))
        .and_then(|r| r["queue_depth"].as_i64());
    assert_eq!(depth, drill["queued"].as_i64());
    assert_eq!(drill["queued"].as_i64(), Some(pile - 4));
    assert_eq!(drill["node"]["graph_name"], "Classic tote bag");

    // CSV: the BOM first; a Thai node name, renamed through the binlog, comes back as it was.
    let thai = "เย็บจักร สายการผลิต ๑";
    sqlx::query(&format!(
        "UPDATE `{db}`.routing_node SET node_name = ? WHERE id_node = {SEW}"
    ))
    .bind(thai)
    .execute(&pool)
    .await
    .expect("rename");
    wait_json(
        port,
        &format!("/api/v1/tenants/{code}/bottlenecks"),
        "the Thai name",
        &ft,
        |v| {
            v["rows"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["node_name"] == thai))
        },
    )
    .await;
    let csv = get(
        port,
        &format!("/api/v1/tenants/{code}/bottlenecks?format=csv"),
    )
    .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    let text = csv
        .body
        .strip_prefix('\u{feff}')
        .unwrap_or_else(|| panic!("no BOM: {:?}", &csv.body[..20.min(csv.body.len())]));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    let name_col = header
        .iter()
        .position(|h| h == "node_name")
        .expect("node_name");
    let limit_col = header
        .iter()
        .position(|h| h == "wip_limit")
        .expect("wip_limit");
    let row = reader
        .records()
        .map(|r| r.expect("a record"))
        .find(|r| r.get(0) == Some(&SEW.to_string()))
        .expect("SEW's row");
    assert_eq!(
        (&row[name_col], &row[limit_col]),
        (thai, SEW_LIMIT.to_string().as_str())
    );
    let tokens_csv = get(
        port,
        &format!("/api/v1/tenants/{code}/nodes/{SEW}/tokens?format=csv"),
    )
    .await;
    assert!(tokens_csv.body.starts_with('\u{feff}'));
    assert_eq!(
        tokens_csv.body.lines().count() as i64,
        pile + 1,
        "{}",
        tokens_csv.body
    );

    // The webhook got the raise (after one refused post, retried).
    let raise = next_notice(&mut notices, &ft).await;
    assert_eq!(
        (
            raise["tenant"].as_str(),
            raise["event"].as_str(),
            raise["kind"].as_str(),
            raise["level"].as_str()
        ),
        (
            Some(code.as_str()),
            Some("raise"),
            Some("wip_limit"),
            Some("red")
        ),
        "{raise}"
    );
    assert_eq!(raise["since"], since.as_str());
    assert!(raise["cleared_at"].is_null());
    assert_eq!(raise["timezone"], "Asia/Bangkok");

    // Most tokens are done: the breach clears (5 left, under amber), and the webhook hears it.
    sqlx::raw_sql(&format!(
        "UPDATE `{db}`.flow_token SET current_node_id = NULL, status = 'completed', \
         completed_at = NOW() WHERE id_token >= 9100 AND id_token < {}",
        9100 + pile - 5
    ))
    .execute(&pool)
    .await
    .expect("move on");
    let cleared = wait_json(port, &alerts, "the breach cleared", &ft, |v| {
        v["alerts"]
            .as_array()
            .is_some_and(|a| !a.iter().any(|a| a["kind"] == "wip_limit"))
    })
    .await;
    assert!(cleared["counts"]["red"].as_i64() == Some(0), "{cleared}");
    let clear = next_notice(&mut notices, &ft).await;
    assert_eq!(
        (
            clear["event"].as_str(),
            clear["kind"].as_str(),
            clear["since"].as_str()
        ),
        (Some("clear"), Some("wip_limit"), Some(since.as_str())),
        "{clear}"
    );
    assert!(
        clear["cleared_at"]
            .as_str()
            .is_some_and(|c| c >= since.as_str()),
        "{clear}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = get(port, "/metrics").await.body;
        let sent = "flowtally_andon_webhook_notices_total{outcome=\"sent\"} 2";
        if metrics.contains(sent) {
            assert!(
                metrics.contains("flowtally_andon_webhook_notices_total{outcome=\"dropped\"} 0")
            );
            break;
        }
        assert!(Instant::now() < deadline, "no {sent} in\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}

async fn tables_without_the_optional_columns_are_served_and_checked_whole(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Ao");
    let db = seeded_tenant(&pool, &code, 22).await;
    sqlx::raw_sql(&format!(
        "ALTER TABLE `{db}`.routing_node DROP COLUMN wip_limit;\
         ALTER TABLE `{db}`.routing_graph DROP COLUMN name"
    ))
    .execute(&pool)
    .await
    .expect("drop the optional columns");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Flowtally::config(dir.path(), server.port, &[&code], "");
    let out = flowtally_cmd(&config, &["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout
            .lines()
            .any(|l| l.starts_with("FAIL") && (l.contains(&db) || l.contains(&code))),
        "check fails the tenant:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ft = Flowtally::start_in(dir);
    let port = ft.http_port();
    let path = format!("/api/v1/tenants/{code}/nodes/{SEW}/tokens");
    let v = wait_json(port, &path, "the tenant served", &ft, |_| true).await;
    assert!(
        v["node"]["wip_limit"].is_null() && v["node"]["graph_name"].is_null(),
        "{v}"
    );
    // A node added through the binlog, by a table map without the column: read, no drift.
    sqlx::raw_sql(&format!(
        "INSERT INTO `{db}`.routing_node (id_node, id_graph, node_code, node_name, node_type) \
         VALUES (77, 1, 'NEW', 'New station', 'operation')"
    ))
    .execute(&pool)
    .await
    .expect("a new node");
    wait_json(
        port,
        &format!("/api/v1/tenants/{code}/nodes/77/tokens"),
        "the new node",
        &ft,
        |v| v["node"]["code"] == "NEW" && v["node"]["wip_limit"].is_null(),
    )
    .await;
    let tenants = get_json(port, "/api/v1/tenants").await;
    let me = tenants
        .as_array()
        .and_then(|t| t.iter().find(|t| t["code"] == code.as_str()))
        .cloned()
        .unwrap_or_default();
    assert!(me["problem"].is_null() && me["loading"] == false, "{me}");
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains("lacks column"), "{log}");
}
