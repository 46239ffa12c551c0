//! Admin bootstrap from ADMIN_EMAIL / ADMIN_PASSWORD: idempotent, promotes an existing account.

use auth::Config;
use contract::ErrorCode;
use contract::auth::Claims;
use runtime::test_support::ServiceApp;

use super::helpers::{AuthApp, Servers, spawn};

/// The test configuration bootstrapping `email` as the admin, with password `admin-password-1`.
fn admin_config(servers: &Servers, email: &str) -> Config {
    let mut config = servers.config();
    config.admin_email = Some(email.into());
    config.admin_password = Some("admin-password-1".into());
    config
}

/// Starts the service with `config` and signs in as the bootstrapped admin (with the first
/// password), checking the token carries both roles.
async fn root_session(servers: &Servers, config: &Config) -> (ServiceApp, Claims) {
    let app = spawn(servers, config.clone()).await;
    let pair = app
        .login("root@example.com", "admin-password-1")
        .await
        .unwrap();
    let claims = app.claims(&pair.access_token).await;
    assert_eq!(claims.roles, ["user", "admin"]);
    (app, claims)
}

#[tokio::test]
async fn admin_bootstrap_is_idempotent() {
    let servers = Servers::start().await;
    let mut config = admin_config(&servers, " Root@Example.com ");

    let (app, claims) = root_session(&servers, &config).await;
    app.stop().await;

    // Again, even with another password: same account, same roles, password unchanged.
    config.admin_password = Some("admin-password-2".into());
    let (app, again) = root_session(&servers, &config).await;
    assert_eq!(again.sub, claims.sub);
    let dup = app
        .register("someone", "root@example.com", "password123")
        .await
        .unwrap_err();
    assert_eq!(dup.code, ErrorCode::Conflict, "still exactly one account");

    // An ordinary account named as admin is promoted.
    app.registered("judy", "judy@example.com", "password123")
        .await;
    app.stop().await;
    config.admin_email = Some("judy@example.com".into());
    let app = spawn(&servers, config.clone()).await;
    let store = servers.store().await;
    let judy = store
        .user_by_email("judy@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(judy.roles, ["user", "admin"]);
    app.stop().await;

    // Half a configuration is refused at start-up.
    config.admin_password = None;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nats = runtime::config::NatsArgs::url(servers.nats.url());
    let err = auth::run(nats, config, listener, std::future::pending())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            auth::Error::Bootstrap(auth::bootstrap::BootstrapError::Partial)
        ),
        "{err}"
    );
}

#[tokio::test]
async fn replicas_bootstrapping_at_once_create_one_admin() {
    let servers = Servers::start().await;
    let config = admin_config(&servers, "boss@example.com");
    let (a, b) = tokio::join!(
        spawn(&servers, config.clone()),
        spawn(&servers, config.clone())
    );
    let user = servers
        .store()
        .await
        .user_by_email("boss@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.roles, ["user", "admin"]);
    a.login("boss@example.com", "admin-password-1")
        .await
        .unwrap();
    b.register_conflict("boss2", "boss@example.com", "password123")
        .await;
    a.stop().await;
    b.stop().await;
}
