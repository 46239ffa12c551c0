//! Serving: concurrency, load spreading, errors, context, drain.

use std::collections::HashSet;
use std::time::Duration;

use contract::{Envelope, ErrorCode, Operation, headers};
use runtime::call::error_of;
use runtime::test_support::{NatsServer, wait_until};
use runtime::{CallError, CallOptions, Requester};
use tokio::task::JoinHandle;

use super::ops::{self, AdminOnly, Echo, Fail, Gated, Panic, State, Whoami};

async fn setup() -> (NatsServer, async_nats::Client, Requester) {
    let nats = NatsServer::start().await.expect("nats-server starts");
    let client = nats.client().await;
    let requester = Requester::new(client.clone()).await.unwrap();
    (nats, client, requester)
}

/// Sends `count` [`Gated`] requests, each on a task of its own, and returns once `in_flight`
/// of them are being handled (waiting at the gate).
async fn gated_calls(
    requester: &Requester,
    state: &State,
    count: usize,
    in_flight: usize,
) -> Vec<JoinHandle<Result<String, CallError>>> {
    let calls = (0..count)
        .map(|_| {
            let requester = requester.clone();
            tokio::spawn(async move {
                requester
                    .call::<Gated>(
                        &Envelope::default(),
                        CallOptions::timeout(Duration::from_secs(20)),
                    )
                    .await
            })
        })
        .collect();
    wait_until(
        &format!("{in_flight} requests are in flight"),
        Duration::from_secs(10),
        || async { state.in_flight() == in_flight },
    )
    .await;
    calls
}

#[tokio::test]
async fn echoes_a_typed_request() {
    let (_nats, client, requester) = setup().await;
    let running = ops::start(&client, State::new("a")).await;
    let body = serde_json::json!({"name": "Chai", "tags": ["tea"]});
    let reply = requester
        .call::<Echo>(&Envelope::body(body.clone()), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(reply, body);
    running.stop().await;
}

#[tokio::test]
async fn slow_requests_run_concurrently_up_to_the_bound() {
    let (_nats, client, requester) = setup().await;
    let state = State::new("a");
    let service = ops::builder(state.clone())
        .max_in_flight(8)
        .start(&client)
        .await
        .unwrap();
    let running = ops::Running::spawn(service);
    runtime::test_support::wait_for_instance(&client, "test", &running.id).await;

    // 20 requests that all block until the gate opens: served one at a time, only one would
    // ever be in flight; with spawning, exactly the bound (8) are.
    let calls = gated_calls(&requester, &state, 20, 8).await;
    state.open_gate();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), "a");
    }
    assert_eq!(state.max_seen(), 8, "never more than the bound");
    running.stop().await;
}

#[tokio::test]
async fn two_instances_share_the_load_and_handle_each_request_once() {
    let (nats, client, requester) = setup().await;
    let (a, b) = (State::new("a"), State::new("b"));
    let client_b = nats.client().await;
    let running_a = ops::start(&client, a.clone()).await;
    let running_b = ops::start(&client_b, b.clone()).await;

    let mut per_instance = std::collections::HashMap::new();
    let replies = futures::future::join_all((0..200u64).map(|seq| {
        let requester = requester.clone();
        async move {
            let options = CallOptions::default().header(headers::USER_ID, "u-1");
            requester
                .call::<Whoami>(&Envelope::body(seq), options)
                .await
        }
    }))
    .await;
    for (seq, reply) in replies.into_iter().enumerate() {
        let reply = reply.unwrap();
        assert_eq!(reply.seq, seq as u64);
        *per_instance.entry(reply.instance).or_insert(0) += 1;
    }
    let seen_a = a.seen.lock().unwrap().clone();
    let seen_b = b.seen.lock().unwrap().clone();
    assert_eq!(
        seen_a.len() + seen_b.len(),
        200,
        "every request handled exactly once"
    );
    let all: HashSet<u64> = seen_a.iter().chain(&seen_b).copied().collect();
    assert_eq!(all.len(), 200, "no request handled twice");
    assert!(
        !seen_a.is_empty() && !seen_b.is_empty(),
        "both instances served: {per_instance:?}"
    );
    running_a.stop().await;
    running_b.stop().await;
}

