//! Bad input: malformed envelopes are 400, rule violations 422 with the failing fields, and
//! bad refresh tokens 401; never a 500.

use contract::ErrorCode;

use super::helpers::{AuthApp, start};

fn fields(e: &contract::ServiceError) -> Vec<String> {
    e.field_errors().into_iter().map(|f| f.field).collect()
}

#[tokio::test]
async fn every_kind_of_bad_input_gets_a_clear_error() {
    let (_servers, app) = start().await;

    // Malformed envelopes and bodies: 400.
    for (subject, payload) in [
        ("auth.register", "{not json"),
        ("auth.register", r#"{"body":null}"#),
        (
            "auth.register",
            r#"{"body":{"username":"ok_name","email":"a@b.co"}}"#,
        ),
        (
            "auth.register",
            r#"{"body":{"username":1,"email":"a@b.co","password":"password123"}}"#,
        ),
        (
            "auth.register",
            r#"{"body":{"username":"ok_name","email":"a@b.co","password":"password123","admin":true}}"#,
        ),
        (
            "auth.register",
            r#"{"query":{"x":"1"},"body":{"username":"ok_name","email":"a@b.co","password":"password123"}}"#,
        ),
        ("auth.login", r#"{"body":"x"}"#),
        ("auth.refresh", r#"{"body":{"refresh_token":42}}"#),
        ("auth.jwks", r#"{"params":{"id":"1"}}"#),
    ] {
        let e = app.raw(subject, payload).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest, "{subject} {payload}: {e:?}");
    }
    // The auth level is checked before the body, as at the gateway: an anonymous malformed
    // request to a `user` endpoint is a 401, not a 400.
    let e = app.raw("auth.me", r#"{"body":{"x":1}}"#).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated, "{e:?}");

    // Registration rules: 422 naming each failing field.
    let long = "x".repeat(10_000);
    for (username, email, password, expected) in [
        ("ab", "a@example.com", "password123", vec!["username"]),
        (
            &"a".repeat(33) as &str,
            "a@example.com",
            "password123",
            vec!["username"],
        ),
        (
            "has space",
            "a@example.com",
            "password123",
            vec!["username"],
        ),
        ("okname", "", "password123", vec!["email"]),
        ("okname", "not-an-email", "password123", vec!["email"]),
        ("okname", "a@b", "password123", vec!["email"]),
        (
            "okname",
            &format!("{long}@example.com"),
            "password123",
            vec!["email"],
        ),
        ("okname", "a@example.com", "short", vec!["password"]),
        ("okname", "a@example.com", "            ", vec!["password"]),
        ("okname", "a@example.com", &long, vec!["password"]),
        ("x", "bad", "", vec!["username", "email", "password"]),
    ] {
        let e = app.register(username, email, password).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationFailed, "{username} {email}");
        assert_eq!(e.status(), 422);
        assert_eq!(fields(&e), expected, "{username} {email}");
    }

    // Login: empty or over-long fields are 422 (and cost no hashing).
    let e = app.login("", "").await.unwrap_err();
    assert_eq!(fields(&e), ["email", "password"]);
    let e = app.login("a@example.com", &long).await.unwrap_err();
    assert_eq!(fields(&e), ["password"]);
    let e = app.login(&long, "password123").await.unwrap_err();
    assert_eq!(fields(&e), ["email"]);
    // What the published schema allows is looked up, not refused: 254 characters of 2 bytes.
    let e = app
        .login(&"é".repeat(254), &"é".repeat(128))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);

    // Refresh and logout: empty / over-long tokens are 422, ill-formed ones 401.
    for subject in ["auth.refresh", "auth.logout"] {
        let e = app
            .raw(subject, r#"{"body":{"refresh_token":""}}"#)
            .await
            .unwrap_err();
        assert_eq!(fields(&e), ["refresh_token"], "{subject}");
        let payload = serde_json::json!({"body": {"refresh_token": long}}).to_string();
        let e = app.raw(subject, &payload).await.unwrap_err();
        assert_eq!(fields(&e), ["refresh_token"], "{subject}");
        let e = app
            .raw(subject, r#"{"body":{"refresh_token":"not a token"}}"#)
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthenticated, "{subject}");
        let payload = serde_json::json!({"body": {"refresh_token": "é".repeat(256)}}).to_string();
        let e = app.raw(subject, &payload).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthenticated, "{subject}");
    }
    let e = app
        .raw(
            "auth.refresh",
            &serde_json::json!({"body": {"refresh_token": "C".repeat(43)}}).to_string(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthenticated);
    app.stop().await;
}
