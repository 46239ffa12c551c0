//! The layers that wrap every request, composed in one place, outermost first:
//!
//! 1. [`crate::request_id::drop_invalid`], then tower-http's `SetRequestId` and
//!    `PropagateRequestId`: every request gets an id, echoed in the response;
//! 2. [`span`]: the request's span, a child of the client's `traceparent` (tower-http's
//!    `TraceLayer`);
//! 3. [`error_body`]: the JSON body of error responses, which carries the request id;
//! 4. [`access_log`]: one line per request;
//! 5. [`metrics`]: request counts and durations by route;
//! 6. [`route`]: the route label the two above report.

pub mod access_log;
pub mod error_body;
pub mod metrics;
pub mod route;
pub mod span;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
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
            .layer(from_fn(error_body::render))
            .layer(from_fn(access_log::log))
            .layer(from_fn_with_state(state.clone(), metrics::record))
            .layer(from_fn(route::label)),
    )
}
