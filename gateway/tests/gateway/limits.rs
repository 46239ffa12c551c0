//! Rate limits per route class and per client or user, `X-Forwarded-For` only from trusted
//! proxies, and load shedding when too many requests wait on services.

use std::sync::atomic::Ordering;

use contract::auth::Login;
use contract::{Operation, RequestOf, ServiceError};
use gateway::limit::Quotas;
use runtime::test_support::wait_until;
use runtime::{RequestContext, ServiceBuilder};
use serde_json::json;

use super::support::{Http, Reply, Running, WAIT, World, user_token};

fn limited(rates: &str) -> impl FnOnce(&mut gateway::Config) {
    let rates = Quotas::parse(rates).unwrap();
    move |c| c.limits.rates = rates
}

/// Asserts a 429 in the gateway's error shape with a `Retry-After` of at least a second.
fn assert_limited(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 429, "{what}");
    assert_eq!(reply.error_code(), "rate_limited", "{what}");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1, "{what}: Retry-After {retry}");
}

async fn list(http: &Http, forwarded_for: &str) -> Reply {
    http.get_with("/widgets", &[("x-forwarded-for", forwarded_for)])
        .await
}

/// A stand-in auth service whose login refuses everyone (the recording one, its record unread).
async fn start_login(world: &World) -> Running {
    start_recording_login(world).await.0
}

#[tokio::test]
async fn each_route_class_has_its_own_quota() {
    let world = World::start_with(limited("auth=2/m,write=1/m,read=3/m")).await;
    let login = start_login(&world).await;
    let http = world.http();

    for _ in 0..3 {
        assert_eq!(http.get("/widgets").await.status, 200);
    }
    assert_limited(&http.get("/widgets").await, "fourth read");

    assert_eq!(
        http.fail(409, "taken").await.status,
        409,
        "writes are counted apart from reads"
    );
    assert_limited(&http.fail(409, "taken").await, "second write");

    let credentials = json!({"email": "a@example.com", "password": "guess"});
    for _ in 0..2 {
        let reply = http.json("POST", "/auth/login", None, &credentials).await;
        assert_eq!(reply.status, 401, "logins are counted apart from writes");
    }
    assert_limited(
        &http.json("POST", "/auth/login", None, &credentials).await,
        "third login",
    );
    let metrics = world.gateway.health.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"natstack_gateway_requests_refused_total{reason="rate_limited"} 3"#),
        "one refusal per class counted:\n{metrics}"
    );
    login.stop().await;
    world.stop().await;
}

