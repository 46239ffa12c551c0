//! The health server: liveness, readiness that follows its checks, metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use contract::Envelope;
use prometheus_client::registry::Registry;
use runtime::health::{self, Probes};
use runtime::metrics::ServiceMetrics;
use runtime::test_support::{NatsServer, http_get as get, wait_until};
use runtime::{CallOptions, Requester};

use super::ops::{self, Echo, State};

#[tokio::test]
async fn readiness_follows_nats_and_flags_and_metrics_count_requests() {
    let mut nats = NatsServer::start().await.unwrap();
    let client = runtime::connect::connect(
        &runtime::config::NatsArgs::url(nats.url()),
        "health-test",
        true,
    )
    .await
    .unwrap();
    let mut registry = Registry::default();
    let metrics = ServiceMetrics::new(&mut registry);
    let registered = Arc::new(AtomicBool::new(false));
    let health = Probes::new(registry).nats(client.clone()).flag(
        "registered",
        registered.clone(),
        "not registered yet",
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(health::serve(listener, health, async move {
        let _ = stop_rx.await;
    }));

    assert_eq!(get(addr, "/livez").await.0, 200);
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("not registered yet"), "{body}");

    let service = ops::builder(State::new("a"))
        .metrics(metrics.clone())
        .start(&client)
        .await
        .unwrap();
    registered.store(true, Ordering::Release);
    let running = ops::Running::spawn(service);
    runtime::test_support::wait_for_instance(&client, "test", &running.id).await;
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");

    let requester = Requester::new(client.clone()).await.unwrap();
    ops::echo_one(&requester).await.unwrap();
    assert_eq!(metrics.count("echo", 200), 1);
    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains(r#"natstack_service_requests_total{endpoint="echo",code="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("natstack_service_request_duration_seconds_bucket"),
        "{text}"
    );

    // NATS goes away: not ready; it comes back: ready again, and the service serves again.
    nats.kill();
    wait_until(
        "readiness reports NATS down",
        Duration::from_secs(10),
        || async { get(addr, "/readyz").await.0 == 503 },
    )
    .await;
    nats.restart().await.unwrap();
    wait_until("readiness recovers", Duration::from_secs(20), || async {
        get(addr, "/readyz").await.0 == 200
    })
    .await;
    wait_until(
        "the service serves after the reconnect",
        Duration::from_secs(20),
        || async {
            requester
                .call::<Echo>(
                    &Envelope::body(2.into()),
                    CallOptions::timeout(Duration::from_millis(500)),
                )
                .await
                .is_ok()
        },
    )
    .await;

    running.stop().await;
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
