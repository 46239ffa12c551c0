//! Counts every request and times it, by method, route and status
//! ([`crate::metrics::GatewayMetrics::observe`]).

use std::time::Duration;

use axum::http::Method;

use super::RouteLabel;
use crate::state::AppState;

/// Records one answered request.
pub fn record(
    state: &AppState,
    method: &Method,
    route: RouteLabel,
    status: u16,
    elapsed: Duration,
) {
    state
        .metrics
        .observe(method.as_str(), route, status, elapsed);
}
