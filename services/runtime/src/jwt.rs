//! Verifying the auth service's access tokens: EdDSA (Ed25519) JWTs checked against the keys
//! of a JWKS. Pure: no I/O, so the gateway decides how it fetches and caches the JWKS.
//!
//! The header is read by hand before anything else, so an `alg` other than `EdDSA` (`none`,
//! `HS256` keyed with the public key, …) is refused by name before a key is even looked up.
//! The signature is checked before any claim; then `exp`, `nbf` (when present) and `iat`
//! (with leeway), `iss` and `aud`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::auth::{Claims, Jwks};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "EdDSA";

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT, or its claims lack a required field.
    #[error("malformed token")]
    Malformed,
    /// The header names a key the JWKS does not hold.
    #[error("unknown signing key `{0}`")]
    UnknownKey(String),
    /// The header names an algorithm other than EdDSA.
    #[error("unsupported algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The token was issued in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// The `iss` claim is not the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// The `aud` claim is not the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The JWKS entry is not a usable Ed25519 key.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// Checks access tokens for one issuer and audience.
#[derive(Debug, Clone)]
pub struct Verifier {
    issuer: String,
    audience: String,
    leeway: Duration,
}

#[derive(serde::Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
}

fn header(token: &str) -> Result<RawHeader, TokenError> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// Seconds since the Unix epoch: the clock of `iat` and `exp`.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Verifier {
    /// A verifier accepting tokens from `issuer` for `audience`, tolerating `leeway` of clock
    /// skew on `exp` and `iat`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, leeway: Duration) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway,
        }
    }

    /// The `kid` from a token's header without verifying it (to pick or refetch keys).
    pub fn kid(token: &str) -> Result<String, TokenError> {
        header(token)?
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(TokenError::Malformed)
    }

    /// Verifies signature (EdDSA only; `alg: none` and every other alg refused), `exp`, `nbf`
    /// and `iat` with leeway, `iss`, `aud`; returns the claims.
    pub fn verify(&self, token: &str, keys: &Jwks) -> Result<Claims, TokenError> {
        let head = header(token)?;
        let alg = head.alg.unwrap_or_default();
        if alg != ALGORITHM {
            return Err(TokenError::UnsupportedAlgorithm(alg));
        }
        let kid = head
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(TokenError::Malformed)?;
        let jwk = keys
            .find(&kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.clone()))?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" || jwk.alg != ALGORITHM {
            return Err(TokenError::InvalidKey(format!(
                "key `{kid}` is {}/{}/{}, not OKP/Ed25519/EdDSA",
                jwk.kty, jwk.crv, jwk.alg
            )));
        }
        match URL_SAFE_NO_PAD.decode(&jwk.x) {
            Ok(x) if x.len() == 32 => {}
            _ => {
                return Err(TokenError::InvalidKey(format!(
                    "key `{kid}` is not a 32-byte base64url Ed25519 public key"
                )));
            }
        }
        let key = DecodingKey::from_ed_components(&jwk.x)
            .map_err(|e| TokenError::InvalidKey(e.to_string()))?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = self.leeway.as_secs();
        // Off by default in jsonwebtoken: a token whose `nbf` is ahead (beyond the same leeway
        // as `exp`) is not valid yet.
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidAlgorithm => TokenError::UnsupportedAlgorithm(alg.clone()),
                ErrorKind::InvalidEddsaKey | ErrorKind::InvalidKeyFormat => {
                    TokenError::InvalidKey(e.to_string())
                }
                _ => TokenError::Malformed,
            })?
            .claims;
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        if claims.iat > now_secs().saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

/// An EdDSA access token for `claims` with key id `kid`, signed with the PKCS#8 PEM private
/// key `pem`: how the tests of the verifier, of the gateway and of the auth service mint
/// tokens, the auth service's own signing aside.
///
/// # Panics
///
/// When `pem` is not an Ed25519 private key.
#[cfg(any(test, feature = "test-support"))]
pub fn sign(pem: &str, kid: &str, claims: &Claims) -> String {
    let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    let key = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).expect("an Ed25519 PEM key");
    jsonwebtoken::encode(&header, claims, &key).expect("claims serialize")
}

#[cfg(test)]
mod tests {
    use contract::auth::Jwk;
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;

    const KEY_A: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIHngP3uc7hMENG70ZNVMAdhr22BNO/IPd5oHFLh8hRpe\n\
        -----END PRIVATE KEY-----\n";
    const X_A: &str = "HuCbC8g1w_CpRtemBcaF7jit7mnt5SS7qmfuekMNFfQ";
    const KEY_B: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIILe/5knyzbUd4QxTipCPyHo6qBJzMAsnlJTTOeiUo0g\n\
        -----END PRIVATE KEY-----\n";
    const X_B: &str = "eiM4l5hArSbLEvZNMehP6jVGf8vt0AsktwZfqGMoOs8";

