//! The Production Dashboard, served by `flowtally run` itself: the tenant list (`/`), one
//! tenant's dashboard (`/tenants/{code}`), its live updates (`/tenants/{code}/events`,
//! server-sent events, once a second), the login page, and the static assets, all compiled
//! into the binary (nothing is fetched from elsewhere, no web font).
//!
//! - [`model`]: the figures at instant T, from the five views' rows at T (the `/api/v1` rows);
//! - [`render`]: HTML from askama templates (`templates/`), section by section;
//! - [`charts`]: SVG charts (plotters);
//! - [`feed`]: one live feed per watched tenant, shared by its clients;
//! - [`floor`]: the alert list, the node and team drill-down pages, the CSV links.
//!
//! A tenant's map entry is held only while its views are computed and its names copied, never
//! across an await; rendering happens after it is released.

pub mod charts;
pub mod feed;
pub mod floor;
pub mod model;
pub mod render;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use self::model::{Dashboard, Inputs, Level, Names};
use self::render::{TenantLine, Viewer};
use super::access::Grant;
use super::health::health;
use super::{now_secs, App};
use crate::http::api::tenant_list;
use crate::live::{LiveView, TenantKey};
use crate::model::andon::evaluate::Facts;
use crate::model::clock::local_time;
use crate::model::View;

/// The page routes (the guard in [`super`] has checked the credential and the tenant).
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(index))
        .route("/fragments/tenants", get(tenant_rows))
        .route("/tenants/{code}", get(page))
        .route("/tenants/{code}/events", get(events))
        .route("/tenants/{code}/nodes/{id}", get(floor::node_page))
        .route("/tenants/{code}/teams/{id}", get(floor::team_page))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/assets/{file}", get(asset))
}

/// A tenant's dashboard at one instant, or why there is none.
pub enum Computed {
    Ready(Box<Dashboard>),
    Loading(String),
    Unknown,
}

/// Tenant `key`'s dashboard at `now` (epoch seconds), from the same `state.view` as the API.
pub fn compute(live: &LiveView, key: &TenantKey, now: i64) -> Computed {
    let at = local_time(now, live.timezone());
    let (code, snapshot, names, history, facts, day_before) = {
        let Some(slot) = live.get(key) else {
            return Computed::Unknown;
        };
        let Some(ready) = slot.ready() else {
            return Computed::Loading(slot.code.clone());
        };
        let snapshot = ready.state.view(at, &model::VIEWS);
        let names = Names::of(ready.state.dims(), &snapshot);
        // The alerts read the same rows the page shows.
        let facts = Facts::gather(
            &ready.state,
            at,
            model::bottleneck_rows(&snapshot),
            model::workload_rows(&snapshot),
            live.andon().limits(),
        );
        (
            slot.code.clone(),
            snapshot,
            names,
            ready.history.iter().copied().collect(),
            facts,
            ready.history.day_before(now),
        )
    };
    let alerts = live.andon().observe(key, &code, &facts);
    Computed::Ready(Box::new(model::build(Inputs {
        code,
        snapshot,
        names,
        history,
        report: live.status().report(),
        now,
        timezone: live.timezone(),
        alerts,
        day_before,
    })))
}

fn loading_notice(code: &str) -> String {
    format!(
        "<p class=\"notice notice-info\" data-notice=\"loading\" role=\"status\">Tenant {} is \
         being loaded from its source tables; its figures appear when the load is done.</p>",
        render::escape(code)
    )
}

fn viewer(grant: &Grant, live: &LiveView) -> Viewer {
    let r = live.status().report();
    Viewer {
        entry: grant.entry.clone(),
        instance: format!("{} · {}", r.instance, r.role.label()),
    }
}

/// HTML with the headers every page gets: no caching (the figures are live) and a strict
/// content security policy (only this origin's script and style; no inline script).
pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Html(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    security_headers(h);
    r
}

pub fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A page that says why there is nothing to show.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, render::message_page(title, text, assets::VERSION))
}

