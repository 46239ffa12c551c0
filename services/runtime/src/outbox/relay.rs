//! The outbox relay: one task per service instance that publishes the committed events of the
//! `outbox` table to JetStream, in order, and deletes each row once JetStream acknowledged it.
//!
//! # Order, with several replicas
//!
//! Rows are published in `seq` order. Two writes to one entity are serialised by the entity's
//! row lock (an update or delete waits for the other's commit; a second create of one key
//! waits and then fails), and each write inserts its event after taking that lock, so for one
//! entity a larger `seq` is always a later change.
//!
//! Plain `FOR UPDATE SKIP LOCKED` would let a second relay skip the rows a first one holds and
//! publish a *later* row of the same entity before the first relay's publish of the earlier
//! one. Instead a relay drains inside a transaction that first takes a transaction-scoped
//! advisory lock ([`LOCK_KEY`], per database): one relay drains at a time, the others find the
//! lock taken and wait for the next notification. Since the lock is released by the commit that
//! deletes the published rows, the next relay's read already sees them gone. Publishing is
//! sequential (each acknowledgement awaited before the next publish) and stops at the first
//! failure, so a failed event is retried before anything after it is published.
//!
//! Events of different entities committed concurrently may be published in either order.
//!
//! # Delivery
//!
//! Each publish carries `Nats-Msg-Id` = the event id. A relay that dies (or loses the
//! acknowledgement) after a publish and before its delete publishes the row again later; the
//! stream drops the repeat within its de-duplication window, so an event is stored once.
//! When JetStream is off, the stream missing or NATS unreachable, the rows stay where they
//! are: the relay logs a warning (the first failure, then at most every
//! [`WARN_EVERY`]), counts the failure and retries with backoff. Nothing is ever dropped.
//!
//! # Latency
//!
//! The relay `LISTEN`s on [`super::CHANNEL`]; the table's trigger notifies it when a
//! transaction that wrote events commits. It also polls every [`POLL`], in case a
//! notification is lost while its listening connection is re-established.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::context::PublishErrorKind;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tracing::{info, warn};

use super::CHANNEL;
use super::metrics::OutboxMetrics;
use crate::connect::reconnect_delay;

/// The advisory lock a relay holds while it drains: one relay per database at a time.
pub const LOCK_KEY: &str = "natstack outbox relay";

/// Most rows published in one transaction.
pub const BATCH: i64 = 100;

/// How often the relay looks at the outbox when no notification arrives.
pub const POLL: Duration = Duration::from_secs(1);

/// How often, at most, a continuing failure is logged again.
pub const WARN_EVERY: Duration = Duration::from_secs(30);

/// Why a drain stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database could not be read or written.
    #[error("outbox database error: {0}")]
    Database(#[from] sqlx::Error),
    /// JetStream did not take an event.
    #[error(
        "the {stream} stream is missing or JetStream is off; events stay in the outbox \
         until it exists: {0}",
        stream = contract::events::STREAM
    )]
    NoStream(jetstream::context::PublishError),
    /// The publish or its acknowledgement failed otherwise (NATS unreachable, a timeout).
    #[error("cannot publish an event to JetStream: {0}")]
    Publish(jetstream::context::PublishError),
}

impl From<jetstream::context::PublishError> for RelayError {
    fn from(e: jetstream::context::PublishError) -> Self {
        if e.kind() == PublishErrorKind::StreamNotFound {
            Self::NoStream(e)
        } else {
            Self::Publish(e)
        }
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// Everything visible was published.
    Empty,
    /// A full batch was published: there may be more.
    More,
    /// Another relay holds the lock.
    Busy,
}

/// The relay of one service instance.
#[derive(Debug, Clone)]
pub struct Relay {
    pool: PgPool,
    jetstream: jetstream::Context,
    metrics: OutboxMetrics,
}

impl Relay {
    /// A relay of `pool`'s outbox publishing on `client`.
    #[must_use]
    pub fn new(pool: PgPool, client: async_nats::Client, metrics: OutboxMetrics) -> Self {
        Self {
            pool,
            jetstream: jetstream::new(client),
            metrics,
        }
    }

