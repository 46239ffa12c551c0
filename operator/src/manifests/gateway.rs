//! The HTTP gateway: Deployment (env contract, probes, security, config hash), a Service of the
//! chosen type carrying only the HTTP port, a ClusterIP Service for its health port
//! (`/livez`, `/readyz`, `/metrics`), a HorizontalPodAutoscaler with `autoscaling`, and a PDB
//! when it may run more than one pod.
//!
//! The health port never shares the public Service: with `NodePort` or `LoadBalancer` that
//! Service is reachable from outside the cluster, and `/metrics` is for the cluster only.

use contract::deploy;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ContainerPort, EnvVar, Lifecycle, LifecycleHandler, ResourceRequirements, Service, ServicePort,
    ServiceSpec, SleepAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::autoscaling;
use super::common::{Ctx, env};
use super::pods::{customize, memory_bytes, resources_or};
use super::services::{App, deployment, hash, health_service};
use super::{Child, SecretData};
use crate::crd::PodsOf;
use crate::error::Error;

const COMPONENT: &str = deploy::GATEWAY;
/// Suffix of the gateway's internal Service for its health port (`<stack>-gateway-health`).
pub const HEALTH_SERVICE_SUFFIX: &str = "gateway-health";

/// Seconds a stopping gateway pod keeps serving before it is sent SIGTERM: the time endpoint
/// controllers, kube-proxy and ingress controllers take to stop routing new connections to it.
/// Without it, a rollout refuses the connections that still arrive at a pod already gone.
pub const DRAIN_DELAY_SECS: i64 = 5;

/// Gives the gateway's container a `preStop` sleep of [`DRAIN_DELAY_SECS`] (the kubelet's own
/// sleep action: the image has no shell), then the gateway's own graceful shutdown finishes the
/// requests in flight within the default 30 s grace period.
fn drain_before_stop(deployment: &mut Deployment) {
    let containers = deployment
        .spec
        .iter_mut()
        .filter_map(|s| s.template.spec.as_mut())
        .flat_map(|p| p.containers.iter_mut());
    for container in containers {
        container.lifecycle = Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: DRAIN_DELAY_SECS,
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        });
    }
}

/// The gateway's memory request and limit when the stack sets no resources.
const DEFAULT_MEMORY: &str = "128Mi";

