//! `Idempotency-Key` for writes: a user who sends a write again with the key of an earlier one
//! gets the earlier result instead of a second write.
//!
//! Keys are stored per user (the verified caller the gateway forwards) in the service's own
//! PostgreSQL database, table `idempotency_keys` ([`SCHEMA`], one migration per service), for
//! [`contract::idempotency::TTL_SECS`] with the first result's status and body. A handler
//! wraps its write in [`Idempotency::once`]:
//!
//! - no key: the write runs as it would without this module, in a transaction of its own
//!   (so that its statements, such as storing its event in the outbox, commit together);
//! - a key not seen (or expired): the write runs **in one transaction with storing the key
//!   and its result**, so the key is stored exactly when the write is committed, and a write
//!   that failed (a 4xx, a 503, a deadline that cancelled the handler) leaves no key behind
//!   and may be retried with the same key;
//! - the key of a committed write: its stored result, with `Idempotent-Replayed: true`
//!   ([`headers::IDEMPOTENT_REPLAYED`]), without running the write;
//! - the same key with a different request (another body, or another operation): 422;
//! - the key of a write still running (another instance or request holds it): 409 with
//!   `Retry-After`, at once rather than waiting behind it. The request that holds a key holds
//!   a transaction-scoped advisory lock on (user, key) from its lookup to its commit, so two
//!   requests with one key never both write.
//!
//! Only successes are stored: a request refused for its content is refused again on retry
//! anyway, and storing the refusal of an outage would make the retry fail after it is over.
//! Each stored key purges up to [`PURGE_BATCH`] expired ones, in the same transaction;
//! expired keys not yet purged are treated as absent.

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{PgConnection, PgPool};

use contract::idempotency::{INVALID_KEY, TTL_SECS, is_valid_key};
use contract::{FieldError, Operation, RequestOf, ServiceError, headers};

use crate::pg::reply_error;
use crate::serve::RequestContext;

/// The table's definition: each service that stores keys has this file, unchanged, among its
/// migrations (its tests compare them).
pub const SCHEMA: &str = include_str!("idempotency.sql");

/// Most expired keys deleted by one stored key, so that purging keeps pace with storing (one
/// row in, up to this many out) without making any write slow.
pub const PURGE_BATCH: i64 = 100;

/// The `Retry-After` of a 409 answered while the first request with a key is still running.
pub const IN_PROGRESS_RETRY_AFTER_SECS: u64 = 1;

/// A request's key, read and checked before the handler takes its request apart.
#[derive(Debug)]
pub struct Idempotency {
    /// `None` when the request named no key.
    key: Option<Named>,
    ctx: RequestContext,
    status: u16,
}

#[derive(Debug)]
struct Named {
    user_id: String,
    key: String,
    /// What the fingerprint is taken of: the operation's subject and the request's JSON.
    request: Vec<u8>,
}

impl Idempotency {
    /// The key of a request to operation `O`, if it names one: 400 when the key breaks the
    /// rules ([`contract::idempotency`]), 401 when there is no caller to store it for.
    pub fn of<O: Operation>(
        ctx: &RequestContext,
        request: &RequestOf<O>,
    ) -> Result<Self, ServiceError> {
        let key = match ctx.headers.get(headers::IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => {
                let key = value.as_str();
                if !is_valid_key(key.as_bytes()) {
                    return Err(ServiceError::bad_request(INVALID_KEY));
                }
                let user_id = ctx.require_caller()?.user_id.clone();
                let request = serde_json::to_vec(&(O::subject(), request)).map_err(|e| {
                    tracing::error!(error = %e, "request could not be encoded");
                    ServiceError::internal()
                })?;
                Some(Named {
                    user_id,
                    key: key.to_owned(),
                    request,
                })
            }
        };
        Ok(Self {
            key,
            ctx: ctx.clone(),
            status: O::SUCCESS_STATUS,
        })
    }

