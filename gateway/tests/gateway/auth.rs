//! Tokens and roles: 401/403, forged and expired tokens, key rotation through the JWKS
//! refetch, single-flight fetching.

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use super::support::{self, AUDIENCE, KEY_A, KEY_B, World, admin_token, claims, sign, user_token};

#[tokio::test]
async fn levels_are_enforced() {
    let world = World::start().await;
    let http = world.http();
    // user level: no token, a bad scheme, garbage.
    let reply = http.get("/widgets/1").await;
    reply.assert_error(401, "unauthenticated");
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let reply = http
        .get_with("/widgets/1", &[("authorization", "Basic dTpw")])
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(http.get_as("/widgets/1", "not-a-jwt").await.status, 401);

    // admin level: a user is forbidden, an admin is let through.
    let auth = format!("Bearer {}", user_token("u1"));
    let reply = http
        .send("DELETE", "/widgets/1", &[("authorization", &auth)], None)
        .await;
    reply.assert_error(403, "forbidden");
    let auth = format!("Bearer {}", admin_token("root"));
    assert_eq!(
        http.send("DELETE", "/widgets/1", &[("authorization", &auth)], None)
            .await
            .status,
        204
    );

    // public level: a valid token is forwarded, a bad one ignored.
    let seen = http.get_as("/widgets", &user_token("u2")).await.json();
    assert_eq!(seen["user_id"], "u2");
    let reply = http.get_as("/widgets", "garbage").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["user_id"], json!(null));

    // Forged identity headers never override the token.
    let auth = format!("Bearer {}", user_token("u3"));
    let seen = http
        .get_with(
            "/widgets/1",
            &[
                ("authorization", &auth),
                ("natstack-user-id", "root"),
                ("natstack-roles", "admin"),
            ],
        )
        .await
        .json();
    assert_eq!(seen["user_id"], "u3");
    assert_eq!(seen["roles"], json!(["user"]));
    world.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_rejected() {
    let world = World::start().await;
    let http = world.http();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);

    let mut expired = claims("u", &["user"]);
    expired.iat -= 3600;
    expired.exp = support::now() - 600;
    let mut wrong_aud = claims("u", &["user"]);
    wrong_aud.aud = "someone-else".into();
    let mut wrong_iss = claims("u", &["user"]);
    wrong_iss.iss = "mallory".into();
    let payload = b64(&serde_json::to_string(&claims("u", &["user", "admin"])).unwrap());
    let alg_none = format!(
        "{}.{payload}.",
        b64(r#"{"alg":"none","kid":"a","typ":"JWT"}"#)
    );
    // Signed with key B but naming key A: a forgery.
    let forged = sign(KEY_B, "a", &claims("u", &["user", "admin"]));
    // A valid token with its payload swapped for one granting admin.
    let valid = user_token("u");
    let mut parts: Vec<&str> = valid.split('.').collect();
    parts[1] = &payload;
    let tampered = parts.join(".");

    for (name, token, message) in [
        ("expired", sign(KEY_A, "a", &expired), "token expired"),
        (
            "wrong aud",
            sign(KEY_A, "a", &wrong_aud),
            "token for the wrong audience",
        ),
        (
            "wrong iss",
            sign(KEY_A, "a", &wrong_iss),
            "token from the wrong issuer",
        ),
        ("alg none", alg_none, "unsupported token algorithm"),
        ("forged", forged, "invalid token signature"),
        ("tampered", tampered, "invalid token signature"),
    ] {
        let reply = http.get_as("/widgets/1", &token).await;
        assert_eq!(reply.status, 401, "{name}");
        assert_eq!(reply.json()["message"], message, "{name}");
    }
    assert_eq!(AUDIENCE, "test-audience");
    world.stop().await;
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_refetching() {
    let world = World::start_with(|c| c.jwks.min_interval = Duration::ZERO).await;
    let http = world.http();
    assert_eq!(
        http.get_as("/widgets/1", &user_token("u")).await.status,
        200
    );
    assert_eq!(world.keys.fetches(), 1);
    let rotated = sign(KEY_B, "b", &claims("u", &["user"]));
    assert_eq!(
        http.get_as("/widgets/1", &rotated).await.status,
        401,
        "key b not published yet"
    );
    world.keys.add_key_b();
    let reply = http.get_as("/widgets/1", &rotated).await;
    assert_eq!(reply.status, 200, "the unknown kid triggered a refetch");
    assert_eq!(reply.json()["user_id"], "u");
    assert_eq!(world.keys.fetches(), 3);
    world.stop().await;
}

#[tokio::test]
async fn a_remembered_token_stops_working_when_its_key_is_withdrawn() {
    // Keys count as old at once, so every request with a known kid refreshes in the background.
    let world = World::start_with(|c| {
        c.jwks.min_interval = Duration::ZERO;
        c.jwks.max_age = Duration::ZERO;
    })
    .await;
    let http = world.http();
    let token = user_token("u");
    for _ in 0..3 {
        // Verified once, then answered from the verified-token cache.
        assert_eq!(http.get_as("/widgets/1", &token).await.status, 200);
    }
    world.keys.withdraw_key_a();
    runtime::test_support::wait_until(
        "the withdrawn key's token is refused",
        support::WAIT,
        || {
            let http = http.clone();
            let token = token.clone();
            async move { http.get_as("/widgets/1", &token).await.status == 401 }
        },
    )
    .await;
    let reply = http.get_as("/widgets/1", &token).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["message"], "token signed with an unknown key");
    world.stop().await;
}

#[tokio::test]
async fn unknown_kids_fetch_once_and_are_throttled() {
    // A fetch at most once per hour: every fetch below is the first for its reason.
    // A long fetch deadline: the fetch is held at a gate until every request is queued.
    let world = World::start_with(|c| {
        c.jwks.min_interval = Duration::from_secs(3600);
        c.jwks.timeout = Duration::from_secs(120);
    })
    .await;
    world.keys.gate.close();
    let token = user_token("u");
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let http = world.http().clone();
            let token = token.clone();
            tokio::spawn(async move { http.get_as("/widgets/1", &token).await.status })
        })
        .collect();
    let keys = world.keys.clone();
    runtime::test_support::wait_until("the first fetch arrived", support::WAIT, || {
        let keys = keys.clone();
        async move { keys.fetches() >= 1 }
    })
    .await;
    world.keys.open_gate();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(
        world.keys.fetches(),
        1,
        "concurrent requests share one fetch"
    );
    // A made-up kid cannot make the gateway fetch again within the throttle.
    for kid in ["x", "y", "z"] {
        let token = sign(KEY_A, kid, &claims("u", &["user"]));
        assert_eq!(world.http().get_as("/widgets/1", &token).await.status, 401);
    }
    assert_eq!(world.keys.fetches(), 1);
    world.stop().await;
}

#[tokio::test]
async fn no_auth_service_means_503_not_401() {
    let mut world = World::start().await;
    world.services.remove(1).stop().await;
    support::wait_no_responders(&world.client, "auth.jwks").await;
    let reply = world.http().get_as("/widgets/1", &user_token("u")).await;
    reply.assert_error(503, "unavailable");
    // Public routes do not depend on it.
    assert_eq!(world.http().get("/widgets").await.status, 200);
    world.stop().await;
}
