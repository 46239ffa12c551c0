//! The `MicroserviceStack` custom resource (`natstack.dev/v1alpha1`).
//!
//! These types are the single source of the CRD: `crdgen` renders them (schemars plus the CEL
//! rules declared with `x_kube`) into `crds/microservicestacks.yaml`, and the controller reads
//! them. Every field's doc comment becomes its `description` in the CRD.
//!
//! The stack-wide types are here; NATS in [`nats`], the databases (servers, providers,
//! backups) in [`data`], the gateway's in [`gateway`], the pod-level ones in [`pods`],
//! monitoring and tracing in [`observe`], domain events in [`events`], the observed state in
//! [`status`]. All are re-exported here.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod data;
pub mod events;
pub mod gateway;
pub mod nats;
pub mod observe;
pub mod pods;
pub mod status;

pub use data::{
    BackupSpec, CNPG_FIELDS_RULE, DEFAULT_REPLICAS, DatabaseKind, DatabaseProvider, DatabaseSpec,
    EXISTING_SECRET_RULE, MAX_CONNECTIONS_RULE, MEMBERS_RULE, MONGODB_PROVIDER_RULE,
    POSTGRES_PROVIDER_RULE, PROVIDER_FIXED_MESSAGE, PROVIDER_FIXED_RULE,
};
pub use events::{EventsSpec, RetentionSpec};
pub use gateway::{
    GatewaySpec, OpsEndpoints, RATE_LIMITS_MAX_LEN, RATE_LIMITS_RULE, ServiceType,
    TRUSTED_PROXIES_RULE,
};
pub use nats::{NatsSpec, NatsTlsSpec};
pub use observe::{
    INTERVAL_RULE, MonitoringSpec, SAMPLING_RULE, Selector, SelectorOperator, SelectorRequirement,
    TelemetrySpec,
};
pub use pods::{
    AUTOSCALING_CPU_MESSAGE, AUTOSCALING_CPU_RULE, Autoscaling, JobsSpec, PULL_SECRET_RULE,
    PodOverrides, PodOverridesSpec, PodsOf,
};
pub use status::{ComponentStatus, MicroserviceStackStatus};

/// API group of the CRD.
pub const GROUP: &str = "natstack.dev";
/// The operator's own version: the image tag of built-in images when `spec.version` is unset.
pub const OPERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");
/// CEL rule: the stack name is a DNS-1035 label (child Services are named `<stack>-<component>`,
/// and a Service name must start with a letter and contain no dots).
pub const STACK_NAME_RULE: &str = "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')";
/// Built-in services deployed when `spec.services` is omitted, with their database kinds.
pub const BUILTIN_SERVICES: [(&str, DatabaseKind); 3] = [
    (contract::deploy::AUTH, DatabaseKind::Mongodb),
    (contract::deploy::CUSTOMERS, DatabaseKind::Postgres),
    (contract::deploy::PRODUCTS, DatabaseKind::Postgres),
];

