//! Matching, envelopes, success statuses and what services receive.

use serde_json::json;

use super::support::{World, admin_token, user_token};

#[tokio::test]
async fn routes_by_metadata_and_builds_the_envelope() {
    let world = World::start().await;
    let http = world.http();

    let reply = http
        .get_with(
            "/widgets?q=a%20b&limit=5&q=second",
            &[
                ("x-request-id", "req-42"),
                ("natstack-user-id", "forged"),
                ("natstack-roles", "admin"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some("req-42"));
    let seen = reply.json();
    assert_eq!(seen["endpoint"], "list");
    assert_eq!(
        seen["query"],
        json!({"q": "a b", "limit": "5"}),
        "first value wins"
    );
    assert_eq!(seen["request_id"], "req-42");
    assert_eq!(
        seen["user_id"],
        json!(null),
        "client identity headers are stripped"
    );
    assert_eq!(seen["roles"], json!([]));

    // A literal segment beats a parameter; a parameter is percent-decoded.
    let token = user_token("u1");
    assert_eq!(
        http.get("/widgets/search").await.json()["endpoint"],
        "search"
    );
    let seen = http.get_as("/widgets/a%20b", &token).await.json();
    assert_eq!(seen["endpoint"], "get");
    assert_eq!(seen["params"], json!({"id": "a b"}));
    assert_eq!(seen["user_id"], "u1");
    assert_eq!(seen["roles"], json!(["user"]));

    // Declared success statuses: 201 with the body, 204 with none.
    let created = http
        .json("POST", "/widgets", Some(&token), &json!({"name": "w"}))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["body"], json!({"name": "w"}));
    let deleted = http
        .send(
            "DELETE",
            "/widgets/7",
            &[("authorization", &format!("Bearer {}", admin_token("root")))],
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());

    // A bad request id is replaced, not refused.
    let reply = http
        .get_with("/widgets", &[("x-request-id", "bad id!")])
        .await;
    assert_eq!(reply.status, 200);
    let id = reply.header("x-request-id").unwrap().to_owned();
    assert_ne!(id, "bad id!");
    assert_eq!(reply.json()["request_id"], id.as_str());
    world.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let world = World::start().await;
    let http = world.http();
    http.get("/nothing/here")
        .await
        .assert_error(404, "not_found");
    assert_eq!(http.get("/widgets/").await.status, 404);

    let reply = http.send("PUT", "/widgets/1", &[], None).await;
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET, DELETE"));

    // The gateway's own paths answer 405 in the same shape, with `Allow`, and so does a
    // method no router knows.
    for (method, path, allow) in [
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/metrics", "GET, HEAD"),
        ("PURGE", "/services", "GET, HEAD"),
        ("PURGE", "/widgets/1", "GET, DELETE"),
    ] {
        let reply = http.send(method, path, &[], None).await;
        assert_eq!(reply.status, 405, "{method} {path}");
        assert_eq!(reply.error_code(), "method_not_allowed");
        assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
    }

    let reply = http.get("/widgets/%FF").await;
    assert_eq!(reply.status, 400, "invalid UTF-8 in a parameter");
    assert_eq!(reply.error_code(), "bad_request");
    world.stop().await;
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let world = World::start().await;
    let http = world.http();
    let auth = format!("Bearer {}", user_token("u1"));
    let get = http
        .send("GET", "/widgets/7", &[("authorization", &auth)], None)
        .await;
    let head = http
        .send("HEAD", "/widgets/7", &[("authorization", &auth)], None)
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-type"), get.header("content-type"));
    // Same route and authorisation as GET: no token, no answer.
    assert_eq!(http.send("HEAD", "/widgets/7", &[], None).await.status, 401);
    assert_eq!(http.send("HEAD", "/widgets", &[], None).await.status, 200);
    // A path without GET still refuses HEAD, with GET's Allow.
    let reply = http.send("HEAD", "/widgets/fail", &[], None).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));
    for own in ["/livez", "/healthz", "/readyz", "/openapi.json"] {
        let reply = http.send("HEAD", own, &[], None).await;
        assert_eq!(reply.status, 200, "{own}");
        assert!(reply.body.is_empty(), "{own}");
    }
    world.stop().await;
}