    /// Runs until dropped (the host aborts it on shutdown; an interrupted drain is rolled
    /// back and its published rows are published again, and de-duplicated, later).
    pub async fn run(self) {
        let mut listener = None;
        let mut failing: Option<Failing> = None;
        loop {
            if listener.is_none() {
                listener = self.listen().await;
            }
            let outcome = self.drain().await;
            self.count_pending().await;
            match outcome {
                Ok(drained) => {
                    if let Some(f) = failing.take() {
                        info!(failures = f.count, "outbox relay publishing again");
                    }
                    if drained != Drained::More {
                        wait(&mut listener).await;
                    }
                }
                Err(e) => {
                    self.metrics.failures.inc();
                    let f = failing.get_or_insert_with(Failing::default);
                    f.count += 1;
                    if f.last_warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                        warn!(error = %e, failures = f.count, "outbox relay cannot publish; retrying");
                        f.last_warned = Some(Instant::now());
                    }
                    tokio::time::sleep(reconnect_delay(f.count.saturating_sub(1))).await;
                }
            }
        }
    }

    /// A listener on [`CHANNEL`], or `None` (polling only) while the database is unreachable.
    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(CHANNEL).await.ok()?;
        Some(listener)
    }

    /// Publishes up to [`BATCH`] pending rows under the lock, and deletes those acknowledged.
    async fn drain(&self) -> Result<Drained, RelayError> {
        let mut tx = self.pool.begin().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(LOCK_KEY)
                .fetch_one(&mut *tx)
                .await?;
        if !locked {
            return Ok(Drained::Busy);
        }
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, subject, event_id, payload::text FROM outbox ORDER BY seq LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let mut sent = Vec::with_capacity(rows.len());
        let mut failure = None;
        for (seq, subject, id, payload) in &rows {
            match self.publish(subject, id, payload).await {
                Ok(()) => sent.push(*seq),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if !sent.is_empty() {
            // By seq, not by range: a smaller seq still uncommitted when the rows were read
            // is not published yet and must stay.
            sqlx::query("DELETE FROM outbox WHERE seq = ANY($1)")
                .bind(&sent)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.metrics.published.inc_by(sent.len() as u64);
        match failure {
            Some(e) => Err(e),
            None if rows.len() as i64 == BATCH => Ok(Drained::More),
            None => Ok(Drained::Empty),
        }
    }

    /// Publishes one event and waits for JetStream's acknowledgement.
    async fn publish(&self, subject: &str, id: &str, payload: &str) -> Result<(), RelayError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        self.jetstream
            .publish_with_headers(
                subject.to_owned(),
                headers,
                bytes::Bytes::copy_from_slice(payload.as_bytes()),
            )
            .await?
            .await?;
        Ok(())
    }

    /// Sets the pending gauge from the table (left as it was while the database is down).
    async fn count_pending(&self) {
        if let Ok(n) = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox")
            .fetch_one(&self.pool)
            .await
        {
            self.metrics.pending.set(n);
        }
    }
}

/// A run of failed drains.
#[derive(Debug, Default)]
struct Failing {
    count: usize,
    last_warned: Option<Instant>,
}

/// Waits for a notification or [`POLL`], then takes the notifications already buffered (one
/// drain serves them all).
async fn wait(listener: &mut Option<PgListener>) {
    let Some(l) = listener else {
        tokio::time::sleep(POLL).await;
        return;
    };
    match tokio::time::timeout(POLL, l.try_recv()).await {
        // Woken, or the connection was lost and is being re-established: drain either way.
        Err(_) | Ok(Ok(_)) => while l.next_buffered().is_some() {},
        Ok(Err(_)) => *listener = None,
    }
}