/// Desired state of a natstack deployment: NATS, the databases, the services and the gateway.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "natstack.dev",
    version = "v1alpha1",
    kind = "MicroserviceStack",
    plural = "microservicestacks",
    shortname = "mss",
    category = "natstack",
    namespaced,
    status = "MicroserviceStackStatus",
    derive = "PartialEq",
    doc = "A complete natstack deployment: NATS, PostgreSQL, MongoDB, the services and the HTTP gateway.",
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Components", type_ = "string", description = "Ready/total components", json_path = ".status.readyComponents"),
    printcolumn(name = "Gateway", type_ = "string", json_path = ".status.gatewayAddress"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) <= 30").message("the stack name must be at most 30 characters (child names derive from it)"),
    validation = Rule::new(STACK_NAME_RULE).message("the stack name must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit (it names Services)"),
)]
#[x_kube(
    validation = Rule::new("self.services.all(s, s.database != 'postgres' || self.postgres.enabled || has(self.postgres.existingSecret))")
        .message("a service uses database postgres, but postgres is neither enabled nor external"),
    validation = Rule::new("self.services.all(s, s.database != 'mongodb' || self.mongodb.enabled || has(self.mongodb.existingSecret))")
        .message("a service uses database mongodb, but mongodb is neither enabled nor external"),
    validation = Rule::new(POSTGRES_PROVIDER_RULE).message("postgres.provider must be managed or cnpg"),
    validation = Rule::new(MONGODB_PROVIDER_RULE).message("mongodb.provider must be managed or community-operator"),
    validation = Rule::new(MAX_CONNECTIONS_RULE).message("maxConnections is a PostgreSQL setting: mongodb takes none"),
    validation = Rule::new("!has(self.podOverrides) || !has(self.podOverrides.services) || self.podOverrides.services.all(k, self.services.exists(s, s.name == k))")
        .message("podOverrides.services names a service that is not in services"),
)]
#[serde(rename_all = "camelCase")]
pub struct MicroserviceStackSpec {
    /// Image tag of the built-in images (`<registry>/<component>:<version>`). When unset, the
    /// operator's own version: upgrading the operator then moves the stack to the matching
    /// images. Set it to pin the stack to one release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Registry (and path prefix) of the built-in images.
    #[serde(default = "default_registry")]
    pub registry: String,
    /// Stops all changes to the stack's children while true; status is still reported.
    #[serde(default)]
    pub paused: bool,
    /// `RUST_LOG` filter handed to every component.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Log output format of every component.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Trace export of every component: the OTLP endpoint and the sampling ratio.
    #[serde(default, skip_serializing_if = "is_default")]
    pub telemetry: TelemetrySpec,
    /// ServiceMonitors, PodMonitors, alerting rules and dashboards for the stack.
    #[serde(default, skip_serializing_if = "is_default")]
    pub monitoring: MonitoringSpec,
    /// The NATS server (cluster) every component talks through.
    #[serde(default)]
    pub nats: NatsSpec,
    /// Domain events: the retention of the JetStream stream the services publish to.
    /// Always written (the API server stores its default), so the rule that keeps `maxBytes`
    /// fixed sees the old value even when the stack never set it.
    #[serde(default)]
    pub events: EventsSpec,
    /// PostgreSQL: operator-managed, or an external server from an existing Secret.
    #[serde(default = "DatabaseSpec::postgres")]
    pub postgres: DatabaseSpec,
    /// MongoDB: operator-managed, or an external server from an existing Secret.
    #[serde(default = "DatabaseSpec::mongodb")]
    pub mongodb: DatabaseSpec,
    /// Settings of the auth service (JWT issuer, bootstrap admin).
    #[serde(default)]
    pub auth: AuthSpec,
    /// The HTTP gateway in front of the services.
    #[serde(default)]
    pub gateway: GatewaySpec,
    /// Backend services; defaults to the built-ins `auth`, `customers` and `products`.
    #[serde(default = "default_services")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new("self.all(s, self.filter(t, t.name == s.name).size() == 1)").message("service names must be unique"))]
    pub services: Vec<ServiceSpec>,
    /// Secrets (in the stack's namespace, type `kubernetes.io/dockerconfigjson`) every pod of
    /// the stack pulls its images with: NATS, the databases, the services, the gateway and
    /// the provisioning Jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 253)))]
    #[x_kube(validation = Rule::new(PULL_SECRET_RULE).message("imagePullSecrets entries must be Secret names (lowercase DNS subdomains)"))]
    pub image_pull_secrets: Vec<String>,
    /// Scheduling, identity and metadata of each component's pods (`nats`, `postgres`,
    /// `mongodb`, `gateway`, `jobs`, and `services` by name). A change rolls the pods.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pod_overrides: PodOverridesSpec,
    /// The database-provisioning Jobs.
    #[serde(default, skip_serializing_if = "is_default")]
    pub jobs: JobsSpec,
}

impl MicroserviceStackSpec {
    /// The services whose database is `kind`, in the order they are listed.
    #[must_use = "an iterator does nothing unless consumed"]
    pub fn services_on(&self, kind: DatabaseKind) -> impl Iterator<Item = &ServiceSpec> {
        self.services.iter().filter(move |s| s.database == kind)
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Log output format.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    #[default]
    Json,
    /// Human-readable, coloured output.
    Pretty,
}

impl LogFormat {
    /// The value of `LOG_FORMAT`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Pretty => "pretty",
        }
    }
}

/// Settings of the auth service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// `iss` claim of issued tokens (`JWT_ISSUER`), rendered for auth and the gateway alike.
    #[serde(default = "default_issuer")]
    #[schemars(length(min = 1, max = 253))]
    pub issuer: String,
    /// `aud` claim of issued tokens (`JWT_AUDIENCE`), rendered for auth and the gateway alike.
    #[serde(default = "default_audience")]
    #[schemars(length(min = 1, max = 253))]
    pub audience: String,
    /// Email of the bootstrap admin account (`ADMIN_EMAIL`).
    #[serde(default = "default_admin_email")]
    pub admin_email: String,
    /// Secret (same namespace) with key `password` for the admin; generated once when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_secret: Option<String>,
}

