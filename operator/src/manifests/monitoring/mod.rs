//! What `spec.monitoring` adds to a stack: a `ServiceMonitor` per scrapeable Service (the
//! gateway's and each service's health Service), the prometheus-nats-exporter sidecar on the
//! NATS pods with a `PodMonitor`, a `PrometheusRule` with the stack's alerts, and the
//! dashboards as ConfigMaps for Grafana's sidecar.
//!
//! Every scrape relabels the pod labels `app.kubernetes.io/instance` and `app.kubernetes.io/name`
//! into [`deploy::METRIC_LABEL_STACK`] and [`deploy::METRIC_LABEL_COMPONENT`], the labels the
//! alert rules and dashboards of `monitoring/` select on (the prometheus-operator adds
//! `namespace` and `pod` itself). Every object carries `spec.monitoring.labels`.
//!
//! No PodMonitor of PostgreSQL is rendered here: with `postgres.provider: cnpg` the CNPG
//! Cluster's `monitoring.enablePodMonitor` has CNPG create its own (see
//! [`crate::manifests::cnpg`]).

mod dashboards;
mod exporter;
pub mod kinds;
mod rules;

use std::collections::BTreeMap;

use contract::deploy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

pub use dashboards::{DASHBOARDS, GRAFANA_DASHBOARD_LABEL};
pub use exporter::{EXPORTER_CONTAINER, EXPORTER_IMAGE, EXPORTER_PORT_NAME};
pub use rules::STACK_RULES;

use self::kinds::{
    Endpoint, NamespaceSelector, PodMonitor, PodMonitorSpec, PrometheusRule, Relabeling,
    ServiceMonitor, ServiceMonitorSpec,
};
use super::Child;
use super::common::{Ctx, LABEL_INSTANCE, LABEL_NAME};
use super::gateway::HEALTH_SERVICE_SUFFIX;
use super::services::HEALTH_PORT_NAME;
use crate::error::Error;

/// Component label of the objects that belong to no one component (rules, dashboards).
pub const COMPONENT: &str = "monitoring";

/// Every monitoring object of the stack; none when `spec.monitoring.enabled` is false.
///
/// # Errors
/// [`Error::EmbeddedFile`] when the embedded rule file does not parse.
pub fn children(ctx: &Ctx<'_>) -> Result<Vec<Child>, Error> {
    if !ctx.spec.monitoring.enabled {
        return Ok(Vec::new());
    }
    let mut out = vec![Child::ServiceMonitor(service_monitor(
        ctx,
        &ctx.child(HEALTH_SERVICE_SUFFIX),
        deploy::GATEWAY,
    ))];
    for service in &ctx.spec.services {
        out.push(Child::ServiceMonitor(service_monitor(
            ctx,
            &ctx.child(&service.name),
            &service.name,
        )));
    }
    out.push(Child::PodMonitor(nats_pod_monitor(ctx)));
    out.push(Child::PrometheusRule(PrometheusRule {
        metadata: meta(ctx, &ctx.child("alerts"), COMPONENT),
        spec: rules::spec(&ctx.namespace, &ctx.name)?,
    }));
    out.extend(
        dashboards::config_maps(ctx)
            .into_iter()
            .map(Child::ConfigMap),
    );
    Ok(out)
}

/// The exporter sidecar of the NATS pods, when monitoring is on.
#[must_use]
pub fn nats_sidecar(ctx: &Ctx<'_>) -> Option<k8s_openapi::api::core::v1::Container> {
    ctx.spec.monitoring.enabled.then(exporter::container)
}

/// The NATS NetworkPolicy's rule for the exporter's port, when monitoring is on.
#[must_use]
pub fn nats_exporter_rule(
    ctx: &Ctx<'_>,
) -> Option<k8s_openapi::api::networking::v1::NetworkPolicyIngressRule> {
    let spec = &ctx.spec.monitoring;
    spec.enabled.then(|| exporter::ingress_rule(spec))
}

/// Metadata of a monitoring object: the child's, plus the user's `monitoring.labels` (which
/// cannot replace the operator's own: pruning selects on them).
fn meta(ctx: &Ctx<'_>, name: &str, component: &str) -> ObjectMeta {
    let mut metadata = ctx.meta(name, component);
    let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
    for (key, value) in &ctx.spec.monitoring.labels {
        labels.entry(key.clone()).or_insert_with(|| value.clone());
    }
    metadata
}

/// A ServiceMonitor named like the Service `name` of `component`, scraping its health port.
fn service_monitor(ctx: &Ctx<'_>, name: &str, component: &str) -> ServiceMonitor {
    ServiceMonitor {
        metadata: meta(ctx, name, component),
        spec: ServiceMonitorSpec {
            // The component's Services; only its health Service has the health port.
            selector: selector(ctx, component),
            namespace_selector: own_namespace(ctx),
            endpoints: vec![endpoint(ctx, HEALTH_PORT_NAME)],
        },
    }
}

/// The PodMonitor of the NATS pods' exporter sidecar.
fn nats_pod_monitor(ctx: &Ctx<'_>) -> PodMonitor {
    let component = super::nats::COMPONENT;
    PodMonitor {
        metadata: meta(ctx, &ctx.child(component), component),
        spec: PodMonitorSpec {
            selector: selector(ctx, component),
            namespace_selector: own_namespace(ctx),
            pod_metrics_endpoints: vec![endpoint(ctx, EXPORTER_PORT_NAME)],
        },
    }
}

fn selector(ctx: &Ctx<'_>, component: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(ctx.selector(component)),
        match_expressions: None,
    }
}

fn own_namespace(ctx: &Ctx<'_>) -> NamespaceSelector {
    NamespaceSelector {
        match_names: vec![ctx.namespace.clone()],
    }
}

/// `/metrics` on the port named `port`, relabelled with the stack and component.
fn endpoint(ctx: &Ctx<'_>, port: &str) -> Endpoint {
    Endpoint {
        port: port.to_owned(),
        path: deploy::METRICS_PATH.to_owned(),
        interval: ctx.spec.monitoring.interval.clone(),
        relabelings: relabelings(),
    }
}

/// The relabelings every scrape of the stack carries.
#[must_use]
pub fn relabelings() -> Vec<Relabeling> {
    [
        (LABEL_INSTANCE, deploy::METRIC_LABEL_STACK),
        (LABEL_NAME, deploy::METRIC_LABEL_COMPONENT),
    ]
    .into_iter()
    .map(|(pod_label, target)| Relabeling {
        source_labels: vec![pod_label_meta(pod_label)],
        target_label: target.to_owned(),
        action: "replace".to_owned(),
    })
    .collect()
}

/// The discovery meta label Prometheus gives a pod label (`app.kubernetes.io/name` becomes
/// `__meta_kubernetes_pod_label_app_kubernetes_io_name`).
#[must_use]
pub fn pod_label_meta(label: &str) -> String {
    let sanitized: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__meta_kubernetes_pod_label_{sanitized}")
}
