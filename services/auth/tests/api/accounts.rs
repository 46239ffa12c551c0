//! Accounts: usernames unique regardless of case (older accounts backfilled), and deletion,
//! which revokes the account's tokens and is refused for the caller's own account.

use std::time::Duration;

use auth::handlers::{DELETING_SELF, EMAIL_TAKEN, USERNAME_TAKEN};
use auth::store::UserDoc;
use contract::auth::{DeleteUser, GetRevoked, Me, UserIdParams};
use contract::{Empty, Envelope, ErrorCode, headers};
use mongodb::bson::DateTime;
use runtime::CallOptions;

use super::helpers::{AuthApp, Servers, logs, spawn, start};

#[tokio::test]
async fn usernames_are_unique_regardless_of_case() {
    let (_servers, app) = start().await;
    app.registered("admin", "first@example.com", "password123")
        .await;
    for name in ["admin", "Admin", "ADMIN"] {
        let e = app
            .register_conflict(name, &format!("{name}@other.example.com"), "password123")
            .await;
        assert_eq!(e.message, USERNAME_TAKEN, "{name}");
    }
    let e = app
        .register_conflict("someone", "First@Example.com", "password123")
        .await;
    assert_eq!(e.message, EMAIL_TAKEN);
    app.stop().await;
}

/// An account as a version without `username_key` stored it.
fn legacy(id: &str, username: &str) -> UserDoc {
    UserDoc {
        id: id.to_owned(),
        username: username.to_owned(),
        username_key: None,
        email: format!("{id}@example.com"),
        password_hash: "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
        roles: vec!["user".to_owned()],
        created_at: DateTime::now(),
        pending_event: None,
    }
}

#[tokio::test]
async fn older_accounts_get_their_key_and_clashing_ones_are_left_alone() {
    let servers = Servers::start().await;
    let store = servers.store().await;
    // Before usernames were unique: `Bob` and `bob` both exist.
    for user in [
        legacy("u1", "Bob"),
        legacy("u2", "bob"),
        legacy("u3", "carol"),
    ] {
        store.insert_user(&user).await.unwrap();
    }
    // The service starts (the clash is logged, not fatal) and backfills the keys.
    let app = spawn(&servers, servers.config()).await;
    let keyed = [
        store.user_by_id("u1").await.unwrap().unwrap(),
        store.user_by_id("u2").await.unwrap().unwrap(),
    ];
    let keys: Vec<_> = keyed.iter().map(|u| u.username_key.as_deref()).collect();
    assert!(
        keys.contains(&Some("bob")) && keys.contains(&None),
        "one of the two holds the name: {keys:?}"
    );
    assert_eq!(
        store
            .user_by_id("u3")
            .await
            .unwrap()
            .unwrap()
            .username_key
            .as_deref(),
        Some("carol")
    );
    for name in ["BOB", "Carol"] {
        let e = app
            .register_conflict(name, &format!("{name}@new.example.com"), "password123")
            .await;
        assert_eq!(e.message, USERNAME_TAKEN, "{name}");
    }
    app.stop().await;
    assert!(logs().contains("username taken by another account"));
}

/// `DELETE /auth/users/{id}` as an admin.
fn delete(id: &str) -> Envelope<UserIdParams, Empty, ()> {
    Envelope::params(UserIdParams { id: id.to_owned() })
}

#[tokio::test]
async fn an_admin_deletes_another_account_its_sessions_end_and_it_is_listed_as_revoked() {
    let (_servers, app) = start().await;
    let pair = app
        .sign_up("doomed", "doomed@example.com", "password123")
        .await;
    let id = app.claims(&pair.access_token).await.sub;
    // Only an admin may, and not their own account: nothing happens, its token still works.
    let e = app.call::<DeleteUser>(delete(&id)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let as_self = || {
        CallOptions::default()
            .header(headers::USER_ID, id.clone())
            .header(headers::ROLES, "user,admin")
    };
    let e = app
        .call_with::<DeleteUser>(&delete(&id), as_self())
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::Forbidden, DELETING_SELF)
    );
    let me = app.call_with::<Me>(&Envelope::default(), as_self()).await;
    assert_eq!(me.unwrap().id, id);
    let before = app.admin::<GetRevoked>(Envelope::default()).await.unwrap();
    assert!(before.users.is_empty());

    app.admin::<DeleteUser>(delete(&id)).await.unwrap();

    // Gone: its refresh token, its login, its profile; a second deletion is a 404.
    let e = app.refresh(&pair.refresh_token).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    let e = app
        .login("doomed@example.com", "password123")
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    for unknown in [id.as_str(), "no-such-user", &"x".repeat(1000)] {
        let e = app.admin::<DeleteUser>(delete(unknown)).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound, "{unknown}");
    }
    // Listed for the gateway for the access token's lifetime (15 min) and a margin.
    let revoked = app.admin::<GetRevoked>(Envelope::default()).await.unwrap();
    assert_eq!(revoked.users.len(), 1);
    assert_eq!(revoked.users[0].sub, id);
    let claims = app.claims(&pair.access_token).await;
    let lifetime = Duration::from_secs((claims.exp - claims.iat) as u64);
    let left = revoked.users[0].until - claims.iat;
    assert!(
        (lifetime.as_secs() as i64..=lifetime.as_secs() as i64 + 120).contains(&left),
        "{left} s after the token was issued"
    );
    // The name is free again.
    app.registered("doomed", "doomed2@example.com", "password123")
        .await;
    app.stop().await;
}