impl Default for AuthSpec {
    fn default() -> Self {
        Self {
            issuer: default_issuer(),
            audience: default_audience(),
            admin_email: default_admin_email(),
            admin_password_secret: None,
        }
    }
}

/// One backend service: a Deployment answering on NATS subjects `<name>.<operation>`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(AUTOSCALING_CPU_RULE).message(AUTOSCALING_CPU_MESSAGE))]
pub struct ServiceSpec {
    /// Service name: its NATS subject prefix and the suffix of its child objects.
    #[schemars(
        regex(pattern = r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$"),
        length(min = 1, max = 20)
    )]
    #[x_kube(validation = Rule::new("!(self in ['gateway', 'nats', 'postgres', 'mongodb', 'operator', 'nats-headless', 'gateway-health', 'postgres-rw', 'postgres-ro', 'postgres-r', 'postgres-ca', 'mongodb-svc']) && !self.endsWith('-db-init')").message("this service name is reserved: it would name another child of the stack"))]
    pub name: String,
    /// Image; `<registry>/<name>:<version>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Number of pods (ignored with `autoscaling`).
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 50))]
    pub replicas: i32,
    /// Scales the service with a HorizontalPodAutoscaler on CPU instead of `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Database this service owns.
    #[serde(default)]
    pub database: DatabaseKind,
    /// Extra environment variables (they cannot override the ones the operator sets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Compute resources of each pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// HTTP path prefixes this service owns at the gateway: it may serve routes only under
    /// them, and no other service may serve routes under them. Default: `/<name>` (auth:
    /// `/auth` and `/.well-known/jwks.json`; products: `/products`, `/categories`,
    /// `/suppliers`). Prefixes of two services may not overlap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 16),
        inner(length(min = 2, max = 100), regex(pattern = r"^(/[A-Za-z0-9._~-]+)+$"))
    )]
    #[x_kube(validation = Rule::new(r"self.all(p, p.matches('^(/[A-Za-z0-9._~-]+)+$'))").message("routePrefixes must be literal paths such as /orders (segments of letters, digits, '.', '_', '~', '-')"))]
    pub route_prefixes: Vec<String>,
}

impl ServiceSpec {
    /// The path prefixes the service owns: its `routePrefixes`, or the defaults for its name.
    #[must_use]
    pub fn owned_prefixes(&self) -> Vec<String> {
        if self.route_prefixes.is_empty() {
            contract::routes::default_prefixes(&self.name)
        } else {
            self.route_prefixes.clone()
        }
    }

    /// A service with defaults for everything but its name and database.
    #[must_use]
    pub fn new(name: &str, database: DatabaseKind) -> Self {
        Self {
            name: name.to_owned(),
            image: None,
            replicas: 1,
            autoscaling: None,
            database,
            env: BTreeMap::new(),
            resources: None,
            route_prefixes: Vec::new(),
        }
    }
}

fn default_services() -> Vec<ServiceSpec> {
    BUILTIN_SERVICES
        .iter()
        .map(|(name, db)| ServiceSpec::new(name, *db))
        .collect()
}

fn default_registry() -> String {
    "ghcr.io/natstack".to_owned()
}

fn default_log_level() -> String {
    "info".to_owned()
}

fn default_issuer() -> String {
    contract::deploy::DEFAULT_ISSUER.to_owned()
}

fn default_audience() -> String {
    contract::deploy::DEFAULT_AUDIENCE.to_owned()
}

fn default_admin_email() -> String {
    "admin@natstack.local".to_owned()
}

fn default_timeout_ms() -> i64 {
    i64::try_from(contract::deploy::DEFAULT_REQUEST_TIMEOUT_MS).unwrap_or(i64::MAX)
}

fn default_max_body() -> i64 {
    i64::try_from(contract::deploy::DEFAULT_MAX_BODY_BYTES).unwrap_or(i64::MAX)
}

fn default_rate_limits() -> String {
    contract::deploy::DEFAULT_RATE_LIMITS.into()
}

pub(crate) fn one() -> i32 {
    1
}

pub(crate) fn yes() -> bool {
    true
}
