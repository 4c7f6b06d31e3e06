//! The dashboard against the API on an in-memory factory: the router called with
//! `tower::ServiceExt::oneshot`, as a browser or `curl` would call it.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::NaiveDateTime;
use tower::ServiceExt;

use crate::http::access::{AccessEntry, Credential, HttpConfig, TenantScope};
use crate::live::{History, LiveView, LiveWriter, Ready, Stage, TenantKey, TenantSlot, Totals};
use crate::model::clock::{local_time, Instant};
use crate::model::dims::tests::{member, node, team};
use crate::model::row::*;
use crate::model::{Change, TenantState};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;

fn token(id: i64, instance: i64, node: Option<i64>, status: TokenStatus) -> Token {
    Token {
        id,
        instance: Some(instance),
        is_product: true,
        node,
        status,
        spawned_at: None,
        completed_at: None,
    }
}

fn asg(id: i64, token: i64, node: i64, op: i64, status: AssignmentStatus) -> Assignment {
    Assignment {
        id,
        token: Some(token),
        node: Some(node),
        operator: Some(op),
        status,
        assigned_at: None,
        started_at: None,
        completed_at: None,
    }
}

/// Graph 10 (instances of type classic): nodes 1, 2. Graph 20 (hatthasilpa): node 3. Teams 7
/// (sewing: operator 100) and 8 (qc: operator 200). Queued and in-work tokens at every node,
/// assignments completed today and yesterday, tokens completed over the last days.
pub fn factory(now: i64) -> TenantState {
    use AssignmentStatus as A;
    use TokenStatus as S;
    let t = local_time(now, TZ);
    let ago = |mins: i64| t - chrono::Duration::minutes(mins);
    let mut s = TenantState::default();
    let mut up = |r: Row| s.apply(Change::Upsert(r));
    up(Row::Graph(Graph {
        id: 10,
        production_type: Some("classic".into()),
        name: None,
    }));
    up(Row::Graph(Graph {
        id: 20,
        production_type: Some("hatthasilpa".into()),
        name: None,
    }));
    up(Row::Instance(Instance {
        id: 1,
        graph: Some(10),
        production_type: None,
    }));
    up(Row::Instance(Instance {
        id: 2,
        graph: Some(20),
        production_type: Some("hatthasilpa".into()),
    }));
    up(Row::Node(node(1, 10, Some("sewing"))));
    up(Row::Node(node(2, 10, Some("qc"))));
    up(Row::Node(node(3, 20, Some("sewing"))));
    up(Row::Team(team(7, Some("sewing"), true)));
    up(Row::Team(team(8, Some("qc"), true)));
    up(Row::Member(member(7, 100, Some(4), true)));
    up(Row::Member(member(8, 200, None, true)));
    let live = [
        (1, 1, 1, S::Waiting, 100, A::Assigned, Some(30)),
        (2, 1, 1, S::Ready, 100, A::Assigned, Some(95)),
        (3, 1, 1, S::Active, 100, A::Started, None),
        (4, 1, 2, S::Waiting, 200, A::Assigned, Some(12)),
        (5, 1, 2, S::Paused, 200, A::Paused, None),
        (6, 2, 3, S::Waiting, 100, A::Assigned, Some(240)),
        (7, 2, 3, S::Active, 100, A::Started, None),
        (8, 2, 3, S::Ready, 200, A::Accepted, Some(5)),
    ];
    for (id, inst, n, st, op, ast, waited) in live {
        let mut tk = token(id, inst, Some(n), st);
        tk.spawned_at = Some(ago(600));
        up(Row::Token(tk));
        let mut a = asg(id, id, n, op, ast);
        a.assigned_at = waited.map(ago);
        up(Row::Assignment(a));
    }
    // Done work: tokens completed today and on earlier days, with their assignments.
    for (i, days_ago) in [0i64, 0, 1, 2, 3, 3, 6, 9, 20].into_iter().enumerate() {
        let id = 100 + i as i64;
        let inst = if i % 3 == 0 { 2 } else { 1 };
        let done = ago(1) - chrono::Duration::days(days_ago);
        let mut tk = token(id, inst, None, S::Completed);
        tk.spawned_at = Some(done - chrono::Duration::hours(5 + i as i64));
        tk.completed_at = Some(done);
        up(Row::Token(tk));
        let mut a = asg(id, id, if inst == 2 { 3 } else { 1 }, 100, A::Completed);
        a.assigned_at = Some(done - chrono::Duration::minutes(90));
        a.started_at = Some(done - chrono::Duration::minutes(20 + 3 * i as i64));
        a.completed_at = Some(done);
        up(Row::Assignment(a));
    }
    s
}

