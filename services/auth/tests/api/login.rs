//! Login: one uniform 401 with the same work for unknown emails, and throttling.

use contract::ErrorCode;
use contract::auth::{CLIENT_ADDR_HEADER, Login, LoginRequest};
use runtime::CallOptions;

use super::helpers::{AuthApp, start};

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
    let (_servers, app) = start().await;
    app.registered("erin", "erin@example.com", "password123")
        .await;

    let before = app.verifications().await;
    let wrong_password = app
        .login("erin@example.com", "password124")
        .await
        .unwrap_err();
    let after_wrong = app.verifications().await;
    let unknown_email = app
        .login("nobody@example.com", "password123")
        .await
        .unwrap_err();
    let after_unknown = app.verifications().await;

    assert_eq!(wrong_password.code, ErrorCode::Unauthenticated);
    assert_eq!(
        wrong_password, unknown_email,
        "identical code, message and details"
    );
    // Both paths ran exactly one argon2 verification: the same work, so comparable time.
    assert_eq!(after_wrong - before, 1);
    assert_eq!(after_unknown - after_wrong, 1);
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_and_per_client() {
    let (_servers, app) = start().await; // 3 failures allowed
    app.registered("frank", "frank@example.com", "password123")
        .await;
    app.registered("grace", "grace@example.com", "password123")
        .await;

    // Per account (no client address): the third failure locks the account.
    for _ in 0..3 {
        let e = app
            .login("frank@example.com", "bad-password")
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthenticated);
    }
    let locked = app
        .login("frank@example.com", "password123")
        .await
        .unwrap_err();
    assert_eq!(locked.code, ErrorCode::RateLimited);
    assert_eq!(locked.status(), 429);
    let retry = locked.retry_after_secs.expect("Retry-After is sent");
    assert!((1..=300).contains(&retry), "{retry}");
    // Other accounts are unaffected.
    app.login("grace@example.com", "password123").await.unwrap();
    // Unknown emails are throttled the same way (no enumeration through 429s).
    for _ in 0..3 {
        app.login("ghost@example.com", "bad-password")
            .await
            .unwrap_err();
    }
    let ghost = app
        .login("ghost@example.com", "bad-password")
        .await
        .unwrap_err();
    assert_eq!(ghost.code, ErrorCode::RateLimited);

    // Per client: failures spread over accounts from one address lock that address.
    let from = |addr: &str| CallOptions::default().header(CLIENT_ADDR_HEADER, addr);
    for i in 0..3 {
        let body = LoginRequest {
            email: format!("spray{i}@example.com"),
            password: "bad-password".into(),
        };
        app.send_with::<Login>(body, from("203.0.113.7"))
            .await
            .unwrap_err();
    }
    let good = || LoginRequest {
        email: "grace@example.com".into(),
        password: "password123".into(),
    };
    let e = app
        .send_with::<Login>(good(), from("203.0.113.7"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    // The same account from another address still logs in.
    app.send_with::<Login>(good(), from("198.51.100.1"))
        .await
        .unwrap();
    app.stop().await;
}
