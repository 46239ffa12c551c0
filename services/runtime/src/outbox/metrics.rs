//! The relay's metrics: events waiting in the outbox, events published, and failed attempts
//! to publish. All exist (at 0) from the start, so a dashboard or alert sees them before the
//! first event.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::metrics::registered;

/// Events committed and not yet acknowledged by JetStream (as last counted by this instance).
pub const PENDING: &str = "natstack_outbox_pending_events";
/// Events this instance published and JetStream acknowledged (`_total` in the exposition).
pub const PUBLISHED: &str = "natstack_outbox_published_events";
/// Failed attempts to publish (`_total` in the exposition): JetStream off, the stream
/// missing, NATS unreachable, no acknowledgement in time, or the database unreachable.
pub const FAILURES: &str = "natstack_outbox_publish_failures";

/// The relay's metrics, registered once per process.
#[derive(Debug, Clone, Default)]
pub struct OutboxMetrics {
    /// [`PENDING`].
    pub pending: Gauge,
    /// [`PUBLISHED`].
    pub published: Counter,
    /// [`FAILURES`].
    pub failures: Counter,
}

impl OutboxMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        Self {
            pending: registered(
                registry,
                PENDING,
                "Events committed to the outbox and not yet acknowledged by JetStream",
                Gauge::default(),
            ),
            published: registered(
                registry,
                PUBLISHED,
                "Events published from the outbox and acknowledged by JetStream",
                Counter::default(),
            ),
            failures: registered(
                registry,
                FAILURES,
                "Failed attempts to publish the outbox's events",
                Counter::default(),
            ),
        }
    }
}