/// A `Live` serving tenant ACME (database bgerp_t_acme) with [`factory`], and tenant B
/// (loading).
pub fn live_with_factory(now: i64) -> LiveView {
    live_with(now, factory(now))
}

/// [`live_with_factory`] with `state` for ACME.
pub fn live_with(now: i64, state: TenantState) -> LiveView {
    let live = LiveWriter::new(TZ);
    let mut history = History::new();
    // Yesterday around this time: the quarter hours (WIP 6, 40 completed by then).
    let quarter = (now - 86_400) / 900 * 900;
    for q in -2..=2 {
        history.push_back(Totals {
            at: quarter + 900 * q,
            wip: 6,
            queued: 2,
            completed: 40,
        });
    }
    for m in 0..30 {
        history.push_back(Totals {
            at: (now / 60 - 30 + m) * 60,
            wip: 8 + m % 3,
            queued: 5,
            completed: 7,
        });
    }
    live.insert(
        TenantKey::of_db("bgerp_t_acme"),
        TenantSlot {
            code: "ACME".into(),
            db: "bgerp_t_acme".into(),
            stage: Stage::Ready(Ready {
                state,
                loaded_at: None,
                first_instant: Instant(0),
                base: None,
                history,
            }),
        },
    );
    live.insert(
        TenantKey::of_db("bgerp_t_b"),
        TenantSlot::loading("B".into(), "bgerp_t_b".into(), 1, now),
    );
    live.status().streaming();
    live.status().idle();
    live.view()
}

pub(super) async fn get(
    app: &axum::Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The figure of the `data-col="col"` cell in the row `<tr {row_attr}>` of table `table`: its
/// `data-value` (the view's number behind a duration), else its text.
fn cell(html: &str, table: &str, row_attr: &str, col: &str) -> Option<String> {
    let t = html.find(&format!("data-table=\"{table}\""))?;
    let rest = &html[t..];
    let end = rest.find("</table>")?;
    let rest = &rest[..end];
    let r = rest.find(&format!("<tr {row_attr}"))?;
    let row = &rest[r..];
    let row = &row[..row.find("</tr>")?];
    let c = row.find(&format!("data-col=\"{col}\""))?;
    let after = &row[c..];
    let tag = &after[..after.find('>')?];
    if let Some(v) = tag.find("data-value=\"") {
        let v = &tag[v + 12..];
        return Some(v[..v.find('"')?].to_string());
    }
    let start = after.find('>')? + 1;
    // The cell's text, through a drill-down link if it has one.
    let stop = after[start..].find("</t")? + start;
    let mut text = String::new();
    let mut in_tag = false;
    for ch in after[start..stop].chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text)
}

fn kpi(html: &str, key: &str) -> Option<String> {
    let k = html.find(&format!("data-kpi=\"{key}\""))?;
    let rest = &html[k..];
    let v = rest.find("data-value=\"")? + "data-value=\"".len();
    let stop = rest[v..].find('"')? + v;
    Some(rest[v..stop].to_string())
}

fn number(s: &str) -> f64 {
    s.replace(',', "").parse().unwrap_or(f64::NAN)
}

