//! The transactional outbox: a service's domain events are written in the same PostgreSQL
//! transaction as the change they describe, and published to JetStream afterwards.
//!
//! - `record`: inside a write's transaction, stores its [`CloudEvent`] in the `outbox` table
//!   ([`SCHEMA`], one migration per service database), so an event exists exactly when its
//!   change is committed: a rolled-back write leaves none, a committed one cannot lose it;
//!   `recorded` and `commit` are its forms for a handler (the reply a client may see);
//! - `relay`: the task that publishes pending rows in order and removes them once JetStream
//!   has acknowledged them (at least once to the stream, and exactly once in it thanks to the
//!   `Nats-Msg-Id` de-duplication);
//! - [`publish`]: what every relay does alike (also auth's, whose outbox is in MongoDB):
//!   publish with `Nats-Msg-Id`, await the acknowledgement, report failures;
//! - [`metrics`]: the relay's gauges and counters on `/metrics`;
//! - `switch`: the benchmark's baseline, a service with its outbox off.
//!
//! Everything but [`publish`] and [`metrics`] needs the `postgres` feature.
//!
//! A row holds the subject and the serialized event, so the relay knows nothing of the
//! services' entities.

pub mod metrics;
pub mod publish;
#[cfg(feature = "postgres")]
pub mod relay;
#[cfg(feature = "postgres")]
pub mod switch;

#[cfg(feature = "postgres")]
use contract::ServiceError;
#[cfg(feature = "postgres")]
use contract::events::{CloudEvent, EventType};
#[cfg(feature = "postgres")]
use serde::Serialize;
#[cfg(feature = "postgres")]
use sqlx::{PgConnection, Postgres, Transaction};

#[cfg(feature = "postgres")]
use crate::RequestContext;
#[cfg(feature = "postgres")]
use crate::pg::reply_error;

/// The table's definition: each service with an outbox has this file, unchanged, among its
/// migrations (a symbolic link).
#[cfg(feature = "postgres")]
pub const SCHEMA: &str = include_str!("../outbox.sql");

/// The `NOTIFY` channel on which a commit that wrote events wakes the relays ([`SCHEMA`]'s
/// trigger names it too).
pub const CHANNEL: &str = "outbox";

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
#[cfg(feature = "postgres")]
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
#[cfg(feature = "postgres")]
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
#[cfg(feature = "postgres")]
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
