//! The parts of the `MicroserviceStack` CRD that make a stack observable: the
//! prometheus-operator objects and Grafana dashboards the operator renders
//! (`spec.monitoring`), and where traces go (`spec.telemetry`). [`crate::crd`] re-exports them.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pods::OWN_LABELS_RULE;

/// CEL rule of `monitoring.interval`: a Prometheus duration (`30s`, `1m`, `1m30s`).
pub const INTERVAL_RULE: &str = "self.matches('^([0-9]+(ms|s|m|h))+$')";

/// CEL rule of `telemetry.sampling`: a ratio of traces kept.
pub const SAMPLING_RULE: &str = "self >= 0.0 && self <= 1.0";

/// Scraping, alerting and dashboards through the prometheus-operator and Grafana's dashboard
/// sidecar.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Renders a ServiceMonitor per scrapeable Service, the prometheus-nats-exporter sidecar
    /// with its PodMonitor, a PrometheusRule with the stack's alerts and the dashboards as
    /// ConfigMaps labelled `grafana_dashboard: "1"`. The `monitoring.coreos.com` objects are
    /// skipped, with a `MonitoringUnavailable` event, when their CRDs are not installed.
    #[serde(default)]
    pub enabled: bool,
    /// Labels added to every monitoring object, so that a Prometheus' `serviceMonitorSelector`,
    /// `podMonitorSelector` and `ruleSelector` pick them up (e.g. `release: prometheus`).
    /// They cannot replace the labels the operator sets (`app.kubernetes.io/*`,
    /// `natstack.dev/*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    #[x_kube(validation = Rule::new(OWN_LABELS_RULE).message("monitoring labels cannot replace the labels the operator sets (app.kubernetes.io/name, instance, managed-by, part-of, natstack.dev/*)"))]
    pub labels: BTreeMap<String, String>,
    /// Namespaces of the Prometheus pods: the NATS exporter's port is opened to them only.
    /// With neither selector, the port is open to every pod of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<Selector>,
    /// The Prometheus pods (in the namespaces of `namespaceSelector`, else in the stack's):
    /// the NATS exporter's port is opened to them only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<Selector>,
    /// Scrape interval of every endpoint (`30s`); Prometheus' own when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(INTERVAL_RULE).message("monitoring.interval must be a Prometheus duration such as 30s or 1m"))]
    pub interval: Option<String>,
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Labels the selected objects carry, all of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements on labels, all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One requirement of a [`Selector`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectorRequirement {
    /// The label key.
    #[schemars(length(min = 1, max = 317))]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: SelectorOperator,
    /// Values for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub values: Vec<String>,
}

/// Operator of a [`SelectorRequirement`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label's value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl SelectorOperator {
    /// The Kubernetes spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "In",
            Self::NotIn => "NotIn",
            Self::Exists => "Exists",
            Self::DoesNotExist => "DoesNotExist",
        }
    }
}

/// Trace export of every component (gateway and services) over OTLP/HTTP.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TelemetrySpec {
    /// OTLP/HTTP collector base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); export is off when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub otlp_endpoint: Option<String>,
    /// Ratio of new traces kept, from 0 to 1 (`OTEL_TRACES_SAMPLER_ARG` of a parent-based
    /// ratio sampler: a request whose caller sampled it is always kept).
    #[serde(default = "default_sampling")]
    #[x_kube(validation = Rule::new(SAMPLING_RULE).message("telemetry.sampling must be between 0 and 1"))]
    pub sampling: f64,
}

impl Default for TelemetrySpec {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            sampling: default_sampling(),
        }
    }
}

fn default_sampling() -> f64 {
    contract::deploy::DEFAULT_TRACE_SAMPLING
}
