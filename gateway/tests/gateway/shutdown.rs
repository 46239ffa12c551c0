//! Graceful shutdown finishes what is in flight.

use std::sync::atomic::Ordering;

use runtime::test_support::wait_until;

use super::support::{WAIT, World};

#[tokio::test]
async fn in_flight_requests_finish_on_shutdown() {
    let mut world = World::start().await;
    let http = world.http().clone();
    let pending = tokio::spawn(async move { http.get("/widgets/slow").await });
    let widgets = world.widgets.clone();
    wait_until("the slow request reached the service", WAIT, || {
        let widgets = widgets.clone();
        async move { widgets.slow_started.load(Ordering::SeqCst) == 1 }
    })
    .await;
    world.gateway.begin_stop();
    // The gateway is still waiting on the request; release it.
    assert!(!world.gateway.task.is_finished());
    world.widgets.open_gate();
    let reply = pending.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), "done");
    (&mut world.gateway.task).await.unwrap().unwrap();
    for service in world.services {
        service.stop().await;
    }
}
