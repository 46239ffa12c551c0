//! The layers that wrap every request, composed in one place, outermost first:
//!
//! 1. [`crate::request_id::drop_invalid`], then tower-http's `SetRequestId` and
//!    `PropagateRequestId`: every request gets an id, echoed in the response;
//! 2. [`span`]: the request's span, a child of the client's `traceparent` (tower-http's
//!    `TraceLayer`);
//! 3. [`finish`]: once the response is ready, in this order: the [`route`] label, the
//!    [`metrics`] by route, the [`access_log`] line (5xx lines summed by [`server_errors`]),
//!    a `Retry-After` on every 503, and the JSON body of error responses ([`error_body`]),
//!    which carries the request id.
//!
//! The steps of 3 are one middleware rather than four: each axum middleware clones the
//! service below it and boxes a future per request, which `make bench` showed in the
//! gateway's CPU per request.

pub mod access_log;
pub mod error_body;
pub mod metrics;
pub mod route;
pub mod server_errors;
pub mod span;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub use route::RouteLabel;

use crate::request_id;
use crate::state::AppState;

/// Wraps `app` in the observing layers.
pub fn wrap(app: Router<AppState>, state: &AppState) -> Router<AppState> {
    app.layer(
        ServiceBuilder::new()
            .layer(MapRequestLayer::new(request_id::drop_invalid))
            .layer(SetRequestIdLayer::new(request_id::HEADER, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(request_id::HEADER))
            .layer(span::layer())
            .layer(from_fn_with_state(state.clone(), finish)),
    )
}

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
