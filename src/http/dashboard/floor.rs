//! The floor's parts of the dashboard: the alert list (a live section of the tenant page), the
//! drill-down pages of a node (`/tenants/{code}/nodes/{id}`: its tokens, oldest first) and of
//! a team (`/tenants/{code}/teams/{id}`: its operators' load), and the links that lead to them
//! and to the CSV of each table.
//!
//! The drill-downs are read from the live state at one instant, as the API's
//! (`/api/v1/tenants/{code}/nodes/{id}/tokens`, `/teams/{id}/operators`), and show the same
//! tokens the page's figures count.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDateTime;

use super::model::Dashboard;
use super::render::{dec, duration, int, time, url_segment};
use super::{assets, html, message};
use crate::http::floor::TOKENS_PAGE;
use crate::http::{now_secs, App};
use crate::model::andon::{Kind, Level, Subject};
use crate::model::clock::local_time;
use crate::model::floor::{team_operators, tokens_at};

/// The node's drill-down page.
pub fn node_href(code: &str, node: i64) -> String {
    format!("/tenants/{}/nodes/{node}", url_segment(code))
}

/// The team's drill-down page.
pub fn team_href(code: &str, team: i64) -> String {
    format!("/tenants/{}/teams/{team}", url_segment(code))
}

/// The CSV of one of the page's tables: a view's rows, the alerts or the history.
pub fn csv_href(code: &str, table: &str) -> String {
    format!("/api/v1/tenants/{}/{table}?format=csv", url_segment(code))
}

/// What a kind of alert is, for a manager.
fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::WipLimit => "Over the node's WIP limit",
        Kind::TeamLoad => "Team at capacity",
        Kind::Wait => "Long average wait",
        Kind::QueueGrowth => "Queue growing",
        Kind::TokenAge => "Token waiting long",
    }
}

/// `yesterday 10:45: 118 (+7)`: a figure now against the same figure at `at` yesterday.
pub fn against_yesterday(at: NaiveDateTime, then: i64, now: i64) -> String {
    let delta = now - then;
    let sign = if delta > 0 { "+" } else { "" };
    format!(
        "yesterday {}: {} ({sign}{})",
        at.format("%H:%M"),
        int(then),
        int(delta)
    )
}

pub struct AlertLine {
    pub level: &'static str,
    pub level_text: &'static str,
    pub kind: &'static str,
    /// `node:3`, `team:2`, `token:17`.
    pub subject: String,
    pub what: &'static str,
    pub label: String,
    pub href: String,
    pub figure: String,
    pub limit: String,
    pub since: String,
    pub lasting: String,
}

#[derive(Template)]
#[template(path = "alerts.html", config = "src/http/dashboard/askama.toml")]
struct AlertsSection {
    rows: Vec<AlertLine>,
    csv: String,
}

/// The alert list at T, red first.
pub fn alerts_section(d: &Dashboard) -> askama::Result<String> {
    let rows = d
        .alerts
        .iter()
        .map(|a| {
            let b = &a.breach;
            let (subject, href) = match b.subject {
                Subject::Node { id } => (format!("node:{id}"), node_href(&d.code, id)),
                Subject::Team { id } => (format!("team:{id}"), team_href(&d.code, id)),
                Subject::Token { id, node } => (format!("token:{id}"), node_href(&d.code, node)),
            };
            let (figure, limit) = match b.kind {
                Kind::Wait | Kind::TokenAge => (dec(b.figure), dec(b.limit)),
                _ => (int(b.figure.0 / 100), int(b.limit.0 / 100)),
            };
            AlertLine {
                level: b.level.name(),
                level_text: match b.level {
                    Level::Red => "Red",
                    Level::Amber => "Amber",
                },
                kind: b.kind.name(),
                subject,
                what: what(b.kind),
                label: b.label.clone(),
                href,
                figure: format!("{figure} {}", b.kind.unit()),
                limit,
                since: time(a.since),
                lasting: duration((d.at - a.since).num_seconds().max(0)),
            }
        })
        .collect();
    AlertsSection {
        rows,
        csv: csv_href(&d.code, "alerts"),
    }
    .render()
}

