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
//! [`super::publish::WARN_EVERY`]), counts the failure and retries with backoff. Nothing is
//! ever dropped.
//!
//! # Latency
//!
//! The relay `LISTEN`s on [`super::CHANNEL`]; the table's trigger notifies it when a
//! transaction that wrote events commits. It also polls every [`POLL`], in case a
//! notification is lost while its listening connection is re-established.

use std::time::Duration;

use async_nats::jetstream;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::CHANNEL;
use super::metrics::OutboxMetrics;
use super::publish::{Failures, PublishError, publish};

/// The advisory lock a relay holds while it drains: one relay per database at a time.
pub const LOCK_KEY: &str = "natstack outbox relay";

/// Most rows published in one transaction.
pub const BATCH: i64 = 100;

/// How often the relay looks at the outbox when no notification arrives.
pub const POLL: Duration = Duration::from_secs(1);

/// Why a drain stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database could not be read or written.
    #[error("outbox database error: {0}")]
    Database(#[from] sqlx::Error),
    /// JetStream did not take an event.
    #[error(transparent)]
    Publish(#[from] PublishError),
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
        let mut failures = Failures::default();
        loop {
            if listener.is_none() {
                listener = self.listen().await;
            }
            let outcome = self.drain().await;
            self.count_pending().await;
            match outcome {
                Ok(drained) => {
                    failures.succeeded();
                    if drained != Drained::More {
                        wait(&mut listener).await;
                    }
                }
                Err(e) => failures.failed(&e, &self.metrics).await,
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
            match publish(&self.jetstream, subject, id, payload).await {
                Ok(()) => sent.push(*seq),
                Err(e) => {
                    failure = Some(RelayError::from(e));
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
