//! The floor's parts of the dashboard: the alert list (a live section of the tenant page), the
//! drill-down pages of a node (`/tenants/{code}/nodes/{id}`: its tokens, oldest first) and of
//! a team (`/tenants/{code}/teams/{id}`: its operators' load), and the links that lead to them
//! and to the CSV of each table; all in the viewer's language ([`Tr`]), as the dashboard.
//!
//! The drill-downs are read from the live state at one instant, as the API's
//! (`/api/v1/tenants/{code}/nodes/{id}/tokens`, `/teams/{id}/operators`), and show the same
//! tokens the page's figures count.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::NaiveDateTime;

use super::i18n::{Lang, Tr};
use super::model::Dashboard;
use super::prefs::Prefs;
use super::render::{dec, int, time, url_segment};
use super::{assets, html, message, remember};
use crate::http::floor::TOKENS_PAGE;
use crate::http::{now_secs, App};
use crate::live::andon::{alerts_at, NoAlerts};
use crate::model::andon::{Alert, Kind, Level, Subject};
use crate::model::clock::local_time;
use crate::model::decimal::Dec2;
use crate::model::dims::Dims;
use crate::model::floor::{team_operators, tokens_at};

/// Alerts the wall screen lists (the stylesheet shows this many rows: keep them alike); the
/// others are counted under the list (the desk page lists them all).
pub const WALL_ROWS: usize = 4;

/// The node's drill-down page.
pub fn node_href(code: &str, node: i64) -> String {
    format!("/tenants/{}/nodes/{node}", url_segment(code))
}

/// The team's drill-down page.
pub fn team_href(code: &str, team: i64) -> String {
    format!("/tenants/{}/teams/{team}", url_segment(code))
}

/// The CSV of one of the page's tables (a view's rows, the alerts or the history), its header
/// in the page's language.
pub fn csv_href(code: &str, table: &str, lang: Lang) -> String {
    format!(
        "/api/v1/tenants/{}/{table}?format=csv&lang={}",
        url_segment(code),
        lang.code()
    )
}

/// What a kind of alert is, for a manager.
pub fn what(kind: Kind, t: &Tr) -> String {
    match kind {
        Kind::WipLimit => t.s("andon-kind-wip-limit"),
        Kind::TeamLoad => t.s("andon-kind-team-load"),
        Kind::Wait => t.s("andon-kind-wait"),
        Kind::QueueGrowth => t.s("andon-kind-queue-growth"),
        Kind::TokenAge => t.s("andon-kind-token-age"),
    }
}

pub fn level_text(level: Level, t: &Tr) -> String {
    match level {
        Level::Red => t.s("andon-red"),
        Level::Amber => t.s("andon-amber"),
    }
}

/// An alert's figure or limit as people say it: pieces, or a duration (`1 h 20 min`).
pub fn amount(kind: Kind, v: Dec2, t: &Tr) -> String {
    match kind {
        Kind::Wait => t.minutes(Some(v)),
        Kind::TokenAge => t.hours(Some(v)),
        Kind::WipLimit | Kind::TeamLoad => pieces("andon-pieces", v, t),
        Kind::QueueGrowth => pieces("andon-pieces-more", v, t),
    }
}

/// A count of pieces (a whole number the breach holds as a decimal), in message `id`.
fn pieces(id: &str, v: Dec2, t: &Tr) -> String {
    let n = v.0.div_euclid(100);
    t.f(id, &[("n", int(n).into()), ("count", n.into())])
}

/// An instant of today as a time (`14:05 น.`), of another day with its date.
pub fn moment(at: NaiveDateTime, today: NaiveDateTime, t: &Tr) -> String {
    if at.date() == today.date() {
        t.clock(at)
    } else {
        t.date_time(at)
    }
}

/// `yesterday 10:45: 118 (+7)`: a figure now against the same figure at `at` yesterday.
pub fn against_yesterday(at: NaiveDateTime, then: i64, now: i64, t: &Tr) -> String {
    let delta = now - then;
    let sign = if delta > 0 { "+" } else { "" };
    t.f(
        "kpi-yesterday",
        &[
            ("time", t.clock(at).into()),
            ("then", int(then).into()),
            ("delta", format!("{sign}{}", int(delta)).into()),
        ],
    )
}