pub struct TokenLine {
    pub id: i64,
    pub status: &'static str,
    pub age: String,
    pub since: String,
    pub operator: String,
    pub team: String,
    pub team_href: String,
    pub assignment: String,
    pub andon: &'static str,
}

#[derive(Template)]
#[template(path = "node.html", config = "src/http/dashboard/askama.toml")]
struct NodePage {
    code: String,
    back: String,
    at: String,
    timezone: String,
    node_id: i64,
    label: String,
    graph: String,
    total: usize,
    queued: usize,
    in_work: usize,
    limit_note: String,
    andon: &'static str,
    /// The node's alerts: (class, words).
    alerts: Vec<(&'static str, String)>,
    rows: Vec<TokenLine>,
    more: usize,
    csv: String,
    assets: &'static str,
}

pub struct OperatorLine {
    pub id: i64,
    pub member: bool,
    pub active: String,
    pub waiting: String,
    pub capacity: String,
    pub load: String,
}

#[derive(Template)]
#[template(path = "team.html", config = "src/http/dashboard/askama.toml")]
struct TeamPage {
    code: String,
    back: String,
    at: String,
    timezone: String,
    team_id: i64,
    label: String,
    category: String,
    tokens: String,
    capacity: String,
    andon: &'static str,
    alerts: Vec<(&'static str, String)>,
    rows: Vec<OperatorLine>,
    csv: String,
    assets: &'static str,
}

fn bad_id(what: &str, text: &str) -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Not found",
        &format!("The {what} id '{text}' is not a number."),
    )
}

fn gone(code: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Unknown tenant",
        &format!("No tenant '{code}' is served here."),
    )
}

fn loading(code: &str) -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Loading",
        &format!("Tenant {code} is being loaded from its source tables; try again shortly."),
    )
}

fn level_class(level: Option<Level>) -> &'static str {
    match level {
        Some(Level::Red) => "andon-red",
        Some(Level::Amber) => "andon-amber",
        None => "",
    }
}

/// The alerts about `subject`, in words, with their class.
fn about(
    alerts: &[crate::model::andon::Alert],
    subject: Subject,
    at: NaiveDateTime,
) -> Vec<(&'static str, String)> {
    alerts
        .iter()
        .filter(|a| a.breach.subject == subject)
        .map(|a| {
            let b = &a.breach;
            let (figure, limit) = match b.kind {
                Kind::Wait | Kind::TokenAge => (dec(b.figure), dec(b.limit)),
                _ => (int(b.figure.0 / 100), int(b.limit.0 / 100)),
            };
            (
                level_class(Some(b.level)),
                format!(
                    "{}: {figure} {} (limit {limit}), since {} ({})",
                    what(b.kind),
                    b.kind.unit(),
                    time(a.since),
                    duration((at - a.since).num_seconds().max(0))
                ),
            )
        })
        .collect()
}

/// The worst level among the `alerts` whose subject `pick` takes.
fn worst(alerts: &[crate::model::andon::Alert], pick: impl Fn(&Subject) -> bool) -> Option<Level> {
    alerts
        .iter()
        .filter(|a| pick(&a.breach.subject))
        .map(|a| a.breach.level)
        .max()
}

