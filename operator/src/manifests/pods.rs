//! What every pod the stack renders is made with: the restricted Pod Security Standard, the
//! health probes, scratch and data volumes and default resources; and what the stack's spec
//! adds to every pod template: the image pull Secrets, and the component's `podOverrides`
//! (scheduling, identity, extra labels and annotations).
//!
//! Every builder calls [`customize`] on its pod template before anything hashes it (a Job's
//! name carries the hash of its template), so a changed override rolls the pods like any
//! other template change.

use std::collections::BTreeMap;

use contract::deploy;
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, HTTPGetAction, LocalObjectReference,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::Ctx;
use crate::crd::PodsOf;

/// Adds `spec.imagePullSecrets` and the overrides of `pods` to `template`.
///
/// Override labels and annotations never replace the operator's own keys (validation refuses
/// them; here they are skipped, so that a CRD without the rules cannot break a selector).
/// Without overrides the template is left exactly as built (today's pods do not roll).
pub fn customize(ctx: &Ctx<'_>, pods: PodsOf<'_>, template: &mut PodTemplateSpec) {
    let spec = template.spec.get_or_insert_default();
    if !ctx.spec.image_pull_secrets.is_empty() {
        spec.image_pull_secrets = Some(
            ctx.spec
                .image_pull_secrets
                .iter()
                .map(|name| LocalObjectReference { name: name.clone() })
                .collect(),
        );
    }
    let Some(overrides) = ctx.spec.pod_overrides.of(pods) else {
        return;
    };
    if !overrides.node_selector.is_empty() {
        spec.node_selector = Some(overrides.node_selector.clone());
    }
    if !overrides.tolerations.is_empty() {
        spec.tolerations = Some(overrides.tolerations.clone());
    }
    if let Some(affinity) = &overrides.affinity {
        spec.affinity = Some(affinity.clone());
    }
    if let Some(class) = &overrides.priority_class_name {
        spec.priority_class_name = Some(class.clone());
    }
    // The API token stays unmounted (`automountServiceAccountToken: false` as rendered
    // without an override): no component calls the Kubernetes API.
    if let Some(account) = &overrides.service_account_name {
        spec.service_account_name = Some(account.clone());
    }
    let meta = template.metadata.get_or_insert_default();
    if !overrides.labels.is_empty() {
        let labels = meta.labels.get_or_insert_default();
        for (key, value) in &overrides.labels {
            if !crate::validate_pods::is_own_label(key) {
                labels.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }
    if !overrides.annotations.is_empty() {
        let annotations = meta.annotations.get_or_insert_default();
        for (key, value) in &overrides.annotations {
            if !crate::validate_pods::is_own_annotation(key) {
                annotations
                    .entry(key.clone())
                    .or_insert_with(|| value.clone());
            }
        }
    }
}

/// A pod of the stack: `containers` and `volumes` under the restricted Pod Security Standard
/// as user `uid`, with no service-account token and no Service environment variables (the
/// stack's programs find each other by DNS and need no API access). Callers add the rest with
/// struct update syntax.
#[must_use]
pub fn locked_down_pod(uid: i64, containers: Vec<Container>, volumes: Vec<Volume>) -> PodSpec {
    PodSpec {
        containers,
        security_context: Some(pod_security(uid)),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}

/// The restricted Pod Security Standard at pod level (non-root, RuntimeDefault seccomp).
#[must_use]
fn pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        // Change the volume's ownership only when its root is not the pod's group already:
        // the default walks every file of a database volume on every start.
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// The restricted Pod Security Standard at container level (read-only root, no escalation,
/// all capabilities dropped).
#[must_use]
pub fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..SecurityContext::default()
    }
}

/// Seconds a probe waits for an answer: a second past the budget of one readiness check
/// ([`contract::deploy::READINESS_CHECK_TIMEOUT_MS`]), so a slow check is answered as a 503
/// naming it rather than becoming a probe timeout that names nothing.
pub const PROBE_TIMEOUT_SECS: i32 = (deploy::READINESS_CHECK_TIMEOUT_MS / 1000) as i32 + 1;

/// An HTTP GET probe.
#[must_use]
pub fn http_probe(path: &str, port: u16, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::Int(port.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(PROBE_TIMEOUT_SECS),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

/// Liveness on `/livez`, readiness on `/readyz`, both on the health port.
#[must_use]
pub fn with_health_probes(container: Container) -> Container {
    Container {
        liveness_probe: Some(http_probe(deploy::LIVEZ_PATH, deploy::HEALTH_PORT, 10)),
        readiness_probe: Some(http_probe(deploy::READYZ_PATH, deploy::HEALTH_PORT, 5)),
        ..container
    }
}

/// A StatefulSet's volume claim template `name`: one `ReadWriteOnce` volume of `storage` per
/// pod of `component`, of `storage_class` (the cluster's default class when `None`).
#[must_use]
pub fn volume_claim(
    ctx: &Ctx<'_>,
    name: &str,
    component: &str,
    storage: String,
    storage_class: Option<String>,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(ctx.selector(component)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage_class,
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), Quantity(storage))])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

/// A writable `emptyDir` volume and its mount (for `/tmp` and runtime dirs under a read-only root).
#[must_use]
pub fn scratch(name: &str, path: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: name.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        VolumeMount {
            name: name.to_owned(),
            mount_path: path.to_owned(),
            ..VolumeMount::default()
        },
    )
}

/// `given`, or resources suited to a small component: `cpu` and `memory` requested, and
/// limits of `cpu_limit` and `memory`. Both limits are set so that namespaces whose
/// ResourceQuota caps `limits.cpu` or `limits.memory` admit the pod (a quota on a resource
/// refuses pods that do not declare it); the CPU limit is generous, as throttling only
/// slows a component down.
#[must_use]
pub fn resources_or(
    given: Option<&ResourceRequirements>,
    cpu: &str,
    cpu_limit: &str,
    memory: &str,
) -> ResourceRequirements {
    given.cloned().unwrap_or_else(|| ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu_limit.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])),
        ..ResourceRequirements::default()
    })
}

/// Bytes of a memory quantity (`128Mi`, `1Gi`, `500M`, `134217728`, `1.5Gi`, `1e9`); `None`
/// when it does not parse.
#[must_use]
pub fn memory_bytes(quantity: &Quantity) -> Option<u64> {
    let text = quantity.0.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        exponent => 10f64.powi(exponent.strip_prefix(['e', 'E'])?.parse().ok()?),
    };
    let bytes = (number * factor).ceil();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "checked to be finite and within u64 first"
    )]
    let fits = bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked to be finite and within u64 above"
    )]
    fits.then_some(bytes as u64)
}
