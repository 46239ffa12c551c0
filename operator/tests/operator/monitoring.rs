//! `spec.monitoring` and `spec.telemetry` in the built children: the prometheus-operator
//! objects, the NATS exporter and its NetworkPolicy rule, the dashboards, and the trace
//! settings of every component.

use std::collections::BTreeMap;

use contract::deploy;
use operator::manifests::Child;
use operator::manifests::monitoring::{
    EXPORTER_CONTAINER, EXPORTER_IMAGE, GRAFANA_DASHBOARD_LABEL, pod_label_meta,
};

use crate::common;

#[test]
fn monitoring_is_off_by_default() {
    let children = common::build(&common::load("minimal"));
    assert!(children.iter().all(|c| !c.needs_prometheus_operator()));
    assert!(children.iter().all(|c| {
        !c.meta()
            .labels
            .as_ref()
            .unwrap()
            .contains_key(GRAFANA_DASHBOARD_LABEL.0)
    }));
    let nats = common::pod(common::find(&children, "StatefulSet", "demo-nats")).unwrap();
    assert!(nats.containers.iter().all(|c| c.name != EXPORTER_CONTAINER));
}

#[test]
fn enabled_monitoring_renders_monitors_rules_and_dashboards() {
    let children = common::build(&common::load("monitoring"));
    let monitoring: Vec<String> = children
        .stages
        .iter()
        .find(|s| s.name == "monitoring")
        .expect("a monitoring stage")
        .objects
        .iter()
        .map(|c| format!("{}/{}", c.kind(), c.name()))
        .collect();
    assert_eq!(
        monitoring,
        [
            "ServiceMonitor/demo-gateway-health",
            "ServiceMonitor/demo-auth",
            "ServiceMonitor/demo-customers",
            "ServiceMonitor/demo-products",
            "PodMonitor/demo-nats",
            "PrometheusRule/demo-alerts",
            "ConfigMap/demo-dashboard-overview",
            "ConfigMap/demo-dashboard-gateway",
            "ConfigMap/demo-dashboard-auth",
            "ConfigMap/demo-dashboard-customers",
            "ConfigMap/demo-dashboard-products",
        ]
    );
    let stage = children
        .stages
        .iter()
        .find(|s| s.name == "monitoring")
        .unwrap();
    for child in &stage.objects {
        let labels = child.meta().labels.clone().unwrap();
        assert_eq!(labels["release"], "prometheus", "{}", child.name());
        assert_eq!(labels["app.kubernetes.io/instance"], "demo");
        assert!(child.meta().owner_references.is_some());
    }

    let Child::ServiceMonitor(monitor) = common::find(&children, "ServiceMonitor", "demo-auth")
    else {
        unreachable!()
    };
    let endpoint = &monitor.spec.endpoints[0];
    assert_eq!(endpoint.port, "health");
    assert_eq!(endpoint.path, deploy::METRICS_PATH);
    assert_eq!(endpoint.interval.as_deref(), Some("30s"));
    let relabel: BTreeMap<&str, &str> = endpoint
        .relabelings
        .iter()
        .map(|r| (r.target_label.as_str(), r.source_labels[0].as_str()))
        .collect();
    assert_eq!(
        relabel,
        BTreeMap::from([
            (
                deploy::METRIC_LABEL_STACK,
                "__meta_kubernetes_pod_label_app_kubernetes_io_instance"
            ),
            (
                deploy::METRIC_LABEL_COMPONENT,
                "__meta_kubernetes_pod_label_app_kubernetes_io_name"
            ),
        ])
    );
    assert_eq!(monitor.spec.namespace_selector.match_names, ["shop"]);
    // The monitor selects exactly the pods' component, through its Services' labels.
    let service = common::find(&children, "Service", "demo-auth");
    let Child::Service(service) = service else {
        unreachable!()
    };
    let service_labels = service.metadata.labels.clone().unwrap();
    for (k, v) in monitor.spec.selector.match_labels.as_ref().unwrap() {
        assert_eq!(service_labels.get(k), Some(v));
    }

    let Child::PrometheusRule(rule) = common::find(&children, "PrometheusRule", "demo-alerts")
    else {
        unreachable!()
    };
    let rule_json = serde_json::to_string(&rule.spec).unwrap();
    assert!(!rule_json.contains("__STACK__") && !rule_json.contains("__NAMESPACE__"));
    let value = common::find(&children, "PrometheusRule", "demo-alerts").to_value();
    assert_eq!(value["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(value["kind"], "PrometheusRule");

    let Child::ConfigMap(dashboard) =
        common::find(&children, "ConfigMap", "demo-dashboard-overview")
    else {
        unreachable!()
    };
    let (key, label) = GRAFANA_DASHBOARD_LABEL;
    assert_eq!(dashboard.metadata.labels.as_ref().unwrap()[key], label);
    let json = dashboard.data.as_ref().unwrap().values().next().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
    assert!(parsed["uid"].is_string());
}

#[test]
fn nats_gets_the_exporter_sidecar_open_to_prometheus_only() {
    let children = common::build(&common::load("monitoring"));
    let Child::PodMonitor(monitor) = common::find(&children, "PodMonitor", "demo-nats") else {
        unreachable!()
    };
    assert_eq!(monitor.spec.pod_metrics_endpoints[0].port, "metrics");
    assert_eq!(
        monitor.spec.pod_metrics_endpoints[0].relabelings[0].source_labels,
        [pod_label_meta("app.kubernetes.io/instance")]
    );

    let nats = common::pod(common::find(&children, "StatefulSet", "demo-nats")).unwrap();
    let sidecar = nats
        .containers
        .iter()
        .find(|c| c.name == EXPORTER_CONTAINER)
        .expect("exporter sidecar");
    assert_eq!(sidecar.image.as_deref(), Some(EXPORTER_IMAGE));
    assert!(!EXPORTER_IMAGE.ends_with(":latest"));
    let args = sidecar.args.clone().unwrap();
    assert!(args.contains(&format!("-port={}", deploy::NATS_EXPORTER_PORT)));
    assert_eq!(
        args.last().map(String::as_str),
        Some(format!("http://localhost:{}", deploy::NATS_MONITOR_PORT).as_str())
    );
    let port = &sidecar.ports.as_ref().unwrap()[0];
    assert_eq!(port.name.as_deref(), Some("metrics"));
    assert_eq!(port.container_port, i32::from(deploy::NATS_EXPORTER_PORT));
    assert_eq!(
        sidecar
            .security_context
            .as_ref()
            .unwrap()
            .read_only_root_filesystem,
        Some(true)
    );

    let ingress = common::ingress(&children, "demo-nats");
    let exporter: Vec<_> = ingress
        .iter()
        .filter(|r| {
            r.ports.as_ref().unwrap()[0].port
                == Some(
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(
                        deploy::NATS_EXPORTER_PORT.into(),
                    ),
                )
        })
        .collect();
    assert_eq!(exporter.len(), 1, "one rule opens the exporter's port");
    let peer = &exporter[0].from.as_ref().unwrap()[0];
    assert_eq!(
        peer.namespace_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["kubernetes.io/metadata.name"],
        "monitoring"
    );
    let requirement = &peer
        .pod_selector
        .as_ref()
        .unwrap()
        .match_expressions
        .as_ref()
        .unwrap()[0];
    assert_eq!(requirement.operator, "In");
    assert_eq!(
        requirement.values.as_deref(),
        Some(&["prometheus".to_owned()][..])
    );

    // Without monitoring the port is not opened at all.
    let plain = common::build(&common::load("minimal"));
    assert_eq!(common::ingress(&plain, "demo-nats").len(), 2);
}

#[test]
fn every_component_gets_the_trace_settings_with_its_pod_identity() {
    let children = common::build(&common::load("three-services"));
    let deployments: Vec<&Child> = children
        .iter()
        .filter(|c| c.kind() == "Deployment")
        .collect();
    assert!(deployments.len() >= 4, "gateway and services");
    for child in deployments {
        let name = child.name();
        let component = child.meta().labels.as_ref().unwrap()["app.kubernetes.io/name"].clone();
        let container = common::container(&children, "Deployment", name);
        let env = container.env.clone().unwrap();
        let position = |var: &str| env.iter().position(|e| e.name == var);
        let value = |var: &str| {
            env.iter()
                .find(|e| e.name == var)
                .and_then(|e| e.value.clone())
                .unwrap_or_else(|| panic!("{name}: {var}"))
        };
        assert_eq!(
            value(deploy::env::OTEL_EXPORTER_OTLP_ENDPOINT),
            "http://otel-collector.observability:4318"
        );
        assert_eq!(
            value(deploy::env::OTEL_TRACES_SAMPLER),
            "parentbased_traceidratio"
        );
        assert_eq!(value(deploy::env::OTEL_TRACES_SAMPLER_ARG), "0.25");
        assert_eq!(
            value(deploy::env::OTEL_RESOURCE_ATTRIBUTES),
            format!(
                "service.name={component},k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)"
            )
        );
        for (var, field) in [
            (deploy::env::operator::POD_NAME, "metadata.name"),
            (deploy::env::operator::POD_NAMESPACE, "metadata.namespace"),
        ] {
            let from = env
                .iter()
                .find(|e| e.name == var)
                .and_then(|e| e.value_from.clone());
            assert_eq!(
                from.and_then(|f| f.field_ref).map(|f| f.field_path),
                Some(field.to_owned()),
                "{name}: {var}"
            );
            // `$(VAR)` expands only variables declared earlier in the list.
            assert!(position(var) < position(deploy::env::OTEL_RESOURCE_ATTRIBUTES));
        }
    }

    let plain = common::build(&common::load("minimal"));
    let env = common::env_map(common::container(&plain, "Deployment", "demo-gateway"));
    for var in [
        deploy::env::OTEL_EXPORTER_OTLP_ENDPOINT,
        deploy::env::OTEL_TRACES_SAMPLER,
        deploy::env::OTEL_RESOURCE_ATTRIBUTES,
    ] {
        assert!(
            !env.contains_key(var),
            "no trace settings without an endpoint"
        );
    }
}
