//! Deleted accounts: with the real auth service (on nx-27017) behind the gateway, an access
//! token the gateway accepted, and remembers, is refused once its account is deleted.

use std::time::{Duration, Instant};

use contract::Operation;
use contract::auth::DeleteUser;
use runtime::config::NatsArgs;
use runtime::test_support::{MongoServer, NatsServer, ServiceApp, wait_until};
use serde_json::json;

use super::support::{Gateway, Http, WAIT};

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "admin-password-123";
/// The gateway's revocation poll in this test.
const POLL: Duration = Duration::from_millis(300);

/// Logs in: the access token.
async fn login(http: &Http, email: &str, password: &str) -> String {
    let reply = http
        .json(
            "POST",
            "/auth/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

async fn delete(http: &Http, id: &str, token: &str) -> u16 {
    let auth = format!("Bearer {token}");
    http.send(
        "DELETE",
        &format!("/auth/users/{id}"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .status
}

// The measured figure is part of what the test reports.
#[allow(clippy::print_stdout)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_accounts_token_is_refused_within_the_poll_interval() {
    let nats = NatsServer::start().await.unwrap();
    let mongo = MongoServer::start().await.unwrap();
    let mut config = auth::Config::new(mongo.url());
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(ADMIN_PASSWORD.into());
    config.argon2.argon2_memory_kib = 256;
    config.argon2.argon2_iterations = 1;
    let auth = ServiceApp::start(&nats, |nats, health, stop| {
        auth::run(nats, config, health, stop)
    })
    .await;
    let mut config = gateway::Config::new(NatsArgs::url(nats.url()));
    config.discovery = gateway::config::DiscoveryConfig::every(Duration::from_millis(100));
    config.revoked.interval = POLL;
    let gateway = Gateway::start(config).await;
    gateway.wait_routed(&DeleteUser::subject()).await;
    let http = &gateway.http;

    let admin = login(http, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let registered = http
        .json(
            "POST",
            "/auth/register",
            None,
            &json!({"username": "leaver", "email": "leaver@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(registered.status, 201);
    let id = registered.json()["id"].as_str().unwrap().to_owned();
    let user = login(http, "leaver@example.com", "password123").await;
    // Verified once, so the gateway remembers the token.
    assert_eq!(http.get_as("/auth/me", &user).await.status, 200);
    assert_eq!(delete(http, &id, &user).await, 403, "only an admin deletes");

    assert_eq!(delete(http, &id, &admin).await, 204);
    let deleted = Instant::now();
    let probe = http.clone();
    let token = user.clone();
    wait_until("the deleted account's token is refused", WAIT, || {
        let (http, token) = (probe.clone(), token.clone());
        async move { http.get_as("/auth/me", &token).await.status == 401 }
    })
    .await;
    let took = deleted.elapsed();
    println!("a deleted account's token was refused {took:?} after the deletion (poll: {POLL:?})");
    // The gateway's refusal, not the service's (auth answers a deleted user's `/auth/me` 404).
    let refused = http.get_as("/auth/me", &user).await;
    refused.assert_error(401, "unauthenticated");
    assert_eq!(refused.json()["message"], "token revoked");
    assert_eq!(http.get_as("/auth/me", &admin).await.status, 200);
    assert_eq!(delete(http, &id, &admin).await, 404, "already gone");
    assert_eq!(delete(http, "no-such-user", &admin).await, 404);

    gateway.stop().await;
    auth.stop().await;
}
