//! The access log: server errors at WARN, everything else at DEBUG, inside the request's
//! span.
//!
//! Metrics count every request by route and status; a line per request at INFO would cost
//! the gateway about a tenth of its CPU at high rates (`make bench`).
//! `RUST_LOG=gateway=debug` shows them all.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::{debug, warn};

use super::route;

/// Logs the request once its response is ready.
pub async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let route = route::of(&response);
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    if status >= 500 {
        warn!(method = %method, route = %route, path = %path, status, elapsed_ms, "request");
    } else {
        debug!(method = %method, route = %route, path = %path, status, elapsed_ms, "request");
    }
    response
}
