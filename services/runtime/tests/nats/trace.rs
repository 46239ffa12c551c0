//! Trace context crosses NATS: the handler's span joins the caller's trace.

use opentelemetry::trace::TraceContextExt as _;
use runtime::Requester;
use runtime::test_support::{NatsServer, TraceCapture};
use tracing::Instrument;

use super::ops::{self, State};

// A current-thread runtime keeps every task on this thread, where the subscriber is set.
#[tokio::test(flavor = "current_thread")]
async fn the_handler_span_joins_the_callers_trace() {
    let capture = TraceCapture::start();

    let nats = NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let running = ops::start(&client, State::new("a")).await;
    let requester = Requester::new(client.clone()).await.unwrap();

    let span = tracing::info_span!("client.call");
    let trace_id = {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        span.context().span().span_context().trace_id()
    };
    ops::echo_one(&requester).instrument(span).await.unwrap();
    running.stop().await;

    let spans = capture.spans();
    let client_span = spans
        .iter()
        .find(|s| s.name == "client.call")
        .expect("client span");
    let server_span = spans
        .iter()
        .find(|s| s.name == "nats.request")
        .expect("handler span");
    assert_eq!(client_span.span_context.trace_id(), trace_id);
    assert_eq!(
        server_span.span_context.trace_id(),
        trace_id,
        "one trace across NATS"
    );
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
}
