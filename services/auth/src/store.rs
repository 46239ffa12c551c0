//! MongoDB storage: users, refresh tokens and token families, with their indexes.
//!
//! Correctness never rests on a server-side feature a MongoDB-compatible server might lack:
//!
//! - email uniqueness is a unique index, and the insert's duplicate-key error is the answer
//!   (no read-then-insert);
//! - single use of a refresh token is one atomic `findAndModify` that flips `used_at` from
//!   null, so of two concurrent refreshes exactly one wins;
//! - the TTL indexes only reclaim space: expiry is always checked in code, so a server that
//!   ignores `expireAfterSeconds` (or runs its TTL monitor once a minute, as MongoDB does)
//!   never lets an expired token through;
//! - no multi-document transactions: revoking a family writes a family tombstone first, and
//!   every refresh checks it, so a token minted concurrently with the revocation still dies;
//! - dates are written by inserts only: nx-27017 stores a date set by `$set` as a string, so
//!   update-time stamps are integers (Unix milliseconds).

use std::time::Duration;

use mongodb::bson::{DateTime, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use tracing::instrument;

/// The database used when neither `MONGODB_DATABASE` nor the URL names one.
pub const DEFAULT_DATABASE: &str = "auth";

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11_000;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique index refused the write.
    #[error("duplicate key")]
    Duplicate,
    /// The database failed or could not be reached.
    #[error("MongoDB error: {0}")]
    Mongo(#[from] mongodb::error::Error),
}

impl StoreError {
    /// Whether the database could not be reached (as opposed to refusing the operation).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Duplicate => false,
            Self::Mongo(e) => matches!(
                *e.kind,
                ErrorKind::ServerSelection { .. }
                    | ErrorKind::Io(_)
                    | ErrorKind::ConnectionPoolCleared { .. }
                    // The user does not exist yet: its provisioning Job has not run.
                    | ErrorKind::Authentication { .. }
            ),
        }
    }
}

