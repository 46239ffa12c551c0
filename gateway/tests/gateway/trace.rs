//! One request, one trace: the gateway's span and the service's span share the trace id, and
//! the gateway joins the client's `traceparent`.

use runtime::test_support::TraceCapture;

use super::support::World;

// A current-thread runtime keeps every task on this thread, where the subscriber is set.
#[tokio::test(flavor = "current_thread")]
async fn gateway_and_service_spans_share_the_trace() {
    let capture = TraceCapture::start();

    let world = World::start().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let reply = world
        .http()
        .get_with("/widgets", &[("traceparent", &traceparent)])
        .await;
    assert_eq!(reply.status, 200);
    let forwarded = reply.json()["traceparent"].as_str().unwrap().to_owned();
    assert!(forwarded.contains(trace_id), "{forwarded}");
    world.stop().await;

    let spans = capture.spans();
    // The widgets' `list` endpoint, not the schema requests of discovery.
    let service = spans
        .iter()
        .find(|s| {
            s.name == "nats.request"
                && s.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == "endpoint" && kv.value.as_str() == "list")
        })
        .expect("service span");
    let gateway = spans
        .iter()
        .find(|s| s.name == "http.request" && s.span_context.trace_id().to_string() == trace_id)
        .expect("the gateway's span joined the client's trace");
    assert_eq!(gateway.span_context.trace_id().to_string(), trace_id);
    assert_eq!(
        service.span_context.trace_id().to_string(),
        trace_id,
        "one trace across NATS"
    );
    assert_eq!(service.parent_span_id, gateway.span_context.span_id());
    assert_eq!(gateway.parent_span_id.to_string(), "00f067aa0ba902b7");
}
