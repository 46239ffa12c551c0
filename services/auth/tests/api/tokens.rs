//! Access tokens: claims, signatures verifiable with the published JWKS through `auth.jwks`,
//! and rejection of bad tokens by the verifier the gateway uses; key rotation.

use std::time::Duration;

use contract::auth::{Claims, Jwks};
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use runtime::jwt::{TokenError, Verifier};

use super::helpers::{AuthApp, KeyFile, Servers, spawn, start};

fn sign(key: &KeyFile, kid: &str, claims: &Claims) -> String {
    runtime::jwt::sign(&key.pem(), kid, claims)
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

#[tokio::test]
async fn tokens_carry_the_claims_and_verify_with_the_published_jwks() {
    let servers = Servers::start().await;
    let key = KeyFile::new();
    let previous = KeyFile::new();
    let previous_public = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        previous_public.path(),
        previous
            .key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    )
    .unwrap();
    let mut config = servers.config();
    config.jwt_private_key_file = Some(key.path.clone());
    config.jwt_previous_key_files = vec![previous_public.path().to_owned()];
    config.access_token_ttl_minutes = 7;
    config.jwt_issuer = "test-issuer".into();
    let app = spawn(&servers, config).await;

    let user = app
        .registered("heidi", "heidi@example.com", "password123")
        .await;
    let pair = app.login("heidi@example.com", "password123").await.unwrap();
    let jwks: Jwks = app.jwks().await;
    assert_eq!(jwks.keys.len(), 2, "current and previous key");
    for jwk in &jwks.keys {
        assert_eq!(
            (
                jwk.kty.as_str(),
                jwk.crv.as_str(),
                jwk.alg.as_str(),
                jwk.use_.as_str()
            ),
            ("OKP", "Ed25519", "EdDSA", "sig")
        );
    }
    let kid = Verifier::kid(&pair.access_token).unwrap();
    assert_eq!(kid, jwks.keys[0].kid, "signed with the current key");

    let verifier = Verifier::new("test-issuer", "natstack", Duration::from_secs(5));
    let claims = verifier.verify(&pair.access_token, &jwks).unwrap();
    assert_eq!(claims.sub, user.id);
    assert_eq!(claims.email, "heidi@example.com");
    assert_eq!(claims.roles, ["user"]);
    assert_eq!(claims.iss, "test-issuer");
    assert_eq!(claims.aud, "natstack");
    assert_eq!(claims.exp - claims.iat, 7 * 60);
    assert_eq!(pair.expires_in, 7 * 60);
    assert!(!claims.jti.is_empty());
    let again = app.login("heidi@example.com", "password123").await.unwrap();
    assert_ne!(
        verifier.verify(&again.access_token, &jwks).unwrap().jti,
        claims.jti
    );

    // A token signed by the previous key (before a rotation) still verifies.
    let old = sign(&previous, &jwks.keys[1].kid, &claims);
    assert_eq!(verifier.verify(&old, &jwks).unwrap(), claims);

    // Expired: signed with the real key, so only the expiry can fail it.
    let now = claims.iat;
    let expired = sign(
        &key,
        &kid,
        &Claims {
            iat: now - 3600,
            exp: now - 60,
            ..claims.clone()
        },
    );
    assert!(matches!(
        verifier.verify(&expired, &jwks),
        Err(TokenError::Expired)
    ));

    // Tampered: roles widened after signing.
    let (head, rest) = pair.access_token.split_once('.').unwrap();
    let sig = rest.split_once('.').unwrap().1;
    let widened = Claims {
        roles: vec!["user".into(), "admin".into()],
        ..claims.clone()
    };
    let tampered = format!(
        "{head}.{}.{sig}",
        b64(&serde_json::to_vec(&widened).unwrap())
    );
    assert!(matches!(
        verifier.verify(&tampered, &jwks),
        Err(TokenError::BadSignature)
    ));

    // alg:none, with and without a signature.
    let none_head = b64(br#"{"alg":"none","typ":"JWT","kid":"x"}"#);
    let body = b64(&serde_json::to_vec(&claims).unwrap());
    for token in [
        format!("{none_head}.{body}."),
        format!("{none_head}.{body}.{sig}"),
    ] {
        assert!(
            matches!(verifier.verify(&token, &jwks), Err(TokenError::UnsupportedAlgorithm(a)) if a == "none")
        );
    }

    // Wrong key: an unpublished key claiming the current kid.
    let stranger = KeyFile::new();
    let forged = sign(&stranger, &kid, &claims);
    assert!(matches!(
        verifier.verify(&forged, &jwks),
        Err(TokenError::BadSignature)
    ));
    let unknown = sign(&stranger, "unknown-kid", &claims);
    assert!(matches!(
        verifier.verify(&unknown, &jwks),
        Err(TokenError::UnknownKey(_))
    ));

    // Wrong issuer or audience.
    let wrong_iss = Verifier::new("someone-else", "natstack", Duration::ZERO);
    assert!(matches!(
        wrong_iss.verify(&pair.access_token, &jwks),
        Err(TokenError::WrongIssuer)
    ));
    let wrong_aud = Verifier::new("test-issuer", "another-app", Duration::ZERO);
    assert!(matches!(
        wrong_aud.verify(&pair.access_token, &jwks),
        Err(TokenError::WrongAudience)
    ));

    // Garbage.
    assert!(matches!(
        verifier.verify("not.a.jwt", &jwks),
        Err(TokenError::Malformed)
    ));
    app.stop().await;
}

#[tokio::test]
async fn without_a_key_file_an_ephemeral_key_is_used_and_published() {
    let (_servers, app) = start().await;
    let pair = app.sign_up("ivan", "ivan@example.com", "password123").await;
    let jwks = app.jwks().await;
    assert_eq!(jwks.keys.len(), 1);
    Verifier::new("natstack-auth", "natstack", Duration::ZERO)
        .verify(&pair.access_token, &jwks)
        .unwrap();
    assert!(super::helpers::logs().contains("ephemeral key"));
    app.stop().await;
}
