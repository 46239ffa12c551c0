//! The access log: server errors at WARN (summed: [`super::server_errors`]), everything else
//! at DEBUG, each line with the request id (the request's span exists only at DEBUG or when traces are exported: see
//! [`super::span`]).
//!
//! Metrics count every request by route and status; a line per request at INFO would cost
//! the gateway a large share of its CPU at high rates (figures in `docs/bench.md`).
//! `RUST_LOG=gateway=debug` shows them all.

use std::time::Duration;

use axum::http::Method;
use tower_http::request_id::RequestId;
use tracing::{Level, debug, enabled, warn};

use super::server_errors::{SUM_EVERY, ServerErrors};
use crate::request_id;

/// What one answered request was.
#[derive(Debug)]
pub struct Line<'a> {
    /// Its id (read as text only when a line is written).
    pub request_id: Option<&'a RequestId>,
    /// The method.
    pub method: &'a Method,
    /// The path as sent.
    pub path: &'a str,
    /// The matched route template, or the fixed label of an unmatched request.
    pub route: &'a str,
    /// The response's status.
    pub status: u16,
    /// From the request's arrival to its response.
    pub elapsed: Duration,
}

/// Logs one answered request: a 5xx at WARN, summed per route and status by `errors`; any
/// other at DEBUG. Whether DEBUG is on is asked first, so a request that is not logged costs
/// no formatting.
pub fn log(line: &Line<'_>, errors: &ServerErrors) {
    let Line {
        request_id: id,
        method,
        path,
        route,
        status,
        elapsed,
    } = *line;
    let elapsed_ms = elapsed.as_secs_f64() * 1e3;
    if status >= 500 {
        if let Some(count) = errors.record_now(route, status, "request") {
            let request_id = request_id::text(id);
            warn!(request_id, method = %method, route = %route, path = %path, status, elapsed_ms, count, every_secs = SUM_EVERY.as_secs(), "request");
        }
    } else if enabled!(Level::DEBUG) {
        let request_id = request_id::text(id);
        debug!(request_id, method = %method, route = %route, path = %path, status, elapsed_ms, "request");
    }
}
