//! The Production Dashboard, served by `flowtally run` itself: the tenant list (`/`), one
//! tenant's dashboard (`/tenants/{code}`), its live updates (`/tenants/{code}/events`,
//! server-sent events, once a second), the login page, and the static assets, all compiled
//! into the binary (nothing is fetched from elsewhere, no web font).
//!
//! - [`model`]: the figures at instant T, from the five views' rows at T (the `/api/v1` rows);
//! - [`render`]: HTML from askama templates (`templates/`), section by section;
//! - [`i18n`]: the words, in Thai and English (`locales/*.ftl`), dates and durations;
//! - [`prefs`]: the language, theme and wall-screen view a request asks for;
//! - [`charts`]: SVG charts (plotters);
//! - [`feed`]: one live feed per watched tenant, shared by its clients;
//! - [`floor`]: the alert list, the node and team drill-down pages, the CSV links.
//!
//! A tenant's map entry is held only while its views are computed and its names copied, never
//! across an await; rendering happens after it is released.

pub mod charts;
pub mod feed;
pub mod floor;
pub mod i18n;
pub mod model;
pub mod prefs;
pub mod render;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use self::i18n::Tr;
use self::model::{Dashboard, Inputs, Names};
use self::prefs::Prefs;
use self::render::{NoticeLine, TenantLine, Viewer};
use super::access::Grant;
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

/// The status section of a tenant without figures: `loading` (its load is under way) or
/// `gone` (no longer served).
fn placeholder_status(kind: &'static str, code: &str, t: &Tr) -> String {
    let line = match kind {
        "loading" => NoticeLine {
            level: "info",
            kind,
            text: t.f("notice-loading", &[("code", code.into())]),
            detail: String::new(),
        },
        _ => NoticeLine {
            level: "error",
            kind,
            text: t.s("notice-gone"),
            detail: String::new(),
        },
    };
    render::status_section(vec![line], t)
}

fn viewer(grant: &Grant) -> Viewer {
    Viewer {
        entry: grant.entry.clone(),
    }
}

/// Adds the `Set-Cookie` headers that remember a choice made by a link.
fn remember(response: &mut Response, p: &Prefs) {
    for c in &p.remember {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
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

/// A page that says why there is nothing to show, in the viewer's language: a title, a text,
/// and the service's own words (`detail`, English) if any.
pub fn message(status: StatusCode, p: &Prefs, title: &str, text: &str, detail: &str) -> Response {
    let mut r = html(
        status,
        render::message_page(title, text, detail, p, assets::VERSION),
    );
    remember(&mut r, p);
    r
}

/// The page for an error while drawing a page.
fn failed(p: &Prefs, e: &askama::Error) -> Response {
    let t = p.t();
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        p,
        &t.s("msg-error-title"),
        &t.s("msg-error"),
        &e.to_string(),
    )
}

fn tenant_lines(live: &LiveView, grant: &Grant, now: i64, t: &Tr) -> Vec<TenantLine> {
    let report = live.status().report();
    let at = local_time(now, live.timezone());
    tenant_list(live)
        .into_iter()
        .filter(|line| grant.may_read(&line.code))
        .map(|line| {
            let wip = line.database.as_deref().and_then(|db| {
                let slot = live.get(&TenantKey::of_db(db))?;
                let ready = slot.ready()?;
                let snap = ready.state.view(at, &[View::Summary]);
                Some(model::wip_and_queued(model::summary_rows(&snap)).0)
            });
            let (state, state_id, detail) =
                match (&line.problem, line.loading, line.database.is_some()) {
                    (Some(p), _, _) => ("problem", "state-problem", p.clone()),
                    (None, true, _) => ("loading", "state-loading", String::new()),
                    (None, false, true) => ("serving", "state-serving", String::new()),
                    (None, false, false) => ("problem", "state-not-served", String::new()),
                };
            TenantLine {
                href: if line.database.is_some() {
                    format!("/tenants/{}", render::url_segment(&line.code))
                } else {
                    String::new()
                },
                last_snapshot: report.writes.last_by_tenant.get(&line.code).map_or_else(
                    || t.s("eng-none-yet"),
                    |e| t.date_time(local_time(*e, live.timezone())),
                ),
                wip: wip.map_or_else(|| "—".into(), render::int),
                code: line.code,
                state,
                state_text: t.s(state_id),
                detail,
            }
        })
        .collect()
}

/// The index page's line about the service: live and caught up, or why not.
fn service_line(live: &LiveView, now: i64, t: &Tr) -> NoticeLine {
    let r = live.status().report();
    match model::service_notice(&r, now) {
        None => NoticeLine {
            level: "info",
            kind: "ok",
            text: t.f(
                "service-ok",
                &[("secs", render::int(r.lag_secs(now)).into())],
            ),
            detail: String::new(),
        },
        Some(n) if n.kind == "sink_failing" => NoticeLine {
            level: n.level.class(),
            kind: n.kind,
            text: t.f("service-sink-failing", &[("n", n.figure.into())]),
            detail: n.detail,
        },
        Some(n) => render::notice_line(&n, "", t),
    }
}

/// How the request asked the page to look (`[http] language` when it says nothing).
fn prefs(app: &App, uri: &Uri, headers: &HeaderMap) -> Prefs {
    Prefs::read(uri.path(), uri.query(), headers, app.language)
}

async fn index(
    State(app): State<App>,
    Extension(grant): Extension<Grant>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let p = prefs(&app, &uri, &headers);
    let t = p.t();
    let now = now_secs();
    let lines = tenant_lines(&app.live, &grant, now, &t);
    let mut r = match render::index_page(
        &lines,
        service_line(&app.live, now, &t),
        &p,
        &viewer(&grant),
        assets::VERSION,
    ) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => failed(&p, &e),
    };
    remember(&mut r, &p);
    r
}

