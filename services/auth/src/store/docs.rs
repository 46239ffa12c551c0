//! The documents of the auth database's collections, as the store writes and reads them:
//! `users`, `refresh_tokens`, `token_families` and `revoked_users`.

use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDoc {
    /// The user id (a UUID v7).
    #[serde(rename = "_id")]
    pub id: String,
    /// The display name.
    pub username: String,
    /// The lower-cased username (unique); absent only on an account from before it whose
    /// key another account already had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_key: Option<String>,
    /// The normalised email (unique).
    pub email: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// The roles.
    pub roles: Vec<String>,
    /// When the account was created.
    pub created_at: DateTime,
    /// The account's `auth.user.registered` CloudEvent (JSON) until it is published: written
    /// with the account in one insert, so the two exist together ([`crate::events`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_event: Option<String>,
}

impl UserDoc {
    /// The public profile.
    pub fn profile(&self) -> contract::auth::User {
        contract::auth::User {
            id: self.id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            roles: self.roles.clone(),
            created_at: self.created_at.try_to_rfc3339_string().unwrap_or_default(),
        }
    }
}

/// A refresh token as stored: keyed by its hash, never by the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshDoc {
    /// SHA-256 of the token, hex.
    #[serde(rename = "_id")]
    pub hash: String,
    /// The login session this token belongs to; rotation keeps it.
    pub family: String,
    /// The user id.
    pub user_id: String,
    /// When the token stops being valid (TTL index).
    pub expires_at: DateTime,
    /// When it was issued.
    pub created_at: DateTime,
    /// When it was exchanged (Unix milliseconds), or null while unused. A plain integer, not a
    /// BSON date: nx-27017 turns dates written by `$set` into strings.
    pub used_at: Option<i64>,
}

/// A revoked family: every token of it is refused, whenever it was minted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct FamilyDoc {
    /// The family id.
    #[serde(rename = "_id")]
    pub(super) family: String,
    /// When it was revoked.
    pub(super) revoked_at: DateTime,
    /// When the tombstone may go: past the lifetime of any token of the family (TTL index).
    pub(super) expires_at: DateTime,
}

/// A deleted account whose access tokens are refused until `expires_at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokedDoc {
    /// The user id.
    #[serde(rename = "_id")]
    pub user_id: String,
    /// When the account was deleted.
    pub revoked_at: DateTime,
    /// When every access token issued before the deletion has expired (TTL index).
    pub expires_at: DateTime,
}
