//! MongoDB storage: users, refresh tokens and token families, with their indexes.
//!
//! Correctness never rests on a server-side feature a MongoDB-compatible server might lack:
//!
//! - email and username uniqueness are unique indexes, and the insert's duplicate-key error is
//!   the answer (no read-then-insert); usernames are unique case-insensitively through
//!   `username_key`, the lower-cased username, whose index is sparse so that accounts from
//!   before it (backfilled at start-up, [`Store::backfill_username_keys`]) that collide can
//!   stay without one;
//! - single use of a refresh token is one atomic `findAndModify` that flips `used_at` from
//!   null, so of two concurrent refreshes exactly one wins;
//! - the TTL indexes only reclaim space: expiry is always checked in code, so a server that
//!   ignores `expireAfterSeconds` (or runs its TTL monitor once a minute, as MongoDB does)
//!   never lets an expired token through;
//! - no multi-document transactions: revoking a family writes a family tombstone first, and
//!   every refresh checks it, so a token minted concurrently with the revocation still dies;
//! - a deleted account's id is kept in `revoked_users` (TTL) for one access-token lifetime,
//!   so the gateway can refuse the access tokens it still holds;
//! - dates are written by inserts only: nx-27017 stores a date set by `$set` as a string, so
//!   update-time stamps are integers (Unix milliseconds).

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{info, instrument, warn};

mod docs;

use docs::FamilyDoc;
pub use docs::{RefreshDoc, RevokedDoc, UserDoc};

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

