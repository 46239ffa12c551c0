//! `auth.user.registered`: published once for every account, with the account's public
//! profile (never its password hash).
//!
//! # The guarantee on MongoDB
//!
//! nx-27017 implements multi-document transactions, but it answers `hello` as a standalone
//! server, and the MongoDB driver only starts a transaction on a replica set or mongos; a
//! standalone MongoDB has none either. So the outbox is the account itself: the event is a
//! field (`pending_event`) of the user document, written by the same single-document insert,
//! which every MongoDB-compatible server applies atomically. An account exists exactly when
//! its event does, with no transaction.
//!
//! The relay ([`Relay`]) finds the accounts with a pending event, publishes each with
//! `Nats-Msg-Id` = the event id, and removes the field once JetStream acknowledged it. Each
//! account has one event, so there is no order to keep between events of one entity. Several
//! replicas may publish the same pending event concurrently; the stream keeps one copy (its
//! de-duplication window, two minutes, is far longer than a publish takes). A crash between
//! the acknowledgement and the removal publishes it again on the next pass, de-duplicated the
//! same way. When the stream is missing or NATS is down, the field stays, and the relay warns
//! (rate-limited) and retries with backoff.
//!
//! A registration wakes the relay of its own instance at once; the others find it at their
//! next poll ([`POLL`]).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use contract::events::{CloudEvent, EventType};
use runtime::outbox::metrics::OutboxMetrics;
use runtime::outbox::publish::{Failures, publish};
use tokio::sync::Notify;

use crate::store::{Store, StoreError, UserDoc};

/// How often the relay looks for pending events when not woken.
pub const POLL: Duration = Duration::from_secs(1);

/// Most events published in one pass.
pub const BATCH: i64 = 100;

/// The registration event of `user`, as stored in its document: the profile only.
pub fn registered(user: &UserDoc) -> Result<String, serde_json::Error> {
    let profile = user.profile();
    let event = CloudEvent::new(
        EventType::UserRegistered,
        uuid::Uuid::now_v7().to_string(),
        profile.id.clone(),
        profile.created_at.clone(),
        None,
        profile,
    );
    serde_json::to_string(&event)
}

/// Why a pass stopped.
#[derive(Debug, thiserror::Error)]
enum PassError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] runtime::outbox::publish::PublishError),
    #[error("a stored event is not valid: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// The relay of one auth instance; see the module docs.
#[derive(Debug, Clone)]
pub struct Relay {
    store: Store,
    metrics: OutboxMetrics,
    wake: Arc<Notify>,
}

impl Relay {
    /// A relay of `store`'s pending events, woken early through `wake`.
    pub fn new(store: Store, metrics: OutboxMetrics, wake: Arc<Notify>) -> Self {
        Self {
            store,
            metrics,
            wake,
        }
    }

    /// Runs until dropped (aborted by the host on shutdown; safe at any point, see the
    /// module docs).
    pub async fn run(self, client: async_nats::Client) {
        let jetstream = jetstream::new(client);
        let mut failures = Failures::default();
        loop {
            let outcome = self.pass(&jetstream).await;
            if let Ok(n) = self.store.count_pending_events().await {
                self.metrics
                    .pending
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            match outcome {
                Ok(n) => {
                    failures.succeeded();
                    if n < BATCH {
                        let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
                    }
                }
                Err(e) => failures.failed(&e, &self.metrics).await,
            }
        }
    }

    /// Publishes up to [`BATCH`] pending events: how many were found.
    async fn pass(&self, jetstream: &jetstream::Context) -> Result<i64, PassError> {
        let pending = self.store.pending_events(BATCH).await?;
        for (user, event) in &pending {
            let id: EventId = serde_json::from_str(event)?;
            publish(
                jetstream,
                &EventType::UserRegistered.subject(),
                &id.id,
                event,
            )
            .await?;
            self.store.clear_event(user).await?;
            self.metrics.published.inc();
        }
        Ok(i64::try_from(pending.len()).unwrap_or(i64::MAX))
    }
}

/// The id of a stored event.
#[derive(serde::Deserialize)]
struct EventId {
    id: String,
}
