//! No password, hash or token ever reaches the logs.

use super::helpers::{AuthApp, logs, start};

#[tokio::test]
async fn no_password_hash_or_token_appears_in_logs() {
    let (servers, app) = start().await;
    let password = "Zebra-Quartz-9137";
    let user = app.registered("kim", "kim@example.com", password).await;
    let pair = app.login("kim@example.com", password).await.unwrap();
    app.login("kim@example.com", "Wrong-Quartz-9137")
        .await
        .unwrap_err();
    let next = app.refresh(&pair.refresh_token).await.unwrap();
    // A replay, which is logged as a warning.
    app.refresh(&pair.refresh_token).await.unwrap_err();
    app.logout(&next.refresh_token).await.unwrap();
    let hash = servers
        .store()
        .await
        .user_by_email("kim@example.com")
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    app.stop().await;

    let logs = logs();
    // The capture works: the service's own lines are there.
    assert!(
        logs.contains(&user.id) && logs.contains("refresh token reused"),
        "{logs}"
    );
    let salt_and_digest = hash.rsplit('$').next().unwrap();
    for (what, secret) in [
        ("password", password),
        ("wrong password", "Wrong-Quartz-9137"),
        ("password hash", hash.as_str()),
        ("hash digest", salt_and_digest),
        ("access token", pair.access_token.as_str()),
        (
            "access token signature",
            pair.access_token.rsplit('.').next().unwrap(),
        ),
        ("refresh token", pair.refresh_token.as_str()),
        ("rotated refresh token", next.refresh_token.as_str()),
        ("rotated access token", next.access_token.as_str()),
    ] {
        assert!(!logs.contains(secret), "{what} leaked into the logs");
    }
}
