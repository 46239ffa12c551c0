//! Validation of a spec beyond what the schema enforces by itself.
//!
//! The CRD carries the same invariants as CEL rules, so the apiserver rejects most invalid
//! stacks. This check still runs in the reconciler: a CRD installed without the rules, or an
//! older CRD version, must lead to a `Degraded` condition, never to broken children.

use std::collections::BTreeSet;

use kube::ResourceExt;

use contract::limits::{RateLimits, parse_trusted_proxy};
use contract::routes::RouteOwners;

use crate::crd::{
    DatabaseKind, DatabaseProvider, DatabaseSpec, GatewaySpec, MicroserviceStack,
    MicroserviceStackSpec, ServiceType,
};

/// Names a service may not take: its Deployment and Service (`<stack>-<name>`) would be another
/// child's (the gateway's health Service, the NATS headless Service, …), or an object CNPG or
/// the MongoDB operator derives from the stack's database (`<stack>-postgres-rw`, …).
pub const RESERVED: [&str; 12] = [
    contract::deploy::GATEWAY,
    "nats",
    "postgres",
    "mongodb",
    "operator",
    "nats-headless",
    "gateway-health",
    "postgres-rw",
    "postgres-ro",
    "postgres-r",
    "postgres-ca",
    "mongodb-svc",
];
/// Endings a service name may not have: `<service>-db-init` names a service's provisioning Job,
/// whose pods carry that name as their `app.kubernetes.io/name` label.
pub const RESERVED_SUFFIXES: [&str; 1] = ["-db-init"];

/// Whether `name` is one a service may not take.
#[must_use]
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name) || RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Every invariant `stack` breaks, as human-readable messages; empty when valid.
#[must_use]
pub fn problems(stack: &MicroserviceStack) -> Vec<String> {
    let spec = &stack.spec;
    let mut out = Vec::new();
    events_retention(&spec.events.retention, &mut out);
    if stack.name_any().len() > 30 {
        out.push("the stack name must be at most 30 characters".to_owned());
    }
    if !is_dns_label(&stack.name_any()) {
        out.push(format!(
            "the stack name {:?} must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter)",
            stack.name_any()
        ));
    }
    if spec.nats.replicas != 1 && spec.nats.replicas != 3 {
        out.push(format!(
            "nats replicas must be 1 or 3, not {}",
            spec.nats.replicas
        ));
    }
    if !(0..=50).contains(&spec.gateway.replicas) {
        out.push("gateway replicas must be between 0 and 50".to_owned());
    }
    if spec.gateway.node_port.is_some() && spec.gateway.service_type == ServiceType::ClusterIP {
        out.push("nodePort needs serviceType NodePort or LoadBalancer".to_owned());
    }
    gateway_limits(&spec.gateway, &mut out);
    let mut seen = BTreeSet::new();
    for service in &spec.services {
        let name = service.name.as_str();
        if !seen.insert(name) {
            out.push(format!("service name {name} is not unique"));
        }
        if !is_service_name(name) {
            out.push(format!(
                "service name {name:?} must be 1-20 lowercase letters, digits or '-'"
            ));
        }
        if is_reserved(name) {
            out.push(format!(
                "service name {name} is reserved: it would name another child of the stack \
                 (reserved: {}, and names ending in {})",
                RESERVED.join(", "),
                RESERVED_SUFFIXES.join(", ")
            ));
        }
        if !(0..=50).contains(&service.replicas) {
            out.push(format!("service {name}: replicas must be between 0 and 50"));
        }
        let available = match service.database {
            DatabaseKind::None => true,
            DatabaseKind::Postgres => spec.postgres.is_available(),
            DatabaseKind::Mongodb => spec.mongodb.is_available(),
        };
        if !available {
            out.push(format!(
                "service {name} uses a database that is neither enabled nor external"
            ));
        }
    }
    if let Err(e) = route_owners(spec) {
        out.push(format!("services routePrefixes: {e}"));
    }
    crate::validate_pods::problems(spec, &mut out);
    observability(spec, &mut out);
    providers(spec, &mut out);
    out
}

