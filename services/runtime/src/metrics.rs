//! Prometheus metrics of a service's request handling, and [`registered`], which declares a
//! metric and registers it in one expression.

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// `metric`, registered in `registry` as `name` with `help`: each metric is written once,
/// where its owner declares it.
pub fn registered<M: Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// Labels of a handled request. The endpoint name is borrowed for a request: looking a
/// request's series up allocates nothing.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The endpoint name.
    pub endpoint: Cow<'static, str>,
    /// The status code of the reply (200 on success, the error's status otherwise).
    pub code: u16,
}

/// Labels of a request duration.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// The endpoint name.
    pub endpoint: Cow<'static, str>,
}

/// Request counts, durations and concurrency of one service.
#[derive(Debug, Clone)]
pub struct ServiceMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<EndpointLabels, Histogram>,
    in_flight: Gauge,
}

impl ServiceMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        Self {
            requests: registered(
                registry,
                "natstack_service_requests",
                "Requests handled, by endpoint and reply status",
                Family::default(),
            ),
            duration: registered(
                registry,
                "natstack_service_request_duration_seconds",
                "Time from receiving a request to sending its reply",
                Family::new_with_constructor(|| {
                    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
                }),
            ),
            in_flight: registered(
                registry,
                "natstack_service_in_flight_requests",
                "Requests being handled now",
                Gauge::default(),
            ),
        }
    }

    /// Records one finished request.
    pub fn observe(&self, endpoint: &'static str, code: u16, elapsed: Duration) {
        let endpoint = Cow::Borrowed(endpoint);
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.clone(),
                code,
            })
            .inc();
        self.duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a request as started; the returned guard counts it as finished when dropped.
    pub fn start(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// How many requests with this endpoint and code were recorded.
    pub fn count(&self, endpoint: &str, code: u16) -> u64 {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: Cow::Owned(endpoint.to_owned()),
                code,
            })
            .get()
    }
}

/// Marks one request in flight until dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