/// Deployment, Service and PDB of the gateway.
///
/// # Errors
/// When the services' route prefixes overlap (validation reports it first).
pub fn children(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    let spec = &ctx.spec.gateway;
    let owners = crate::validate::route_owners(ctx.spec)
        .map_err(|e| Error::Invalid(format!("services routePrefixes: {e}")))?;
    let mut env_vars = ctx.shared_env(COMPONENT);
    env_vars.extend([
        env(deploy::env::LISTEN_ADDR, deploy::DEFAULT_LISTEN_ADDR),
        env(deploy::env::CORS_ORIGINS, &spec.cors_origins.join(",")),
        env(
            deploy::env::REQUEST_TIMEOUT_MS,
            &spec.request_timeout_ms.to_string(),
        ),
        env(
            deploy::env::MAX_BODY_BYTES,
            &spec.max_body_bytes.to_string(),
        ),
        env(deploy::env::API_DOCS, if spec.docs { "on" } else { "off" }),
        env(deploy::env::RATE_LIMITS, &spec.rate_limits),
        env(
            deploy::env::TRUSTED_PROXIES,
            &spec.trusted_proxies.join(","),
        ),
        env(deploy::env::OPS_ENDPOINTS, spec.ops_endpoints.as_str()),
        env(deploy::env::ROUTE_OWNERS, &owners.to_string()),
    ]);
    // The gateway creates or updates the events stream with the stack's settings.
    let stream = crate::manifests::nats::stream_settings(ctx);
    let events = [
        (
            deploy::env::EVENTS_MAX_AGE_SECS,
            stream.max_age_secs.to_string(),
        ),
        (deploy::env::EVENTS_MAX_BYTES, stream.max_bytes.to_string()),
        (deploy::env::EVENTS_REPLICAS, stream.replicas.to_string()),
        (
            deploy::env::EVENTS_MAX_STREAMS_PER_USER,
            deploy::DEFAULT_EVENTS_MAX_STREAMS_PER_USER.to_string(),
        ),
        (
            deploy::env::EVENTS_MAX_STREAMS,
            deploy::DEFAULT_EVENTS_MAX_STREAMS.to_string(),
        ),
        (
            deploy::env::EVENTS_HEARTBEAT_MS,
            deploy::DEFAULT_EVENTS_HEARTBEAT_MS.to_string(),
        ),
        (
            deploy::env::EVENTS_BUFFER,
            deploy::DEFAULT_EVENTS_BUFFER.to_string(),
        ),
    ];
    env_vars.extend(events.iter().map(|(name, value)| env(name, value)));
    let resources = resources_or(spec.resources.as_ref(), "100m", "1", DEFAULT_MEMORY);
    env_vars.extend(memory_bounds(spec, &resources));
    env_vars.extend(ctx.token_env());
    let referenced = [ctx.nats_user_secret(COMPONENT)];
    let app = App {
        component: COMPONENT.into(),
        image: ctx.image(COMPONENT, spec.image.as_ref()),
        replicas: autoscaling::replicas(spec.replicas, spec.autoscaling.as_ref()),
        hash: hash(&env_vars, secrets, &referenced, &[]),
        env: env_vars,
        resources,
        ports: vec![ContainerPort {
            name: Some("http".into()),
            container_port: deploy::GATEWAY_HTTP_PORT.into(),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }],
        volumes: Vec::new(),
    };
    let mut gateway = deployment(ctx, app);
    drain_before_stop(&mut gateway);
    if let Some(pod) = gateway.spec.as_mut() {
        customize(ctx, PodsOf::Gateway, &mut pod.template);
    }
    let mut out = vec![Child::Deployment(gateway)];
    out.extend(
        spec.autoscaling
            .as_ref()
            .map(|scaling| Child::Hpa(autoscaling::hpa(ctx, COMPONENT, scaling))),
    );
    out.extend([
        Child::Service(health_service(
            ctx,
            &ctx.child(HEALTH_SERVICE_SUFFIX),
            COMPONENT,
        )),
        Child::Service(service(ctx)),
    ]);
    let most = autoscaling::most_pods(spec.replicas, spec.autoscaling.as_ref());
    out.extend(ctx.pdb(COMPONENT, most).map(Child::Pdb));
    Ok(out)
}

/// `MAX_CONNECTIONS`, `MAX_CONNECTIONS_PER_ADDRESS` and `BODY_BUDGET_BYTES`: as the stack sets
/// them, else the first two sized to the container's memory limit by
/// [`deploy::gateway_memory`] (base, connections at their worst, bodies held twice;
/// the formula and the measured per-connection cost are documented there). The budget is
/// never below `maxBodyBytes`, so the largest body accepted always fits. Without a memory
/// limit, the gateway's own defaults apply.
fn memory_bounds(spec: &crate::crd::GatewaySpec, resources: &ResourceRequirements) -> Vec<EnvVar> {
    use deploy::env as names;
    let sized = resources
        .limits
        .as_ref()
        .and_then(|limits| limits.get("memory"))
        .and_then(memory_bytes)
        .map(deploy::gateway_memory);
    let max_body = u64::try_from(spec.max_body_bytes).unwrap_or(0);
    let connections = spec
        .max_connections
        .map(|n| n.to_string())
        .or_else(|| sized.map(|s| s.max_connections.to_string()));
    let budget = spec
        .body_budget_bytes
        .and_then(|n| u64::try_from(n).ok())
        .or_else(|| sized.map(|s| s.body_budget_bytes.max(max_body)));
    let mut out = Vec::new();
    if let Some(connections) = connections {
        out.push(env(names::MAX_CONNECTIONS, &connections));
    }
    if let Some(per_address) = spec.max_connections_per_address {
        out.push(env(
            names::MAX_CONNECTIONS_PER_ADDRESS,
            &per_address.to_string(),
        ));
    }
    if let Some(budget) = budget {
        out.push(env(names::BODY_BUDGET_BYTES, &budget.to_string()));
    }
    out
}

fn service(ctx: &Ctx<'_>) -> Service {
    let spec = &ctx.spec.gateway;
    Service {
        metadata: ctx.meta(&ctx.child(COMPONENT), COMPONENT),
        spec: Some(ServiceSpec {
            type_: Some(spec.service_type.as_str().into()),
            selector: Some(ctx.selector(COMPONENT)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: deploy::GATEWAY_SERVICE_PORT.into(),
                target_port: Some(IntOrString::String("http".into())),
                node_port: spec.node_port,
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}
