//! The gateway's Prometheus metrics: requests by route template and status, latency, upstream
//! errors by kind, requests refused by rate limits or load shedding, and what discovery sees.
//!
//! Every label a client can influence comes from a closed set, so the number of series stays
//! bounded whatever clients send: requests are labelled by the matched *template*
//! (`/customers/{id}`), never the raw path, unmatched paths share one label, and a method is
//! one of the standard ones or [`OTHER_METHOD`] (a method is any token a client sends).

use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use runtime::metrics::registered;

use crate::observe::RouteLabel;
use crate::table::RouteTable;

/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The method label of requests with a method outside [`STANDARD_METHODS`].
pub const OTHER_METHOD: &str = "OTHER";

/// The methods labelled by name (RFC 9110 and PATCH).
pub const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// The label of `method`: its name when standard, else [`OTHER_METHOD`].
pub fn method_label(method: &str) -> &'static str {
    STANDARD_METHODS
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or(OTHER_METHOD)
}

/// Labels of one answered request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The HTTP method, from [`method_label`].
    pub method: &'static str,
    /// The route template, or [`UNMATCHED`].
    pub route: RouteLabel,
    /// The response status.
    pub status: u16,
}

/// Labels of a request duration.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The HTTP method, from [`method_label`].
    pub method: &'static str,
    /// The route template, or [`UNMATCHED`].
    pub route: RouteLabel,
}

/// Labels of an upstream failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// One of [`UPSTREAM_KINDS`].
    pub kind: &'static str,
}

/// Labels of a retried upstream call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    /// `no_responders` or `timeout` (see [`crate::retry`]).
    pub reason: &'static str,
}

/// The refusal reason of a request over its caller's rate limit (answered 429).
pub const RATE_LIMITED: &str = "rate_limited";

/// The refusal reason of a request shed because the in-flight budget was spent (answered 503).
pub const LOAD_SHED: &str = "load_shed";

/// Labels of a refused request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// [`RATE_LIMITED`] or [`LOAD_SHED`].
    pub reason: &'static str,
}

/// Labels of a service's instance count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// A service the gateway is configured to route (its declared owners; never a name read
    /// from the bus, so the set is closed).
    pub service: String,
}

/// Labels of a discovery poll.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollLabels {
    /// `ok`, `error` or `disconnected`.
    pub outcome: &'static str,
}

/// Every metric the gateway records. Cheap to clone; clones share the series.
#[derive(Debug, Clone)]
pub struct GatewayMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram>,
    upstream_errors: Family<UpstreamLabels, Counter>,
    polls: Family<PollLabels, Counter>,
    routes: Gauge,
    services: Gauge,
    instances: Gauge,
    service_instances: Family<ServiceLabels, Gauge>,
    refusals: Family<RefusalLabels, Counter>,
    conflicts: Gauge,
    invalid: Gauge,
    refused: Gauge,
    last_discovery: Gauge,
    jwks_fetches: Family<PollLabels, Counter>,
    upstream_retries: Family<RetryLabels, Counter>,
    upstream_retries_denied: Family<RetryLabels, Counter>,
}

/// Every `kind` of [`UpstreamLabels`]: their series exist (at 0) from the start, so that
/// alerts and dashboards on them have series before the first failure.
pub const UPSTREAM_KINDS: [&str; 5] = [
    "no_responders",
    "timeout",
    "bad_reply",
    "too_large",
    "transport",
];

/// Every `reason` of [`RetryLabels`], likewise present from the start.
pub const RETRY_REASONS: [&str; 2] = ["no_responders", "timeout"];

