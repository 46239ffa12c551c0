//! Metrics of `GET /events`: streams open, refused (by reason) and cut off.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use runtime::metrics::registered;

/// Refused because the user's cap was reached (429).
pub const REFUSED_USER_CAP: &str = "user_cap";
/// Refused because the gateway's cap was reached (503).
pub const REFUSED_TOTAL_CAP: &str = "total_cap";
/// Refused because JetStream or the stream is unavailable (503).
pub const REFUSED_UNAVAILABLE: &str = "unavailable";

/// Labels of a refused stream.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    /// [`REFUSED_USER_CAP`], [`REFUSED_TOTAL_CAP`] or [`REFUSED_UNAVAILABLE`].
    pub reason: &'static str,
}

/// The `/events` metrics.
#[derive(Debug, Clone)]
pub struct EventsMetrics {
    /// Streams open now.
    pub open: Gauge,
    /// Streams refused, by reason.
    pub refused: Family<RefusedLabels, Counter>,
    /// Streams ended because the client read too slowly.
    pub cut_off: Counter,
}

impl EventsMetrics {
    /// The metrics, registered in `registry` beside the gateway's others (`natstack_gateway_`),
    /// each refusal reason present from the start at zero.
    pub fn new(registry: &mut Registry) -> Self {
        let r = registry.sub_registry_with_prefix("natstack_gateway");
        let metrics = Self {
            open: registered(
                r,
                "events_streams_open",
                "GET /events streams open now",
                Gauge::default(),
            ),
            refused: registered(
                r,
                "events_streams_refused",
                "GET /events streams refused, by reason (user_cap, total_cap, unavailable)",
                Family::default(),
            ),
            cut_off: registered(
                r,
                "events_streams_cut_off",
                "GET /events streams ended because the client read too slowly",
                Counter::default(),
            ),
        };
        for reason in [REFUSED_USER_CAP, REFUSED_TOTAL_CAP, REFUSED_UNAVAILABLE] {
            let _ = metrics.refused.get_or_create(&RefusedLabels { reason });
        }
        metrics
    }

    /// Counts a refusal for `reason`.
    pub fn refuse(&self, reason: &'static str) {
        self.refused.get_or_create(&RefusedLabels { reason }).inc();
    }
}
