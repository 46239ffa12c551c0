//! Health: `/readyz` follows MongoDB and NATS; `/metrics` counts requests.

use std::time::Duration;

use contract::auth::{Login, LoginRequest};
use runtime::CallOptions;
use runtime::config::NatsArgs;
use runtime::test_support::metrics::{assert_not_labelled, assert_promtool_clean};
use runtime::test_support::{assert_status, wait_until};

use super::helpers::{AuthApp, Servers, http_get, spawn, start};

#[tokio::test]
async fn readiness_follows_mongodb_and_metrics_count_requests() {
    let (servers, app) = start().await;
    let (status, body) = http_get(app.health, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    for check in [
        "\"nats\":\"ok\"",
        "\"mongodb\":\"ok\"",
        "\"registered\":\"ok\"",
    ] {
        assert!(body.contains(check), "{check} in {body}");
    }
    app.registered("liam", "liam@example.com", "password123")
        .await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"natstack_service_requests_total{endpoint="register",code="201"} 1"#),
        "{metrics}"
    );
    // A failed login is counted by reason, never by account.
    let wrong = LoginRequest {
        email: "nobody@example.com".into(),
        password: "password123".into(),
    };
    assert_eq!(app.send::<Login>(wrong).await.unwrap_err().status(), 401);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"natstack_auth_login_failures_total{reason="bad_credentials"} 1"#),
        "{metrics}"
    );
    assert_not_labelled(&metrics, &["nobody@example.com", "liam"]);
    assert_promtool_clean(&metrics);

    // MongoDB goes away: not ready, and requests that need it fail with 503, not 500.
    drop(servers.mongo);
    wait_until(
        "readiness reports MongoDB down",
        Duration::from_secs(20),
        || async { http_get(app.health, "/readyz").await.0 == 503 },
    )
    .await;
    let (_, body) = http_get(app.health, "/readyz").await;
    assert!(
        body.contains("\"nats\":\"ok\"") && !body.contains("\"mongodb\":\"ok\""),
        "{body}"
    );
    let body = LoginRequest {
        email: "liam@example.com".into(),
        password: "password123".into(),
    };
    let answer = app
        .send_with::<Login>(body, CallOptions::timeout(Duration::from_secs(30)))
        .await;
    assert_status(answer, 503);
    app.stop().await;
}

/// On a shared server the operator names the database after the namespace and stack, in the
/// URL's path (`MONGODB_DATABASE` unset): that database is the one used.
#[tokio::test]
async fn the_database_named_in_the_url_is_the_one_used() {
    use mongodb::bson::{Document, doc};
    let servers = Servers::start().await;
    let mut config = servers.config();
    config.mongodb_url = servers
        .mongo
        .url()
        .replace("/?", "/shop_demo_auth?authSource=admin&")
        .into();
    let app = spawn(&servers, config).await;
    app.registered("nora", "nora@example.com", "password123")
        .await;
    let client = mongodb::Client::with_uri_str(servers.mongo.url())
        .await
        .unwrap();
    for (db, expected) in [("shop_demo_auth", 1), ("auth", 0)] {
        let users = client.database(db).collection::<Document>("users");
        let found = users
            .count_documents(doc! {"email": "nora@example.com"})
            .await
            .unwrap();
        assert_eq!(found, expected, "{db}");
    }
    app.stop().await;
}

/// In a cluster nothing orders start-up: auth may start before NATS. It must wait for NATS
/// (not ready meanwhile) instead of exiting into a crash loop.
#[tokio::test]
async fn auth_started_before_nats_waits_for_it() {
    let mut servers = Servers::start().await;
    servers.nats.kill();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (nats, config) = (NatsArgs::url(servers.nats.url()), servers.config());
    let task = tokio::spawn(auth::run(nats, config, listener, async move {
        let _ = stopped.await;
    }));
    wait_until("auth answers /livez", Duration::from_secs(30), || async {
        http_get(health, "/livez").await.0 == 200
    })
    .await;
    assert_eq!(
        http_get(health, "/readyz").await.0,
        503,
        "ready without NATS"
    );
    assert!(!task.is_finished(), "auth exited while NATS was down");
    servers.nats.restart().await.expect("NATS starts");
    wait_until(
        "auth is ready once NATS is up",
        Duration::from_secs(30),
        || async { http_get(health, "/readyz").await.0 == 200 },
    )
    .await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
