//! The caller's deadline at the service: an expired request does no work, a handler is
//! stopped when its time is up, and calls made inside a handler inherit what remains.

use std::time::Duration;

use contract::{Envelope, Operation, headers};
use runtime::test_support::{NatsServer, wait_until};
use runtime::{CallError, CallOptions, Requester, deadline};

use super::ops::{self, Remaining, Slow, State};

/// A server, the test service on it, and a requester.
async fn setup() -> (
    NatsServer,
    async_nats::Client,
    State,
    ops::Running,
    Requester,
) {
    let nats = NatsServer::start().await.expect("nats-server starts");
    let client = nats.client().await;
    let state = State::new("a");
    let running = ops::start(&client, state.clone()).await;
    let requester = Requester::new(client.clone()).await.unwrap();
    (nats, client, state, running, requester)
}

/// Calls `Slow` with a deadline of `ms`, which passes.
async fn call_slow(requester: &Requester, ms: u64) {
    let options = CallOptions::timeout(Duration::from_millis(ms));
    let result = requester.call::<Slow>(&Envelope::default(), options).await;
    assert!(
        matches!(result, Err(CallError::TimedOut { .. })),
        "{result:?}"
    );
}

/// Waits until the `Slow` handler has been cancelled once.
async fn wait_cancelled(state: &State) {
    wait_until(
        "the handler is cancelled",
        Duration::from_secs(5),
        || async { state.slow_dropped() == 1 },
    )
    .await;
}

#[tokio::test]
async fn a_request_that_arrives_expired_does_no_work() {
    let (_nats, client, state, running, requester) = setup().await;

    // Published with no time left, as a caller whose deadline passed on the way would.
    let mut expired = async_nats::HeaderMap::new();
    expired.insert(headers::DEADLINE_MS, "0");
    client
        .publish_with_reply_and_headers(Slow::subject(), "nobody.listens", expired, "{}".into())
        .await
        .unwrap();
    // Then one with time left: it starts, and the service takes requests in order, so the
    // expired one has been taken before this one starts.
    call_slow(&requester, 300).await;
    wait_cancelled(&state).await;
    assert_eq!(
        state.slow_started(),
        1,
        "the expired request must not start its handler"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_handler_is_cancelled_at_the_deadline() {
    let (_nats, _client, state, running, requester) = setup().await;

    let sent = std::time::Instant::now();
    call_slow(&requester, 400).await;
    // The handler sleeps a minute; it is dropped at the caller's deadline instead, and the
    // drain on stop has nothing left to wait for.
    wait_cancelled(&state).await;
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(state.slow_started(), 1);
    let stopping = std::time::Instant::now();
    running.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "the drain waited for a cancelled handler: {:?}",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn calls_carry_and_inherit_the_remaining_deadline() {
    let (_nats, _client, _state, running, requester) = setup().await;

    // A plain call sends its own timeout, and the handler sees that much time left.
    let (header, left) = requester
        .call::<Remaining>(
            &Envelope::default(),
            CallOptions::timeout(Duration::from_secs(3)),
        )
        .await
        .unwrap();
    assert_eq!(header, Some(3000));
    let left = left.expect("the handler runs with a deadline");
    assert!((2000..=3000).contains(&left), "{left}");

    // A call made while handling a request with 800 ms left passes on at most that, whatever
    // timeout it asks for.
    let scope = tokio::time::Instant::now() + Duration::from_millis(800);
    let (header, _) = deadline::scope(Some(scope), async {
        requester
            .call::<Remaining>(
                &Envelope::default(),
                CallOptions::timeout(Duration::from_secs(30)),
            )
            .await
            .unwrap()
    })
    .await;
    let header = header.unwrap();
    assert!((1..=800).contains(&header), "{header}");

    // With the time already gone it does not send at all.
    let gone = deadline::scope(Some(tokio::time::Instant::now()), async {
        requester
            .call::<Remaining>(&Envelope::default(), CallOptions::default())
            .await
    })
    .await;
    assert!(matches!(gone, Err(CallError::TimedOut { .. })), "{gone:?}");
    running.stop().await;
}