async fn tenant_rows(
    State(app): State<App>,
    Extension(grant): Extension<Grant>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let p = prefs(&app, &uri, &headers);
    let t = p.t();
    let lines = tenant_lines(&app.live, &grant, now_secs(), &t);
    match render::tenant_rows(&lines, &t) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => failed(&p, &e),
    }
}

async fn page(
    State(app): State<App>,
    Extension(grant): Extension<Grant>,
    Path(code): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut p = prefs(&app, &uri, &headers);
    p.dashboard = true;
    let t = p.t();
    let unknown = |p: &Prefs, code: &str| {
        message(
            StatusCode::NOT_FOUND,
            p,
            &t.s("msg-unknown-title"),
            &t.f("msg-unknown", &[("code", code.into())]),
            "",
        )
    };
    let Some(key) = app.live.key_of(&code) else {
        return unknown(&p, &code);
    };
    let now = now_secs();
    let live = app.live.clone();
    let k = key.clone();
    // Off the runtime's threads, as the feed does.
    let computed = tokio::task::spawn_blocking(move || compute(&live, &k, now)).await;
    let mut response = match computed {
        Ok(Computed::Ready(d)) => {
            match render::dashboard_page(&d, &p, &viewer(&grant), assets::VERSION) {
                Ok(body) => {
                    let mut r = html(StatusCode::OK, body);
                    remember(&mut r, &p);
                    r
                }
                Err(e) => failed(&p, &e),
            }
        }
        Ok(Computed::Loading(code)) => {
            let mut r = message(
                StatusCode::SERVICE_UNAVAILABLE,
                &p,
                &t.s("msg-loading-title"),
                &t.f("msg-loading", &[("code", code.into())]),
                "",
            );
            r.headers_mut()
                .insert(header::REFRESH, HeaderValue::from_static("5"));
            r
        }
        Ok(Computed::Unknown) => unknown(&p, &code),
        Err(e) => message(
            StatusCode::INTERNAL_SERVER_ERROR,
            &p,
            &t.s("msg-error-title"),
            &t.s("msg-error"),
            &e.to_string(),
        ),
    };
    if let Some(cookie) = app.access.renewed_cookie(&headers, now) {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// The live updates of a tenant's dashboard, in the language of `?lang=` (the page's).
async fn events(
    State(app): State<App>,
    Path(code): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(key) = app.live.key_of(&code) else {
        return super::error(StatusCode::NOT_FOUND, format!("unknown tenant '{code}'"));
    };
    let lang = prefs(&app, &uri, &headers).lang;
    let mut r = app.feeds.events(&key, lang).into_response();
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

async fn login_form(
    State(app): State<App>,
    Query(q): Query<NextQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if !app.access.enabled() {
        return Redirect::to(&next).into_response();
    }
    let p = prefs(&app, &uri, &headers);
    let mut r = match render::login_page(&next, false, &p, assets::VERSION) {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => failed(&p, &e),
    };
    remember(&mut r, &p);
    r
}

async fn login(State(app): State<App>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
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
        None => {
            let p = prefs(&app, &uri, &headers);
            match render::login_page(&next, true, &p, assets::VERSION) {
                Ok(body) => html(StatusCode::UNAUTHORIZED, body),
                Err(e) => failed(&p, &e),
            }
        }
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
