//! The `spec.nats` part of the `MicroserviceStack` CRD: the NATS servers, their users and TLS.
//! [`crate::crd`] re-exports it.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{one, yes};

/// NATS server settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NatsSpec {
    /// Number of NATS servers: 1, or 3 for a clustered deployment with routes.
    #[serde(default = "one")]
    #[x_kube(validation = Rule::new("self == 1 || self == 3").message("nats replicas must be 1 or 3"))]
    pub replicas: i32,
    /// NATS server image. It must have a POSIX shell (the `-alpine` variants do): the config
    /// reloader sidecar runs in it.
    #[serde(default = "default_nats_image")]
    pub image: String,
    /// Gives every component its own NATS user, limited to the subjects it needs.
    #[serde(default = "yes")]
    pub auth: bool,
    /// TLS on client connections; plain TCP when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<NatsTlsSpec>,
    /// Compute resources of each NATS server. The memory default grows with
    /// `gateway.maxBodyBytes` (the largest message NATS carries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Compute resources of the config reloader sidecar next to each NATS server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reloader_resources: Option<ResourceRequirements>,
}

/// TLS of NATS client connections.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NatsTlsSpec {
    /// Secret in the stack's namespace with the servers' certificate `tls.crt`, its key
    /// `tls.key`, and the CA `ca.crt` the clients trust (the layout cert-manager writes). The
    /// certificate must name `<stack>-nats.<namespace>.svc`. The servers reload a renewed
    /// certificate without a restart.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}

impl Default for NatsSpec {
    fn default() -> Self {
        Self {
            replicas: 1,
            image: default_nats_image(),
            auth: true,
            tls: None,
            resources: None,
            reloader_resources: None,
        }
    }
}

fn default_nats_image() -> String {
    "nats:2.11-alpine".to_owned()
}
