//! The parts of the `MicroserviceStack` CRD that fit the stack's pods to a real cluster:
//! per-component pod overrides (scheduling, identity, metadata), autoscaling of the services
//! and the gateway, and the provisioning Jobs' resources. [`crate::crd`] re-exports them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// CEL rule of `podOverrides.*.labels`: no key the operator sets on its own pods (the
/// selector labels, `app.kubernetes.io/*` it writes) and none under its own `natstack.dev/`
/// prefix. [`crate::validate`] refuses the same keys, naming them.
pub const OWN_LABELS_RULE: &str = "self.all(k, !(k in ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/part-of']) && !k.startsWith('natstack.dev/'))";

/// CEL rule of `podOverrides.*.annotations`: none under the operator's `natstack.dev/` prefix
/// (its config-hash annotation rolls the pods).
pub const OWN_ANNOTATIONS_RULE: &str = "self.all(k, !k.startsWith('natstack.dev/'))";

/// CEL rule of `imagePullSecrets`: every entry is a Secret name (a DNS-1123 subdomain).
pub const PULL_SECRET_RULE: &str =
    r"self.all(n, n.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))";

/// Pod settings merged into one component's pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    /// Node labels the pods must be scheduled on (`nodeSelector`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the pods tolerate (`tolerations`, Kubernetes `Toleration` objects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), schema_with = "terse::<Vec<Toleration>>")]
    pub tolerations: Vec<Toleration>,
    /// Node and pod (anti-)affinity of the pods (`affinity`, a Kubernetes `Affinity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "terse::<Option<Affinity>>")]
    pub affinity: Option<Affinity>,
    /// PriorityClass of the pods (`priorityClassName`); it must exist in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub priority_class_name: Option<String>,
    /// Extra labels of the pods. They cannot replace the labels the operator sets
    /// (`app.kubernetes.io/name`, `instance`, `managed-by`, `part-of`, `natstack.dev/*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    #[x_kube(validation = Rule::new(OWN_LABELS_RULE).message("podOverrides labels cannot replace the labels the operator sets (app.kubernetes.io/name, instance, managed-by, part-of, natstack.dev/*)"))]
    pub labels: BTreeMap<String, String>,
    /// Extra annotations of the pods (not under `natstack.dev/`, the operator's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    #[x_kube(validation = Rule::new(OWN_ANNOTATIONS_RULE).message("podOverrides annotations cannot use the operator's natstack.dev/ prefix"))]
    pub annotations: BTreeMap<String, String>,
    /// ServiceAccount the pods run as (it must exist in the stack's namespace); the
    /// namespace's `default` when unset. The Kubernetes API token is mounted in neither case
    /// (no component calls the API); identity webhooks that project their own token (cloud
    /// workload identity) still work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,
}

/// Pod overrides of each component. Each is boxed: the spec travels by value through the
/// reconciler's futures, and six inline overrides would triple its size.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodOverridesSpec {
    /// The NATS servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<Box<PodOverrides>>,
    /// The managed PostgreSQL server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<Box<PodOverrides>>,
    /// The managed MongoDB server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mongodb: Option<Box<PodOverrides>>,
    /// The gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Box<PodOverrides>>,
    /// The database-provisioning Jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<Box<PodOverrides>>,
    /// Each backend service, by name (a service of this stack).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub services: BTreeMap<String, PodOverrides>,
}

/// What the overrides are keyed by: a pod-owning component of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodsOf<'a> {
    /// The NATS servers.
    Nats,
    /// The managed PostgreSQL.
    Postgres,
    /// The managed MongoDB.
    Mongodb,
    /// The gateway.
    Gateway,
    /// Every provisioning Job.
    Jobs,
    /// The backend service of this name.
    Service(&'a str),
}

