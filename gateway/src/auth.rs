//! Authentication and authorisation of one request.
//!
//! The bearer token is verified (EdDSA, keys from the [`JwksCache`], `iss`/`aud`/`exp` with a
//! small leeway) and its subject checked against the [`Revoked`] list (deleted accounts), then
//! the endpoint's level is enforced: `public` needs nothing, `user` a
//! valid token (401 otherwise), `admin` also the `admin` role (403 otherwise). A public
//! endpoint still receives the caller when a valid token was sent, and ignores a bad one.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use contract::caller::ROLE_ADMIN;
use contract::{AuthLevel, Caller, ErrorCode};
use runtime::jwt::{TokenError, Verifier, now_secs};
use tracing::debug;

use crate::error::ApiError;
use crate::jwks::JwksCache;
use crate::revoked::Revoked;
use crate::token_cache::TokenCache;

/// Clock skew tolerated on `exp` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(30);

/// Checks tokens and roles.
#[derive(Debug, Clone)]
pub struct Authenticator {
    verifier: Verifier,
    jwks: JwksCache,
    verified: Arc<TokenCache>,
    revoked: Revoked,
}

/// A refused request: 401 with `WWW-Authenticate`, 403, or 503 when keys are unavailable.
#[derive(Debug)]
pub struct Refused {
    error: ApiError,
    /// Whether to challenge the client for credentials (401 only).
    challenge: bool,
}

impl Refused {
    /// Whether the client is refused for what it sent (401, 403), rather than because tokens
    /// cannot be checked right now (503).
    pub fn is_clients_fault(&self) -> bool {
        matches!(
            self.error.0.code,
            ErrorCode::Unauthenticated | ErrorCode::Forbidden
        )
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"natstack\""),
            );
        }
        response
    }
}

fn unauthenticated(message: &str) -> Refused {
    Refused {
        error: ApiError::new(ErrorCode::Unauthenticated, message),
        challenge: true,
    }
}

impl Authenticator {
    /// Verifies tokens of `issuer` for `audience` with keys from `jwks`, remembering up to
    /// `cache_size` verified tokens (0: verify every time), and refuses those of the subjects
    /// `revoked` lists.
    pub fn new(
        issuer: &str,
        audience: &str,
        jwks: JwksCache,
        cache_size: usize,
        revoked: Revoked,
    ) -> Self {
        Self {
            verifier: Verifier::new(issuer, audience, LEEWAY),
            jwks,
            verified: Arc::new(TokenCache::new(cache_size, LEEWAY)),
            revoked,
        }
    }

    /// The verified caller allowed to use an endpoint of `level`, if any.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        level: AuthLevel,
    ) -> Result<Option<Caller>, Refused> {
        let caller = match bearer(headers) {
            None if level == AuthLevel::Public => return Ok(None),
            None => return Err(unauthenticated("missing bearer token")),
            Some(Err(message)) if level == AuthLevel::Public => {
                debug!(
                    message,
                    "bad Authorization header ignored on a public endpoint"
                );
                return Ok(None);
            }
            Some(Err(message)) => return Err(unauthenticated(message)),
            Some(Ok(token)) => match self.verify(token).await {
                Ok(caller) => caller,
                Err(_) if level == AuthLevel::Public => return Ok(None),
                Err(refused) => return Err(refused),
            },
        };
        if level == AuthLevel::Admin && !caller.has_role(ROLE_ADMIN) {
            return Err(Refused {
                error: ApiError::new(ErrorCode::Forbidden, "the admin role is required"),
                challenge: false,
            });
        }
        Ok(Some(caller))
    }

    async fn verify(&self, token: &str) -> Result<Caller, Refused> {
        let now = now_secs();
        let caller = self.verify_signed(token, now).await?;
        // After the cache too: a token verified before its account was deleted is refused.
        if self.revoked.contains(&caller.user_id, now) {
            debug!(user_id = %caller.user_id, "token of a revoked user refused");
            return Err(unauthenticated("token revoked"));
        }
        Ok(caller)
    }

    /// The caller a token names, from the cache or verified with the keys.
    async fn verify_signed(&self, token: &str, now: i64) -> Result<Caller, Refused> {
        if let Some(caller) = self.verified.get(token, now, |kid| self.jwks.knows(kid)) {
            return Ok(caller);
        }
        let kid = Verifier::kid(token).map_err(|e| token_refused(&e))?;
        let keys = self.jwks.keys_for(&kid).await.map_err(|e| {
            // Not the client's fault: say so with 503 rather than a misleading 401.
            tracing::warn!(error = %e, "token verification unavailable");
            Refused {
                error: ApiError::new(ErrorCode::Unavailable, "cannot verify tokens right now")
                    .with_retry_after(1),
                challenge: false,
            }
        })?;
        let claims = self
            .verifier
            .verify(token, &keys)
            .map_err(|e| token_refused(&e))?;
        let caller = Caller {
            user_id: claims.sub,
            roles: claims.roles,
        };
        self.verified
            .insert(token, caller.clone(), &kid, claims.exp, now);
        Ok(caller)
    }
}

fn token_refused(error: &TokenError) -> Refused {
    debug!(error = %error, "token refused");
    let message = match error {
        TokenError::Malformed => "malformed token",
        TokenError::UnknownKey(_) => "token signed with an unknown key",
        TokenError::UnsupportedAlgorithm(_) => "unsupported token algorithm",
        TokenError::BadSignature => "invalid token signature",
        TokenError::Expired => "token expired",
        TokenError::NotYetValid => "token not yet valid",
        TokenError::WrongIssuer => "token from the wrong issuer",
        TokenError::WrongAudience => "token for the wrong audience",
        TokenError::InvalidKey(_) => "token cannot be verified",
    };
    unauthenticated(message)
}

/// The bearer token of `Authorization`: `None` without the header, `Err` when it is not a
/// usable bearer credential.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<Result<&str, &'static str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err("malformed Authorization header"));
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Some(Err("expected `Authorization: Bearer <token>`"));
    };
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Some(Err("expected `Authorization: Bearer <token>`"));
    }
    Some(Ok(token.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_credentials_are_parsed_strictly() {
        let mut headers = HeaderMap::new();
        assert!(bearer(&headers).is_none());
        for (value, ok) in [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer", None),
            ("Bearer   ", None),
            ("abc", None),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&headers).unwrap().ok(), ok, "{value}");
        }
    }
}