#[tokio::test]
async fn errors_carry_headers_and_a_json_body() {
    let (_nats, client, requester) = setup().await;
    let running = ops::start(&client, State::new("a")).await;
    for status in [400u16, 401, 403, 404, 409, 422, 429, 500, 503] {
        let body =
            serde_json::json!({"status": status, "message": format!("failed with {status}")});
        // Raw: the Services API headers and the JSON body are both there.
        let reply = requester
            .request(
                &Fail::subject(),
                serde_json::to_vec(&serde_json::json!({"body": body}))
                    .unwrap()
                    .into(),
                CallOptions::default(),
            )
            .await
            .unwrap();
        let hdrs = reply.headers.as_ref().expect("error reply has headers");
        assert_eq!(
            hdrs.get(headers::SERVICE_ERROR_CODE).unwrap().as_str(),
            status.to_string()
        );
        assert!(
            !hdrs
                .get(headers::SERVICE_ERROR)
                .unwrap()
                .as_str()
                .is_empty()
        );
        let json: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(json["code"], ErrorCode::from_status(status).as_str());
        let parsed = error_of(&reply).unwrap();
        assert_eq!(parsed.status(), status);

        // Typed: the call maps it to CallError::Service with the same error.
        let typed = requester
            .call::<Fail>(
                &Envelope::body(ops::FailBody {
                    status,
                    message: "x".into(),
                }),
                CallOptions::default(),
            )
            .await;
        match typed {
            Err(CallError::Service { error, .. }) => {
                assert_eq!(error.status(), status);
                if status == 429 {
                    assert_eq!(error.retry_after_secs, Some(7));
                }
                if status == 422 {
                    assert_eq!(error.field_errors()[0].field, "name");
                }
            }
            other => panic!("expected a service error for {status}, got {other:?}"),
        }
    }
    running.stop().await;
}