/// `postgres.provider` and `mongodb.provider` and the fields that go with them, as their CEL
/// rules check them.
fn providers(spec: &MicroserviceStackSpec, out: &mut Vec<String>) {
    let databases: [(&str, &DatabaseSpec, DatabaseProvider); 2] = [
        ("postgres", &spec.postgres, DatabaseProvider::Cnpg),
        (
            "mongodb",
            &spec.mongodb,
            DatabaseProvider::CommunityOperator,
        ),
    ];
    if spec.mongodb.max_connections.is_some() {
        out.push("maxConnections is a PostgreSQL setting: mongodb takes none".to_owned());
    }
    for (name, db, engine) in databases {
        let provider = db.provider;
        if provider != DatabaseProvider::Managed && provider != engine {
            out.push(format!(
                "{name}.provider must be managed or {}, not {}",
                engine.as_str(),
                provider.as_str()
            ));
        }
        if db.existing_secret.is_some() && provider != DatabaseProvider::Managed {
            out.push(format!(
                "{name}.existingSecret names an external server: provider must be managed"
            ));
        }
        if (db.instances.is_some() || db.backup.is_some()) && provider != DatabaseProvider::Cnpg {
            out.push(format!(
                "{name}: instances and backup are CloudNativePG settings: they need provider cnpg"
            ));
        }
        if db.members.is_some() && provider != DatabaseProvider::CommunityOperator {
            out.push(format!(
                "{name}: members is a MongoDB community operator setting: it needs provider community-operator"
            ));
        }
    }
}

/// `spec.telemetry` and `spec.monitoring`, as their CEL rules check them.
fn observability(spec: &MicroserviceStackSpec, out: &mut Vec<String>) {
    let sampling = spec.telemetry.sampling;
    if !(0.0..=1.0).contains(&sampling) {
        out.push(format!(
            "telemetry.sampling must be between 0 and 1, not {sampling}"
        ));
    }
    let monitoring = &spec.monitoring;
    for key in monitoring.labels.keys() {
        if crate::validate_pods::is_own_label(key) {
            out.push(format!(
                "monitoring.labels: {key} cannot be replaced (the operator's own label)"
            ));
        }
    }
    if let Some(interval) = &monitoring.interval
        && !is_duration(interval)
    {
        out.push(format!(
            "monitoring.interval {interval:?} must be a Prometheus duration such as 30s or 1m"
        ));
    }
}

/// A Prometheus duration as [`crate::crd::INTERVAL_RULE`] accepts it: number-unit pairs
/// (`ms`, `s`, `m`, `h`), e.g. `1m30s`.
fn is_duration(text: &str) -> bool {
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let Some(after) = ["ms", "s", "m", "h"]
            .iter()
            .find_map(|unit| rest.strip_prefix(unit))
        else {
            return false;
        };
        rest = after;
    }
    !text.is_empty()
}

/// Every service's route prefixes, checked as the gateway checks its `ROUTE_OWNERS`.
///
/// # Errors
/// When a prefix is malformed or two services' prefixes overlap.
pub fn route_owners(
    spec: &MicroserviceStackSpec,
) -> Result<RouteOwners, contract::routes::OwnersError> {
    RouteOwners::new(
        spec.services
            .iter()
            .map(|s| (s.name.clone(), s.owned_prefixes())),
    )
}

/// `events.retention` checked with the parsers the manifests use (the CRD's rules say the same).
fn events_retention(retention: &crate::crd::RetentionSpec, out: &mut Vec<String>) {
    if retention.max_age_secs().is_none() {
        out.push(format!(
            "events retention maxAge {:?}: expected a whole number of s, m, h or d",
            retention.max_age
        ));
    }
    if retention.max_bytes().is_none() {
        out.push(format!(
            "events retention maxBytes {:?}: expected a whole number of bytes, Ki, Mi, Gi or Ti",
            retention.max_bytes
        ));
    }
}

/// `rateLimits` and `trustedProxies` checked with the gateway's own parsers, so a stack the
/// operator accepts never renders a gateway that refuses to start.
fn gateway_limits(gateway: &GatewaySpec, out: &mut Vec<String>) {
    if let Err(e) = RateLimits::parse(&gateway.rate_limits) {
        out.push(format!("gateway rateLimits: {e}"));
    }
    for proxy in &gateway.trusted_proxies {
        // One entry of the comma-separated TRUSTED_PROXIES: a comma would split it.
        if proxy.contains(',') || parse_trusted_proxy(proxy.trim()).is_err() {
            out.push(format!(
                "gateway trustedProxies: {proxy:?} is not an IP address or CIDR range"
            ));
        }
    }
}

fn is_service_name(name: &str) -> bool {
    (1..=20).contains(&name.len()) && is_dns_label(name)
}

/// A DNS-1035 label without its length limit: starts with a letter, ends with a letter or digit,
/// only lowercase letters, digits and `-` (what a Service name must be).
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_lowercase)
        && bytes
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}
