//! The HTTP surface of `flowtally run`: health, Prometheus metrics, live JSON reads of the
//! in-memory tenant states, and the Production Dashboard.
//!
//! - `GET /healthz`, `/livez`, `/readyz` ([`health`]): the report (200 while streaming and
//!   caught up, else 503 with a reason), liveness, readiness.
//! - `GET /metrics` ([`metrics`]): the Prometheus text exposition format.
//! - `GET /api/v1/tenants[/{code}[/{view}]]` ([`api`]): the tenants, and one view of one tenant
//!   at the current second, computed from its live state (`?format=csv`: [`export`]).
//! - `GET /api/v1/tenants/{code}/alerts`, `/history`, `/nodes/{id}/tokens`,
//!   `/teams/{id}/operators` ([`floor`]): the floor's alerts and drill-downs.
//! - `GET /`, `/tenants/{code}`, `/tenants/{code}/events`, `/login` ([`dashboard`]): the
//!   dashboard pages and their live updates.
//!
//! Every request but `/healthz`, `/login`, `/logout` and `/assets/…` (and `/metrics` unless
//! protected) passes [`guard`]: with `[[http.access]]` entries it needs a credential
//! ([`access`]), and a path naming a tenant needs a credential that reads that tenant (403
//! otherwise, whether the tenant exists or not). TLS is [`tls`].
//!
//! Nothing here writes. A tenant's map entry is held only while one view (or its row counts) is
//! computed, never across an await, so readers delay the applier by at most that long.

pub mod access;
pub mod api;
pub mod dashboard;
pub mod export;
pub mod floor;
pub mod health;
pub mod metrics;
pub mod session_key;
pub mod tls;

use std::sync::Arc;

use axum::extract::{FromRef, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use self::access::{Access, Grant, HttpConfig, Verdict};
use self::dashboard::feed::Feeds;
use self::dashboard::i18n::Lang;
use self::dashboard::prefs::Prefs;
use self::session_key::SessionKey;
use crate::live::LiveView;
use crate::shutdown::Shutdown;

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    pub live: LiveView,
    pub access: Arc<Access>,
    pub feeds: Arc<Feeds>,
    /// `[http] language`: the pages' language when a request asks for none we speak.
    pub language: Lang,
}

impl FromRef<App> for LiveView {
    fn from_ref(app: &App) -> LiveView {
        app.live.clone()
    }
}

/// Serves the API on `listener` until the process ends, without access control.
pub async fn serve(listener: tokio::net::TcpListener, live: LiveView) -> std::io::Result<()> {
    axum::serve(listener, router(live)).await
}

/// Why the HTTP server stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The TLS certificate or key does not load (the message names the key).
    #[error("{0}")]
    Tls(String),
    #[error("the HTTP listener failed")]
    Listener(#[source] std::io::Error),
}

/// Serves everything on `listener` with `[http]`'s access control and TLS, until `shutdown`
/// fires; then live updates end and requests under way are finished.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    live: LiveView,
    cfg: HttpConfig,
    key: SessionKey,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let app = routes(live, &cfg, key, shutdown.clone());
    let stopped = shutdown.fired_owned();
    match &cfg.tls {
        Some(files) => {
            let acceptor = tls::acceptor(files).map_err(ServeError::Tls)?;
            let listener =
                tls::TlsListener::new(listener, acceptor).map_err(ServeError::Listener)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
                .map_err(ServeError::Listener)
        }
        None => axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
            .map_err(ServeError::Listener),
    }
}

/// The routes without access control (as with no `[[http.access]]` entry).
pub fn router(live: LiveView) -> Router {
    router_with(live, &HttpConfig::default())
}

/// The routes, served until the process ends.
pub fn router_with(live: LiveView, cfg: &HttpConfig) -> Router {
    routes(live, cfg, SessionKey::random(), Shutdown::never())
}

