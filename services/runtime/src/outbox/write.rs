//! The write side of the outbox: storing a change's event in the change's own transaction,
//! as a statement ([`record`]), as a handler's step ([`recorded`], [`commit`]), and as a
//! handler's whole write ([`created`], [`changed`]).

use contract::ServiceError;
use contract::events::{CloudEvent, EventType};
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::switch;
use crate::RequestContext;
use crate::idempotency::Idempotency;
use crate::pg::{found, reply_error};

/// Stores the event of a change in the write's transaction `db`: an event of `event_type`
/// about entity `subject`, caused by user `actor` (`None`: nobody signed in), carrying `data`
/// (the entity after the change; before it, for a delete).
///
/// The id is a UUID v7 (time-ordered); the time is read from the database clock by this
/// statement, which a write runs last, just before its commit (a transaction cannot know its
/// own commit time), in RFC 3339 UTC with microseconds.
///
/// # Errors
/// The database's, or an encoding error when `data` cannot be serialized.
pub async fn record<T: Serialize>(
    db: &mut PgConnection,
    event_type: EventType,
    subject: &str,
    actor: Option<&str>,
    data: &T,
) -> Result<(), sqlx::Error> {
    if switch::is_off() {
        return Ok(());
    }
    let id = uuid::Uuid::now_v7().to_string();
    // The time is set by the statement below, from the database clock.
    let event = CloudEvent::new(
        event_type,
        id.clone(),
        subject,
        String::new(),
        actor.map(str::to_owned),
        data,
    );
    let payload = serde_json::to_string(&event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO outbox (subject, event_id, payload) VALUES ($1, $2, jsonb_set($3::jsonb, \
         '{time}', to_jsonb(to_char(clock_timestamp() AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))))",
    )
    .bind(event_type.subject())
    .bind(&id)
    .bind(payload)
    .execute(db)
    .await?;
    Ok(())
}

/// [`record`] as a handler's step: the change is the request's, by its user, a failure is
/// the reply a client may see ([`reply_error`]), and `data` is given back to be answered.
///
/// # Errors
/// As [`reply_error`] maps [`record`]'s.
pub async fn recorded<T: Serialize>(
    db: &mut PgConnection,
    ctx: &RequestContext,
    event_type: EventType,
    subject: &str,
    data: T,
) -> Result<T, ServiceError> {
    record(db, event_type, subject, ctx.user_id().as_deref(), &data)
        .await
        .map_err(reply_error)?;
    Ok(data)
}

/// The last step of a write in its own transaction (an update, a delete): stores the event of
/// the change ([`recorded`]), then commits `tx`; gives `data` back.
///
/// # Errors
/// As [`reply_error`] maps the database's.
pub async fn commit<T: Serialize>(
    mut tx: Transaction<'_, Postgres>,
    ctx: &RequestContext,
    event_type: EventType,
    subject: &str,
    data: T,
) -> Result<T, ServiceError> {
    let data = recorded(&mut tx, ctx, event_type, subject, data).await?;
    tx.commit().await.map_err(reply_error)?;
    Ok(data)
}

/// A create, whole: `insert` stores the new row, once per `Idempotency-Key`
/// ([`Idempotency::once`]), and the event of `event_type` about it (whose subject `subject`
/// reads from the row) is stored in the same transaction ([`recorded`]); gives the row back.
///
/// # Errors
/// `insert`'s, the key's ([`Idempotency::once`]), or as [`reply_error`] maps the database's.
pub async fn created<T, F>(
    idempotency: Idempotency,
    pool: &PgPool,
    ctx: &RequestContext,
    event_type: EventType,
    subject: fn(&T) -> String,
    insert: F,
) -> Result<T, ServiceError>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, ServiceError>>
        + Send
        + 'static,
{
    let ctx = ctx.clone();
    idempotency
        .once(pool, move |conn| {
            Box::pin(async move {
                let created = insert(&mut *conn).await?;
                let id = subject(&created);
                recorded(conn, &ctx, event_type, &id, created).await
            })
        })
        .await
}

/// An update or a delete of one row, whole, in a transaction of its own: `write` changes the
/// row and gives it back (after the change; before it, for a delete), `None` when there is no
/// such row, which is answered `missing()` (a 404); then the event of the change about
/// `subject` is stored and the transaction committed ([`commit`]).
///
/// # Errors
/// `missing()`, or as [`reply_error`] maps the database's.
pub async fn changed<T: Serialize>(
    pool: &PgPool,
    ctx: &RequestContext,
    event_type: EventType,
    subject: &str,
    write: impl AsyncFnOnce(&mut PgConnection) -> Result<Option<T>, sqlx::Error>,
    missing: impl FnOnce() -> ServiceError,
) -> Result<T, ServiceError> {
    let mut tx = pool.begin().await.map_err(reply_error)?;
    let data = found(write(&mut tx).await, missing)?;
    commit(tx, ctx, event_type, subject, data).await
}
