//! Every error status, produced for real.

use std::time::Duration;

use contract::Operation;
use serde_json::json;

use super::support::{self, ListWidgets, WAIT, World, user_token};
use runtime::test_support::wait_until;

#[tokio::test]
async fn request_bodies_are_checked() {
    let world = World::start_with(|c| c.max_body_bytes = 1024).await;
    let http = world.http();
    let token = user_token("u1");
    let auth = format!("Bearer {token}");

    // `POST /widgets` as the user, with `content_type` when given.
    let post = |content_type: Option<&'static str>, body: Vec<u8>| {
        let auth = auth.clone();
        async move {
            let mut headers = vec![("authorization", auth.as_str())];
            headers.extend(content_type.map(|c| ("content-type", c)));
            http.send("POST", "/widgets", &headers, Some(body)).await
        }
    };
    let json_type = Some("application/json");

    let big = serde_json::to_vec(&json!({"name": "x".repeat(2000)})).unwrap();
    let reply = post(json_type, big).await;
    reply.assert_error(413, "payload_too_large");

    let reply = post(Some("text/plain"), b"{}".to_vec()).await;
    reply.assert_error(415, "unsupported_media_type");
    let reply = post(None, b"{}".to_vec()).await;
    assert_eq!(reply.status, 415, "a body without a content type");

    for bad in [&b"{"[..], b"{\"a\":}", b"nul", b"\xff\xfe"] {
        let reply = post(json_type, bad.to_vec()).await;
        assert_eq!(reply.status, 400, "{bad:?}");
        assert_eq!(reply.error_code(), "bad_request");
    }

    // Wrong types are the service's 400, naming the field.
    let reply = http
        .json("POST", "/widgets/fail", None, &json!({"status": "x"}))
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["message"].as_str().unwrap().contains("status"),
        "{}",
        reply.json()
    );
    world.stop().await;
}

#[tokio::test]
async fn service_errors_keep_their_status_and_body() {
    let world = World::start().await;
    let http = world.http();
    // The stand-in service answers with the status and message it is sent.
    for (status, code) in [
        (404, "not_found"),
        (409, "conflict"),
        (403, "forbidden"),
        (500, "internal"),
        (503, "unavailable"),
    ] {
        let reply = http.fail(status, "nope").await;
        reply.assert_error(status, code);
    }
    let reply = http.fail(422, "").await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.json()["details"]["fields"][0]["field"], "name");

    let reply = http.fail(429, "slow down").await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("7"));
    assert_eq!(reply.json()["message"], "slow down");

    let reply = http.get_as("/widgets/missing", &user_token("u")).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["message"], "no such widget");
    world.stop().await;
}

/// A service's 503 without `Retry-After` (one from an older service, or a direct NATS
/// client's) still tells the HTTP client when to retry; one that names a time keeps it.
#[tokio::test]
async fn every_503_says_when_to_retry() {
    let world = World::start().await;
    let http = world.http();
    let reply = http.fail(503, "down").await;
    reply.assert_error(503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    let reply = http.fail(502, "odd").await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.header("retry-after"), None, "only 503s get one");
    world.stop().await;
}

#[tokio::test]
async fn slow_services_time_out_with_504() {
    let world = World::start_with(|c| c.request_timeout = Duration::from_millis(300)).await;
    let reply = world.http().get("/widgets/slow").await;
    reply.assert_error(504, "timeout");
    // A GET: sent a second time at half the deadline, which the one instance takes too.
    assert_eq!(
        world
            .widgets
            .slow_started
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    world.widgets.open_gate();
    let metrics = world.gateway.health.get("/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("natstack_gateway_upstream_errors_total{kind=\"timeout\"} 1"),
        "{text}"
    );
    world.stop().await;
}

#[tokio::test]
async fn undecodable_replies_are_502() {
    let world = World::start().await;
    let _garbage = support::start_garbage(&world.client).await;
    world.gateway.wait_routed("garbage.get").await;
    let reply = world.http().get("/garbage").await;
    reply.assert_error(502, "bad_gateway");
    // JSON is UTF-8 (RFC 8259): a Latin-1 byte in a string is not passed on as JSON either.
    let reply = world.http().get("/garbage?kind=utf8").await;
    reply.assert_error(502, "bad_gateway");
    world.stop().await;
}

#[tokio::test]
async fn a_service_with_no_responders_is_503() {
    let world = World::start_unanswered(&ListWidgets::subject()).await;
    let reply = world.http().get("/widgets").await;
    reply.assert_error(503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    world.stop().await;
}

#[tokio::test]
async fn a_stopped_service_stops_being_routed() {
    let mut world = World::start().await;
    world.services.remove(0).stop().await;
    world.gateway.wait_unrouted(&ListWidgets::subject()).await;
    let http = world.http().clone();
    wait_until("the dropped route answers 404", WAIT, || {
        let http = http.clone();
        async move { http.get("/widgets").await.status == 404 }
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn the_body_limit_never_exceeds_the_nats_max_payload() {
    let options = runtime::test_support::NatsOptions {
        max_payload: Some(16 * 1024),
        ..Default::default()
    };
    let nats = runtime::test_support::NatsServer::start_with(options)
        .await
        .unwrap();
    let client = nats.client().await;
    let widgets = support::start_widgets(&client, support::Widgets::default()).await;
    // MAX_BODY_BYTES stays at its 1 MiB default; the server's 16 KiB decides.
    let gateway = support::Gateway::start(support::config(&nats.url())).await;
    gateway.wait_routed(&ListWidgets::subject()).await;
    let body = serde_json::to_vec(&json!({"name": "x".repeat(20 * 1024)})).unwrap();
    let reply = gateway
        .http
        .send(
            "POST",
            "/widgets/fail",
            &[("content-type", "application/json")],
            Some(body),
        )
        .await;
    reply.assert_error(413, "payload_too_large");
    gateway.stop().await;
    widgets.stop().await;
}
