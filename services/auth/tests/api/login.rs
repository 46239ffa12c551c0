//! Login: one uniform 401 with the same work for unknown emails, and throttling.

use contract::auth::{CLIENT_ADDR_HEADER, Login, LoginRequest, TokenPair};
use contract::{ErrorCode, ServiceError};
use runtime::CallOptions;

use super::helpers::{AuthApp, logs, start};

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

/// A login from `addr`.
async fn login_from(
    app: &impl AuthApp,
    addr: &str,
    email: &str,
    password: &str,
) -> Result<TokenPair, ServiceError> {
    let body = LoginRequest {
        email: email.into(),
        password: password.into(),
    };
    let options = CallOptions::default().header(CLIENT_ADDR_HEADER, addr);
    app.send_with::<Login>(body, options).await
}

/// Fails unless one log line holds every one of `parts`.
fn assert_logged(parts: &[&str]) {
    let logs = logs();
    assert!(
        logs.lines().any(|l| parts.iter().all(|p| l.contains(p))),
        "no line with {parts:?} in\n{logs}"
    );
}

/// A wrong password for `email` from `addr`: the refusal.
async fn guess_from(app: &impl AuthApp, addr: &str, email: &str) -> ServiceError {
    login_from(app, addr, email, "bad-password")
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_guesser_is_locked_out_of_the_account_only_at_its_address() {
    let (_servers, app) = start().await; // 3 failures per pair allowed
    app.registered("frank", "frank@example.com", "password123")
        .await;
    app.registered("grace", "grace@example.com", "password123")
        .await;

    for _ in 0..3 {
        let e = guess_from(&app, "203.0.113.7", "frank@example.com").await;
        assert_eq!(e.code, ErrorCode::Unauthenticated);
    }
    // The guesser is throttled, even when it finally has the right password.
    let locked = login_from(&app, "203.0.113.7", "frank@example.com", "password123")
        .await
        .unwrap_err();
    assert_eq!(locked.code, ErrorCode::RateLimited);
    assert_eq!(locked.status(), 429);
    let retry = locked.retry_after_secs.expect("Retry-After is sent");
    assert!((1..=300).contains(&retry), "{retry}");
    // Another account at the guesser's address is not.
    login_from(&app, "203.0.113.7", "grace@example.com", "password123")
        .await
        .unwrap();
    // Unknown emails are throttled the same way (no enumeration through 429s).
    for _ in 0..3 {
        guess_from(&app, "203.0.113.7", "ghost@example.com").await;
    }
    let ghost = guess_from(&app, "203.0.113.7", "ghost@example.com").await;
    assert_eq!(ghost.code, ErrorCode::RateLimited);
    // Without an address (a NATS caller that is not the gateway) the account is the pair.
    for _ in 0..3 {
        app.login("frank@example.com", "bad-password")
            .await
            .unwrap_err();
    }
    let e = app
        .login("frank@example.com", "password123")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    app.stop().await;
    assert_logged(&["login throttled", "frank@example.com", "203.0.113.7"]);
}

#[tokio::test]
async fn guesses_from_elsewhere_cannot_lock_the_admin_out() {
    let (_servers, app) = start().await;
    app.registered("admin", "admin@example.com", "password123")
        .await;
    // Many guessers, each until its pair is locked: far past the account's delay threshold.
    for i in 0..5 {
        let addr = format!("198.51.100.{i}");
        for _ in 0..4 {
            guess_from(&app, &addr, "admin@example.com").await;
        }
    }
    // The owner at another address, with the right password, gets in (after a delay).
    login_from(&app, "192.0.2.10", "admin@example.com", "password123")
        .await
        .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn wrong_guesses_from_an_address_do_not_stop_others_there() {
    let (_servers, app) = start().await;
    // One address (an office behind NAT, say) sprays wrong passwords at many accounts.
    for i in 0..8 {
        guess_from(&app, "203.0.113.50", &format!("spray{i}@example.com")).await;
    }
    // Someone else at that address, with the right password, still gets in: told at once to
    // wait out the address's delay, and let in when back.
    app.registered("heidi", "heidi@example.com", "password123")
        .await;
    let delayed = login_from(&app, "203.0.113.50", "heidi@example.com", "password123")
        .await
        .unwrap_err();
    assert_eq!(delayed.code, ErrorCode::RateLimited);
    let wait = delayed.retry_after_secs.expect("Retry-After is sent");
    assert!((1..=2).contains(&wait), "{wait}");
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    login_from(&app, "203.0.113.50", "heidi@example.com", "password123")
        .await
        .unwrap();
    app.stop().await;
    // The failures are traceable: each line names the account and the client address; past
    // the address's threshold, the guesses were told to wait instead.
    assert_logged(&["login failed", "spray4@example.com", "203.0.113.50"]);
    assert_logged(&["login delayed", "spray7@example.com", "203.0.113.50"]);
}
