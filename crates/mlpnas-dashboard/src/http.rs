//! The HTTP side: a fixed table of assets compiled into the binary, the JSON API, and the
//! checks every response passes (GET only, the Host header on a loopback bind, no sniffing).
//!
//! API (all GET, JSON):
//! - `/api/runs`: `{ runs: [RunInfo], errors: [line] }`.
//! - `/api/runs/{id}?from=N&version=V`: `{ info, from, trials, epochs, leaderboard, bigrams,
//!   front }` (`front`: the trials of a multi-objective run's Pareto front)
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
pub fn router(shared: Arc<Shared>, loopback: Option<u16>) -> Router {
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
async fn guard(req: Request, next: Next, loopback: Option<u16>) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "the dashboard is read-only: GET only");
    }
    if let Some(port) = loopback {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !is_loopback_host(host, port) {
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

/// The whole answer to a connection beyond the limit of open connections (written at once, then
/// the connection is closed).
pub const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 74\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{\"error\":\"the dashboard has too many connections open; try again shortly\"}";

/// Whether a request's `Host` is this loopback dashboard itself: exactly `localhost`,
/// `127.0.0.1` or `[::1]`, alone or with the port it listens on. Anything else (`127.evil.com`,
/// `127.0.0.1.nip.io`, `localhost.example`) may be a name an attacker's DNS points at 127.0.0.1
/// (DNS rebinding), whose pages must not read the runs.
pub fn is_loopback_host(host: &str, port: u16) -> bool {
    let (name, given) = match host.rsplit_once(':') {
        Some((name, p)) if !p.contains(']') => (name, Some(p)),
        _ => (host, None),
    };
    let name_ok = name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]";
    name_ok && given.is_none_or(|p| p.parse::<u16>() == Ok(port) && !p.starts_with('+') && !p.starts_with('0'))
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
        "front": v.front(),
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

#[cfg(test)]
mod tests {
    use super::{BUSY, is_loopback_host};

    #[test]
    fn the_busy_answer_is_a_whole_response() {
        let text = std::str::from_utf8(BUSY).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("Content-Length: {}", body.len())), "{head}");
        assert!(serde_json::from_str::<serde_json::Value>(body).expect("json")["error"].is_string());
    }

    #[test]
    fn only_the_exact_loopback_names_pass() {
        for ok in ["localhost", "LocalHost", "127.0.0.1", "[::1]", "localhost:8080", "127.0.0.1:8080", "[::1]:8080"] {
            assert!(is_loopback_host(ok, 8080), "{ok}");
        }
        for bad in [
            "127.evil.com:8080",
            "127.evil.com",
            "127.0.0.1.nip.io:8080",
            "127.0.0.1.nip.io",
            "localhost.evil.com:8080",
            "evil.localhost:8080",
            "127.0.0.2:8080",
            "127.1:8080",
            "[::1].evil.com:8080",
            "[::ffff:127.0.0.1]:8080",
            "localhost:8081",
            "localhost:08080",
            "localhost:",
            "attacker.example:80",
            "",
        ] {
            assert!(!is_loopback_host(bad, 8080), "{bad}");
        }
    }
}
