//! The HTTP side: a fixed table of assets compiled into the binary, the JSON API, and the
//! checks every response passes (GET only, the Host header on a loopback bind, no sniffing).
//!
//! API (all GET, JSON):
//! - `/api/runs`: `{ runs: [RunInfo], errors: [line] }`.
//! - `/api/runs/{id}?from=N&version=V`: `{ info, from, trials, epochs, leaderboard, bigrams }`
//!   with the run's trials from index `from` on (the client keeps its first `from` trials and
//!   appends these), or `{ info, unchanged: true }` when the run's version is still `V`.
//! - `/api/runs/{id}/trials/{n}`: one trial's record.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

use crate::Shared;

/// The assets: URL path, content type, bytes. Nothing else is served from outside the API.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/", "text/html; charset=utf-8", include_bytes!("../assets/index.html")),
    ("/app.js", "text/javascript; charset=utf-8", include_bytes!("../assets/app.js")),
    ("/app.css", "text/css; charset=utf-8", include_bytes!("../assets/app.css")),
    (
        "/vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/uPlot.iife.min.js"),
    ),
    ("/vendor/uPlot.min.css", "text/css; charset=utf-8", include_bytes!("../assets/vendor/uPlot.min.css")),
    ("/vendor/LICENSE.uPlot", "text/plain; charset=utf-8", include_bytes!("../assets/vendor/LICENSE.uPlot")),
];

/// The router over `shared`; `loopback` (bound to a loopback address) turns on the Host check
/// that keeps other sites' pages from reading the API through a rebinding DNS name.
pub fn router(shared: Arc<Shared>, loopback: bool) -> Router {
    let mut r = Router::new()
        .route("/api/runs", get(list))
        .route("/api/runs/{id}", get(run))
        .route("/api/runs/{id}/trials/{n}", get(trial));
    for &(path, kind, bytes) in ASSETS {
        r = r.route(path, get(move || async move { ([(header::CONTENT_TYPE, kind)], bytes) }));
    }
    r.fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn(move |req, next| guard(req, next, loopback)))
        .with_state(shared)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Read-only, and on a loopback bind only for a loopback Host; every response unsniffable and
/// limited to its own origin.
async fn guard(req: Request, next: Next, loopback: bool) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "the dashboard is read-only: GET only");
    }
    if loopback {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.split(':').next().unwrap_or(""),
        };
        if !matches!(name, "localhost" | "127.0.0.1" | "::1") && !name.starts_with("127.") {
            return error(StatusCode::FORBIDDEN, "this dashboard answers only to localhost (see --host)");
        }
    }
    let api = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn list(State(s): State<Arc<Shared>>) -> Response {
    let runs: Vec<_> = s.runs().iter().map(|e| e.view.read().unwrap_or_else(|e| e.into_inner()).info.clone()).collect();
    Json(json!({ "runs": runs, "errors": s.source_errors() })).into_response()
}

async fn run(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(e) = s.run(&id) else {
        return error(StatusCode::NOT_FOUND, &format!("no run named {id:?} here"));
    };
    let number = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    let v = e.view.read().unwrap_or_else(|e| e.into_inner());
    if number("version") == Some(v.info.version) {
        return Json(json!({ "info": v.info, "unchanged": true })).into_response();
    }
    let from = (number("from").unwrap_or(0) as usize).min(v.records.len());
    Json(json!({
        "info": v.info,
        "from": from,
        "trials": &v.records[from..],
        "epochs": v.epochs,
        "leaderboard": v.leaderboard,
        "bigrams": v.bigrams(),
    }))
    .into_response()
}

async fn trial(State(s): State<Arc<Shared>>, Path((id, n)): Path<(String, String)>) -> Response {
    let Some(e) = s.run(&id) else {
        return error(StatusCode::NOT_FOUND, &format!("no run named {id:?} here"));
    };
    let v = e.view.read().unwrap_or_else(|e| e.into_inner());
    match n.parse::<usize>().ok().and_then(|n| v.records.get(n)) {
        Some(r) => Json(json!({ "info": v.info, "trial": r })).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("run {id:?} has no trial {n:?}")),
    }
}
