//! Calling: distinct failure kinds, and no state left behind by timeouts.

use std::time::Duration;

use contract::{Envelope, Operation};
use futures::StreamExt;
use runtime::test_support::{NatsOptions, NatsServer};
use runtime::{CallError, CallOptions, Requester};

use super::ops::{self, Echo, State};

#[tokio::test]
async fn no_responders_and_timeouts_are_distinct_errors() {
    let nats = NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let requester = Requester::new(client.clone()).await.unwrap();

    let started = std::time::Instant::now();
    match requester
        .call::<Echo>(
            &Envelope::body(1.into()),
            CallOptions::timeout(Duration::from_secs(30)),
        )
        .await
    {
        Err(CallError::NoResponders { subject }) => assert_eq!(subject, Echo::subject()),
        other => panic!("expected no responders, got {other:?}"),
    }
    // Reported by the server straight away, not after the 30 s deadline.
    assert!(started.elapsed() < Duration::from_secs(30));

    // A subscriber that never answers: the call times out instead.
    let _silent = client.subscribe(Echo::subject()).await.unwrap();
    client.flush().await.unwrap();
    match requester
        .call::<Echo>(
            &Envelope::body(1.into()),
            CallOptions::timeout(Duration::from_millis(50)),
        )
        .await
    {
        Err(CallError::TimedOut { timeout, .. }) => assert_eq!(timeout, Duration::from_millis(50)),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn many_timed_out_calls_leave_nothing_pending() {
    let nats = NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let requester = Requester::new(client.clone()).await.unwrap();
    let _silent = client.subscribe("blackhole").await.unwrap();
    client.flush().await.unwrap();

    let sent_before = client
        .statistics()
        .out_messages
        .load(std::sync::atomic::Ordering::Relaxed);
    for round in 0..5 {
        let results = futures::future::join_all((0..2_000).map(|_| {
            requester.request(
                "blackhole",
                "x".into(),
                CallOptions::timeout(Duration::from_millis(20)),
            )
        }))
        .await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(CallError::TimedOut { .. }))),
            "round {round}: every call timed out"
        );
        // The point of the test: 10,000 timeouts, and no reply slot is kept for any of them.
        assert_eq!(
            requester.pending(),
            0,
            "round {round}: timed-out calls left state behind"
        );
    }
    let sent = client
        .statistics()
        .out_messages
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent - sent_before >= 10_000);

    // Cancelled calls (the caller gave up, e.g. an HTTP client disconnected) clean up too.
    let cancelled = tokio::time::timeout(
        Duration::from_millis(20),
        requester.request(
            "blackhole",
            "x".into(),
            CallOptions::timeout(Duration::from_secs(60)),
        ),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(requester.pending(), 0);
}

#[tokio::test]
async fn an_undecodable_reply_is_a_decode_error() {
    let nats = NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let requester = Requester::new(client.clone()).await.unwrap();
    let mut sub = client.subscribe(Echo::subject()).await.unwrap();
    client.flush().await.unwrap();
    let responder = tokio::spawn({
        let client = client.clone();
        async move {
            let msg = sub.next().await.unwrap();
            client
                .publish(msg.reply.unwrap(), "{not json".into())
                .await
                .unwrap();
        }
    });
    match ops::echo_one(&requester).await {
        Err(CallError::Decode { subject, .. }) => assert_eq!(subject, Echo::subject()),
        other => panic!("expected a decode error, got {other:?}"),
    }
    responder.await.unwrap();
}

#[tokio::test]
async fn a_request_over_the_server_limit_is_refused_before_sending() {
    let nats = NatsServer::start_with(NatsOptions {
        max_payload: Some(1024),
        ..Default::default()
    })
    .await
    .unwrap();
    let client = nats.client().await;
    let running = ops::start(&client, State::new("a")).await;
    let requester = Requester::new(client.clone()).await.unwrap();
    let big = serde_json::Value::String("x".repeat(2048));
    match requester
        .call::<Echo>(&Envelope::body(big), CallOptions::default())
        .await
    {
        Err(CallError::PayloadTooLarge { max, .. }) => assert_eq!(max, 1024),
        other => panic!("expected payload too large, got {other:?}"),
    }
    assert_eq!(ops::echo_one(&requester).await.unwrap(), 1);
    running.stop().await;
}

#[tokio::test]
async fn credentials_come_from_the_arguments() {
    let nats = NatsServer::start_with(NatsOptions {
        user: Some(("svc".into(), "s3cret".into())),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut args = runtime::config::NatsArgs::url(nats.url());
    args.nats_user = Some("svc".into());
    args.nats_password = Some("s3cret".into());
    let client = runtime::connect::connect(&args, "test", true)
        .await
        .unwrap();
    assert!(runtime::connect::is_connected(&client));

    args.nats_password = Some("wrong".into());
    assert!(
        runtime::connect::connect(&args, "test", true)
            .await
            .is_err()
    );
    args.nats_password = None;
    assert!(matches!(
        runtime::connect::connect(&args, "test", true).await,
        Err(runtime::connect::ConnectError::PartialCredentials)
    ));
}