/// Inserts `doc` into `collection`; false, and nothing written, when a unique index already
/// holds its key.
async fn insert_unique<T>(collection: &Collection<T>, doc: &T) -> Result<bool, StoreError>
where
    T: Serialize + Send + Sync,
{
    match collection.insert_one(doc).await {
        Ok(_) => Ok(true),
        Err(e) if is_duplicate(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether `collection` holds a document matching `filter`.
async fn exists<T>(collection: &Collection<T>, filter: Document) -> Result<bool, StoreError>
where
    T: DeserializeOwned + Send + Sync,
{
    Ok(collection.find_one(filter).await?.is_some())
}

/// What [`Store::backfill_username_keys`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    /// Accounts given their `username_key`.
    pub keyed: u64,
    /// Accounts left without one: another account has that username.
    pub duplicates: u64,
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
    revoked: Collection<RevokedDoc>,
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
            revoked: db.collection("revoked_users"),
            db,
        })
    }

    /// Up to `limit` accounts whose event is not published yet, oldest first: (id, event).
    pub async fn pending_events(&self, limit: i64) -> Result<Vec<(String, String)>, StoreError> {
        let users: Vec<UserDoc> = self
            .users
            .find(doc! { "pending_event": { "$exists": true } })
            .sort(doc! { "created_at": 1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(users
            .into_iter()
            .filter_map(|u| Some((u.id, u.pending_event?)))
            .collect())
    }

    /// How many accounts' events are not published yet.
    pub async fn count_pending_events(&self) -> Result<u64, StoreError> {
        Ok(self
            .users
            .count_documents(doc! { "pending_event": { "$exists": true } })
            .await?)
    }

    /// Removes account `id`'s event once JetStream has acknowledged it.
    pub async fn clear_event(&self, id: &str) -> Result<(), StoreError> {
        self.users
            .update_one(
                doc! { "_id": id },
                doc! { "$unset": { "pending_event": "" } },
            )
            .await?;
        Ok(())
    }

    /// Creates the indexes (idempotent).
    #[instrument(skip_all)]
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        // (field, index name, unique, sparse). `username_key` is sparse: accounts without a
        // key (see the module notes) are not in it. `pending_event` is sparse: only accounts
        // whose event is not published yet are in it, a handful at most, so the relay's
        // frequent look for them reads the index, not every account.
        let users = [
            ("email", "email_unique", true, false),
            ("username_key", "username_unique", true, true),
            ("pending_event", "pending_event", false, true),
        ];
        for (field, name, unique, sparse) in users {
            let options = IndexOptions::builder()
                .name(name.to_owned())
                .unique(unique.then_some(true))
                .sparse(sparse.then_some(true))
                .build();
            let index = IndexModel::builder()
                .keys(doc! { field: 1 })
                .options(options)
                .build();
            self.users.create_index(index).await?;
        }
        self.tokens.create_index(expiry_index()).await?;
        self.tokens
            .create_index(IndexModel::builder().keys(doc! {"family": 1}).build())
            .await?;
        self.tokens
            .create_index(IndexModel::builder().keys(doc! {"user_id": 1}).build())
            .await?;
        self.families.create_index(expiry_index()).await?;
        self.revoked.create_index(expiry_index()).await?;
        Ok(())
    }

    /// Gives every account without a `username_key` its key, one by one; an account whose
    /// key another account already has is logged and left as it is (renaming it is for a
    /// person to decide). Idempotent; concurrent replicas only repeat each other's writes.
    #[instrument(skip_all)]
    pub async fn backfill_username_keys(&self) -> Result<Backfill, StoreError> {
        let mut done = Backfill::default();
        let mut unkeyed = self
            .users
            .find(doc! {"username_key": {"$exists": false}})
            .await?;
        while let Some(user) = unkeyed.try_next().await? {
            let key = crate::validate::username_key(&user.username);
            let update = self
                .users
                .update_one(
                    doc! {"_id": &user.id, "username_key": {"$exists": false}},
                    doc! {"$set": {"username_key": &key}},
                )
                .await;
            match update {
                Ok(_) => done.keyed += 1,
                Err(e) if is_duplicate(&e) => {
                    warn!(user_id = %user.id, username = ?user.username, "username taken by another account (case-insensitively); this account keeps it but is left out of the uniqueness index");
                    done.duplicates += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if done != Backfill::default() {
            info!(
                keyed = done.keyed,
                duplicates = done.duplicates,
                "username keys backfilled"
            );
        }
        Ok(done)
    }

    /// Round-trips a `ping` command (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! {"ping": 1}).await?;
        Ok(())
    }

    /// Inserts a user; [`StoreError::Duplicate`] when the email or the username is taken.
    #[instrument(skip_all)]
    pub async fn insert_user(&self, user: &UserDoc) -> Result<(), StoreError> {
        if insert_unique(&self.users, user).await? {
            Ok(())
        } else {
            Err(StoreError::Duplicate)
        }
    }

    /// The user with this normalised email.
    #[instrument(skip_all)]
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserDoc>, StoreError> {
        Ok(self.users.find_one(doc! {"email": email}).await?)
    }

    /// Whether an account has this `username_key`.
    #[instrument(skip_all)]
    pub async fn username_taken(&self, key: &str) -> Result<bool, StoreError> {
        exists(&self.users, doc! {"username_key": key}).await
    }

    /// The user with this id.
    #[instrument(skip_all)]
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserDoc>, StoreError> {
        Ok(self.users.find_one(doc! {"_id": id}).await?)
    }

    /// Deletes the user with this id and its refresh tokens; false if there was no such
    /// user. Revoke the user first ([`Store::revoke_user`]): its access tokens outlive it.
    #[instrument(skip_all)]
    pub async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = self.users.delete_one(doc! {"_id": id}).await?;
        // Refreshing needs the user too, so a token left by a failure here is dead anyway.
        self.tokens.delete_many(doc! {"user_id": id}).await?;
        Ok(deleted.deleted_count > 0)
    }

    /// Lists the user as revoked until `until`; a second revocation keeps the first.
    #[instrument(skip_all)]
    pub async fn revoke_user(&self, id: &str, until: DateTime) -> Result<(), StoreError> {
        let doc = RevokedDoc {
            user_id: id.to_owned(),
            revoked_at: DateTime::now(),
            expires_at: until,
        };
        insert_unique(&self.revoked, &doc).await.map(drop)
    }

    /// The revoked users whose revocation has not lapsed (decided here, not by the TTL index).
    #[instrument(skip_all)]
    pub async fn revoked_users(&self) -> Result<Vec<RevokedDoc>, StoreError> {
        let now = DateTime::now();
        let all: Vec<RevokedDoc> = self.revoked.find(doc! {}).await?.try_collect().await?;
        Ok(all.into_iter().filter(|r| r.expires_at > now).collect())
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
        insert_unique(&self.families, &tombstone).await?;
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
        exists(&self.families, doc! {"_id": family}).await
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