impl PodOverridesSpec {
    /// The overrides of `pods`, when set.
    #[must_use]
    pub fn of(&self, pods: PodsOf<'_>) -> Option<&PodOverrides> {
        match pods {
            PodsOf::Nats => self.nats.as_deref(),
            PodsOf::Postgres => self.postgres.as_deref(),
            PodsOf::Mongodb => self.mongodb.as_deref(),
            PodsOf::Gateway => self.gateway.as_deref(),
            PodsOf::Jobs => self.jobs.as_deref(),
            PodsOf::Service(name) => self.services.get(name),
        }
    }

    /// Every override with the name of what it applies to, for validation messages.
    #[must_use]
    pub fn all(&self) -> Vec<(String, &PodOverrides)> {
        let fixed = [
            ("nats", self.nats.as_deref()),
            ("postgres", self.postgres.as_deref()),
            ("mongodb", self.mongodb.as_deref()),
            ("gateway", self.gateway.as_deref()),
            ("jobs", self.jobs.as_deref()),
        ];
        fixed
            .into_iter()
            .filter_map(|(name, o)| Some((name.to_owned(), o?)))
            .chain(
                self.services
                    .iter()
                    .map(|(name, o)| (format!("services.{name}"), o)),
            )
            .collect()
    }
}

/// Horizontal autoscaling on CPU: the operator renders an `autoscaling/v2`
/// HorizontalPodAutoscaler and leaves the replica count to it (`replicas` is then ignored).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("autoscaling minReplicas must not exceed maxReplicas"))]
pub struct Autoscaling {
    /// Fewest pods.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 50))]
    pub min_replicas: i32,
    /// Most pods; database pool sizes are computed for this many.
    #[schemars(range(min = 1, max = 50))]
    pub max_replicas: i32,
    /// Average CPU use the autoscaler aims at, in percent of the pods' CPU request (the pods
    /// need one: the defaults have it).
    #[serde(
        default = "default_cpu_target",
        rename = "targetCPUUtilizationPercentage"
    )]
    #[schemars(range(min = 1, max = 500))]
    pub target_cpu_utilization_percentage: i32,
}

/// CEL rule on a service or the gateway: autoscaling on CPU needs a CPU request, which
/// the default resources have; resources given without one (and without a CPU limit, which
/// the API server copies to the request) are refused.
pub const AUTOSCALING_CPU_RULE: &str = "!has(self.autoscaling) || !has(self.resources) || (has(self.resources.requests) && 'cpu' in self.resources.requests) || (has(self.resources.limits) && 'cpu' in self.resources.limits)";

/// Message of [`AUTOSCALING_CPU_RULE`].
pub const AUTOSCALING_CPU_MESSAGE: &str =
    "autoscaling targets CPU utilization, so resources must set a CPU request (requests.cpu)";

/// Settings of the database-provisioning Jobs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobsSpec {
    /// Compute resources of each provisioning Job's container (psql or mongosh); the
    /// defaults include CPU and memory limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// `T`'s schema without the descriptions of its fields. The Kubernetes types' own
/// descriptions, inlined for each of the six components, would take the CRD past the 256 KiB
/// that `kubectl apply` can record in its last-applied annotation; the types are documented
/// upstream, and the structure (types, required fields, enums) is kept.
fn terse<T: JsonSchema>(generator: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
    fn strip(value: &mut serde_json::Value) {
        if let Some(object) = value.as_object_mut() {
            object.remove("description");
            for (key, child) in object.iter_mut() {
                if key == "properties" {
                    // A map of field names to schemas: strip inside each, keep the names.
                    child
                        .as_object_mut()
                        .into_iter()
                        .flat_map(|fields| fields.values_mut())
                        .for_each(strip);
                } else {
                    strip(child);
                }
            }
        } else if let Some(items) = value.as_array_mut() {
            items.iter_mut().for_each(strip);
        }
    }
    let mut schema = generator.subschema_for::<T>().to_value();
    strip(&mut schema);
    schemars::Schema::try_from(schema).unwrap_or_default()
}

fn one() -> i32 {
    1
}

fn default_cpu_target() -> i32 {
    80
}
