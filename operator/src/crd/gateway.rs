//! The `spec.gateway` part of the `MicroserviceStack` CRD: the HTTP gateway's replicas,
//! Service, limits, rate limits and trusted proxies. [`crate::crd`] re-exports it.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AUTOSCALING_CPU_MESSAGE, AUTOSCALING_CPU_RULE, Autoscaling, default_max_body,
    default_rate_limits, default_timeout_ms, one, yes,
};

/// How the gateway is exposed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    #[default]
    ClusterIP,
    /// Reachable on a port of every node.
    NodePort,
    /// Reachable through a cloud load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The Kubernetes `Service.spec.type` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// The HTTP gateway.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.nodePort) || self.serviceType != 'ClusterIP'").message("nodePort needs serviceType NodePort or LoadBalancer"))]
#[x_kube(validation = Rule::new(AUTOSCALING_CPU_RULE).message(AUTOSCALING_CPU_MESSAGE))]
pub struct GatewaySpec {
    /// Number of gateway pods (ignored with `autoscaling`).
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 50))]
    pub replicas: i32,
    /// Scales the gateway with a HorizontalPodAutoscaler on CPU instead of `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Gateway image; `<registry>/gateway:<version>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Type of the gateway's Service.
    #[serde(default)]
    pub service_type: ServiceType,
    /// Fixed node port (NodePort or LoadBalancer only); allocated by the cluster when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 30000, max = 32767))]
    pub node_port: Option<i32>,
    /// Allowed CORS origins (`CORS_ORIGINS`); none allowed when empty.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Deadline of one request to a service, in milliseconds (`REQUEST_TIMEOUT_MS`).
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 100, max = 300_000))]
    pub request_timeout_ms: i64,
    /// Largest accepted request body in bytes (`MAX_BODY_BYTES`). NATS's `max_payload` is
    /// rendered from it, so the cap is NATS's 64 MiB limit less room for the request envelope.
    #[serde(default = "default_max_body")]
    #[schemars(range(min = 1024, max = crate::manifests::nats::MAX_BODY_LIMIT))]
    pub max_body_bytes: i64,
    /// Client connections each gateway pod holds open at once (`MAX_CONNECTIONS`). When unset,
    /// sized to the pod's memory limit (1,536 at 128Mi; 4,096 without a limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_connections: Option<i32>,
    /// Connections open at once from one client address (`MAX_CONNECTIONS_PER_ADDRESS`, 64 when
    /// unset); `trustedProxies` are not capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_connections_per_address: Option<i32>,
    /// Request-body bytes each gateway pod holds at once (`BODY_BUDGET_BYTES`); beyond it 503.
    /// When unset, sized to the pod's memory limit (12 MiB at 128Mi; 64 MiB without a limit),
    /// and never below `maxBodyBytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024))]
    pub body_budget_bytes: Option<i64>,
    /// Compute resources of each gateway pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Serve the interactive API page `/docs` (`API_DOCS`).
    #[serde(default = "yes")]
    pub docs: bool,
    /// Rate limits per route class and per client (`RATE_LIMITS`): `off`, or comma-separated
    /// `auth|write|read=N/s|m|h[:burst M]` entries (a class may be `off`; one left out is not
    /// limited), e.g. `auth=10/s:burst 20,write=50/s,read=off`.
    #[serde(default = "default_rate_limits")]
    #[schemars(length(max = RATE_LIMITS_MAX_LEN))]
    #[x_kube(validation = Rule::new(RATE_LIMITS_RULE).message("rateLimits must be `off` or comma-separated `auth|write|read=N/s|m|h[:burst M]` (or `=off`) entries"))]
    pub rate_limits: String,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For`/`Forwarded` names the client
    /// (`TRUSTED_PROXIES`). Behind an ingress, the ingress controller's own pod addresses
    /// (never the whole pod CIDR: any pod could then name any client): without it every
    /// client shares the ingress's address for per-address limits and login throttling.
    #[serde(default)]
    #[schemars(length(max = 64), inner(length(max = 50)))]
    #[x_kube(validation = Rule::new(TRUSTED_PROXIES_RULE).message("trustedProxies entries must be IP addresses or CIDR ranges"))]
    pub trusted_proxies: Vec<String>,
    /// Where `/metrics` and `/services` answer (`OPS_ENDPOINTS`).
    #[serde(default)]
    pub ops_endpoints: OpsEndpoints,
}

/// Longest `gateway.rateLimits` (a bound keeps the CEL rule's cost estimate small).
pub const RATE_LIMITS_MAX_LEN: u32 = 512;

/// The CEL rule of `gateway.rateLimits`: `off`, empty, or comma-separated `class=rate` entries.
/// [`contract::limits`] is the exact syntax (the operator's validation applies it); this is
/// its cheap approximation for the apiserver (it does not bound the numbers).
pub const RATE_LIMITS_RULE: &str = concat!(
    r"self.matches('^\\s*((?i:off)\\s*)?$') || ",
    r"self.matches('^\\s*((auth|write|read)\\s*=\\s*((?i:off)|\\+?0*[1-9][0-9]*\\s*/\\s*[smh](\\s*:\\s*burst\\s*\\+?0*[1-9][0-9]*)?))?\\s*(,\\s*((auth|write|read)\\s*=\\s*((?i:off)|\\+?0*[1-9][0-9]*\\s*/\\s*[smh](\\s*:\\s*burst\\s*\\+?0*[1-9][0-9]*)?))?\\s*)*$')"
);

/// The CEL rule of `gateway.trustedProxies`: hex digits, dots and colons with an optional
/// prefix length (a cheap check; the operator's validation parses each entry exactly).
pub const TRUSTED_PROXIES_RULE: &str =
    r"self.all(p, p.matches('^\\s*[0-9a-fA-F:.]+(/[0-9]{1,3})?\\s*$'))";

/// Where the gateway's operational endpoints (`/metrics`, `/services`) answer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OpsEndpoints {
    /// Only on the health port, which the gateway's public Service does not carry.
    #[default]
    Health,
    /// There, and on the API port to callers with the admin role.
    Admin,
}

impl OpsEndpoints {
    /// The gateway's `OPS_ENDPOINTS` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Admin => "admin",
        }
    }
}

impl Default for GatewaySpec {
    fn default() -> Self {
        Self {
            replicas: 1,
            autoscaling: None,
            image: None,
            service_type: ServiceType::ClusterIP,
            node_port: None,
            cors_origins: Vec::new(),
            request_timeout_ms: default_timeout_ms(),
            max_body_bytes: default_max_body(),
            max_connections: None,
            max_connections_per_address: None,
            body_budget_bytes: None,
            resources: None,
            docs: true,
            rate_limits: default_rate_limits(),
            trusted_proxies: Vec::new(),
            ops_endpoints: OpsEndpoints::Health,
        }
    }
}