pub struct AlertLine {
    pub level: &'static str,
    pub level_text: String,
    pub kind: &'static str,
    /// `node:3`, `team:2`, `token:17`.
    pub subject: String,
    pub what: String,
    /// The token, for a token's alert (then `label` is its node).
    pub token: Option<String>,
    /// The node's or team's name, from the ERP.
    pub label: String,
    pub href: String,
    pub figure: String,
    pub figure_raw: String,
    pub limit: String,
    pub since: String,
    pub since_text: String,
    pub lasting: String,
}

#[derive(Template)]
#[template(path = "alerts.html", config = "src/http/dashboard/askama.toml")]
struct AlertsSection {
    t: Tr,
    rows: Vec<AlertLine>,
    red: usize,
    amber: usize,
    /// How many alerts the wall screen leaves out of its list, and the line saying so.
    wall_more: usize,
    wall_more_text: String,
    csv: String,
}

/// A node's label, as the dashboard writes it: `CODE · Name`, or `#12`.
fn node_label(dims: &Dims, id: i64) -> String {
    match dims.nodes.get(&id).map(|n| (&n.code, &n.name)) {
        Some((Some(c), Some(n))) if c != n => format!("{c} · {n}"),
        Some((Some(c), _)) => c.clone(),
        Some((None, Some(n))) => n.clone(),
        _ => format!("#{id}"),
    }
}

fn team_label(dims: &Dims, id: i64) -> String {
    dims.teams
        .get(&id)
        .and_then(|t| t.name.clone())
        .unwrap_or_else(|| format!("#{id}"))
}

/// The alert list at T, red first.
pub fn alerts_section(d: &Dashboard, t: &Tr) -> askama::Result<String> {
    let rows: Vec<AlertLine> = d
        .alerts
        .iter()
        .map(|a| {
            let b = &a.breach;
            let (subject, href, token, label) = match b.subject {
                Subject::Node { id } => (
                    format!("node:{id}"),
                    node_href(&d.code, id),
                    None,
                    d.names.node(id),
                ),
                Subject::Team { id } => (
                    format!("team:{id}"),
                    team_href(&d.code, id),
                    None,
                    d.names.team(Some(id)),
                ),
                Subject::Token { id, node } => (
                    format!("token:{id}"),
                    node_href(&d.code, node),
                    Some(t.f1("andon-token", "id", &id.to_string())),
                    d.names.node(node),
                ),
            };
            AlertLine {
                level: b.level.name(),
                level_text: level_text(b.level, t),
                kind: b.kind.name(),
                subject,
                what: what(b.kind, t),
                token,
                label,
                href,
                figure: amount(b.kind, b.figure, t),
                figure_raw: b.figure.to_string(),
                limit: amount(b.kind, b.limit, t),
                since: time(a.since),
                since_text: moment(a.since, d.at, t),
                lasting: t.duration((d.at - a.since).num_seconds().max(0)),
            }
        })
        .collect();
    let red = rows.iter().filter(|r| r.level == "red").count();
    let wall_more = rows.len().saturating_sub(WALL_ROWS);
    AlertsSection {
        t: *t,
        red,
        amber: rows.len() - red,
        wall_more,
        wall_more_text: t.f1("alerts-more", "n", &int(wall_more as i64)),
        rows,
        csv: csv_href(&d.code, "alerts", t.lang()),
    }
    .render()
}

pub struct TokenLine {
    pub id: i64,
    pub status: &'static str,
    pub status_text: String,
    pub age: String,
    pub age_secs: String,
    pub since: String,
    pub operator: String,
    pub team: String,
    pub team_href: String,
    pub assignment: String,
    pub andon: &'static str,
}

/// A token's status, in words.
fn token_status(status: &str, t: &Tr) -> String {
    match status {
        "ready" => t.s("token-ready"),
        "waiting" => t.s("token-waiting"),
        "active" => t.s("token-active"),
        "paused" => t.s("token-paused"),
        other => other.to_string(),
    }
}

/// An assignment's status, in words.
fn assignment_status(status: &str, t: &Tr) -> String {
    match status {
        "assigned" => t.s("assignment-assigned"),
        "accepted" => t.s("assignment-accepted"),
        "started" => t.s("assignment-started"),
        "paused" => t.s("assignment-paused"),
        other => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "node.html", config = "src/http/dashboard/askama.toml")]
