//! `auth.user.registered`: kept in the account's document while the stream is missing,
//! published once when it exists, with the public profile only; a refused registration
//! publishes nothing.

use std::time::Duration;

use contract::auth::User;
use contract::events::StreamSettings;
use runtime::test_support::events::published;
use runtime::test_support::metrics::outbox;
use runtime::test_support::wait_until;

use crate::helpers::{AuthApp, Servers, spawn};

#[tokio::test]
async fn a_registration_is_published_once_without_secrets() {
    let servers = Servers::start_with_jetstream().await;
    let app = spawn(&servers, servers.config()).await;
    let store = servers.store().await;
    let password = "a long enough password";
    let user = app.registered("eve", "eve@example.com", password).await;

    // No stream yet: the event stays in the account's document.
    wait_until("the relay has tried", Duration::from_secs(30), || async {
        outbox(&app.metrics().await).failures >= Some(1.0)
    })
    .await;
    let doc = store.user_by_id(&user.id).await.unwrap().unwrap();
    assert!(doc.pending_event.is_some(), "kept until published");

    runtime::events::stream::ensure(&servers.nats.client().await, &StreamSettings::default())
        .await
        .unwrap();
    wait_until(
        "the event is published",
        Duration::from_secs(30),
        || async {
            let relay = outbox(&app.metrics().await);
            relay.published == Some(1.0) && relay.pending == Some(0.0)
        },
    )
    .await;
    let doc = store.user_by_id(&user.id).await.unwrap().unwrap();
    assert!(doc.pending_event.is_none(), "removed once acknowledged");

    // Refused: the email is taken. Then a marker registration, published after it.
    app.register_conflict("eve2", "eve@example.com", password)
        .await;
    let marker = app
        .registered("mallory", "mallory@example.com", password)
        .await;
    wait_until(
        "the marker is published",
        Duration::from_secs(30),
        || async { outbox(&app.metrics().await).published == Some(2.0) },
    )
    .await;

    let events = published(&servers.nats.client().await).await;
    let subjects: Vec<_> = events.iter().map(|e| e.event["subject"].clone()).collect();
    assert_eq!(subjects, [user.id.as_str(), marker.id.as_str()]);
    let e = &events[0];
    assert_eq!(e.subject, "events.auth.user.registered");
    assert_eq!(e.event["type"], "auth.user.registered");
    assert_eq!(e.event["source"], "/natstack/auth");
    assert_eq!(e.event["authtype"], "unauthenticated");
    assert_eq!(
        e.msg_id.as_ref(),
        e.event["id"].as_str().map(str::to_owned).as_ref()
    );
    assert_eq!(e.event["time"], user.created_at.as_str());
    let data: User = serde_json::from_value(e.event["data"].clone()).unwrap();
    assert_eq!(data, user);
    let text = e.event.to_string();
    for secret in ["password", "argon2", password] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
