//! `GET /events` against a real gateway and a nats-server with JetStream: events are
//! published into the stream directly, as a service's relay would.

use std::time::Duration;

use contract::events::{CloudEvent, EventType};
use runtime::test_support::{NatsOptions, wait_until};
use serde_json::json;
use testbed::http::Api;
use testbed::sse::{EventStream, Next, SseEvent};
use tokio::time::Instant;

use super::support::{self, WAIT, World, claims, sign, user_token};

/// A world whose NATS runs JetStream, with `/events` tuned by `tune`.
async fn world(tune: impl FnOnce(&mut gateway::Config)) -> World {
    let world = World::start_on(
        NatsOptions {
            jetstream: true,
            ..NatsOptions::default()
        },
        tune,
    )
    .await;
    // The gateway puts the stream in place in the background.
    wait_until("the events stream is in place", WAIT, || {
        let client = world.client.clone();
        async move {
            async_nats::jetstream::new(client)
                .get_stream(contract::events::STREAM)
                .await
                .is_ok()
        }
    })
    .await;
    world
}

/// Publishes one event as its service would: the stream sequence it was stored at.
async fn publish(client: &async_nats::Client, ty: EventType, entity: &str) -> u64 {
    let event = CloudEvent::new(
        ty,
        uuid::Uuid::new_v4().to_string(),
        entity,
        "2026-12-06T10:00:00Z",
        Some("u1".to_owned()),
        json!({ "id": entity }),
    );
    publish_raw(client, &ty.subject(), serde_json::to_vec(&event).unwrap()).await
}

async fn publish_raw(client: &async_nats::Client, subject: &str, payload: Vec<u8>) -> u64 {
    async_nats::jetstream::new(client.clone())
        .publish(subject.to_owned(), payload.into())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence
}

/// Opens `path` with exactly `headers`.
async fn open(world: &World, path: &str, headers: &[(&str, &str)]) -> EventStream {
    Api::new(&world.http().base)
        .open_events_with(path, headers)
        .await
        .expect("the response head arrives")
}

async fn open_as(world: &World, path: &str, user: &str) -> EventStream {
    let auth = format!("Bearer {}", user_token(user));
    open(world, path, &[("authorization", &auth)]).await
}

/// The next event, or `None` when the stream ended or `within` passed, however many
/// heartbeats came meanwhile.
async fn next(stream: &mut EventStream, within: Duration) -> Option<SseEvent> {
    match stream.next_by(Instant::now() + within).await {
        Next::Event(event) => Some(event),
        Next::Ended | Next::Silent => None,
    }
}

/// The next `n` events, each within [`WAIT`].
async fn take(stream: &mut EventStream, n: usize) -> Vec<SseEvent> {
    let mut events = Vec::new();
    while events.len() < n {
        match next(stream, WAIT).await {
            Some(event) => events.push(event),
            None => panic!("stream ended after {events:?}"),
        }
    }
    events
}

/// The value of metric `name` in `world`'s exposition (0 when absent).
async fn metric(world: &World, name: &str) -> f64 {
    let text = world.gateway.health.get("/metrics").await.text();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_filtered_stream_resumes_after_the_last_event_id_exactly() {
    let world = world(|_| {}).await;
    let client = &world.client;
    let before = publish(client, EventType::ProductCreated, "old").await;

    let mut stream = open_as(&world, "/events?types=products.*", "u1").await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.headers.get("content-type").unwrap(),
        "text/event-stream"
    );
    let created = publish(client, EventType::ProductCreated, "p1").await;
    publish(client, EventType::CustomerCreated, "c1").await;
    let updated = publish(client, EventType::ProductUpdated, "p1").await;
    let deleted = publish(client, EventType::ProductDeleted, "p1").await;
    let events = take(&mut stream, 3).await;
    // Without a resume position only new events, and only products'.
    assert!(before < created);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.id.clone(), e.event.as_str()))
            .collect::<Vec<_>>(),
        [
            (created.to_string(), "products.created"),
            (updated.to_string(), "products.updated"),
            (deleted.to_string(), "products.deleted"),
        ]
    );
    let data: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(data["type"], "products.created");
    assert_eq!(data["subject"], "p1");
    drop(stream);

    // Resumed after the first, by header and by query: exactly the two missed, then what
    // comes next.
    let auth = format!("Bearer {}", user_token("u1"));
    let created_id = created.to_string();
    let by_header = open(
        &world,
        "/events?types=products.*",
        &[("authorization", &auth), ("last-event-id", &created_id)],
    )
    .await;
    let by_query = open_as(
        &world,
        &format!("/events?types=products.%3E&lastEventId={created}"),
        "u2",
    )
    .await;
    let next = publish(client, EventType::ProductUpdated, "p2").await;
    for mut resumed in [by_header, by_query] {
        assert_eq!(resumed.status, 200);
        let ids: Vec<String> = take(&mut resumed, 3)
            .await
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            ids,
            [updated.to_string(), deleted.to_string(), next.to_string()]
        );
    }

    // Several patterns at once.
    let mut both = open_as(
        &world,
        &format!("/events?types=customers.%3E,products.deleted&lastEventId={before}"),
        "u3",
    )
    .await;
    let events: Vec<String> = take(&mut both, 2)
        .await
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["customers.created", "products.deleted"]);
    world.stop().await;
}

