//! Register, login, me, refresh (with reuse detection), logout; duplicate registrations.

use contract::auth::Me;
use contract::{ErrorCode, headers};
use futures::future::join_all;
use mongodb::bson::DateTime;
use runtime::CallOptions;

use super::helpers::{AuthApp, start};

#[tokio::test]
async fn register_login_me_refresh_logout() {
    let (_servers, app) = start().await;

    let user = app
        .registered("ada", "  Ada@Example.COM ", "correct horse battery")
        .await;
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(user.username, "ada");
    assert_eq!(user.roles, ["user"]);
    assert!(!user.created_at.is_empty());

    // Login with another spelling of the same email.
    let pair = app
        .login("ADA@example.com", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, 15 * 60);
    let claims = app.claims(&pair.access_token).await;
    assert_eq!(claims.sub, user.id);

    // me: identity from the gateway's header only.
    let as_user = CallOptions::default().header(headers::USER_ID, user.id.clone());
    let me = app.send_with::<Me>((), as_user).await.unwrap();
    assert_eq!(me, user);
    let anonymous = app.send::<Me>(()).await.unwrap_err();
    assert_eq!(anonymous.code, ErrorCode::Unauthenticated);
    let ghost = CallOptions::default().header(headers::USER_ID, "no-such-user");
    assert_eq!(
        app.send_with::<Me>((), ghost).await.unwrap_err().code,
        ErrorCode::NotFound
    );

    // Refresh rotates both tokens.
    let second = app.refresh(&pair.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, pair.refresh_token);
    assert_ne!(second.access_token, pair.access_token);
    let third = app.refresh(&second.refresh_token).await.unwrap();

    // Logout revokes the session: its current refresh token no longer works.
    app.logout(&third.refresh_token).await.unwrap();
    let err = app.refresh(&third.refresh_token).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthenticated);
    // Logout is idempotent, also for a token nobody issued.
    app.logout(&third.refresh_token).await.unwrap();
    app.logout(&"A".repeat(43)).await.unwrap();

    // Another session of the same user is unaffected.
    let other = app
        .login("ada@example.com", "correct horse battery")
        .await
        .unwrap();
    app.refresh(&other.refresh_token).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let (servers, app) = start().await;
    let first = app.sign_up("bob", "bob@example.com", "password123").await;
    let second = app.refresh(&first.refresh_token).await.unwrap();

    // The first token again: a replay. Refused, and the whole family dies with it.
    let replay = app.refresh(&first.refresh_token).await.unwrap_err();
    assert_eq!(replay.code, ErrorCode::Unauthenticated);
    let after = app.refresh(&second.refresh_token).await.unwrap_err();
    assert_eq!(after.code, ErrorCode::Unauthenticated);
    assert_eq!(after, replay, "one uniform answer");

    // Two concurrent refreshes with one token: exactly one wins.
    let fresh = app.login("bob@example.com", "password123").await.unwrap();
    let results = join_all((0..4).map(|_| app.refresh(&fresh.refresh_token))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );

    // A token past its expiry is refused even if the TTL monitor has not removed it.
    let store = servers.store().await;
    let token = "B".repeat(43);
    store
        .insert_refresh(&auth::store::RefreshDoc {
            hash: auth::tokens::hash_refresh_token(&token),
            family: "expired-family".into(),
            user_id: "someone".into(),
            expires_at: DateTime::from_millis(DateTime::now().timestamp_millis() - 1_000),
            created_at: DateTime::now(),
            used_at: None,
        })
        .await
        .unwrap();
    let expired = app.refresh(&token).await.unwrap_err();
    assert_eq!(expired, replay);
    app.stop().await;
}

#[tokio::test]
async fn duplicate_and_concurrent_registrations() {
    let (_servers, app) = start().await;
    app.registered("carol", "carol@example.com", "password123")
        .await;
    let dup = app
        .register_conflict("carol2", " CAROL@example.com", "password456")
        .await;
    assert_eq!(dup.status(), 409);

    let names: Vec<String> = (0..8).map(|i| format!("dave{i}")).collect();
    let results = join_all(
        names
            .iter()
            .map(|name| app.register(name, "dave@example.com", "password123")),
    )
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.code == ErrorCode::Conflict))
        .count();
    assert_eq!((won, conflicts), (1, 7), "{results:?}");
    app.stop().await;
}