fn is_duplicate(error: &mongodb::error::Error) -> bool {
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .iter()
            .flatten()
            .any(|e| e.code == DUPLICATE_KEY),
        _ => false,
    }
}

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDoc {
    /// The user id (a UUID v7).
    #[serde(rename = "_id")]
    pub id: String,
    /// The display name.
    pub username: String,
    /// The normalised email (unique).
    pub email: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// The roles.
    pub roles: Vec<String>,
    /// When the account was created.
    pub created_at: DateTime,
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
struct FamilyDoc {
    #[serde(rename = "_id")]
    family: String,
    revoked_at: DateTime,
    expires_at: DateTime,
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum Claim {
    /// An unused token, now marked used by this call.
    Fresh(RefreshDoc),
    /// A token that was already used: a replay.
    Reused(RefreshDoc),
    /// No such token.
    Unknown,
}

/// The auth database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
    users: Collection<UserDoc>,
    tokens: Collection<RefreshDoc>,
    families: Collection<FamilyDoc>,
}

impl Store {
    /// Connects (lazily: the driver connects on first use) to database `database` at `url`;
    /// without one, to the database the URL names, else [`DEFAULT_DATABASE`]. A
    /// `mongodb+srv://` URL is resolved here (DNS SRV and TXT records).
    pub async fn connect(url: &str, database: Option<&str>) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(url).await?;
        let database = database
            .map(str::to_owned)
            .or_else(|| options.default_database.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        options
            .app_name
            .get_or_insert_with(|| "natstack-auth".to_owned());
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(5));
        options
            .connect_timeout
            .get_or_insert(Duration::from_secs(5));
        let client = Client::with_options(options)?;
        let db = client.database(&database);
        Ok(Self {
            users: db.collection("users"),
            tokens: db.collection("refresh_tokens"),
            families: db.collection("token_families"),
            db,
        })
    }

    /// Creates the indexes (idempotent).
    #[instrument(skip_all)]
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let unique = IndexOptions::builder()
            .unique(true)
            .name("email_unique".to_owned())
            .build();
        self.users
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"email": 1})
                    .options(unique)
                    .build(),
            )
            .await?;
        self.tokens.create_index(expiry_index()).await?;
        self.tokens
            .create_index(IndexModel::builder().keys(doc! {"family": 1}).build())
            .await?;
        self.families.create_index(expiry_index()).await?;
        Ok(())
    }

    /// Round-trips a `ping` command (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! {"ping": 1}).await?;
        Ok(())
    }

    /// Inserts a user; [`StoreError::Duplicate`] when the email is taken.
    #[instrument(skip_all)]
    pub async fn insert_user(&self, user: &UserDoc) -> Result<(), StoreError> {
        match self.users.insert_one(user).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate(&e) => Err(StoreError::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this normalised email.
    #[instrument(skip_all)]
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserDoc>, StoreError> {
        Ok(self.users.find_one(doc! {"email": email}).await?)
    }

    /// The user with this id.
    #[instrument(skip_all)]
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserDoc>, StoreError> {
        Ok(self.users.find_one(doc! {"_id": id}).await?)
    }

    /// Adds `role` to the user with this email (no-op when present); false if no such user.
    #[instrument(skip_all)]
    pub async fn add_role(&self, email: &str, role: &str) -> Result<bool, StoreError> {
        let result = self
            .users
            .update_one(doc! {"email": email}, doc! {"$addToSet": {"roles": role}})
            .await?;
        Ok(result.matched_count > 0)
    }

    /// Stores a refresh token.
    #[instrument(skip_all)]
    pub async fn insert_refresh(&self, token: &RefreshDoc) -> Result<(), StoreError> {
        self.tokens.insert_one(token).await?;
        Ok(())
    }

    /// Marks the token with this hash used, atomically; says what was found.
    #[instrument(skip_all)]
    pub async fn claim_refresh(&self, hash: &str) -> Result<Claim, StoreError> {
        let claimed = self
            .tokens
            .find_one_and_update(
                doc! {"_id": hash, "used_at": null},
                doc! {"$set": {"used_at": DateTime::now().timestamp_millis()}},
            )
            .return_document(ReturnDocument::After)
            .await?;
        if let Some(doc) = claimed {
            return Ok(Claim::Fresh(doc));
        }
        Ok(match self.tokens.find_one(doc! {"_id": hash}).await? {
            Some(doc) => Claim::Reused(doc),
            None => Claim::Unknown,
        })
    }

    /// The stored token with this hash, used or not.
    #[instrument(skip_all)]
    pub async fn refresh_by_hash(&self, hash: &str) -> Result<Option<RefreshDoc>, StoreError> {
        Ok(self.tokens.find_one(doc! {"_id": hash}).await?)
    }

    /// Revokes a whole family: a tombstone kept until `until` (past the lifetime of any of its
    /// tokens), then every stored token of it marked used so none can be exchanged.
    #[instrument(skip_all)]
    pub async fn revoke_family(&self, family: &str, until: DateTime) -> Result<(), StoreError> {
        // An insert (not an upsert with `$set`) keeps `expires_at` a real date for the TTL
        // index on every server; a second revocation finds the tombstone already there.
        let tombstone = FamilyDoc {
            family: family.to_owned(),
            revoked_at: DateTime::now(),
            expires_at: until,
        };
        match self.families.insert_one(&tombstone).await {
            Ok(_) => {}
            Err(e) if is_duplicate(&e) => {}
            Err(e) => return Err(e.into()),
        }
        self.tokens
            .update_many(
                doc! {"family": family, "used_at": null},
                doc! {"$set": {"used_at": DateTime::now().timestamp_millis()}},
            )
            .await?;
        Ok(())
    }

    /// Whether the family was revoked.
    #[instrument(skip_all)]
    pub async fn family_revoked(&self, family: &str) -> Result<bool, StoreError> {
        Ok(self
            .families
            .find_one(doc! {"_id": family})
            .await?
            .is_some())
    }
}

/// The TTL index that lets MongoDB delete a token or family once its `expires_at` has passed.
fn expiry_index() -> IndexModel {
    IndexModel::builder()
        .keys(doc! {"expires_at": 1})
        .options(
            IndexOptions::builder()
                .expire_after(Duration::ZERO)
                .name("expires_at_ttl".to_owned())
                .build(),
        )
        .build()
}