struct NodePage<'a> {
    t: Tr,
    p: &'a Prefs,
    code: String,
    back: String,
    at: String,
    at_text: String,
    timezone: String,
    node_id: i64,
    label: String,
    graph: String,
    /// The graph's caption is its name from the ERP.
    graph_data: bool,
    total: usize,
    queued: usize,
    in_work: usize,
    limit_note: String,
    andon: &'static str,
    /// The node's alerts: (class, words).
    alerts: Vec<(&'static str, String)>,
    rows: Vec<TokenLine>,
    /// Tokens at the node not listed, and the line saying so.
    more: usize,
    more_text: String,
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
struct TeamPage<'a> {
    t: Tr,
    p: &'a Prefs,
    code: String,
    back: String,
    at: String,
    at_text: String,
    timezone: String,
    team_id: i64,
    label: String,
    category: String,
    tokens: String,
    capacity_note: String,
    andon: &'static str,
    alerts: Vec<(&'static str, String)>,
    rows: Vec<OperatorLine>,
    csv: String,
    assets: &'static str,
}

fn bad_id(p: &Prefs, what: &str, text: &str) -> Response {
    let t = p.t();
    message(
        StatusCode::BAD_REQUEST,
        p,
        &t.s("msg-bad-id-title"),
        &t.f(what, &[("id", text.into())]),
        "",
    )
}

fn gone(p: &Prefs, code: &str) -> Response {
    let t = p.t();
    message(
        StatusCode::NOT_FOUND,
        p,
        &t.s("msg-unknown-title"),
        &t.f("msg-unknown", &[("code", code.into())]),
        "",
    )
}

fn loading(p: &Prefs, code: &str) -> Response {
    let t = p.t();
    let mut r = message(
        StatusCode::SERVICE_UNAVAILABLE,
        p,
        &t.s("msg-loading-title"),
        &t.f("msg-loading", &[("code", code.into())]),
        "",
    );
    r.headers_mut().insert(
        axum::http::header::REFRESH,
        axum::http::HeaderValue::from_static("5"),
    );
    r
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
    alerts: &[Alert],
    subject: Subject,
    at: NaiveDateTime,
    t: &Tr,
) -> Vec<(&'static str, String)> {
    alerts
        .iter()
        .filter(|a| a.breach.subject == subject)
        .map(|a| {
            let b = &a.breach;
            (
                level_class(Some(b.level)),
                t.f(
                    "andon-about",
                    &[
                        ("level", level_text(b.level, t).into()),
                        ("what", what(b.kind, t).into()),
                        ("figure", amount(b.kind, b.figure, t).into()),
                        ("limit", amount(b.kind, b.limit, t).into()),
                        ("since", moment(a.since, at, t).into()),
                        (
                            "lasting",
                            t.duration((at - a.since).num_seconds().max(0)).into(),
                        ),
                    ],
                ),
            )
        })
        .collect()
}

/// The worst level among the `alerts` whose subject `pick` takes.
fn worst(alerts: &[Alert], pick: impl Fn(&Subject) -> bool) -> Option<Level> {
    alerts
        .iter()
        .filter(|a| pick(&a.breach.subject))
        .map(|a| a.breach.level)
        .max()
}

/// The page, or the page saying why it could not be drawn; with the choices to remember.
fn page(p: &Prefs, drawn: askama::Result<String>) -> Response {
    let mut r = match drawn {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => {
            let t = p.t();
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                p,
                &t.s("msg-error-title"),
                &t.s("msg-error"),
                &e.to_string(),
            )
        }
    };
    remember(&mut r, p);
    r
}

