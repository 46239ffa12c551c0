//! The prometheus-nats-exporter sidecar of the NATS pods: it reads the server's monitor port on
//! localhost and serves Prometheus metrics on [`deploy::NATS_EXPORTER_PORT`], which the NATS
//! NetworkPolicy opens to the Prometheus pods named by `spec.monitoring` only.

use contract::deploy;
use k8s_openapi::api::core::v1::{Container, ContainerPort};
use k8s_openapi::api::networking::v1::{
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::{MonitoringSpec, Selector};
use crate::manifests::pods::{container_security, http_probe, resources_or};

/// The exporter's image, pinned (the tag the NATS Helm chart ships).
pub const EXPORTER_IMAGE: &str = "natsio/prometheus-nats-exporter:0.17.3";
/// Name of the sidecar container.
pub const EXPORTER_CONTAINER: &str = "metrics";
/// Name of its port, scraped by the PodMonitor.
pub const EXPORTER_PORT_NAME: &str = "metrics";

/// The sidecar: server, connection, route and subscription metrics plus the server's health,
/// read from the monitor port of the server in the same pod.
#[must_use]
pub fn container() -> Container {
    let port = deploy::NATS_EXPORTER_PORT;
    Container {
        name: EXPORTER_CONTAINER.into(),
        image: Some(EXPORTER_IMAGE.into()),
        args: Some(vec![
            format!("-port={port}"),
            "-varz".into(),
            "-connz".into(),
            "-routez".into(),
            "-subz".into(),
            "-healthz".into(),
            "-use_internal_server_id".into(),
            format!("http://localhost:{}", deploy::NATS_MONITOR_PORT),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(EXPORTER_PORT_NAME.into()),
            container_port: port.into(),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(http_probe(deploy::METRICS_PATH, port, 30)),
        readiness_probe: Some(http_probe(deploy::METRICS_PATH, port, 10)),
        resources: Some(resources_or(None, "5m", "100m", "32Mi")),
        security_context: Some(container_security()),
        ..Container::default()
    }
}

/// The NetworkPolicy rule opening the exporter's port to the Prometheus pods of `spec`: those
/// matching `podSelector` in the namespaces matching `namespaceSelector` (in the stack's own
/// namespace when only `podSelector` is set), or every pod of the cluster when neither is set.
#[must_use]
pub fn ingress_rule(spec: &MonitoringSpec) -> NetworkPolicyIngressRule {
    let peer = match (&spec.namespace_selector, &spec.pod_selector) {
        (None, None) => NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        },
        (namespaces, pods) => NetworkPolicyPeer {
            namespace_selector: namespaces.as_ref().map(label_selector),
            pod_selector: pods.as_ref().map(label_selector),
            ip_block: None,
        },
    };
    NetworkPolicyIngressRule {
        from: Some(vec![peer]),
        ports: Some(vec![NetworkPolicyPort {
            port: Some(IntOrString::Int(deploy::NATS_EXPORTER_PORT.into())),
            protocol: Some("TCP".into()),
            end_port: None,
        }]),
    }
}

/// The Kubernetes form of a spec selector.
fn label_selector(selector: &Selector) -> LabelSelector {
    LabelSelector {
        match_labels: (!selector.match_labels.is_empty()).then(|| selector.match_labels.clone()),
        match_expressions: (!selector.match_expressions.is_empty()).then(|| {
            selector
                .match_expressions
                .iter()
                .map(|r| LabelSelectorRequirement {
                    key: r.key.clone(),
                    operator: r.operator.as_str().to_owned(),
                    values: (!r.values.is_empty()).then(|| r.values.clone()),
                })
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crd::{SelectorOperator, SelectorRequirement};

    fn port_open_to(spec: &MonitoringSpec) -> NetworkPolicyPeer {
        let rule = ingress_rule(spec);
        assert_eq!(
            rule.ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(deploy::NATS_EXPORTER_PORT.into()))
        );
        rule.from.unwrap().remove(0)
    }

    #[test]
    fn without_selectors_the_port_is_open_to_the_cluster_only() {
        let peer = port_open_to(&MonitoringSpec::default());
        assert_eq!(peer.namespace_selector, Some(LabelSelector::default()));
        assert_eq!(peer.pod_selector, None);
        assert_eq!(
            peer.ip_block, None,
            "never to addresses outside the cluster"
        );
    }

    #[test]
    fn selectors_name_the_prometheus_pods() {
        let pods = Selector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![SelectorRequirement {
                key: "app".into(),
                operator: SelectorOperator::Exists,
                values: Vec::new(),
            }],
        };
        let peer = port_open_to(&MonitoringSpec {
            pod_selector: Some(pods),
            ..MonitoringSpec::default()
        });
        assert_eq!(peer.namespace_selector, None, "the stack's own namespace");
        let requirement = &peer.pod_selector.unwrap().match_expressions.unwrap()[0];
        assert_eq!(requirement.operator, "Exists");
        assert_eq!(requirement.values, None, "Exists takes no values");
    }
}