#[tokio::test]
async fn a_bad_envelope_is_a_400_naming_the_field() {
    let (_nats, client, requester) = setup().await;
    let running = ops::start(&client, State::new("a")).await;
    for (payload, field) in [
        (r#"{"body":{"status":"x","message":"m"}}"#, "body.status"),
        (r#"{"body":{"status":400,"message":"m","extra":1}}"#, "body"),
        (r#"{"params":{"id":"1"}}"#, "params"),
        (r#"not json"#, ""),
    ] {
        let reply = requester
            .request(
                &Fail::subject(),
                payload.as_bytes().to_vec().into(),
                CallOptions::default(),
            )
            .await
            .unwrap();
        let err = error_of(&reply).expect("an error reply");
        assert_eq!(err.code, ErrorCode::BadRequest, "{payload}");
        assert!(
            err.message.starts_with("invalid request"),
            "{}",
            err.message
        );
        // A position in the envelope would mislead: the client sent a query or a body.
        assert!(!err.message.contains(" at line "), "{}", err.message);
        if !field.is_empty() {
            assert!(
                err.field_errors()[0].field.starts_with(field),
                "{payload}: {err:?}"
            );
        }
    }
    running.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_service_survives() {
    let (_nats, client, requester) = setup().await;
    let running = ops::start(&client, State::new("a")).await;
    match requester
        .call::<Panic>(&Envelope::default(), CallOptions::default())
        .await
    {
        Err(CallError::Service { error, .. }) => {
            assert_eq!(error.code, ErrorCode::Internal);
            assert!(
                !error.message.contains("handler bug"),
                "panic text must not leak"
            );
        }
        other => panic!("expected 500, got {other:?}"),
    }
    assert_eq!(ops::echo_one(&requester).await.unwrap(), 1);
    running.stop().await;
}

#[tokio::test]
async fn request_id_and_caller_reach_the_handler() {
    let (_nats, client, requester) = setup().await;
    let running = ops::start(&client, State::new("a")).await;
    let options = CallOptions::default()
        .header(headers::REQUEST_ID, "req-42")
        .header(headers::USER_ID, "u-1")
        .header(headers::ROLES, "user,admin");
    let me = requester
        .call::<Whoami>(&Envelope::body(1), options)
        .await
        .unwrap();
    assert_eq!(me.request_id.as_deref(), Some("req-42"));
    assert_eq!(me.user_id.as_deref(), Some("u-1"));
    assert_eq!(me.roles, ["user", "admin"]);
    running.stop().await;
}

#[tokio::test]
async fn declared_auth_levels_are_enforced_on_the_forwarded_caller() {
    let (_nats, client, requester) = setup().await;
    let running = ops::start(&client, State::new("a")).await;
    let status = |result: Result<_, CallError>| match result {
        Ok(_) => 200,
        Err(CallError::Service { error, .. }) => error.status(),
        Err(other) => panic!("unexpected {other:?}"),
    };
    let user = || {
        CallOptions::default()
            .header(headers::USER_ID, "u-1")
            .header(headers::ROLES, "user")
    };
    let admin = || {
        CallOptions::default()
            .header(headers::USER_ID, "u-2")
            .header(headers::ROLES, "user,admin")
    };
    // `user` level: a caller is needed, any caller will do.
    for (caller, options, want) in [
        ("nobody", CallOptions::default(), 401),
        ("user", user(), 200),
    ] {
        let result = requester.call::<Whoami>(&Envelope::body(1), options).await;
        assert_eq!(status(result.map(drop)), want, "{caller}");
    }
    // `admin` level: the role is needed.
    for (caller, options, want) in [
        ("nobody", CallOptions::default(), 401),
        ("user", user(), 403),
        ("admin", admin(), 200),
    ] {
        let result = requester
            .call::<AdminOnly>(&Envelope::default(), options)
            .await;
        assert_eq!(status(result), want, "{caller}");
    }
    // `public` level: nobody is needed.
    assert_eq!(status(ops::echo_one(&requester).await.map(drop)), 200);
    running.stop().await;
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_then_stops_serving() {
    let (_nats, client, requester) = setup().await;
    let state = State::new("a");
    let mut running = ops::start(&client, state.clone()).await;
    let calls = gated_calls(&requester, &state, 5, 5).await;
    let _ = running.shutdown.take().unwrap().send(());
    // The service is draining: the in-flight requests are still waiting at the gate.
    assert!(!running.task.is_finished());
    state.open_gate();
    for call in calls {
        assert_eq!(
            call.await.unwrap().unwrap(),
            "a",
            "in-flight request finished"
        );
    }
    running.task.await.unwrap().unwrap();
    // Unsubscribed: nobody listens any more.
    match ops::echo_one(&requester).await {
        Err(CallError::NoResponders { .. }) => {}
        other => panic!("expected no responders after shutdown, got {other:?}"),
    }
}

#[tokio::test]
async fn a_service_cannot_register_foreign_or_duplicate_operations() {
    let (_nats, client, _requester) = setup().await;
    let foreign = runtime::ServiceBuilder::new("other", "1.0.0", "x", State::new("a"))
        .endpoint::<Echo, _>(
            |_: State, _, req: contract::RequestOf<Echo>| async move { Ok(req.body) },
        );
    assert!(matches!(
        foreign.start(&client).await.err(),
        Some(runtime::serve::ServeError::ForeignOperation { .. })
    ));
    let bad_version = runtime::ServiceBuilder::new("test", "not-semver", "x", State::new("a"));
    assert!(matches!(
        bad_version.start(&client).await.err(),
        Some(runtime::serve::ServeError::Register { .. })
    ));
}
