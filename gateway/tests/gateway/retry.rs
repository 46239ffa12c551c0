//! A call lost with an instance: GET is sent again within the deadline, POST is not.

use std::time::{Duration, Instant};

use contract::Operation;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::support::{self, CreateWidget, ListWidgets, World, user_token};

/// A second instance of `subject` (same queue group) that takes one request, never answers
/// it, and unsubscribes: what the gateway sees of an instance killed with a request in
/// flight. Resolves `swallowed` when it has taken its request.
async fn one_shot_sink(
    client: &async_nats::Client,
    subject: String,
) -> (oneshot::Receiver<()>, JoinHandle<()>) {
    let mut sub = client
        .queue_subscribe(subject, runtime::serve::QUEUE_GROUP.to_owned())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        if sub.next().await.is_some() {
            sub.unsubscribe().await.unwrap();
            let _ = tx.send(());
        }
    });
    (rx, task)
}

async fn metrics(world: &World) -> String {
    String::from_utf8_lossy(&world.gateway.health.get("/metrics").await.body).into_owned()
}

async fn assert_retried_once(world: &World, reason: &str) {
    let text = metrics(world).await;
    let line = format!("natstack_gateway_upstream_retries_total{{reason=\"{reason}\"}} 1");
    assert!(text.contains(&line), "{text}");
}

const DEADLINE: Duration = Duration::from_millis(2000);

#[tokio::test]
async fn a_get_lost_with_an_instance_is_answered_by_the_other() {
    let world = World::start_with(|c| c.request_timeout = DEADLINE).await;
    let (mut swallowed, _sink) = one_shot_sink(&world.client, ListWidgets::subject()).await;
    // The queue group picks an instance at random: send until the sink has taken one. Every
    // request, the swallowed one too, is answered 200 within the deadline.
    for sent in 1.. {
        assert!(sent <= 64, "the sink never got a request");
        let started = Instant::now();
        let reply = world.http().get("/widgets").await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert!(started.elapsed() < DEADLINE, "{:?}", started.elapsed());
        if swallowed.try_recv().is_ok() {
            assert!(
                started.elapsed() >= DEADLINE / 2,
                "answered before the retry could have been sent: {:?}",
                started.elapsed()
            );
            break;
        }
    }
    assert_retried_once(&world, "timeout").await;
    world.stop().await;
}

#[tokio::test]
async fn a_post_that_may_have_been_delivered_is_not_sent_again() {
    let world = World::start_with(|c| c.request_timeout = DEADLINE).await;
    let (mut swallowed, _sink) = one_shot_sink(&world.client, CreateWidget::subject()).await;
    let token = user_token("u-1");
    for sent in 1.. {
        assert!(sent <= 64, "the sink never got a request");
        let reply = world
            .http()
            .json("POST", "/widgets", Some(&token), &json!({"n": sent}))
            .await;
        if swallowed.try_recv().is_ok() {
            // The other instance never saw it: the gateway waited out the deadline instead.
            reply.assert_error(504, "timeout");
            break;
        }
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let text = metrics(&world).await;
    // The series exist at 0 from the start; none may have counted.
    for reason in ["no_responders", "timeout"] {
        let zero = format!("natstack_gateway_upstream_retries_total{{reason=\"{reason}\"}} 0\n");
        assert!(text.contains(&zero), "{text}");
    }
    world.stop().await;
}

#[tokio::test]
async fn no_responders_is_retried_once_for_any_method() {
    let world = World::start_unanswered(&CreateWidget::subject()).await;
    let started = Instant::now();
    let reply = world
        .http()
        .json("POST", "/widgets", Some(&user_token("u-1")), &json!({}))
        .await;
    reply.assert_error(503, "unavailable");
    assert!(
        started.elapsed() >= gateway::retry::NO_RESPONDERS_PAUSE,
        "{:?}",
        started.elapsed()
    );
    assert_retried_once(&world, "no_responders").await;
    world.stop().await;
}

#[tokio::test]
async fn services_are_told_the_time_left() {
    let world = World::start_with(|c| c.request_timeout = DEADLINE).await;
    // A plain subscription sees a copy of what the queue group's instance gets.
    let mut copies = world
        .client
        .subscribe(ListWidgets::subject())
        .await
        .unwrap();
    // A flush does not wait for the server: a probe from this connection coming back means
    // the subscription is in place for what other connections send from now on.
    world
        .client
        .publish(ListWidgets::subject(), "probe".into())
        .await
        .unwrap();
    let probe = tokio::time::timeout(support::WAIT, copies.next()).await;
    assert_eq!(
        probe.expect("the probe").unwrap().payload.as_ref(),
        b"probe"
    );
    let reply = world.http().get("/widgets").await;
    assert_eq!(reply.status, 200);
    let copy = tokio::time::timeout(support::WAIT, copies.next())
        .await
        .expect("a copy of the request")
        .unwrap();
    let left: u128 = copy
        .headers
        .as_ref()
        .and_then(|h| h.get(contract::headers::DEADLINE_MS))
        .expect("the deadline header")
        .as_str()
        .parse()
        .unwrap();
    assert!(left > 0 && left <= DEADLINE.as_millis(), "{left}");
    world.stop().await;
}