#[tokio::test]
async fn bad_requests_and_caps_are_refused() {
    let world = world(|config| {
        config.events.max_streams_per_user = 1;
        config.events.max_streams = 2;
        // Frequent writes notice a closed client soon.
        config.events.heartbeat = Duration::from_millis(100);
    })
    .await;
    let http = world.http();
    http.get("/events")
        .await
        .assert_error(401, "unauthenticated");
    let token = user_token("u1");
    for path in [
        "/events?types=products.*,",
        "/events?types=Products",
        "/events?types=products.*,products.created",
        "/events?lastEventId=-3",
    ] {
        let reply = http.get_as(path, &token).await;
        reply.assert_error(400, "bad_request");
        assert!(
            reply.json()["message"].as_str().unwrap().contains("`"),
            "{path}"
        );
    }
    let reply = http
        .get_with(
            "/events",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("last-event-id", "abc"),
            ],
        )
        .await;
    reply.assert_error(400, "bad_request");

    let first = open_as(&world, "/events", "u1").await;
    assert_eq!(first.status, 200);
    let reply = http.get_as("/events", &token).await;
    reply.assert_error(429, "rate_limited");
    assert!(reply.header("retry-after").is_some());
    let _second = open_as(&world, "/events", "u2").await;
    let reply = http.get_as("/events", &user_token("u3")).await;
    reply.assert_error(503, "unavailable");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(
        metric(&world, "natstack_gateway_events_streams_open").await,
        2.0
    );
    assert_eq!(
        metric(
            &world,
            "natstack_gateway_events_streams_refused_total{reason=\"user_cap\"}"
        )
        .await,
        1.0
    );

    // A closed stream frees its place.
    drop(first);
    wait_until("u1 may stream again", WAIT, || async {
        open_as(&world, "/events", "u1").await.status == 200
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn heartbeats_arrive_and_the_stream_ends_with_the_token() {
    let world = world(|config| config.events.heartbeat = Duration::from_millis(100)).await;
    let mut short = claims("u1", &["user"]);
    short.exp = support::now() + 2;
    let auth = format!("Bearer {}", sign(support::KEY_A, "a", &short));
    let mut stream = open(&world, "/events", &[("authorization", &auth)]).await;
    assert_eq!(stream.status, 200);
    let started = std::time::Instant::now();
    // No event comes; the heartbeats do, then the end.
    assert_eq!(
        stream
            .next_by(Instant::now() + Duration::from_secs(10))
            .await,
        Next::Ended,
        "the stream ends when the token expires"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(stream.comments >= 5, "{} heartbeats", stream.comments);
    wait_until("the stream is closed", WAIT, || async {
        metric(&world, "natstack_gateway_events_streams_open").await == 0.0
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_resumes() {
    let world = world(|config| config.events.buffer = 4).await;
    let mut stream = open_as(&world, "/events", "u1").await;
    assert_eq!(stream.status, 200);
    // Far more than the socket buffers hold, never read while published.
    let payload = vec![b'x'; 64 * 1024];
    let mut published = Vec::new();
    for _ in 0..400 {
        let payload =
            serde_json::to_vec(&json!({ "pad": String::from_utf8_lossy(&payload) })).unwrap();
        published.push(publish_raw(&world.client, "events.products.updated", payload).await);
        if metric(&world, "natstack_gateway_events_streams_cut_off_total").await >= 1.0 {
            break;
        }
    }
    wait_until("the slow client is cut off", WAIT, || async {
        metric(&world, "natstack_gateway_events_streams_cut_off_total").await >= 1.0
    })
    .await;
    let mut received = Vec::new();
    while let Some(event) = next(&mut stream, WAIT).await {
        received.push(event.id.parse::<u64>().unwrap());
    }
    assert_eq!(stream.next(WAIT).await, Next::Ended);
    assert!(
        received.len() < published.len(),
        "{} of {}",
        received.len(),
        published.len()
    );
    assert_eq!(
        received,
        published[..received.len()],
        "in order, none skipped"
    );
    // The client resumes after the last one it has: the rest, from the next.
    let last = received.last().copied().unwrap_or(published[0] - 1);
    let mut resumed = open_as(&world, &format!("/events?lastEventId={last}"), "u1").await;
    let next = take(&mut resumed, 1).await;
    assert_eq!(next[0].id, (last + 1).to_string());
    world.stop().await;
}

#[tokio::test]
async fn without_jetstream_events_answer_503_and_the_rest_works() {
    let world = World::start().await;
    let reply = world.http().get_as("/events", &user_token("u1")).await;
    reply.assert_error(503, "unavailable");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(world.http().get("/readyz").await.status, 200);
    world.stop().await;
}
