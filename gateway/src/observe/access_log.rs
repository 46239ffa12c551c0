//! The access log: server errors at WARN, everything else at DEBUG, inside the request's
//! span.
//!
//! Metrics count every request by route and status; a line per request at INFO would cost
//! the gateway about a tenth of its CPU at high rates (`make bench`).
//! `RUST_LOG=gateway=debug` shows them all.

use std::time::Duration;

use axum::http::Method;
use tracing::{Level, debug, enabled, warn};

/// Logs one answered request. Whether DEBUG is on is asked first, so a request that is not
/// logged costs no formatting.
pub fn log(method: &Method, path: &str, route: &str, status: u16, elapsed: Duration) {
    let elapsed_ms = elapsed.as_secs_f64() * 1e3;
    if status >= 500 {
        warn!(method = %method, route = %route, path = %path, status, elapsed_ms, "request");
    } else if enabled!(Level::DEBUG) {
        debug!(method = %method, route = %route, path = %path, status, elapsed_ms, "request");
    }
}