#[tokio::test]
async fn authenticated_users_are_limited_one_by_one() {
    let world = World::start_with(limited("read=2/m")).await;
    let http = world.http();
    let (one, two) = (user_token("u1"), user_token("u2"));
    for _ in 0..2 {
        assert_eq!(http.get_as("/widgets/1", &one).await.status, 200);
    }
    assert_limited(&http.get_as("/widgets/1", &one).await, "u1 over its quota");
    assert_eq!(http.get_as("/widgets/1", &two).await.status, 200);
    // The anonymous budget of this address is apart from its users'.
    assert_eq!(http.get("/widgets").await.status, 200);
    world.stop().await;
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let trusted = World::start_with(|c| {
        limited("read=1/m")(c);
        c.limits.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let http = trusted.http();
    assert_eq!(list(http, "203.0.113.1").await.status, 200);
    assert_limited(&list(http, "203.0.113.1").await, "the same client again");
    assert_eq!(
        list(http, "203.0.113.2").await.status,
        200,
        "another client behind the proxy"
    );
    trusted.stop().await;

    let untrusted = World::start_with(limited("read=1/m")).await;
    let http = untrusted.http();
    assert_eq!(list(http, "203.0.113.1").await.status, 200);
    assert_limited(
        &list(http, "203.0.113.2").await,
        "a client cannot pick the address it is limited by",
    );
    untrusted.stop().await;
}

#[tokio::test]
async fn requests_beyond_the_in_flight_budget_are_shed() {
    let world = World::start_with(|c| c.limits.max_in_flight = 1).await;
    let http = world.http().clone();
    let slow = tokio::spawn({
        let http = http.clone();
        async move { http.get("/widgets/slow").await }
    });
    let widgets = world.widgets.clone();
    wait_until("the slow request reached the service", WAIT, || {
        let widgets = widgets.clone();
        async move { widgets.slow_started.load(Ordering::SeqCst) == 1 }
    })
    .await;
    let shed = http.get("/widgets").await;
    assert_eq!(shed.status, 503);
    assert_eq!(shed.error_code(), "unavailable");
    assert_eq!(shed.header("retry-after"), Some("1"));
    // The gateway's own endpoints are not proxied and stay up.
    assert_eq!(http.get("/healthz").await.status, 200);
    let metrics = world.gateway.health.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"natstack_gateway_requests_refused_total{reason="load_shed"} 1"#),
        "{metrics}"
    );

    world.widgets.open_gate();
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(http.get("/widgets").await.status, 200);
    world.stop().await;
}

/// A stand-in auth service whose login refuses everyone and records the client address the
/// gateway forwards.
async fn start_recording_login(
    world: &World,
) -> (Running, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let service = ServiceBuilder::new("auth", "1.0.0", "records logins", seen.clone())
        .endpoint::<Login, _>(
            |seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
             ctx: RequestContext,
             _: RequestOf<Login>| async move {
                let addr = ctx
                    .headers
                    .get(contract::auth::CLIENT_ADDR_HEADER)
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default();
                seen.lock().unwrap().push(addr);
                Err::<<Login as Operation>::Response, _>(ServiceError::new(
                    contract::ErrorCode::Unauthenticated,
                    "wrong password",
                ))
            },
        );
    (world.serve(service, &Login::subject()).await, seen)
}

#[tokio::test]
async fn auth_hears_the_client_address_the_limiter_resolved() {
    let trusted = gateway::limit::config::parse_trusted_proxies("127.0.0.1").unwrap();
    let world = World::start_with(move |c| c.limits.trusted_proxies = trusted).await;
    let (login, seen) = start_recording_login(&world).await;
    let credentials = json!({"email": "a@example.com", "password": "guess"});
    let via_proxy = [
        ("x-forwarded-for", "198.51.100.1, 203.0.113.9"),
        ("content-type", "application/json"),
    ];
    let body = serde_json::to_vec(&credentials).unwrap();
    let reply = world
        .http()
        .send("POST", "/auth/login", &via_proxy, Some(body.clone()))
        .await;
    assert_eq!(reply.status, 401);
    // The rightmost untrusted hop, not the proxy and not what the client wrote leftmost.
    assert_eq!(*seen.lock().unwrap(), ["203.0.113.9"]);
    login.stop().await;
    world.stop().await;

    // Without trusted proxies the header is the client's own claim: the peer is forwarded.
    let world = World::start().await;
    let (login, seen) = start_recording_login(&world).await;
    world
        .http()
        .send("POST", "/auth/login", &via_proxy, Some(body))
        .await;
    assert_eq!(*seen.lock().unwrap(), ["127.0.0.1"]);
    login.stop().await;
    world.stop().await;
}

/// Requests refused for a missing or bad token cost their address's quota like any anonymous
/// request, so a flood of them meets 429; users with valid tokens are counted apart.
#[tokio::test]
async fn refused_tokens_count_against_the_client_address() {
    let world = World::start_with(limited("read=6/m")).await;
    let http = world.http();
    let forged = super::support::sign(
        super::support::KEY_B,
        "key-b",
        &super::support::claims("u", &["user"]),
    );
    for token in ["garbage", "also.not.valid", forged.as_str()] {
        assert_eq!(
            http.get_as("/widgets/1", token).await.status,
            401,
            "{token}"
        );
    }
    for _ in 0..3 {
        assert_eq!(http.get("/widgets/1").await.status, 401, "no token");
    }
    assert_limited(
        &http.get_as("/widgets/1", "garbage").await,
        "a bad token over the quota",
    );
    assert_limited(&http.get("/widgets/1").await, "no token over the quota");
    assert_eq!(
        http.get_as("/widgets/1", &user_token("u1")).await.status,
        200,
        "a valid user from the same address has a quota of its own"
    );
    world.stop().await;
}
