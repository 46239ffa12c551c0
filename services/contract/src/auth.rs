//! The auth service's operations and DTOs: accounts, token pairs, access-token claims and the
//! JWKS the gateway verifies access tokens with.
//!
//! DTOs that carry a secret (a password, a token) leave it out of `Debug` (`#[debug(skip)]`
//! shows `..` in its place), so a stray `?request` in a log line cannot leak it.

use std::ops::RangeInclusive;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::NOT_BLANK;
use crate::{Empty, operation};

/// The only `token_type` the auth service issues.
pub const TOKEN_TYPE: &str = "Bearer";
/// Header carrying the end client's address (set by the gateway from the TCP peer or a trusted
/// proxy header, clients' copies stripped); the auth service throttles failed logins per value.
pub const CLIENT_ADDR_HEADER: &str = "natstack-client-addr";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's (normalised) email.
    pub email: String,
    /// The user's roles.
    pub roles: Vec<String>,
    /// Issued at (seconds since the Unix epoch).
    pub iat: i64,
    /// Expires at (seconds since the Unix epoch).
    pub exp: i64,
    /// The issuer.
    pub iss: String,
    /// The audience.
    pub aud: String,
    /// A unique token id.
    pub jti: String,
}

/// One public key as a JSON Web Key (RFC 8037 OKP, Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Jwk {
    /// Key type: `OKP`.
    pub kty: String,
    /// Curve: `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// The key id tokens name in their header.
    pub kid: String,
    /// Algorithm: `EdDSA`.
    pub alg: String,
    /// Use: `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

impl Jwk {
    /// An Ed25519 signing key with public key `x` (base64url, no padding) and id `kid`.
    pub fn ed25519(x: impl Into<String>, kid: impl Into<String>) -> Self {
        Self {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: x.into(),
            kid: kid.into(),
            alg: "EdDSA".to_owned(),
            use_: "sig".to_owned(),
        }
    }
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Jwks {
    /// The keys; tokens may be signed by any of them.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key with id `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// A user's public profile: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    /// The user id (the access token's `sub`).
    pub id: String,
    /// The display name.
    pub username: String,
    /// The normalised email.
    pub email: String,
    /// The roles (`user`, and `admin` for administrators).
    pub roles: Vec<String>,
    /// When the account was created (RFC 3339).
    pub created_at: String,
}

// The bounds of the request bodies below, in characters: their schemas state them and the auth
// service checks them, so a body the schema allows is never refused as invalid.

/// Longest email (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The length of a username.
pub const USERNAME_CHARS: RangeInclusive<usize> = 3..=32;
/// The length of a new account's password; the longest bounds the hashing work one request
/// can cause, at login too.
pub const PASSWORD_CHARS: RangeInclusive<usize> = 8..=128;
/// Longest refresh token looked at (issued ones are far shorter).
pub const MAX_REFRESH_TOKEN_CHARS: usize = 256;

/// Body of `POST /auth/register`.
#[derive(Clone, Default, derive_more::Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The display name: letters, digits, `_`, `-` and `.`.
    #[schemars(
        length(min = *USERNAME_CHARS.start(), max = *USERNAME_CHARS.end()),
        regex(pattern = r"^[A-Za-z0-9_.-]+$")
    )]
    pub username: String,
    /// The email; trimmed and lower-cased before use.
    #[schemars(email, length(max = MAX_EMAIL_CHARS))]
    pub email: String,
    /// The password; not all whitespace.
    #[schemars(
        length(min = *PASSWORD_CHARS.start(), max = *PASSWORD_CHARS.end()),
        regex(pattern = NOT_BLANK)
    )]
    #[debug(skip)]
    pub password: String,
}

/// Body of `POST /auth/login`.
#[derive(Clone, Default, derive_more::Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The email the account was registered with (case and surrounding space do not matter).
    #[schemars(length(min = 1, max = MAX_EMAIL_CHARS), regex(pattern = NOT_BLANK))]
    pub email: String,
    /// The password.
    #[schemars(length(min = 1, max = *PASSWORD_CHARS.end()))]
    #[debug(skip)]
    pub password: String,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Clone, Default, derive_more::Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    #[schemars(length(min = 1, max = MAX_REFRESH_TOKEN_CHARS), regex(pattern = NOT_BLANK))]
    #[debug(skip)]
    pub refresh_token: String,
}

/// An access token and the refresh token that renews it.
#[derive(Clone, PartialEq, Eq, derive_more::Debug, Serialize, Deserialize, JsonSchema)]
pub struct TokenPair {
    /// The access token (a JWT) for `Authorization: Bearer`.
    #[debug(skip)]
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The opaque, single-use refresh token.
    #[debug(skip)]
    pub refresh_token: String,
}

/// Path parameters of `/auth/users/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserIdParams {
    /// The user id.
    pub id: String,
}

