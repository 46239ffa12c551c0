//! NetworkPolicies: which pods may open connections to which, inside one stack.
//!
//! Every component's pods get an ingress policy (egress is left open: services reach external
//! databases and OTLP collectors the operator knows nothing about):
//! - NATS accepts clients only from the stack's gateway and services, and cluster routes only
//!   from its own peers;
//! - a managed database accepts connections only from the services that use it and from their
//!   provisioning Jobs; a CNPG Cluster's or a MongoDBCommunity's pods (selected by their
//!   operator's labels) also from each other (replication), on their operator's control port
//!   (CNPG's instance manager), and on their metrics port when monitoring is on;
//! - a service accepts connections only on its health port (probes and metrics scrapes);
//! - the gateway accepts HTTP from anywhere, plus its health port;
//! - with `spec.monitoring`, the NATS exporter's port accepts the Prometheus pods it names.
//!
//! Kubelet probes come from the node, which NetworkPolicy always admits, so probes on ports no
//! rule opens (the NATS monitor port) keep working.

use contract::deploy;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use std::collections::BTreeMap;

use super::common::{Ctx, LABEL_INSTANCE, LABEL_NAME};
use super::secrets::database;
use super::{cnpg, mongodb_community, monitoring};

use crate::crd::{DatabaseKind, DatabaseProvider};

/// Every NetworkPolicy of the stack, one per component.
#[must_use]
pub fn policies(ctx: &Ctx<'_>) -> Vec<NetworkPolicy> {
    let clients: Vec<String> = std::iter::once(deploy::GATEWAY.to_owned())
        .chain(ctx.spec.services.iter().map(|s| s.name.clone()))
        .collect();
    let mut nats = vec![
        rule(deploy::NATS_PORT, Some(stack_pods(ctx, &clients))),
        rule(
            deploy::NATS_CLUSTER_PORT,
            Some(stack_pods(ctx, &["nats".to_owned()])),
        ),
    ];
    nats.extend(monitoring::nats_exporter_rule(ctx));
    let mut out = vec![policy(ctx, "nats", nats)];
    for (kind, component, port) in [
        (DatabaseKind::Postgres, "postgres", deploy::POSTGRES_PORT),
        (DatabaseKind::Mongodb, "mongodb", deploy::MONGODB_PORT),
    ] {
        let (spec, _) = database(ctx, kind);
        let Some(provider) = spec.provided_by() else {
            continue;
        };
        let users: Vec<String> = ctx
            .spec
            .services_on(kind)
            .flat_map(|s| {
                // An engine's operator creates the roles itself: no provisioning Job connects.
                let init = (provider == DatabaseProvider::Managed).then(|| init_component(&s.name));
                std::iter::once(s.name.clone()).chain(init)
            })
            .collect();
        // No user: nothing may connect (an `In` selector needs at least one value).
        let mut ingress = if users.is_empty() {
            Vec::new()
        } else {
            vec![rule(port, Some(stack_pods(ctx, &users)))]
        };
        let pods = match provider {
            DatabaseProvider::Managed => ctx.selector(component),
            DatabaseProvider::Cnpg => {
                let pods =
                    BTreeMap::from([(cnpg::CLUSTER_LABEL.to_owned(), cnpg::cluster_name(ctx))]);
                ingress.extend(engine_rules(
                    ctx,
                    port,
                    &pods,
                    &[cnpg::STATUS_PORT],
                    Some(cnpg::METRICS_PORT),
                ));
                pods
            }
            DatabaseProvider::CommunityOperator => {
                let pods = mongodb_community::pod_selector(ctx);
                ingress.extend(engine_rules(ctx, port, &pods, &[], None));
                pods
            }
        };
        out.push(policy_for(ctx, component, pods, ingress));
    }
    for service in &ctx.spec.services {
        out.push(policy(
            ctx,
            &service.name,
            vec![rule(deploy::HEALTH_PORT, None)],
        ));
    }
    out.push(policy(
        ctx,
        deploy::GATEWAY,
        vec![
            rule(deploy::GATEWAY_HTTP_PORT, None),
            rule(deploy::HEALTH_PORT, None),
        ],
    ));
    out
}

/// What an engine operator's database pods need besides the services: the database port
/// from the other members (replication, elections), the operator's own `control` ports from
/// anywhere (the engine's operator runs in another namespace), and the metrics port, if it
/// serves one, from anywhere when monitoring is on.
fn engine_rules(
    ctx: &Ctx<'_>,
    port: u16,
    members: &BTreeMap<String, String>,
    control: &[u16],
    metrics: Option<u16>,
) -> Vec<NetworkPolicyIngressRule> {
    let peers = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(members.clone()),
            match_expressions: None,
        }),
        ..NetworkPolicyPeer::default()
    };
    let mut rules = vec![rule(port, Some(peers))];
    rules.extend(control.iter().map(|p| rule(*p, None)));
    if let Some(metrics) = metrics.filter(|_| ctx.spec.monitoring.enabled) {
        rules.push(rule(metrics, None));
    }
    rules
}

/// The component label of a service's database-provisioning Job pods.
fn init_component(service: &str) -> String {
    format!("{service}-db-init")
}

/// Pods of this stack whose component is one of `components`.
fn stack_pods(ctx: &Ctx<'_>, components: &[String]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some([(LABEL_INSTANCE.to_owned(), ctx.name.clone())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: LABEL_NAME.to_owned(),
                operator: "In".to_owned(),
                values: Some(components.to_vec()),
            }]),
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// TCP to `port`, from `from` (anywhere when `None`).
fn rule(port: u16, from: Option<NetworkPolicyPeer>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: from.map(|peer| vec![peer]),
        ports: Some(vec![NetworkPolicyPort {
            port: Some(IntOrString::Int(port.into())),
            protocol: Some("TCP".to_owned()),
            end_port: None,
        }]),
    }
}

/// An ingress policy selecting `component`'s pods; connections no rule admits are refused.
fn policy(ctx: &Ctx<'_>, component: &str, ingress: Vec<NetworkPolicyIngressRule>) -> NetworkPolicy {
    policy_for(ctx, component, ctx.selector(component), ingress)
}

/// An ingress policy of `component` selecting the pods labelled `pods` (an engine operator's
/// pods carry its labels, not the stack's).
fn policy_for(
    ctx: &Ctx<'_>,
    component: &str,
    pods: BTreeMap<String, String>,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ctx.meta(&ctx.child(component), component),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(pods),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(ingress),
            egress: None,
        }),
    }
}
