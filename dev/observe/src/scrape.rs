//! What Prometheus scrapes: one table of targets, and the configuration written from it.
//!
//! The table mirrors the operator's ServiceMonitors and PodMonitor: one job per component
//! scraping `/metrics` on its health port (the NATS exporter's port for NATS), each series
//! labelled `namespace`, `pod`, `natstack_stack` and `natstack_component` as the operator's
//! relabelling of the pod labels `app.kubernetes.io/instance` and `app.kubernetes.io/name`
//! does. Here the labels are static: there are no pods to read them from.

use std::net::SocketAddr;
use std::path::Path;

use contract::deploy::{
    self, METRIC_LABEL_COMPONENT, METRIC_LABEL_NAMESPACE, METRIC_LABEL_POD, METRIC_LABEL_STACK,
};
use serde_json::{Value, json};

/// The namespace the series of this run carry.
pub const NAMESPACE: &str = "observe";
/// The stack name the series of this run carry.
pub const STACK: &str = "shop";

/// One scraped component.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its component name (`gateway`, `auth`, …, `nats`).
    pub component: &'static str,
    /// Where its `/metrics` is served.
    pub addr: SocketAddr,
}

impl Target {
    /// The pod name a cluster would give its first replica.
    pub fn pod(&self) -> String {
        format!("{STACK}-{}-0", self.component)
    }

    /// The job name: the ServiceMonitor's, the stack's Service of the component.
    pub fn job(&self) -> String {
        format!("{STACK}-{}", self.component)
    }
}

/// The components a stack's monitors scrape, in the order of the table.
pub const COMPONENTS: [&str; 5] = [
    deploy::GATEWAY,
    deploy::AUTH,
    deploy::CUSTOMERS,
    deploy::PRODUCTS,
    deploy::NATS,
];

/// The Prometheus configuration (YAML; JSON is YAML) scraping `targets` every second and
/// evaluating `rule_files` every second.
pub fn config(targets: &[Target], rule_files: &[&Path]) -> Value {
    let jobs: Vec<Value> = targets
        .iter()
        .map(|t| {
            json!({
                "job_name": t.job(),
                "metrics_path": deploy::METRICS_PATH,
                "static_configs": [{
                    "targets": [t.addr.to_string()],
                    "labels": {
                        METRIC_LABEL_NAMESPACE: NAMESPACE,
                        METRIC_LABEL_POD: t.pod(),
                        METRIC_LABEL_STACK: STACK,
                        METRIC_LABEL_COMPONENT: t.component,
                    },
                }],
            })
        })
        .collect();
    json!({
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "evaluation_interval": "1s",
        },
        "rule_files": rule_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "scrape_configs": jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_carries_the_four_labels_of_the_contract() {
        let target = Target {
            component: deploy::GATEWAY,
            addr: SocketAddr::from(([127, 0, 0, 1], 9090)),
        };
        let config = config(&[target], &[Path::new("stack.rules.yaml")]);
        let labels = &config["scrape_configs"][0]["static_configs"][0]["labels"];
        assert_eq!(labels[METRIC_LABEL_STACK], STACK);
        assert_eq!(labels[METRIC_LABEL_COMPONENT], deploy::GATEWAY);
        assert_eq!(labels[METRIC_LABEL_NAMESPACE], NAMESPACE);
        assert_eq!(labels[METRIC_LABEL_POD], "shop-gateway-0");
        assert_eq!(config["rule_files"][0], "stack.rules.yaml");
    }
}