/// `GET /tenants/{code}/nodes/{id}`.
pub async fn node_page(
    State(app): State<App>,
    Path((code, node)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let p = super::prefs(&app, &uri, &headers);
    let t = p.t();
    let Ok(node) = node.trim().parse::<i64>() else {
        return bad_id(&p, "msg-bad-node", &node);
    };
    let live = app.live.clone();
    let Some(key) = live.key_of(&code) else {
        return gone(&p, &code);
    };
    let tz = live.timezone();
    let at: NaiveDateTime = local_time(now_secs(), tz);
    let alerts = match alerts_at(&live, &key, at) {
        Ok((_, a)) => a,
        Err(NoAlerts::Loading(c)) => return loading(&p, &c),
        Err(NoAlerts::Unknown) => return gone(&p, &code),
    };
    let read = crate::http::floor::with_ready(&live, &code, |code, ready| {
        let dims = ready.state.dims();
        let tokens = tokens_at(&ready.state, at, node, TOKENS_PAGE);
        let known = dims.nodes.get(&node).cloned();
        let graph = known.as_ref().and_then(|n| n.graph).map(|g| {
            dims.graphs
                .get(&g)
                .and_then(|g| g.name.clone())
                .filter(|n| !n.is_empty())
                .ok_or(g)
        });
        let teams: Vec<String> = tokens
            .tokens
            .iter()
            .map(|tok| {
                tok.team_id
                    .map_or_else(String::new, |id| team_label(dims, id))
            })
            .collect();
        let label = node_label(dims, node);
        (code.to_string(), tokens, known, graph, teams, label)
    });
    let (code, tokens, known, graph, teams, label) = match read {
        Ok(r) => r,
        Err(_) => return gone(&p, &code),
    };
    if known.is_none() && tokens.total == 0 {
        return message(
            StatusCode::NOT_FOUND,
            &p,
            &t.s("msg-unknown-node-title"),
            &t.f(
                "msg-unknown-node",
                &[("code", code.into()), ("id", node.to_string().into())],
            ),
            "",
        );
    }
    let limit = known.as_ref().and_then(|n| n.limit());
    let rows = tokens
        .tokens
        .iter()
        .zip(teams)
        .map(|(tok, team)| TokenLine {
            id: tok.token_id,
            status: tok.status,
            status_text: token_status(tok.status, &t),
            age: tok
                .age_secs
                .map_or_else(|| "—".into(), |s| t.duration(s.max(0))),
            age_secs: tok.age_secs.map_or_else(String::new, |s| s.to_string()),
            since: tok
                .since
                .map_or_else(|| t.s("node-not-assigned-here"), |s| moment(s, at, &t)),
            operator: tok
                .operator_id
                .map_or_else(|| "—".into(), |o| o.to_string()),
            team_href: tok
                .team_id
                .map_or_else(String::new, |id| team_href(&code, id)),
            team: if team.is_empty() {
                t.s("team-none")
            } else {
                team
            },
            assignment: match (tok.assignment_id, tok.assignment_status) {
                (Some(id), Some(s)) => format!("{id} · {}", assignment_status(s, &t)),
                _ => "—".into(),
            },
            andon: level_class(worst(
                &alerts,
                |s| matches!(s, Subject::Token { id, .. } if *id == tok.token_id),
            )),
        })
        .collect();
    let drawn = NodePage {
        t,
        p: &p,
        back: format!("/tenants/{}", url_segment(&code)),
        at: time(at),
        at_text: t.date_time(at),
        timezone: tz.name().to_string(),
        node_id: node,
        label,
        graph_data: matches!(graph, Some(Ok(_))),
        graph: match graph {
            Some(Ok(name)) => name,
            Some(Err(id)) => t.f("heatmap-graph", &[("id", id.to_string().into())]),
            None => String::new(),
        },
        total: tokens.total,
        queued: tokens.queued,
        in_work: tokens.in_work,
        limit_note: limit.map_or_else(
            || t.s("node-no-limit"),
            |l| t.f("node-limit", &[("limit", int(l).into())]),
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
        alerts: about(&alerts, Subject::Node { id: node }, at, &t),
        more: tokens.total - tokens.tokens.len(),
        more_text: format!(
            "{} {}",
            t.f1("node-more", "shown", &int(tokens.tokens.len() as i64)),
            t.f1(
                "node-more-rest",
                "more",
                &int((tokens.total - tokens.tokens.len()) as i64)
            )
        ),
        rows,
        csv: format!(
            "/api/v1/tenants/{}/nodes/{node}/tokens?format=csv&lang={}",
            url_segment(&code),
            t.lang().code()
        ),
        code,
        assets: assets::VERSION,
    }
    .render();
    page(&p, drawn)
}

/// `GET /tenants/{code}/teams/{id}`.
pub async fn team_page(
    State(app): State<App>,
    Path((code, team)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let p = super::prefs(&app, &uri, &headers);
    let t = p.t();
    let Ok(team) = team.trim().parse::<i64>() else {
        return bad_id(&p, "msg-bad-team", &team);
    };
    let live = app.live.clone();
    let Some(key) = live.key_of(&code) else {
        return gone(&p, &code);
    };
    let tz = live.timezone();
    let at = local_time(now_secs(), tz);
    let alerts = match alerts_at(&live, &key, at) {
        Ok((_, a)) => a,
        Err(NoAlerts::Loading(c)) => return loading(&p, &c),
        Err(NoAlerts::Unknown) => return gone(&p, &code),
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
        Err(_) => return gone(&p, &code),
    };
    let Some(known) = known else {
        return message(
            StatusCode::NOT_FOUND,
            &p,
            &t.s("msg-unknown-team-title"),
            &t.f(
                "msg-unknown-team",
                &[("code", code.into()), ("id", team.to_string().into())],
            ),
            "",
        );
    };
    let tokens: i64 = ops
        .operators
        .iter()
        .map(|o| o.active_tokens + o.waiting_tokens)
        .sum();
    let drawn = TeamPage {
        t,
        p: &p,
        back: format!("/tenants/{}", url_segment(&code)),
        at: time(at),
        at_text: t.date_time(at),
        timezone: tz.name().to_string(),
        team_id: team,
        label: known.name.clone().unwrap_or_else(|| format!("#{team}")),
        category: known.team_category.clone().unwrap_or_default(),
        tokens: int(tokens),
        capacity_note: t.f("team-capacity", &[("n", int(ops.capacity).into())]),
        andon: level_class(worst(&alerts, |s| *s == Subject::Team { id: team })),
        alerts: about(&alerts, Subject::Team { id: team }, at, &t),
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
            "/api/v1/tenants/{}/teams/{team}/operators?format=csv&lang={}",
            url_segment(&code),
            t.lang().code()
        ),
        code,
        assets: assets::VERSION,
    }
    .render();
    page(&p, drawn)
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
        let (status, _, page) = get(&app, "/tenants/ACME?lang=en", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(r#"data-kind="wip_limit" data-subject="node:1" data-level="red""#),
            "{page}"
        );
        // The alert in words: its level, what it is, where, the figure against the limit.
        let row = &page[page.find(r#"data-subject="node:1""#).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        for words in ["Red", "Over its WIP limit", "3 pieces", "2 pieces", "for "] {
            assert!(row.contains(words), "{words} in {row}");
        }
        assert!(
            page.contains(r#"<tr data-node="1" class="andon-red">"#),
            "{page}"
        );
        assert!(page.contains(r#"href="/tenants/ACME/nodes/1""#));
        assert!(
            page.contains(r#"<caption translate="no">Classic tote bag</caption>"#)
                && page.contains("<caption>Route 20</caption>"),
            "the heat map names its graphs: {page}"
        );
        assert!(
            page.contains(r#"href="/api/v1/tenants/ACME/alerts?format=csv&#38;lang=en""#),
            "{page}"
        );

        // The same in Thai.
        let (_, _, page) = get(&app, "/tenants/ACME?lang=th", &[]).await;
        let row = &page[page.find(r#"data-subject="node:1""#).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        for words in ["แดง", "งานค้างเกินขีดจำกัด", "3 ชิ้น", "2 ชิ้น", "นาน "]
        {
            assert!(row.contains(words), "{words} in {row}");
        }
        assert!(page.contains("<caption>เส้นทาง 20</caption>"), "{page}");

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

        let (status, _, page) = get(&app, "/tenants/ACME/nodes/1?lang=en", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let order: Vec<usize> = ["data-token=\"2\"", "data-token=\"1\"", "data-token=\"3\""]
            .iter()
            .map(|t| page.find(t).unwrap_or_else(|| panic!("{t} in {page}")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest first");
        assert!(page.contains("data-total=\"3\""));
        assert!(page.contains("WIP limit 2"));
        assert!(page.contains("ทีมเย็บ ก"));
        assert!(page.contains(r#"<html lang="en""#));
        // In Thai, dark when asked: the dashboard's words and switches.
        let (status, headers, page) =
            get(&app, "/tenants/ACME/nodes/1?lang=th&theme=dark", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(r#"<html lang="th" data-theme="dark""#),
            "{page}"
        );
        assert!(page.contains("ขีดจำกัด 2 ชิ้น"), "{page}");
        assert!(page.contains("ชิ้นงานที่สถานี"), "{page}");
        assert!(page.contains("data-switch=\"lang\""), "{page}");
        assert!(
            headers
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("flowtally_lang=th")),
            "the choice is remembered"
        );
        assert!(page.contains(r#"/api/v1/tenants/ACME/nodes/1/tokens?format=csv&#38;lang=th"#));

        let (status, _, page) = get(&app, "/tenants/ACME/teams/7?lang=th", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("data-operator=\"100\""), "{page}");
        assert!(page.contains("ช่างในทีม"), "{page}");
        let (status, _, page) = get(&app, "/tenants/ACME/teams/x?lang=en", &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("is not a number"), "{page}");
        assert_eq!(
            get(&app, "/tenants/ACME/teams/99", &[]).await.0,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_wall_shows_as_many_alerts_as_it_counts_out() {
        let css = super::super::assets::get("dashboard.css").map(|(css, _)| css);
        let rule = format!(
            ".wall table.alerts tbody tr:nth-child(n+{}) {{ display: none; }}",
            super::WALL_ROWS + 1
        );
        assert!(css.is_some_and(|c| c.contains(&rule)), "{rule}");
    }

    #[tokio::test]
    async fn wip_and_completions_against_yesterday_at_this_time() {
        let now = chrono::Utc::now().timestamp();
        let app = router(now);
        for (lang, yesterday) in [("en", "yesterday "), ("th", "เมื่อวาน ")] {
            let (_, _, page) = get(&app, &format!("/tenants/ACME?lang={lang}"), &[]).await;
            // (yesterday's figure, the words)
            let compare = |kpi: &str| {
                let k = &page[page.find(&format!("data-kpi=\"{kpi}\"")).unwrap()..];
                let k = &k[..k.find("</li>").unwrap()];
                let c = k
                    .find("data-compare=\"")
                    .map(|i| &k[i + "data-compare=\"".len()..]);
                c.map(|c| {
                    let (then, rest) = c.split_once("\">").unwrap();
                    (
                        then.to_string(),
                        rest[..rest.find('<').unwrap()].to_string(),
                    )
                })
            };
            // The factory: 8 live tokens and 2 assignments completed today; the history kept
            // WIP 6 and 40 completed at yesterday's quarter hours.
            let (then, wip) = compare("wip").expect("WIP against yesterday");
            assert_eq!(then, "6");
            assert!(
                wip.starts_with(yesterday) && wip.ends_with(": 6 (+2)"),
                "{wip}"
            );
            let (then, done) = compare("completed_today").expect("completions against yesterday");
            assert_eq!(then, "40");
            assert!(done.ends_with(": 40 (-38)"), "{done}");
            assert_eq!(compare("queued"), None);
        }
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

        // With the page's language (what its links ask for): headers and word values for
        // people; numbers, instants and the ERP's names as they are.
        let (status, _, body) =
            get(&app, "/api/v1/tenants/ACME/alerts?format=csv&lang=th", &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let text = body.strip_prefix('\u{feff}').expect("the BOM first");
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header[..2], ["ระดับ", "เรื่อง"], "{header:?}");
        let wip = r
            .records()
            .map(|x| x.unwrap())
            .find(|x| &x[1] == "งานค้างเกินขีดจำกัด")
            .expect("the WIP alert, in Thai");
        assert_eq!((&wip[0], &wip[6], &wip[7]), ("แดง", "3.00", "2.00"));
        assert!(
            chrono::NaiveDateTime::parse_from_str(&wip[8], "%Y-%m-%d %H:%M:%S").is_ok(),
            "{:?}",
            &wip[8]
        );
        let (_, _, body) = get(
            &app,
            "/api/v1/tenants/ACME/workload?format=csv&lang=en",
            &[],
        )
        .await;
        assert!(body.starts_with("\u{feff}Team id,Team,Category,"), "{body}");
        let (status, _, body) = get(
            &app,
            "/api/v1/tenants/ACME/workload?format=csv&lang=fr",
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("lang=th or lang=en"), "{body}");
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
