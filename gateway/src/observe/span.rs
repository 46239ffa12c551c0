//! The request's span: `http.request`, a child of the client's `traceparent`, with the
//! method, route, status and request id as fields, when traces are exported.
//!
//! When they are not, the span only gives log lines inside the request their request id, and
//! it is made at DEBUG: opening an enabled span formats its fields for the log output, a
//! measurable share of the gateway's instructions per request (`docs/bench.md`), for lines
//! that are rare at the default level. The lines that matter there, the access log's WARN for a
//! 5xx and the proxy's upstream failures, carry the request id themselves; with
//! `RUST_LOG=gateway=debug` every line inside a request gets it from the span as well.

use axum::http::{HeaderMap, HeaderName, Request, Response};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::{Span, debug_span, field, info_span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::request_id;

/// tower-http's `TraceLayer` with the gateway's span and no log lines of its own: the
/// [`access_log`](super::access_log) writes those.
pub type Layer =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), RecordStatus, (), (), ()>;

/// The span layer.
pub fn layer() -> Layer {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(RecordStatus)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Makes the `http.request` span; the route is filled in by [`super::finish`] once the
/// request is answered.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request_id::get(request.extensions());
        if !runtime::telemetry::exporting() {
            // Logs only, and only at DEBUG (module docs): the request id is what the lines
            // logged inside the request need; the access log carries the rest itself.
            return debug_span!("http.request", request_id);
        }
        let span = info_span!(
            "http.request",
            otel.kind = "server",
            http.method = %request.method(),
            http.route = field::Empty,
            http.status_code = field::Empty,
            request_id,
        );
        // Without a `traceparent` there is no trace to join: the span is a root either way, so
        // the extraction (and its allocations) is skipped.
        if request
            .headers()
            .contains_key(contract::headers::TRACEPARENT)
        {
            let parent = TraceContextPropagator::new().extract(&HttpHeaders(request.headers()));
            // Fails only without an OpenTelemetry layer, where there is no trace to join.
            let _ = span.set_parent(parent);
        }
        span
    }
}

/// Records the route template on the current request's span, when traces are
/// exported ([`runtime::telemetry::exporting`]): the access log and metrics carry the route
/// themselves, and recording a field re-formats the span's fields for the log output.
pub fn record_route(route: &str) {
    if runtime::telemetry::exporting() {
        Span::current().record("http.route", route);
    }
}

/// Records the response status on the span, when traces are exported (see [`record_route`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordStatus;

impl<B> OnResponse<B> for RecordStatus {
    fn on_response(self, response: &Response<B>, _: std::time::Duration, span: &Span) {
        if runtime::telemetry::exporting() {
            span.record("http.status_code", response.status().as_u16());
        }
    }
}

struct HttpHeaders<'a>(&'a HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}