impl GatewayMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self::register(registry);
        for kind in UPSTREAM_KINDS {
            let _ = metrics
                .upstream_errors
                .get_or_create(&UpstreamLabels { kind });
        }
        for reason in RETRY_REASONS {
            let _ = metrics
                .upstream_retries
                .get_or_create(&RetryLabels { reason });
            let _ = metrics
                .upstream_retries_denied
                .get_or_create(&RetryLabels { reason });
        }
        for reason in [RATE_LIMITED, LOAD_SHED] {
            let _ = metrics.refusals.get_or_create(&RefusalLabels { reason });
        }
        metrics
    }

    fn register(registry: &mut Registry) -> Self {
        let r = registry.sub_registry_with_prefix("natstack_gateway");
        Self {
            requests: registered(
                r,
                "http_requests",
                "HTTP requests answered, by route template and status",
                Family::default(),
            ),
            duration: registered(
                r,
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route template",
                Family::new_with_constructor(|| {
                    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
                }),
            ),
            upstream_errors: registered(
                r,
                "upstream_errors",
                "Calls to services that failed, by kind",
                Family::default(),
            ),
            polls: registered(
                r,
                "discovery_polls",
                "Discovery polls, by outcome",
                Family::default(),
            ),
            routes: registered(r, "routes", "Routes in the current table", Gauge::default()),
            services: registered(r, "services", "Services routed", Gauge::default()),
            instances: registered(
                r,
                "instances",
                "Service instances discovery sees",
                Gauge::default(),
            ),
            service_instances: registered(
                r,
                "service_instances",
                "Live instances discovery sees, by declared service (0 when it has none)",
                Family::default(),
            ),
            refusals: registered(
                r,
                "requests_refused",
                "Proxied requests refused before reaching a service, by reason \
                 (rate_limited: 429, load_shed: 503)",
                Family::default(),
            ),
            conflicts: registered(
                r,
                "route_conflicts",
                "Method and path pairs claimed by more than one subject of one service",
                Gauge::default(),
            ),
            invalid: registered(
                r,
                "invalid_endpoints",
                "Endpoints not routed because of invalid metadata",
                Gauge::default(),
            ),
            refused: registered(
                r,
                "route_claims_refused",
                "Route claims not served: the path is not the service's own, or the subject is not",
                Gauge::default(),
            ),
            last_discovery: registered(
                r,
                "discovery_last_success_timestamp_seconds",
                "Unix time of the last table built",
                Gauge::default(),
            ),
            jwks_fetches: registered(
                r,
                "jwks_fetches",
                "JWKS fetches from the auth service, by outcome",
                Family::default(),
            ),
            upstream_retries: registered(
                r,
                "upstream_retries",
                "Calls to services sent a second time, by reason",
                Family::default(),
            ),
            upstream_retries_denied: registered(
                r,
                "upstream_retries_denied",
                "Retries not sent because the retry budget was spent, by reason",
                Family::default(),
            ),
        }
    }

    /// Records one answered request.
    pub fn observe(&self, method: &str, route: RouteLabel, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }

    /// How many requests with these labels were answered.
    pub fn requests(&self, method: &str, route: &str, status: u16) -> u64 {
        self.requests
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route: RouteLabel(route.into()),
                status,
            })
            .get()
    }

    /// Records an upstream failure.
    pub fn upstream_error(&self, kind: &'static str) {
        self.upstream_errors
            .get_or_create(&UpstreamLabels { kind })
            .inc();
    }

    /// Records a call sent a second time.
    pub fn upstream_retry(&self, reason: &'static str) {
        self.upstream_retries
            .get_or_create(&RetryLabels { reason })
            .inc();
    }

    /// Records a retry the budget refused.
    pub fn upstream_retry_denied(&self, reason: &'static str) {
        self.upstream_retries_denied
            .get_or_create(&RetryLabels { reason })
            .inc();
    }

    /// Records a request refused for `reason` ([`RATE_LIMITED`] or [`LOAD_SHED`]).
    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// How many requests were refused for `reason`.
    pub fn refusals(&self, reason: &'static str) -> u64 {
        self.refusals.get_or_create(&RefusalLabels { reason }).get()
    }

    /// Records a discovery poll.
    pub fn discovery_run(&self, outcome: &'static str) {
        self.polls.get_or_create(&PollLabels { outcome }).inc();
    }

    /// Records a JWKS fetch.
    pub fn jwks_fetch(&self, outcome: &'static str) {
        self.jwks_fetches
            .get_or_create(&PollLabels { outcome })
            .inc();
    }

    /// Records the state of a freshly built table, built from `instances` (each one's service
    /// name) of the `declared` services.
    pub fn discovered<'a>(
        &self,
        table: &RouteTable,
        instances: impl IntoIterator<Item = &'a str>,
        declared: impl IntoIterator<Item = &'a str>,
    ) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let mut per_service: std::collections::BTreeMap<&str, usize> =
            declared.into_iter().map(|name| (name, 0)).collect();
        let mut total = 0;
        for service in instances {
            total += 1;
            // Only declared services are asked for, so every instance has its entry.
            if let Some(n) = per_service.get_mut(service) {
                *n += 1;
            }
        }
        for (service, n) in per_service {
            self.service_instances
                .get_or_create(&ServiceLabels {
                    service: service.to_owned(),
                })
                .set(count(n));
        }
        self.routes.set(count(table.routes().len()));
        self.services.set(count(table.services().len()));
        self.instances.set(count(total));
        self.conflicts.set(count(table.conflicts().len()));
        self.invalid.set(count(table.invalid().len()));
        self.refused.set(count(table.refused().len()));
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_discovery
            .set(i64::try_from(now).unwrap_or(i64::MAX));
    }
}
