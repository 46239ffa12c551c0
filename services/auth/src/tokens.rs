//! Token minting: EdDSA access tokens (JWTs) and opaque refresh tokens.
//!
//! A refresh token is 32 random bytes, base64url. Only its SHA-256 is stored: a leaked
//! database cannot be replayed, and since the token has 256 bits of entropy a fast hash is
//! enough (no salt or key stretching needed, unlike passwords).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::auth::Claims;
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore;
use runtime::jwt::now_secs;
use sha2::{Digest, Sha256};

use crate::keys::Keys;

/// Length of an encoded refresh token (32 bytes in base64url without padding).
pub const REFRESH_TOKEN_LEN: usize = 43;

/// Who a token is for.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// The user id.
    pub id: &'a str,
    /// The email.
    pub email: &'a str,
    /// The roles.
    pub roles: &'a [String],
}

/// Issues access tokens with one issuer, audience and lifetime.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The signing keys.
    pub keys: Keys,
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
    /// The access-token lifetime.
    pub ttl: Duration,
}

impl Issuer {
    /// Signs an access token for `subject`.
    pub fn access_token(
        &self,
        subject: &Subject<'_>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = now_secs();
        let claims = Claims {
            sub: subject.id.to_owned(),
            email: subject.email.to_owned(),
            roles: subject.roles.to_vec(),
            iat,
            exp: iat.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.kid().to_owned());
        jsonwebtoken::encode(&header, &claims, self.keys.signing())
    }
}

/// A new refresh token.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a refresh token: its SHA-256, hex.
pub fn hash_refresh_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `token` has the shape of a refresh token (checked before touching the database).
pub fn is_well_formed(token: &str) -> bool {
    token.len() == REFRESH_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_random_well_formed_and_hashed() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a, b);
        assert!(is_well_formed(&a), "{a}");
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&"!".repeat(REFRESH_TOKEN_LEN)));
        let h = hash_refresh_token(&a);
        assert_eq!(h.len(), 64);
        assert_ne!(h, a);
        assert_eq!(h, hash_refresh_token(&a));
    }
}