fn tenant_lines(live: &LiveView, grant: &Grant, now: i64) -> Vec<TenantLine> {
    let report = live.status().report();
    let at = local_time(now, live.timezone());
    tenant_list(live)
        .into_iter()
        .filter(|t| grant.may_read(&t.code))
        .map(|t| {
            let wip = t.database.as_deref().and_then(|db| {
                let slot = live.get(&TenantKey::of_db(db))?;
                let ready = slot.ready()?;
                let snap = ready.state.view(at, &[View::Summary]);
                Some(model::wip_and_queued(model::summary_rows(&snap)).0)
            });
            let (state, state_text) = match (&t.problem, t.loading, t.database.is_some()) {
                (Some(p), _, _) => ("problem", format!("problem: {p}")),
                (None, true, _) => ("loading", "loading".to_string()),
                (None, false, true) => ("serving", "serving".to_string()),
                (None, false, false) => ("problem", "not served".to_string()),
            };
            TenantLine {
                href: if t.database.is_some() {
                    format!("/tenants/{}", render::url_segment(&t.code))
                } else {
                    String::new()
                },
                last_snapshot: report.writes.last_by_tenant.get(&t.code).map_or_else(
                    || "none yet".into(),
                    |e| render::time(local_time(*e, live.timezone())),
                ),
                wip: wip.map_or_else(|| "—".into(), render::int),
                code: t.code,
                state,
                state_text,
            }
        })
        .collect()
}

fn service_line(live: &LiveView, now: i64) -> (Level, String) {
    let r = live.status().report();
    match health(&r, now) {
        Ok(()) => (
            Level::Info,
            format!(
                "Streaming from the ERP's binlog, caught up (lag {} s).",
                r.lag_secs(now)
            ),
        ),
        Err(u) => (
            if u.reason == "connecting" || u.reason == "recomputing" {
                Level::Info
            } else {
                Level::Warn
            },
            format!("{}: {}", u.reason, u.detail),
        ),
    }
}

async fn index(State(app): State<App>, Extension(grant): Extension<Grant>) -> Response {
    let now = now_secs();
    let lines = tenant_lines(&app.live, &grant, now);
    match render::index_page(
        &lines,
        service_line(&app.live, now),
        &viewer(&grant, &app.live),
        assets::VERSION,
    ) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    }
}

async fn tenant_rows(State(app): State<App>, Extension(grant): Extension<Grant>) -> Response {
    let lines = tenant_lines(&app.live, &grant, now_secs());
    match render::tenant_rows(&lines) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    }
}

async fn page(
    State(app): State<App>,
    Extension(grant): Extension<Grant>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(key) = app.live.key_of(&code) else {
        return message(
            StatusCode::NOT_FOUND,
            "Unknown tenant",
            &format!("No tenant '{code}' is served here."),
        );
    };
    let now = now_secs();
    let live = app.live.clone();
    let k = key.clone();
    // Off the runtime's threads, as the feed does.
    let computed = tokio::task::spawn_blocking(move || compute(&live, &k, now)).await;
    let mut response = match computed {
        Ok(Computed::Ready(d)) => {
            match render::dashboard_page(&d, &viewer(&grant, &app.live), assets::VERSION) {
                Ok(body) => html(StatusCode::OK, body),
                Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
            }
        }
        Ok(Computed::Loading(code)) => {
            let mut r = message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Loading",
                &format!(
                    "Tenant {code} is being loaded from its source tables; this page reloads \
                     in 5 seconds."
                ),
            );
            r.headers_mut()
                .insert(header::REFRESH, HeaderValue::from_static("5"));
            r
        }
        Ok(Computed::Unknown) => message(
            StatusCode::NOT_FOUND,
            "Unknown tenant",
            &format!("No tenant '{code}' is served here."),
        ),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    };
    if let Some(cookie) = app.access.renewed_cookie(&headers, now) {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

async fn events(State(app): State<App>, Path(code): Path<String>) -> Response {
    let Some(key) = app.live.key_of(&code) else {
        return super::error(StatusCode::NOT_FOUND, format!("unknown tenant '{code}'"));
    };
    let mut r = app.feeds.events(&key).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies must pass the events through as they come.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

#[derive(Debug, Default, serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a path on this site: `next` never sends a browser elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

async fn login_form(State(app): State<App>, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    if !app.access.enabled() {
        return Redirect::to(&next).into_response();
    }
    match render::login_page(&next, None, assets::VERSION) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
    }
}

async fn login(State(app): State<App>, body: Bytes) -> Response {
    let mut token = String::new();
    let mut user = String::new();
    let mut password = String::new();
    let mut next = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "token" => token = v.into_owned(),
            "user" => user = v.into_owned(),
            "password" => password = v.into_owned(),
            "next" => next = Some(v.into_owned()),
            _ => {}
        }
    }
    let next = safe_next(next.as_deref());
    if !app.access.enabled() {
        return Redirect::to(&next).into_response();
    }
    let now = now_secs();
    let cookie = match app.access.login(&token, &user, &password).await {
        Some(i) => app.access.session_cookie(i, now).map(|c| (i, c)),
        None => None,
    };
    match cookie.and_then(|(i, c)| Some((i, HeaderValue::from_str(&c).ok()?))) {
        Some((i, c)) => {
            tracing::info!(entry = app.access.entry_name(i), "http: logged in");
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut().insert(header::SET_COOKIE, c);
            r
        }
        None => match render::login_page(
            &next,
            Some("Not recognised: check the token, or the user name and password."),
            assets::VERSION,
        ) {
            Ok(body) => html(StatusCode::UNAUTHORIZED, body),
            Err(e) => message(StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string()),
        },
    }
}

