//! Typed `monitoring.coreos.com/v1` objects (ServiceMonitor, PodMonitor, PrometheusRule),
//! written for the fields the operator renders (see [`crate::manifests::custom`]); the
//! rendered objects are checked against the prometheus-operator's own schemas by
//! `make manifests-test`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

use crate::manifests::custom::{api_group, kind};

api_group!(
    /// API group of the prometheus-operator's kinds.
    "monitoring.coreos.com",
    "v1"
);

kind!(
    /// Scrape targets from the endpoints of the Services it selects.
    ServiceMonitor,
    ServiceMonitorSpec,
    "servicemonitors"
);
kind!(
    /// Scrape targets from the pods it selects.
    PodMonitor,
    PodMonitorSpec,
    "podmonitors"
);
kind!(
    /// Alerting and recording rules loaded by the Prometheus servers that select it.
    PrometheusRule,
    PrometheusRuleSpec,
    "prometheusrules"
);

/// What a [`ServiceMonitor`] scrapes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// The Services whose endpoints are scraped.
    pub selector: LabelSelector,
    /// Their namespaces.
    pub namespace_selector: NamespaceSelector,
    /// The ports scraped, by name.
    pub endpoints: Vec<Endpoint>,
}

/// What a [`PodMonitor`] scrapes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    /// The pods scraped.
    pub selector: LabelSelector,
    /// Their namespaces.
    pub namespace_selector: NamespaceSelector,
    /// The container ports scraped, by name.
    pub pod_metrics_endpoints: Vec<Endpoint>,
}

/// Namespaces of the scraped objects, by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// The namespaces.
    pub match_names: Vec<String>,
}

/// One scraped port (a ServiceMonitor `endpoint` or a PodMonitor `podMetricsEndpoint`; the
/// fields used here are common to both).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The port's name.
    pub port: String,
    /// The HTTP path of the metrics.
    pub path: String,
    /// The scrape interval; Prometheus' own when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Relabelings applied to the target before scraping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<Relabeling>,
}

/// A `replace` relabeling: copies `sourceLabels` into `targetLabel`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relabeling {
    /// The labels read (joined with `;`).
    pub source_labels: Vec<String>,
    /// The label written.
    pub target_label: String,
    /// The relabel action (`replace`).
    pub action: String,
}

/// The rule groups of a [`PrometheusRule`]: the layout of a Prometheus rule file, so a rule
/// file parses into it. Unknown fields are refused, so a misspelt key fails a unit test
/// instead of being dropped on the way to the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusRuleSpec {
    /// The groups, evaluated independently.
    pub groups: Vec<RuleGroup>,
}

/// A group of rules evaluated together.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleGroup {
    /// The group's name, unique in the object.
    pub name: String,
    /// How often the group is evaluated; the global interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// An alerting rule (`alert`) or a recording rule (`record`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// The alert's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// The recorded series' name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// How long the alert keeps firing once the expression stops holding (snake case in
    /// rule files and in the PrometheusRule schema alike).
    #[serde(
        default,
        rename = "keep_firing_for",
        skip_serializing_if = "Option::is_none"
    )]
    pub keep_firing_for: Option<String>,
    /// Labels added to the alert or the recorded series.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the alert (summary, description, runbook_url).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}
