//! Prometheus metrics of the operator: reconcile counts by result, failures by reason,
//! reconcile durations, and the stacks' conditions ([`stacks`]).

pub mod stacks;

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the reconcile counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok`, `invalid` or `error`.
    pub result: String,
}

/// Labels of the failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Error reason (`ApiError`, `MissingSecret`, ...).
    pub reason: String,
}

/// The operator's metrics, registered in one registry.
#[derive(Debug)]
pub struct Metrics {
    /// Reconciles by result.
    pub reconciles: Family<ResultLabels, Counter>,
    /// Failed reconciles by reason.
    pub failures: Family<ReasonLabels, Counter>,
    /// Reconcile durations in seconds.
    pub duration: Histogram,
    /// The stacks' conditions, once the controller watches them.
    pub stacks: stacks::StackGauges,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciles = Family::<ResultLabels, Counter>::default();
        let failures = Family::<ReasonLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        let mut registry = Registry::with_prefix("natstack_operator");
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Failed reconciles by reason",
            failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            duration.clone(),
        );
        let stacks = stacks::StackGauges::default();
        registry.register_collector(Box::new(stacks.clone()));
        Self {
            reconciles,
            failures,
            duration,
            stacks,
            registry,
        }
    }
}

impl Metrics {
    /// Counts one reconcile with `result` and records its duration since `started`.
    pub fn record(&self, result: &str, started: Instant) {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
        self.duration.observe(started.elapsed().as_secs_f64());
    }

    /// Counts one failure.
    pub fn failure(&self, reason: &str) {
        self.failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The text exposition served on `/metrics` ([`runtime::exposition`]).
    #[must_use]
    pub fn encode(&self) -> String {
        runtime::exposition::render(&self.registry)
    }
}