/// `GET /tenants/{code}/nodes/{id}`.
pub async fn node_page(
    State(app): State<App>,
    Path((code, node)): Path<(String, String)>,
) -> Response {
    let Ok(node) = node.trim().parse::<i64>() else {
        return bad_id("node", &node);
    };
    let live = app.live.clone();
    let Some(key) = live.key_of(&code) else {
        return gone(&code);
    };
    let tz = live.timezone();
    let at: NaiveDateTime = local_time(now_secs(), tz);
    let alerts = match crate::live::andon::alerts_at(&live, &key, at) {
        Ok((_, a)) => a,
        Err(crate::live::andon::NoAlerts::Loading(c)) => return loading(&c),
        Err(crate::live::andon::NoAlerts::Unknown) => return gone(&code),
    };
    let read = crate::http::floor::with_ready(&live, &code, |code, ready| {
        let dims = ready.state.dims();
        let tokens = tokens_at(&ready.state, at, node, TOKENS_PAGE);
        let known = dims.nodes.get(&node).cloned();
        let graph = known
            .as_ref()
            .and_then(|n| n.graph)
            .map(|g| {
                dims.graphs
                    .get(&g)
                    .and_then(|g| g.name.clone())
                    .unwrap_or_else(|| format!("graph {g}"))
            })
            .unwrap_or_default();
        let teams: Vec<String> = tokens
            .tokens
            .iter()
            .map(|t| {
                t.team_id.map_or_else(
                    || "no team".to_string(),
                    |id| {
                        dims.teams
                            .get(&id)
                            .and_then(|t| t.name.clone())
                            .unwrap_or_else(|| format!("team {id}"))
                    },
                )
            })
            .collect();
        let label = crate::model::andon::evaluate::node_label(dims, node);
        (code.to_string(), tokens, known, graph, teams, label)
    });
    let (code, tokens, known, graph, teams, label) = match read {
        Ok(r) => r,
        Err(_) => return gone(&code),
    };
    if known.is_none() && tokens.total == 0 {
        return message(
            StatusCode::NOT_FOUND,
            "Unknown node",
            &format!("Tenant {code} has no node {node}."),
        );
    }
    let limit = known.as_ref().and_then(|n| n.limit());
    let rows = tokens
        .tokens
        .iter()
        .zip(teams)
        .map(|(t, team)| TokenLine {
            id: t.token_id,
            status: t.status,
            age: t
                .age_secs
                .map_or_else(|| "—".into(), |s| duration(s.max(0))),
            since: t.since.map_or_else(|| "not assigned here".into(), time),
            operator: t.operator_id.map_or_else(|| "—".into(), |o| o.to_string()),
            team_href: t
                .team_id
                .map_or_else(String::new, |id| team_href(&code, id)),
            team,
            assignment: match (t.assignment_id, t.assignment_status) {
                (Some(id), Some(s)) => format!("{id} ({s})"),
                _ => "none".into(),
            },
            andon: level_class(worst(
                &alerts,
                |s| matches!(s, Subject::Token { id, .. } if *id == t.token_id),
            )),
        })
        .collect();
    let page = NodePage {
        back: format!("/tenants/{}", url_segment(&code)),
        at: time(at),
        timezone: tz.name().to_string(),
        node_id: node,
        label,
        graph,
        total: tokens.total,
        queued: tokens.queued,
        in_work: tokens.in_work,
        limit_note: limit.map_or_else(
            || "no WIP limit".into(),
            |l| format!("WIP limit {}", int(l)),
        ),
        // The WIP tile is red or amber for its own limit; the node's other alerts are listed.
        andon: level_class(
            alerts
                .iter()
                .filter(|a| {
                    a.breach.kind == Kind::WipLimit
                        && a.breach.subject == Subject::Node { id: node }
                })
                .map(|a| a.breach.level)
                .max(),
        ),
        alerts: about(&alerts, Subject::Node { id: node }, at),
        more: tokens.total - tokens.tokens.len(),
        rows,
        csv: format!(
            "/api/v1/tenants/{}/nodes/{node}/tokens?format=csv",
            url_segment(&code)
        ),
        code,
        assets: assets::VERSION,
    };
    match page.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    }
}

