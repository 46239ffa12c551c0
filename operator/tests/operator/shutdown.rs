//! Stopping: the controller exits after its shutdown signal even when the API server is gone.

use std::time::Duration;

/// Within this, a stop with a 1 s grace must have returned (generous for a loaded machine).
const STOP_DEADLINE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn the_controller_stops_within_its_grace_when_the_api_server_is_unreachable() {
    // A port nothing listens on: every list and watch fails and is retried with backoff, so
    // kube's own graceful drain never completes.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(operator::controller::run(
        client,
        Some("shop"),
        operator::server::Health::default(),
        Duration::from_secs(300),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    // Let the watchers fail at least once before the signal.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(STOP_DEADLINE, controller)
        .await
        .expect("the controller ignored its shutdown signal")
        .unwrap();
}
