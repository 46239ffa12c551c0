//! Domain events end to end, as a user of `make run`'s system sees them: a client that opens
//! `GET /events?types=products.*` with a token, then creates, updates and deletes a product
//! through the gateway, receives the three events in order; reconnecting with the first one's
//! id as `Last-Event-ID` receives the other two and nothing else.

use std::time::{Duration, Instant};

use launcher::System;
use launcher::binaries::{SYSTEM_BINARIES, debug_dir};
use serde_json::{Value, json};
use testbed::sse::{EventStream, Next, SseEvent};

const EMAIL: &str = "events@example.com";
const PASSWORD: &str = "events-password-123";
/// Generous: the figure that matters is printed, and `make bench` measures it properly.
const DELIVERY: Duration = Duration::from_secs(10);

/// The next event of `stream` (heartbeats skipped), and how long it took.
async fn next(stream: &mut EventStream) -> (SseEvent, Duration) {
    let started = Instant::now();
    match stream.next(DELIVERY).await {
        Next::Event(event) => (event, started.elapsed()),
        other => panic!("no event within {DELIVERY:?}: {other:?}"),
    }
}

fn data(event: &SseEvent) -> Value {
    serde_json::from_str(&event.data).expect("the event's data is a CloudEvent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_changes_reach_an_event_stream_in_order_and_resume_after_the_last_id() {
    let system = System::builder(debug_dir(&SYSTEM_BINARIES))
        .admin(EMAIL, PASSWORD)
        .start()
        .await
        .unwrap_or_else(|e| panic!("the system did not start: {e}"));
    let api = system.api();
    let token = api
        .login_within(EMAIL, PASSWORD, Duration::from_secs(60))
        .await
        .expect("the admin signs in");
    // The gateway puts the stream in place at start-up: until then /events answers 503.
    testbed::wait_until("GET /events accepts", Duration::from_secs(60), || async {
        api.open_events("/events", &token, None)
            .await
            .is_ok_and(|s| s.status == 200)
    })
    .await;
    let mut stream = api
        .open_events("/events?types=products.*", &token, None)
        .await
        .expect("a response head");
    assert_eq!(stream.status, 200);

    let created = api
        .expect(
            "POST",
            "/products",
            Some(&token),
            Some(
                json!({"product_name": "Event test", "category_id": 1, "supplier_id": 1,
                        "unit_price": "4.20"}),
            ),
            201,
        )
        .await;
    let id = created.body["product_id"].as_i64().expect("an id");
    let (first, first_after) = next(&mut stream).await;
    api.expect(
        "PATCH",
        &format!("/products/{id}"),
        Some(&token),
        Some(json!({"unit_price": "5.00"})),
        200,
    )
    .await;
    let (second, second_after) = next(&mut stream).await;
    api.expect(
        "DELETE",
        &format!("/products/{id}"),
        Some(&token),
        None,
        204,
    )
    .await;
    let (third, third_after) = next(&mut stream).await;
    eprintln!(
        "[events] delivered after the reply in {first_after:?}, {second_after:?}, {third_after:?}"
    );

    let types: Vec<&str> = [&first, &second, &third]
        .iter()
        .map(|e| e.event.as_str())
        .collect();
    assert_eq!(
        types,
        ["products.created", "products.updated", "products.deleted"]
    );
    for event in [&first, &second, &third] {
        let cloud = data(event);
        assert_eq!(cloud["type"], event.event.as_str());
        assert_eq!(cloud["subject"], id.to_string());
        assert_eq!(cloud["source"], "/natstack/products");
        assert_eq!(cloud["authtype"], "user");
    }
    assert_eq!(data(&second)["data"]["unit_price"], "5.00");
    // The delete carries the product as it was.
    assert_eq!(data(&third)["data"]["product_name"], "Event test");
    let sequences: Vec<u64> = [&first, &second, &third]
        .iter()
        .map(|e| e.id.parse().expect("the id is the stream sequence"))
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    drop(stream);

    // Reconnecting after the first: the other two, then (after a new write) the new one, so
    // nothing else came in between.
    let mut resumed = api
        .open_events("/events?types=products.*", &token, Some(&first.id))
        .await
        .expect("a response head");
    assert_eq!(resumed.status, 200);
    assert_eq!(next(&mut resumed).await.0, second);
    assert_eq!(next(&mut resumed).await.0, third);
    let marker = api
        .expect(
            "POST",
            "/products",
            Some(&token),
            Some(json!({"product_name": "Marker", "category_id": 1, "supplier_id": 1})),
            201,
        )
        .await;
    let (after, _) = next(&mut resumed).await;
    assert_eq!(after.event, "products.created");
    assert_eq!(
        data(&after)["subject"],
        marker.body["product_id"].as_i64().unwrap().to_string()
    );
    system.stop();
}