async fn logout(State(app): State<App>) -> Response {
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&app.access.clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn asset(Path(file): Path<String>) -> Response {
    match assets::get(&file) {
        Some((body, kind)) => {
            let mut r = (StatusCode::OK, body).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            // The pages name assets with ?v=<hash of the contents>: safe to keep a day.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        None => super::error(StatusCode::NOT_FOUND, format!("no asset '{file}'")),
    }
}

/// Whether a path is one of the pages (HTML for people), as opposed to the API, the event
/// stream, `/metrics`: a missing credential there is a redirect to the login page.
pub fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/metrics"
        || path.ends_with("/events")
        || path.starts_with("/fragments/"))
}

/// The tenant code a path is about, percent-decoded as the router decodes it (`None` if the
/// path names none; `Some(Err)` if it cannot be decoded).
pub fn tenant_in_path(path: &str) -> Option<Result<String, ()>> {
    let rest = path
        .strip_prefix("/api/v1/tenants/")
        .or_else(|| path.strip_prefix("/tenants/"))?;
    let segment = rest.split('/').next().filter(|s| !s.is_empty())?;
    Some(percent_decode(segment))
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ())
}

pub mod assets {
    //! The dashboard's stylesheet and script, compiled in.

    const CSS: &str = include_str!("assets/dashboard.css");
    const JS: &str = include_str!("assets/dashboard.js");

    /// FNV-1a of both files, in hex: the `?v=` of their URLs, so a new build is fetched anew.
    pub const VERSION: &str = {
        const fn fnv(mut h: u64, s: &[u8]) -> u64 {
            let mut i = 0;
            while i < s.len() {
                h ^= s[i] as u64;
                h = h.wrapping_mul(0x100000001b3);
                i += 1;
            }
            h
        }
        const H: u64 = fnv(fnv(0xcbf29ce484222325, CSS.as_bytes()), JS.as_bytes());
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        const BYTES: [u8; 16] = {
            let mut out = [0u8; 16];
            let mut i = 0;
            while i < 16 {
                out[i] = DIGITS[((H >> (60 - 4 * i)) & 0xf) as usize];
                i += 1;
            }
            out
        };
        match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => "0",
        }
    };

    /// The body and content type of an asset.
    pub fn get(name: &str) -> Option<(&'static str, &'static str)> {
        match name {
            "dashboard.css" => Some((CSS, "text/css; charset=utf-8")),
            "dashboard.js" => Some((JS, "text/javascript; charset=utf-8")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn paths_name_their_tenant_as_the_router_decodes_it() {
        assert_eq!(tenant_in_path("/tenants/ACME"), Some(Ok("ACME".into())));
        assert_eq!(
            tenant_in_path("/tenants/AC%4DE/events"),
            Some(Ok("ACME".into()))
        );
        assert_eq!(
            tenant_in_path("/api/v1/tenants/acme/summary"),
            Some(Ok("acme".into()))
        );
        assert_eq!(tenant_in_path("/api/v1/tenants"), None);
        assert_eq!(tenant_in_path("/tenants/"), None);
        assert_eq!(tenant_in_path("/tenants/%ff"), Some(Err(())));
        assert_eq!(tenant_in_path("/tenants/50%"), Some(Ok("50%".into())));
        assert!(is_page("/tenants/A") && !is_page("/tenants/A/events") && !is_page("/api/v1/x"));
        assert_eq!(safe_next(Some("//evil")), "/");
        assert_eq!(safe_next(Some("/tenants/A")), "/tenants/A");
        assert_eq!(assets::VERSION.len(), 16);
    }
}
#[cfg(test)]
mod tests;
