//! The outermost middleware: request id, the request's span (a child of the client's
//! `traceparent`), the access log, metrics, and the JSON body of error responses.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use contract::headers;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::{Instrument, debug, info_span, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error;
use crate::metrics::UNMATCHED;
use crate::proxy::RouteLabel;
use crate::request_id::RequestId;
use crate::state::AppState;

struct HttpHeaders<'a>(&'a HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Wraps every request.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId::accept_or_generate(
        request
            .headers()
            .get(headers::REQUEST_ID)
            .and_then(|v| v.to_str().ok()),
    );
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let span = info_span!(
        "http.request",
        otel.kind = "server",
        http.method = %method,
        http.route = tracing::field::Empty,
        http.status_code = tracing::field::Empty,
        request_id = %request_id.0,
    );
    if let Some(route) = &matched {
        span.record("http.route", route.as_str());
    }
    let parent = TraceContextPropagator::new().extract(&HttpHeaders(request.headers()));
    // Fails only without an OpenTelemetry layer, where there is no trace to join.
    let _ = span.set_parent(parent);
    request.extensions_mut().insert(request_id.clone());

    let response = next.run(request).instrument(span.clone()).await;

    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        .or(matched)
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let status = response.status().as_u16();
    let mut response = error::render(response, &request_id.0);
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        response.headers_mut().insert(headers::REQUEST_ID, value);
    }
    let elapsed = started.elapsed();
    state
        .metrics
        .observe(method.as_str(), &route, status, elapsed);
    span.record("http.status_code", status);
    // The access log: server errors at WARN, everything else at DEBUG. Metrics count every
    // request by route and status; a line per request at INFO would cost the gateway about a
    // tenth of its CPU at high rates (`make bench`). `RUST_LOG=gateway=debug` shows them all.
    span.in_scope(|| {
        let elapsed_ms = elapsed.as_secs_f64() * 1e3;
        if status >= 500 {
            warn!(method = %method, route = %route, path = %path, status, elapsed_ms, "request");
        } else {
            debug!(method = %method, route = %route, path = %path, status, elapsed_ms, "request");
        }
    });
    response
}
