//! What is seen of every request: its [`span`], and [`finish`], the layer that, once the
//! response is ready, in this order: takes the [`route`] (the proxy's match, or axum's matched
//! path for the gateway's own routes) and records it on the span, the [`metrics`] by route,
//! the [`access_log`] line (5xx lines summed by [`server_errors`]), a `Retry-After` on every
//! 503, and the JSON body of error responses ([`error_body`]), which carries the request id.
//! [`crate::router`] lists where these stand among the gateway's layers.
//!
//! The steps of [`finish`] are one middleware rather than four: each axum middleware clones
//! the service below it and boxes a future per request, which costs CPU per request
//! (`docs/bench.md`).

pub mod access_log;
pub mod error_body;
pub mod metrics;
pub mod route;
pub mod server_errors;
pub mod span;

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

pub use route::RouteLabel;

use crate::state::AppState;

/// Labels, counts, logs and renders the error body of every response.
pub async fn finish(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // Kept for the log line, after the handler has consumed the request (a shared copy).
    let uri = request.uri().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let id = error_body::id_of(request.extensions());
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    route::label(matched, &mut response);
    let route = route::of(&response);
    span::record_route(route.as_str());
    let status = response.status().as_u16();
    access_log::log(
        &access_log::Line {
            request_id: id.as_ref(),
            method: &method,
            path: uri.path(),
            route: route.as_str(),
            status,
            elapsed,
        },
        &state.server_errors,
    );
    metrics::record(&state, &method, route, status, elapsed);
    if status == 503 {
        crate::error::ensure_retry_after(&mut response);
    }
    error_body::render(response, id.as_ref())
}
