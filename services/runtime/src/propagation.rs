//! Carrying the request id and W3C trace context across NATS headers.
//!
//! The gateway puts `x-request-id` and `traceparent` on every request; [`serve`](crate::serve)
//! extracts them into the handler's span, and [`Requester`](crate::call::Requester) injects them
//! into onward calls, so one trace and one request id follow a request through every hop.

use async_nats::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(async_nats::HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

struct HeadersMut<'a>(&'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value);
    }
}

/// Makes the trace context in `headers` (if any) the parent of `span`.
pub fn set_parent_from(span: &tracing::Span, headers: &HeaderMap) {
    let context = TraceContextPropagator::new().extract(&Headers(headers));
    // Fails only when no OpenTelemetry layer is installed, where there is nothing to link.
    let _ = span.set_parent(context);
}

/// Writes the current span's trace context into `headers` (a no-op without tracing).
pub fn inject_current(headers: &mut HeaderMap) {
    // Without an OpenTelemetry layer no span has a trace context to carry; looking for one
    // costs about a hundredth of the gateway's instructions per request.
    if !crate::telemetry::exporting() {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeadersMut(headers));
}