fn json_num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The page at T and the API at T hold the same figures (T: both within the same second;
/// retried until they are).
#[tokio::test]
async fn page_figures_equal_the_api_at_the_same_instant() {
    let now = chrono::Utc::now().timestamp();
    let live = live_with_factory(now);
    let app = crate::http::router(live);
    for _attempt in 0..5 {
        let (status, _, page) = get(&app, "/tenants/acme", &[]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut api = std::collections::BTreeMap::new();
        for view in ["summary", "bottlenecks", "workload", "cycle_time", "trends"] {
            let (s, _, body) = get(&app, &format!("/api/v1/tenants/ACME/{view}"), &[]).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            api.insert(view, v);
        }
        let at = |html: &str| {
            let a = html.find("data-at=\"").unwrap() + 9;
            html[a..a + 19].to_string()
        };
        let page_at = at(&page);
        if api.values().any(|v| v["at"] != page_at.as_str()) {
            continue;
        }
        let rows = |view: &str| api[view]["rows"].as_array().unwrap().clone();
        let summary = rows("summary");
        let sum = |k: &str| summary.iter().map(|r| r[k].as_i64().unwrap()).sum::<i64>();
        assert_eq!(number(&kpi(&page, "wip").unwrap()), sum("wip_count") as f64);
        assert_eq!(
            number(&kpi(&page, "queued").unwrap()),
            sum("waiting_count") as f64
        );
        assert_eq!(
            number(&kpi(&page, "in_work").unwrap()),
            (sum("wip_count") - sum("waiting_count")) as f64
        );
        assert_eq!(
            number(&kpi(&page, "completed_today").unwrap()),
            sum("completed_count") as f64
        );
        assert_eq!(sum("wip_count"), 8);
        // Throughput and lead time over the trends rows of the last 7 days.
        let today = NaiveDateTime::parse_from_str(&page_at, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .date();
        let week: Vec<serde_json::Value> = rows("trends")
            .into_iter()
            .filter(|r| {
                let d = chrono::NaiveDate::parse_from_str(
                    r["period_date"].as_str().unwrap(),
                    "%Y-%m-%d",
                )
                .unwrap();
                d >= today - chrono::Days::new(6)
            })
            .collect();
        let completed: i64 = week
            .iter()
            .map(|r| r["tokens_completed"].as_i64().unwrap())
            .sum();
        assert!(
            (number(&kpi(&page, "throughput_7d").unwrap())
                - ((completed as f64 / 7.0) * 100.0).round() / 100.0)
                .abs()
                < 0.006
        );
        let (mut num, mut den) = (0.0, 0.0);
        for r in &week {
            if let Some(l) = r["avg_lead_time_hours"].as_f64() {
                let n = r["tokens_completed"].as_f64().unwrap();
                num += l * n;
                den += n;
            }
        }
        assert!((number(&kpi(&page, "lead_time_7d").unwrap()) - num / den).abs() < 0.006);
        // Bottlenecks: every API row (all fit in the top 10), same numbers.
        for r in rows("bottlenecks") {
            let attr = format!("data-node=\"{}\"", r["node_id"]);
            for col in ["queue_depth", "avg_wait_minutes", "bottleneck_score"] {
                let shown = cell(&page, "bottlenecks", &attr, col).unwrap();
                assert!(
                    (number(&shown) - json_num(&r[col])).abs() < 0.006,
                    "{col} of {attr}: page {shown}, api {}",
                    r[col]
                );
            }
        }
        // Workload and cycle time.
        for r in rows("workload") {
            let attr = format!("data-team=\"{}\"", r["team_id"]);
            for col in ["active_tokens", "waiting_tokens", "avg_load"] {
                let shown = cell(&page, "workload", &attr, col).unwrap();
                assert!(
                    (number(&shown) - json_num(&r[col])).abs() < 0.006,
                    "{col}: {shown}"
                );
            }
        }
        let per_node: Vec<_> = rows("cycle_time")
            .into_iter()
            .filter(|r| r["team_id"].is_null())
            .collect();
        assert!(!per_node.is_empty());
        for r in per_node {
            let attr = format!("data-node=\"{}\"", r["node_id"]);
            for col in ["p50_minutes", "p95_minutes", "avg_minutes", "token_count"] {
                let shown = cell(&page, "cycle_time", &attr, col).unwrap();
                assert!(
                    (number(&shown) - json_num(&r[col])).abs() < 0.006,
                    "{col}: {shown}"
                );
            }
        }
        // Heat map cells: the summary's WIP per (graph, node, team).
        for r in summary.iter().filter(|r| r["wip_count"].as_i64() > Some(0)) {
            let table = "heatmap\" data-graph=\"".to_string() + &r["graph_id"].to_string();
            let team = if r["team_id"].is_null() {
                "none".to_string()
            } else {
                r["team_id"].to_string()
            };
            let t = page.find(&format!("data-table=\"{table}\"")).unwrap();
            let section = &page[t..];
            let row = &section[section
                .find(&format!("<tr data-node=\"{}\"", r["node_id"]))
                .unwrap()..];
            let c = row
                .find(&format!("data-team=\"{team}\" data-col=\"wip_count\""))
                .unwrap();
            let v = &row[c..];
            let v = &v[v.find('>').unwrap() + 1..];
            // Through the cell's drill-down link.
            let v = v
                .strip_prefix("<a")
                .map_or(v, |a| &a[a.find('>').unwrap() + 1..]);
            let v = &v[..v.find('<').unwrap()];
            assert_eq!(number(v), json_num(&r["wip_count"]));
        }
        // Trend table: per (day, type), the sums of the rows.
        let trends = rows("trends");
        for r in &trends {
            let kind = r["production_type"].as_str().unwrap_or("unspecified");
            let attr = format!(
                "data-type=\"{kind}\" data-day=\"{}\"",
                r["period_date"].as_str().unwrap()
            );
            let same: Vec<_> = trends
                .iter()
                .filter(|o| {
                    o["period_date"] == r["period_date"]
                        && o["production_type"] == r["production_type"]
                })
                .collect();
            let spawned: i64 = same
                .iter()
                .map(|o| o["tokens_spawned"].as_i64().unwrap())
                .sum();
            assert_eq!(
                number(&cell(&page, "trends", &attr, "tokens_spawned").unwrap()),
                spawned as f64
            );
        }
        assert!(page.contains("<svg"), "charts drawn");
        return;
    }
    panic!("page and API never fell in the same second");
}

fn access() -> HttpConfig {
    use sha2::Digest;
    let sha = |s: &str| -> [u8; 32] { sha2::Sha256::digest(s.as_bytes()).into() };
    HttpConfig {
        access: vec![
            AccessEntry {
                name: "acme-only".into(),
                credential: Credential::Token {
                    sha256: sha("tok-acme"),
                },
                tenants: TenantScope::Only(["acme".to_string()].into()),
            },
            AccessEntry {
                name: "b-only".into(),
                credential: Credential::Token {
                    sha256: sha("tok-b"),
                },
                tenants: TenantScope::Only(["b".to_string()].into()),
            },
            AccessEntry {
                name: "all".into(),
                credential: Credential::Token {
                    sha256: sha("tok-all"),
                },
                tenants: TenantScope::All,
            },
        ],
        protect_metrics: true,
        ..HttpConfig::default()
    }
}

#[tokio::test]
async fn a_credential_reads_its_tenants_only() {
    let now = chrono::Utc::now().timestamp();
    let app = crate::http::router_with(live_with_factory(now), &access());
    let bearer = |t: &str| format!("Bearer {t}");
    let b_tok = bearer("tok-b");
    let acme_tok = bearer("tok-acme");
    let all_tok = bearer("tok-all");
    let b = [("authorization", b_tok.as_str())];
    let acme = [("authorization", acme_tok.as_str())];
    let all = [("authorization", all_tok.as_str())];
    // Tenant B's credential on ACME: 403 on the page, its events and the API.
    for path in [
        "/tenants/ACME",
        "/tenants/acme/events",
        "/api/v1/tenants/ACME",
        "/api/v1/tenants/acme/summary",
        "/tenants/AC%4DE",
    ] {
        let (s, _, body) = get(&app, path, &b).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(!body.contains("wip_count"), "{path} leaked rows");
    }
    let (s, _, body) = get(&app, "/api/v1/tenants/acme/summary", &acme).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = get(&app, "/tenants/ACME", &acme).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("acme-only"), "the header names the entry");
    // The list shows only the tenants the credential reads.
    let (_, _, body) = get(&app, "/api/v1/tenants", &acme).await;
    assert!(
        body.contains("\"ACME\"") && !body.contains("\"B\""),
        "{body}"
    );
    let (_, _, body) = get(&app, "/", &acme).await;
    assert!(body.contains("data-tenant=\"ACME\"") && !body.contains("data-tenant=\"B\""));
    let (_, _, body) = get(&app, "/api/v1/tenants", &all).await;
    assert!(
        body.contains("\"ACME\"") && body.contains("\"B\""),
        "{body}"
    );
    // An unknown tenant's 404 lists no other tenant.
    let (s, _, body) = get(&app, "/api/v1/tenants/nope/summary", &all).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = get(&app, "/api/v1/tenants/nope/summary", &acme).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let _ = body;
    // No credential: the pages send people to the login form, programs get 401.
    let (s, h, _) = get(&app, "/tenants/ACME", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/login?next=%2Ftenants%2FACME");
    for path in ["/api/v1/tenants", "/tenants/ACME/events", "/metrics"] {
        let (s, h, _) = get(&app, path, &[]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        assert!(h.contains_key(header::WWW_AUTHENTICATE));
    }
    let (s, _, _) = get(
        &app,
        "/api/v1/tenants",
        &[("authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // /healthz, the login page and the assets are open; /metrics wants a `*` credential.
    for path in [
        "/healthz",
        "/login",
        "/assets/dashboard.css",
        "/assets/dashboard.js",
    ] {
        let (s, _, _) = get(&app, path, &[]).await;
        assert!(
            s == StatusCode::OK || s == StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {s}"
        );
    }
    let (s, _, _) = get(&app, "/metrics", &acme).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = get(&app, "/metrics", &all).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn login_sets_a_session_cookie_that_the_pages_take() {
    let now = chrono::Utc::now().timestamp();
    let app = crate::http::router_with(live_with_factory(now), &access());
    let login = |body: &'static str| {
        Request::builder()
            .method("POST")
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let resp = app
        .clone()
        .oneshot(login("token=nope&next=%2Ftenants%2FACME"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(!resp.headers().contains_key(header::SET_COOKIE));
    let resp = app
        .clone()
        .oneshot(login("token=tok-acme&next=%2Ftenants%2FACME"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/tenants/ACME");
    let set = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let (s, h, body) = get(&app, "/tenants/ACME", &[("cookie", &cookie)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(h.contains_key(header::SET_COOKIE), "the session is renewed");
    assert!(h[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let (s, _, _) = get(
        &app,
        "/api/v1/tenants/acme/workload",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = get(&app, "/tenants/B", &[("cookie", &cookie)]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Login redirects only within the site.
    let resp = app
        .clone()
        .oneshot(login("token=tok-acme&next=https%3A%2F%2Fevil"))
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn events_stream_frames_of_every_section_then_changes() {
    let now = chrono::Utc::now().timestamp();
    let live = live_with_factory(now);
    let app = crate::http::router(live.clone());
    let resp = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/tenants/ACME/events")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();
    use futures_util::StreamExt;
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The first frame (every section), then a second one a second later (only what changed,
    // at least the instant).
    let mut frames = Vec::new();
    while frames.len() < 2 && std::time::Instant::now() < deadline {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(3), body.next())
            .await
            .expect("a frame within 3 s")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                frames.push(serde_json::from_str::<serde_json::Value>(data).unwrap());
            }
        }
    }
    assert_eq!(frames.len(), 2, "two frames");
    assert_eq!(frames[0]["full"], true);
    assert_eq!(frames[0]["state"], "ready");
    for id in super::render::SECTIONS {
        assert!(
            frames[0]["sections"][id].is_string(),
            "{id} in the first frame"
        );
    }
    assert_eq!(
        frames[1]["seq"].as_u64(),
        frames[0]["seq"].as_u64().map(|s| s + 1)
    );
    assert_ne!(frames[1]["at"], frames[0]["at"]);
    assert!(
        frames[1]["sections"].get("trends").is_none(),
        "unchanged trends are not resent"
    );
    // The waits grew by a second: the bottlenecks were resent.
    assert!(frames[1]["sections"]["bottlenecks"].is_string());
}

#[tokio::test]
async fn a_loading_tenant_says_so() {
    let now = chrono::Utc::now().timestamp();
    let app = crate::http::router(live_with_factory(now));
    let (s, h, body) = get(&app, "/tenants/b", &[]).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // In Thai, the default language (no Accept-Language), or in English when asked.
    assert!(body.contains("กำลังโหลดข้อมูลของ B"), "{body}");
    let (_, _, body) = get(&app, "/tenants/b?lang=en", &[]).await;
    assert!(body.contains("B is being loaded"), "{body}");
    assert!(h.contains_key(header::REFRESH));
    let (s, _, body) = get(&app, "/", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("data-tenant=\"B\"") && body.contains("กำลังโหลด"));
    assert!(body.contains("href=\"/tenants/ACME\""));
}

/// The first frame of `path`'s event stream.
async fn first_frame(
    app: &axum::Router,
    path: &str,
    headers: &[(&str, &str)],
) -> serde_json::Value {
    use futures_util::StreamExt;
    let mut req = Request::builder().uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body().into_data_stream();
    let mut text = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
            .await
            .expect("a frame within 5 s")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(end) = text.find("\n\n") {
            if let Some(data) = text[..end].lines().find_map(|l| l.strip_prefix("data: ")) {
                return serde_json::from_str(data).unwrap();
            }
            text.drain(..end + 2);
        }
    }
}

/// The language: `?lang=` (remembered by a cookie), the cookie, `Accept-Language`, then
/// `[http] language` (Thai by default); the live sections in the page's language.
#[tokio::test]
async fn the_page_speaks_the_language_asked_for() {
    let now = chrono::Utc::now().timestamp();
    let live = live_with_factory(now);
    let app = crate::http::router(live.clone());
    let lang_of = |body: &str| body[body.find("<html lang=\"").unwrap() + 12..][..2].to_string();
    let (_, h, body) = get(&app, "/tenants/ACME", &[]).await;
    assert_eq!(lang_of(&body), "th");
    assert!(
        body.contains("งานระหว่างผลิต") && body.contains("คอขวด"),
        "{body}"
    );
    assert!(!h.contains_key(header::SET_COOKIE));
    let en = [("accept-language", "en-GB,en;q=0.9,th;q=0.5")];
    let (_, _, body) = get(&app, "/tenants/ACME", &en).await;
    assert_eq!(lang_of(&body), "en");
    assert!(body.contains("Assignments completed today"), "{body}");
    // A link's choice wins over the browser's, and is remembered.
    let (_, h, body) = get(&app, "/tenants/ACME?lang=th", &en).await;
    assert_eq!(lang_of(&body), "th");
    let set = h[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("flowtally_lang=th;"), "{set}");
    let remembered = [("accept-language", "en"), ("cookie", "flowtally_lang=th")];
    let (_, _, body) = get(&app, "/", &remembered).await;
    assert_eq!(lang_of(&body), "th");
    assert!(body.contains("โรงงาน"), "{body}");
    // The page's script gets its words, and the events their language.
    assert!(get(&app, "/tenants/ACME", &remembered)
        .await
        .2
        .contains("\"js-live\":\"สด\""));
    assert!(body.contains("href=\"/?lang=en\""), "the switch: {body}");
    let frame = first_frame(&app, "/tenants/ACME/events?lang=th", &[]).await;
    assert!(frame["sections"]["bottlenecks"]
        .as_str()
        .unwrap()
        .contains("คอขวด"));
    assert!(frame["sections"]["eng"].as_str().unwrap().contains(" น."));
    let frame = first_frame(&app, "/tenants/ACME/events?lang=en", &[]).await;
    assert!(frame["sections"]["bottlenecks"]
        .as_str()
        .unwrap()
        .contains("Bottlenecks"));
    // The config's language when the browser asks for none of ours.
    let cfg = crate::http::access::HttpConfig {
        language: super::i18n::Lang::En,
        ..crate::http::access::HttpConfig::default()
    };
    let app = crate::http::router_with(live, &cfg);
    let (_, _, body) = get(&app, "/tenants/ACME", &[("accept-language", "de")]).await;
    assert_eq!(lang_of(&body), "en");
    let (_, _, body) = get(&app, "/tenants/nope", &[("accept-language", "th")]).await;
    assert!(body.contains("ไม่พบโรงงาน"), "{body}");
}

/// `?view=wall`: the wall layout, dark unless a theme is chosen; `?theme=` everywhere.
#[tokio::test]
async fn the_wall_screen_is_dark_and_themes_can_be_forced() {
    let now = chrono::Utc::now().timestamp();
    let app = crate::http::router(live_with_factory(now));
    let html_tag = |body: &str| {
        body[body.find("<html").unwrap()..]
            [..body[body.find("<html").unwrap()..].find('>').unwrap()]
            .to_string()
    };
    let (_, _, body) = get(&app, "/tenants/ACME", &[]).await;
    assert_eq!(html_tag(&body), "<html lang=\"th\"");
    let (_, _, body) = get(&app, "/tenants/ACME?view=wall", &[]).await;
    assert_eq!(
        html_tag(&body),
        "<html lang=\"th\" data-theme=\"dark\" class=\"wall\""
    );
    assert!(body.contains("class=\"sec sec-heatmap rot\""), "{body}");
    let (_, h, body) = get(&app, "/tenants/ACME?view=wall&theme=light", &[]).await;
    assert_eq!(
        html_tag(&body),
        "<html lang=\"th\" data-theme=\"light\" class=\"wall\""
    );
    assert!(h[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("flowtally_theme=light;"));
    let (_, _, body) = get(&app, "/?theme=dark", &[]).await;
    assert!(html_tag(&body).contains("data-theme=\"dark\""));
    // The switch keeps the wall view.
    let (_, _, body) = get(&app, "/tenants/ACME?view=wall", &[]).await;
    assert!(
        body.contains("href=\"/tenants/ACME?view=wall&#38;lang=en\""),
        "{body}"
    );
}

/// Serves the in-memory factory on `FLOWTALLY_DEMO_PORT` for `FLOWTALLY_DEMO_SECS` seconds,
/// to look at the page by hand (`cargo test --lib serve_the_factory -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "serves a page to look at by hand"]
async fn serve_the_factory() {
    let port: u16 = std::env::var("FLOWTALLY_DEMO_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9199);
    let secs: u64 = std::env::var("FLOWTALLY_DEMO_SECS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(60);
    let now = chrono::Utc::now().timestamp();
    let app = crate::http::router(live_with_factory(now));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(secs),
        axum::serve(listener, app),
    )
    .await;
}
