//! NetworkPolicies: which pods may open connections to which, inside one stack.
//!
//! Every component's pods get an ingress policy (egress is left open: services reach external
//! databases and OTLP collectors the operator knows nothing about):
//! - NATS accepts clients only from the stack's gateway and services, and cluster routes only
//!   from its own peers;
//! - a managed database accepts connections only from the services that use it and from their
//!   provisioning Jobs;
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

use super::common::{Ctx, LABEL_INSTANCE, LABEL_NAME};
use super::monitoring;

use crate::crd::DatabaseKind;

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
        let managed = match kind {
            DatabaseKind::Mongodb => ctx.spec.mongodb.is_managed(),
            _ => ctx.spec.postgres.is_managed(),
        };
        if !managed {
            continue;
        }
        let users: Vec<String> = ctx
            .spec
            .services
            .iter()
            .filter(|s| s.database == kind)
            .flat_map(|s| [s.name.clone(), init_component(&s.name)])
            .collect();
        // No user: nothing may connect (an `In` selector needs at least one value).
        let ingress = if users.is_empty() {
            Vec::new()
        } else {
            vec![rule(port, Some(stack_pods(ctx, &users)))]
        };
        out.push(policy(ctx, component, ingress));
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
    NetworkPolicy {
        metadata: ctx.meta(&ctx.child(component), component),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(ctx.selector(component)),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(ingress),
            egress: None,
        }),
    }
}