    fn claims(iat: i64, exp: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            email: "a@example.com".into(),
            roles: vec!["user".into()],
            iat,
            exp,
            iss: "iss".into(),
            aud: "aud".into(),
            jti: "j1".into(),
        }
    }

    fn jwks() -> Jwks {
        Jwks {
            keys: vec![Jwk::ed25519(X_A, "a"), Jwk::ed25519(X_B, "b")],
        }
    }

    fn verifier() -> Verifier {
        Verifier::new("iss", "aud", Duration::from_secs(30))
    }

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn accepts_a_valid_token_from_any_published_key() {
        let now = now_secs();
        let c = claims(now, now + 60);
        assert_eq!(
            verifier().verify(&sign(KEY_A, "a", &c), &jwks()).unwrap(),
            c
        );
        assert_eq!(
            verifier().verify(&sign(KEY_B, "b", &c), &jwks()).unwrap(),
            c
        );
        assert_eq!(Verifier::kid(&sign(KEY_B, "b", &c)).unwrap(), "b");
    }

    #[test]
    fn rejects_expired_and_future_tokens_beyond_leeway() {
        let now = now_secs();
        let expired = sign(KEY_A, "a", &claims(now - 600, now - 31));
        assert!(matches!(
            verifier().verify(&expired, &jwks()),
            Err(TokenError::Expired)
        ));
        // Within the leeway, a just-expired token still passes.
        let just = sign(KEY_A, "a", &claims(now - 600, now - 5));
        assert!(verifier().verify(&just, &jwks()).is_ok());
        let future = sign(KEY_A, "a", &claims(now + 120, now + 600));
        assert!(matches!(
            verifier().verify(&future, &jwks()),
            Err(TokenError::NotYetValid)
        ));
    }

    #[test]
    fn rejects_tokens_used_before_their_nbf() {
        let now = now_secs();
        let with_nbf = |nbf: i64| {
            let mut body = serde_json::to_value(claims(now, now + 600)).unwrap();
            body["nbf"] = nbf.into();
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some("a".into());
            jsonwebtoken::encode(
                &header,
                &body,
                &EncodingKey::from_ed_pem(KEY_A.as_bytes()).unwrap(),
            )
            .unwrap()
        };
        assert!(matches!(
            verifier().verify(&with_nbf(now + 120), &jwks()),
            Err(TokenError::NotYetValid)
        ));
        // The same leeway as `exp`: a few seconds of clock skew pass.
        assert!(verifier().verify(&with_nbf(now + 5), &jwks()).is_ok());
        assert!(verifier().verify(&with_nbf(now - 60), &jwks()).is_ok());
    }

    #[test]
    fn rejects_tampered_and_wrong_key_tokens() {
        let now = now_secs();
        let token = sign(KEY_A, "a", &claims(now, now + 60));
        let (signed, _) = token.rsplit_once('.').unwrap();
        let (head, _) = signed.split_once('.').unwrap();
        let mut forged = claims(now, now + 60);
        forged.roles.push("admin".into());
        let body = b64(&serde_json::to_string(&forged).unwrap());
        let sig = token.rsplit_once('.').unwrap().1;
        let tampered = format!("{head}.{body}.{sig}");
        assert!(matches!(
            verifier().verify(&tampered, &jwks()),
            Err(TokenError::BadSignature)
        ));
        // Signed by B but claiming to be A.
        let wrong_key = sign(KEY_B, "a", &claims(now, now + 60));
        assert!(matches!(
            verifier().verify(&wrong_key, &jwks()),
            Err(TokenError::BadSignature)
        ));
        let unknown = sign(KEY_A, "zz", &claims(now, now + 60));
        assert!(matches!(
            verifier().verify(&unknown, &jwks()),
            Err(TokenError::UnknownKey(k)) if k == "zz"
        ));
    }

    #[test]
    fn rejects_alg_none_and_symmetric_algorithms() {
        let now = now_secs();
        let body = b64(&serde_json::to_string(&claims(now, now + 60)).unwrap());
        for alg in ["none", "None", "HS256", "RS256", "ES256"] {
            let head = b64(&format!(r#"{{"alg":"{alg}","kid":"a","typ":"JWT"}}"#));
            for token in [format!("{head}.{body}."), format!("{head}.{body}.c2ln")] {
                assert!(
                    matches!(
                        verifier().verify(&token, &jwks()),
                        Err(TokenError::UnsupportedAlgorithm(a)) if a == alg
                    ),
                    "{alg}"
                );
            }
        }
        // HS256 keyed with the public key bytes: the classic confusion attack.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("a".into());
        let hs = jsonwebtoken::encode(
            &header,
            &claims(now, now + 60),
            &EncodingKey::from_secret(X_A.as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            verifier().verify(&hs, &jwks()),
            Err(TokenError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn rejects_wrong_issuer_and_audience() {
        let now = now_secs();
        let token = sign(KEY_A, "a", &claims(now, now + 60));
        let other_iss = Verifier::new("other", "aud", Duration::ZERO);
        assert!(matches!(
            other_iss.verify(&token, &jwks()),
            Err(TokenError::WrongIssuer)
        ));
        let other_aud = Verifier::new("iss", "other", Duration::ZERO);
        assert!(matches!(
            other_aud.verify(&token, &jwks()),
            Err(TokenError::WrongAudience)
        ));
    }

    #[test]
    fn rejects_malformed_tokens_and_bad_keys() {
        for token in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.b.c",
            &format!("{}.e30.", b64("[1]")),
        ] {
            assert!(
                matches!(
                    verifier().verify(token, &jwks()),
                    Err(TokenError::Malformed)
                ),
                "{token}"
            );
            assert!(Verifier::kid(token).is_err());
        }
        let now = now_secs();
        let no_email = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"EdDSA","kid":"a"}"#),
            b64(&format!(r#"{{"sub":"u","iat":{now},"exp":{}}}"#, now + 60))
        );
        assert!(verifier().verify(&no_email, &jwks()).is_err());
        let token = sign(KEY_A, "a", &claims(now, now + 60));
        let mut bad = jwks();
        bad.keys[0].x = "short".into();
        assert!(matches!(
            verifier().verify(&token, &bad),
            Err(TokenError::InvalidKey(_))
        ));
        bad.keys[0] = Jwk {
            kty: "RSA".into(),
            ..Jwk::ed25519(X_A, "a")
        };
        assert!(matches!(
            verifier().verify(&token, &bad),
            Err(TokenError::InvalidKey(_))
        ));
    }
}