/// The routes; live updates end when `shutdown` fires.
fn routes(live: LiveView, cfg: &HttpConfig, key: SessionKey, shutdown: Shutdown) -> Router {
    let app = App {
        feeds: Feeds::new(live.clone(), shutdown),
        live,
        access: Arc::new(Access::new(cfg, key)),
        language: cfg.language,
    };
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route("/session", post(renew_session))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/tenants", get(tenants))
        .route("/api/v1/tenants/{code}", get(api::tenant))
        .route("/api/v1/tenants/{code}/{view}", get(api::tenant_view))
        .route("/api/v1/tenants/{code}/alerts", get(floor::alerts))
        .route("/api/v1/tenants/{code}/history", get(floor::history))
        .route(
            "/api/v1/tenants/{code}/nodes/{id}/tokens",
            get(floor::node_tokens),
        )
        .route(
            "/api/v1/tenants/{code}/teams/{id}/operators",
            get(floor::team_ops),
        )
        .merge(dashboard::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// `POST /session`: the request's session cookie re-issued for another
/// [`access::SESSION_SECS`] (an open page calls it every hour, so a wall screen never signs
/// out); 204 without a body. A request that passed the guard otherwise (a bearer token, or no
/// access control) has no session to renew: 204 and nothing set.
async fn renew_session(State(app): State<App>, headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = app.access.renewed_cookie(&headers, now_secs()) {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

/// `GET /api/v1/tenants`: the tenants this credential may read.
async fn tenants(State(live): State<LiveView>, Extension(grant): Extension<Grant>) -> Response {
    let list: Vec<api::TenantInfo> = api::tenant_list(&live)
        .into_iter()
        .filter(|t| grant.may_read(&t.code))
        .collect();
    Json(list).into_response()
}

/// Paths open to anyone who reaches the listener.
fn is_open(path: &str, access: &Access) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/login" | "/logout"
    ) || path.starts_with("/assets/")
        || (path == "/metrics" && !access.protect_metrics)
}

/// Access control for every request: who it is ([`Access::check`]), and whether it may read
/// the tenant its path names. The [`Grant`] goes to the handler as an extension.
async fn guard(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_open(&path, &app.access) {
        return next.run(req).await;
    }
    let grant = match app.access.check(req.headers(), now_secs()).await {
        Verdict::Granted(g) => g,
        verdict => return unauthenticated(&req, &path, verdict),
    };
    let p = Prefs::read(&path, req.uri().query(), req.headers(), app.language);
    let t = p.t();
    if path == "/metrics" && !grant.reads_all() {
        return forbidden(
            &path,
            &p,
            "reading /metrics needs a credential for every tenant (\"*\")",
            &t.s("msg-forbidden-metrics"),
        );
    }
    if let Some(code) = dashboard::tenant_in_path(&path) {
        let Ok(code) = code else {
            return error(
                StatusCode::BAD_REQUEST,
                "the tenant code in the path is not UTF-8",
            );
        };
        if !grant.may_read(&code) {
            return forbidden(
                &path,
                &p,
                &format!("this credential may not read tenant '{code}'"),
                &t.f("msg-forbidden-tenant", &[("code", code.as_str().into())]),
            );
        }
        // A credential for some tenants learns nothing about the others: not even their codes
        // (the API's 404 lists the served tenants).
        if !grant.reads_all() && app.live.key_of(&code).is_none() {
            return if dashboard::is_page(&path) {
                dashboard::message(
                    StatusCode::NOT_FOUND,
                    &p,
                    &t.s("msg-unknown-title"),
                    &t.f("msg-unknown", &[("code", code.as_str().into())]),
                    "",
                )
            } else {
                error(StatusCode::NOT_FOUND, format!("unknown tenant '{code}'"))
            };
        }
    }
    req.extensions_mut().insert(grant);
    next.run(req).await
}

/// No credential, or a bad one: people on a page go to the login form; programs get 401.
fn unauthenticated(req: &Request, path: &str, verdict: Verdict) -> Response {
    let from_header = req.headers().contains_key(header::AUTHORIZATION);
    if req.method() == Method::GET && dashboard::is_page(path) && !from_header {
        let next = req
            .uri()
            .path_and_query()
            .map_or(path, |p| p.as_str())
            .to_string();
        let target = format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        return Redirect::to(&target).into_response();
    }
    let message = match verdict {
        Verdict::Missing => {
            "a credential is needed: Authorization: Bearer <token>, HTTP Basic, or log in at /login"
        }
        _ => "the credential was not accepted",
    };
    let mut r = error(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"flowtally\""),
    );
    r
}

/// 403: for people, a page in their language (`said`); for programs, `why` as JSON.
fn forbidden(path: &str, p: &Prefs, why: &str, said: &str) -> Response {
    if dashboard::is_page(path) {
        dashboard::message(
            StatusCode::FORBIDDEN,
            p,
            &p.t().s("msg-forbidden-title"),
            said,
            "",
        )
    } else {
        error(StatusCode::FORBIDDEN, why)
    }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint: use /, /tenants/{code}, /healthz, /metrics, /api/v1/tenants, \
         /api/v1/tenants/{code}/{view}, /api/v1/tenants/{code}/alerts or \
         /api/v1/tenants/{code}/nodes/{id}/tokens",
    )
}