/// One user whose access tokens are refused before they expire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevokedUser {
    /// The user id (the tokens' `sub`).
    pub sub: String,
    /// Until when (seconds since the Unix epoch) its tokens are refused: past the expiry of
    /// every access token issued before the revocation.
    pub until: i64,
}

/// The users whose access tokens are refused before they expire: deleted accounts, for one
/// access-token lifetime after their deletion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevokedUsers {
    /// The revoked users.
    pub users: Vec<RevokedUser>,
}

operation! {
    /// Create an account
    pub Register: "auth"."register", POST "/auth/register", auth Public, status 201,
        params Empty, query Empty, body RegisterRequest, response User;

    /// Log in with email and password
    pub Login: "auth"."login", POST "/auth/login", auth Public, status 200,
        params Empty, query Empty, body LoginRequest, response TokenPair;

    /// Exchange a refresh token for a new token pair
    pub Refresh: "auth"."refresh", POST "/auth/refresh", auth Public, status 200,
        params Empty, query Empty, body RefreshRequest, response TokenPair;

    /// Revoke a refresh token and its session
    pub Logout: "auth"."logout", POST "/auth/logout", auth Public, status 204,
        params Empty, query Empty, body RefreshRequest, response ();

    /// The caller's profile
    pub Me: "auth"."me", GET "/auth/me", auth User, status 200,
        params Empty, query Empty, body (), response User;

    /// The public keys that verify access tokens
    pub GetJwks: "auth"."jwks", GET "/.well-known/jwks.json", auth Public, status 200,
        params Empty, query Empty, body (), response Jwks;

    /// Delete an account and end its sessions (not the caller's own: 403)
    pub DeleteUser: "auth"."delete_user", DELETE "/auth/users/{id}", auth Admin, status 204,
        params UserIdParams, query Empty, body (), response ();

    /// The users whose access tokens are refused before they expire (the gateway polls it)
    pub GetRevoked: "auth"."revoked", internal,
        params Empty, query Empty, body (), response RevokedUsers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;

    #[test]
    fn jwk_serialises_use_and_operations_map_to_http() {
        let jwk = Jwk::ed25519("abc", "k1");
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kty":"OKP","crv":"Ed25519","x":"abc","kid":"k1","alg":"EdDSA","use":"sig"})
        );
        assert_eq!(GetJwks::subject(), "auth.jwks");
        assert_eq!(GetJwks::PATH, "/.well-known/jwks.json");
        assert_eq!(Register::SUCCESS_STATUS, 201);
        assert_eq!(Logout::SUCCESS_STATUS, 204);
        assert_eq!(Me::AUTH, crate::AuthLevel::User);
        assert_eq!(DeleteUser::meta().path_params(), ["id"]);
        const { assert!(GetRevoked::INTERNAL && !DeleteUser::INTERNAL) };
        assert_eq!(GetRevoked::subject(), "auth.revoked");
    }

    /// `(minLength, maxLength)` of each property of `T`'s schema.
    fn lengths<T: JsonSchema>() -> serde_json::Value {
        let schema = schemars::schema_for!(T).to_value();
        let props = schema["properties"].as_object().unwrap();
        props
            .iter()
            .map(|(name, p)| {
                (
                    name.clone(),
                    serde_json::json!([p["minLength"], p["maxLength"]]),
                )
            })
            .collect()
    }

    #[test]
    fn the_bodies_schemas_state_the_bounds() {
        assert_eq!(
            lengths::<RegisterRequest>(),
            serde_json::json!({"username": [3, 32], "email": [null, 254], "password": [8, 128]})
        );
        assert_eq!(
            lengths::<LoginRequest>(),
            serde_json::json!({"email": [1, 254], "password": [1, 128]})
        );
        assert_eq!(
            lengths::<RefreshRequest>(),
            serde_json::json!({"refresh_token": [1, 256]})
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let login = LoginRequest {
            email: "a@b.c".into(),
            password: "hunter22".into(),
        };
        let pair = TokenPair {
            access_token: "AT".into(),
            token_type: TOKEN_TYPE.into(),
            expires_in: 1,
            refresh_token: "RT".into(),
        };
        let refresh = RefreshRequest {
            refresh_token: "RT".into(),
        };
        let register = RegisterRequest {
            username: "ada".into(),
            email: "a@b.c".into(),
            password: "hunter22".into(),
        };
        let all = format!("{login:?} {pair:?} {refresh:?} {register:?}");
        assert!(!all.contains("hunter22") && !all.contains("AT") && !all.contains("RT"));
        assert_eq!(
            format!("{login:?}"),
            r#"LoginRequest { email: "a@b.c", .. }"#
        );
        assert_eq!(
            format!("{pair:?}"),
            r#"TokenPair { token_type: "Bearer", expires_in: 1, .. }"#
        );
        assert_eq!(format!("{refresh:?}"), "RefreshRequest { .. }");
        assert_eq!(
            format!("{register:?}"),
            r#"RegisterRequest { username: "ada", email: "a@b.c", .. }"#
        );
    }
}