    /// Runs `write` on a connection of `pool` once per key; see the module docs. `write`'s
    /// statements run inside the key's transaction when there is a key.
    pub async fn once<T, F>(self, pool: &PgPool, write: F) -> Result<T, ServiceError>
    where
        T: Serialize + DeserializeOwned,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, ServiceError>>,
    {
        let Some(named) = &self.key else {
            // Still one transaction: a write stores its event in the outbox with its change.
            let mut tx = pool.begin().await.map_err(reply_error)?;
            let result = write(&mut tx).await?;
            tx.commit().await.map_err(reply_error)?;
            return Ok(result);
        };
        let mut tx = pool.begin().await.map_err(reply_error)?;
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('idempotency\n' || $1 || '\n' || $2, 0))",
        )
        .bind(&named.user_id)
        .bind(&named.key)
        .fetch_one(&mut *tx)
        .await
        .map_err(reply_error)?;
        if !locked {
            return Err(in_progress());
        }
        let stored: Option<(bool, Vec<u8>)> = sqlx::query_as(
            "SELECT fingerprint = sha256($3), body FROM idempotency_keys \
             WHERE user_id = $1 AND key = $2 AND created_at > now() - make_interval(secs => $4)",
        )
        .bind(&named.user_id)
        .bind(&named.key)
        .bind(&named.request)
        .bind(ttl_secs())
        .fetch_optional(&mut *tx)
        .await
        .map_err(reply_error)?;
        match stored {
            // Dropping the transaction rolls it back and releases the lock.
            Some((true, body)) => return self.replay(&body),
            Some((false, _)) => return Err(reused()),
            None => {}
        }
        let result = write(&mut tx).await?;
        let body = serde_json::to_vec(&result).map_err(|e| {
            tracing::error!(error = %e, "result could not be encoded");
            ServiceError::internal()
        })?;
        // Under the lock nobody else stores this key, so a row that is there has expired.
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body) \
             VALUES ($1, $2, sha256($3), $4, $5) \
             ON CONFLICT (user_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
             status = EXCLUDED.status, body = EXCLUDED.body, created_at = now()",
        )
        .bind(&named.user_id)
        .bind(&named.key)
        .bind(&named.request)
        .bind(i16::try_from(self.status).unwrap_or(i16::MAX))
        .bind(&body)
        .execute(&mut *tx)
        .await
        .map_err(reply_error)?;
        // Rows another transaction is purging are skipped rather than waited for.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE (user_id, key) IN (\
             SELECT user_id, key FROM idempotency_keys \
             WHERE created_at <= now() - make_interval(secs => $1) \
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(ttl_secs())
        .bind(PURGE_BATCH)
        .execute(&mut *tx)
        .await
        .map_err(reply_error)?;
        tx.commit().await.map_err(reply_error)?;
        Ok(result)
    }

    /// The stored result, marked as a repeat.
    fn replay<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, ServiceError> {
        let result = serde_json::from_slice(body).map_err(|e| {
            tracing::error!(error = %e, "a stored result could not be decoded");
            ServiceError::internal()
        })?;
        self.ctx
            .set_reply_header(headers::IDEMPOTENT_REPLAYED, "true");
        Ok(result)
    }
}

fn ttl_secs() -> f64 {
    // Exact: a day's seconds are far below f64's integer range.
    TTL_SECS as f64
}

/// 409: the first request with this key is still running.
fn in_progress() -> ServiceError {
    ServiceError::conflict(
        "a request with this Idempotency-Key is still being processed; retry shortly",
    )
    .with_retry_after(IN_PROGRESS_RETRY_AFTER_SECS)
}

/// 422: the key named another request.
fn reused() -> ServiceError {
    ServiceError::new(
        contract::ErrorCode::ValidationFailed,
        "this Idempotency-Key was already used for a different request",
    )
    .with_details(serde_json::json!({ "fields": [FieldError::new(
        headers::IDEMPOTENCY_KEY,
        "was already used for a different request; use a new key for a new request",
    )]}))
}