/// `GET /tenants/{code}/teams/{id}`.
pub async fn team_page(
    State(app): State<App>,
    Path((code, team)): Path<(String, String)>,
) -> Response {
    let Ok(team) = team.trim().parse::<i64>() else {
        return bad_id("team", &team);
    };
    let live = app.live.clone();
    let Some(key) = live.key_of(&code) else {
        return gone(&code);
    };
    let tz = live.timezone();
    let at = local_time(now_secs(), tz);
    let alerts = match crate::live::andon::alerts_at(&live, &key, at) {
        Ok((_, a)) => a,
        Err(crate::live::andon::NoAlerts::Loading(c)) => return loading(&c),
        Err(crate::live::andon::NoAlerts::Unknown) => return gone(&code),
    };
    let read = crate::http::floor::with_ready(&live, &code, |code, ready| {
        (
            code.to_string(),
            ready.state.dims().teams.get(&team).cloned(),
            team_operators(&ready.state, team),
        )
    });
    let (code, known, ops) = match read {
        Ok(r) => r,
        Err(_) => return gone(&code),
    };
    let Some(known) = known else {
        return message(
            StatusCode::NOT_FOUND,
            "Unknown team",
            &format!("Tenant {code} has no team {team}."),
        );
    };
    let tokens: i64 = ops
        .operators
        .iter()
        .map(|o| o.active_tokens + o.waiting_tokens)
        .sum();
    let page = TeamPage {
        back: format!("/tenants/{}", url_segment(&code)),
        at: time(at),
        timezone: tz.name().to_string(),
        team_id: team,
        label: known.name.clone().unwrap_or_else(|| format!("team {team}")),
        category: known.team_category.clone().unwrap_or_default(),
        tokens: int(tokens),
        capacity: int(ops.capacity),
        andon: level_class(worst(&alerts, |s| *s == Subject::Team { id: team })),
        alerts: about(&alerts, Subject::Team { id: team }, at),
        rows: ops
            .operators
            .iter()
            .map(|o| OperatorLine {
                id: o.operator_id,
                member: o.active_member,
                active: int(o.active_tokens),
                waiting: int(o.waiting_tokens),
                capacity: int(o.capacity),
                load: o.load.map_or_else(|| "—".into(), dec),
            })
            .collect(),
        csv: format!(
            "/api/v1/tenants/{}/teams/{team}/operators?format=csv",
            url_segment(&code)
        ),
        code,
        assets: assets::VERSION,
    };
    match page.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::super::tests::{factory, get, live_with};
    use crate::model::dims::tests::{node, team};
    use crate::model::row::Row;
    use crate::model::Change;

    /// The factory, with node 1 (3 live tokens) limited to 2 and team 7 named in Thai.
    fn router(now: i64) -> axum::Router {
        let mut state = factory(now);
        let mut limited = node(1, 10, Some("sewing"));
        limited.wip_limit = Some(2);
        state.apply(Change::Upsert(Row::Node(limited)));
        state.apply(Change::Upsert(Row::Graph(crate::model::row::Graph {
            id: 10,
            production_type: Some("classic".into()),
            name: Some("Classic tote bag".into()),
        })));
        let mut thai = team(7, Some("sewing"), true);
        thai.name = Some("ทีมเย็บ ก".into());
        state.apply(Change::Upsert(Row::Team(thai)));
        crate::http::router(live_with(now, state))
    }

    #[tokio::test]
    async fn a_node_over_its_limit_is_red_listed_and_drills_down() {
        let now = chrono::Utc::now().timestamp();
        let app = router(now);
        let (status, _, page) = get(&app, "/tenants/ACME", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(r#"data-kind="wip_limit" data-subject="node:1" data-level="red""#),
            "{page}"
        );
        assert!(
            page.contains(r#"<tr data-node="1" class="andon-red">"#),
            "{page}"
        );
        assert!(page.contains(r#"href="/tenants/ACME/nodes/1""#));
        assert!(
            page.contains("<caption>Classic tote bag</caption>")
                && page.contains("<caption>graph 20</caption>"),
            "the heat map names its graphs: {page}"
        );
        assert!(page.contains(r#"href="/api/v1/tenants/ACME/alerts?format=csv""#));

        let (status, _, body) = get(&app, "/api/v1/tenants/ACME/alerts", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let wip: Vec<&serde_json::Value> = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "wip_limit")
            .collect();
        assert_eq!(wip.len(), 1, "{body}");
        assert_eq!(
            wip[0]["subject"],
            serde_json::json!({"type": "node", "id": 1})
        );
        assert_eq!(
            (wip[0]["figure"].as_f64(), wip[0]["limit"].as_f64()),
            (Some(3.0), Some(2.0))
        );
        assert_eq!(wip[0]["level"], "red");

        // The three live tokens at node 1, oldest assignment first, the unassigned-here last.
        let (status, _, body) = get(&app, "/api/v1/tenants/ACME/nodes/1/tokens", &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let ids: Vec<i64> = v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["token_id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [2, 1, 3]);
        assert_eq!(
            (
                v["total"].as_i64(),
                v["queued"].as_i64(),
                v["more"].as_i64()
            ),
            (Some(3), Some(2), Some(0))
        );
        assert_eq!(v["tokens"][0]["team_id"], 7);
        assert_eq!(v["node"]["wip_limit"], 2);
        let (_, _, body) = get(&app, "/api/v1/tenants/ACME/nodes/1/tokens?limit=1", &[]).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (v["shown"].as_i64(), v["more"].as_i64()),
            (Some(1), Some(2))
        );
        for (path, code) in [
            (
                "/api/v1/tenants/ACME/nodes/x/tokens",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/api/v1/tenants/ACME/nodes/99/tokens",
                StatusCode::NOT_FOUND,
            ),
            (
                "/api/v1/tenants/ACME/nodes/1/tokens?limit=0",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/api/v1/tenants/ACME/alerts?format=xml",
                StatusCode::BAD_REQUEST,
            ),
            ("/api/v1/tenants/B/alerts", StatusCode::SERVICE_UNAVAILABLE),
        ] {
            assert_eq!(get(&app, path, &[]).await.0, code, "{path}");
        }

        let (status, _, page) = get(&app, "/tenants/ACME/nodes/1", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let order: Vec<usize> = ["data-token=\"2\"", "data-token=\"1\"", "data-token=\"3\""]
            .iter()
            .map(|t| page.find(t).unwrap_or_else(|| panic!("{t} in {page}")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest first");
        assert!(page.contains("data-total=\"3\""));
        assert!(page.contains("WIP limit 2"));
        assert!(page.contains("ทีมเย็บ ก"));

        let (status, _, page) = get(&app, "/tenants/ACME/teams/7", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("data-operator=\"100\""), "{page}");
        assert_eq!(
            get(&app, "/tenants/ACME/teams/99", &[]).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn wip_and_completions_against_yesterday_at_this_time() {
        let now = chrono::Utc::now().timestamp();
        let (_, _, page) = get(&router(now), "/tenants/ACME", &[]).await;
        let compare = |kpi: &str| {
            let k = &page[page.find(&format!("data-kpi=\"{kpi}\"")).unwrap()..];
            let k = &k[..k.find("</li>").unwrap()];
            let c = k
                .find("data-compare>")
                .map(|i| &k[i + "data-compare>".len()..]);
            c.map(|c| c[..c.find('<').unwrap()].to_string())
        };
        // The factory: 8 live tokens and 2 assignments completed today; the history kept WIP 6
        // and 40 completed at yesterday's quarter hours.
        let wip = compare("wip").expect("WIP against yesterday");
        assert!(
            wip.starts_with("yesterday ") && wip.ends_with(": 6 (+2)"),
            "{wip}"
        );
        let done = compare("completed_today").expect("completions against yesterday");
        assert!(done.ends_with(": 40 (-38)"), "{done}");
        assert_eq!(compare("queued"), None);
    }

    #[tokio::test]
    async fn csv_exports_start_with_the_bom_and_keep_thai_names() {
        let now = chrono::Utc::now().timestamp();
        let app = router(now);
        let (status, headers, body) =
            get(&app, "/api/v1/tenants/ACME/workload?format=csv", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"ACME-workload-"));
        let text = body.strip_prefix('\u{feff}').expect("the BOM first");
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            [
                "team_id",
                "team_name",
                "team_category",
                "active_tokens",
                "waiting_tokens",
                "avg_load"
            ]
        );
        let names: Vec<String> = r.records().map(|x| x.unwrap()[1].to_string()).collect();
        assert!(names.contains(&"ทีมเย็บ ก".to_string()), "{names:?}");
        for table in [
            "summary",
            "bottlenecks",
            "cycle_time",
            "trends",
            "alerts",
            "history",
        ] {
            let (status, _, body) = get(
                &app,
                &format!("/api/v1/tenants/ACME/{table}?format=csv"),
                &[],
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{table}: {body}");
            assert!(body.starts_with('\u{feff}'), "{table}");
        }
        for path in [
            "/api/v1/tenants/ACME/nodes/1/tokens?format=csv",
            "/api/v1/tenants/ACME/teams/7/operators?format=csv",
        ] {
            let (status, _, body) = get(&app, path, &[]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(body.starts_with('\u{feff}'), "{path}");
        }
    }
}
