//! The observed state of a `MicroserviceStack` (its `status` subresource). [`crate::crd`]
//! re-exports it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a stack.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MicroserviceStackStatus {
    /// The last `metadata.generation` applied in full and rolled out (the stack was Ready at
    /// it); behind `metadata.generation` while an edit is rolling out, stuck or refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`.
    #[serde(default)]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Readiness of every component, e.g. `nats`, `postgres`, `auth`, `gateway`.
    #[serde(default)]
    pub components: Vec<ComponentStatus>,
    /// Ready and total components, e.g. `5/7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_components: Option<String>,
    /// Where the gateway answers (in-cluster DNS name, node port or load balancer address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_address: Option<String>,
}

/// Readiness of one component, read from its workload's own status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Component name.
    pub name: String,
    /// Workload kind (`Deployment` or `StatefulSet`).
    pub kind: String,
    /// Whether every desired replica is updated and ready.
    pub ready: bool,
    /// Ready replicas.
    pub ready_replicas: i32,
    /// Desired replicas.
    pub replicas: i32,
    /// Why it is not ready, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn conditions_schema(generator: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
    let item = generator.subschema_for::<Condition>();
    schemars::json_schema!({
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    })
}
