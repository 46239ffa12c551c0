//! Counts every request and times it, by method, route and status
//! ([`crate::metrics::GatewayMetrics::observe`]).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::route;
use crate::state::AppState;

/// Records the request once its response is ready.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    state.metrics.observe(
        method.as_str(),
        route::of(&response),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
