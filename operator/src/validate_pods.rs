//! Validation of the pod-level settings: `imagePullSecrets`, `podOverrides` and
//! `autoscaling` (the CRD's CEL rules say the same; see [`crate::validate`] for why both).

use k8s_openapi::api::core::v1::ResourceRequirements;

use crate::crd::{Autoscaling, MicroserviceStackSpec};
use crate::manifests::common::{LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF};

/// The operator's own prefix of labels and annotations (config hash, Job marker, retain).
pub const OWN_PREFIX: &str = "natstack.dev/";

/// Whether `key` is a label the operator sets on its pods (override labels may not take it).
#[must_use]
pub fn is_own_label(key: &str) -> bool {
    [LABEL_NAME, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_PART_OF].contains(&key)
        || key.starts_with(OWN_PREFIX)
}

/// Whether `key` is an annotation the operator sets on its pods.
#[must_use]
pub fn is_own_annotation(key: &str) -> bool {
    key.starts_with(OWN_PREFIX)
}

/// Every problem of the pod-level settings of `spec`, appended to `out`.
pub fn problems(spec: &MicroserviceStackSpec, out: &mut Vec<String>) {
    for name in &spec.image_pull_secrets {
        if !is_subdomain(name) {
            out.push(format!(
                "imagePullSecrets: {name:?} is not a Secret name (lowercase DNS subdomain)"
            ));
        }
    }
    for service in spec.pod_overrides.services.keys() {
        if !spec.services.iter().any(|s| &s.name == service) {
            out.push(format!(
                "podOverrides.services.{service}: there is no service {service} in services"
            ));
        }
    }
    for (component, overrides) in spec.pod_overrides.all() {
        for key in overrides.labels.keys().filter(|k| is_own_label(k)) {
            out.push(format!(
                "podOverrides.{component}.labels: {key} is set by the operator and cannot be \
                 replaced (its selector and ownership labels, and {OWN_PREFIX}*)"
            ));
        }
        for key in overrides
            .annotations
            .keys()
            .filter(|k| is_own_annotation(k))
        {
            out.push(format!(
                "podOverrides.{component}.annotations: {key} uses the operator's own prefix {OWN_PREFIX}"
            ));
        }
    }
    autoscaling(
        "gateway",
        spec.gateway.autoscaling.as_ref(),
        spec.gateway.resources.as_ref(),
        out,
    );
    for service in &spec.services {
        autoscaling(
            &format!("service {}", service.name),
            service.autoscaling.as_ref(),
            service.resources.as_ref(),
            out,
        );
    }
}

fn autoscaling(
    what: &str,
    scaling: Option<&Autoscaling>,
    resources: Option<&ResourceRequirements>,
    out: &mut Vec<String>,
) {
    let Some(scaling) = scaling else {
        return;
    };
    if !(1..=50).contains(&scaling.min_replicas) || !(1..=50).contains(&scaling.max_replicas) {
        out.push(format!(
            "{what}: autoscaling minReplicas and maxReplicas must be between 1 and 50"
        ));
    }
    if scaling.min_replicas > scaling.max_replicas {
        out.push(format!(
            "{what}: autoscaling minReplicas ({}) must not exceed maxReplicas ({})",
            scaling.min_replicas, scaling.max_replicas
        ));
    }
    if !(1..=500).contains(&scaling.target_cpu_utilization_percentage) {
        out.push(format!(
            "{what}: autoscaling targetCPUUtilizationPercentage must be between 1 and 500"
        ));
    }
    // The default resources request CPU; given ones must too (a CPU limit alone is copied
    // to the request by the API server).
    let has_cpu =
        |map: Option<&std::collections::BTreeMap<_, _>>| map.is_some_and(|m| m.contains_key("cpu"));
    if let Some(resources) = resources
        && !has_cpu(resources.requests.as_ref())
        && !has_cpu(resources.limits.as_ref())
    {
        out.push(format!("{what}: {}", crate::crd::AUTOSCALING_CPU_MESSAGE));
    }
}

/// A DNS-1123 subdomain: dot-separated labels of lowercase letters, digits and `-`, each
/// starting and ending with a letter or digit, 253 characters at most (a Secret name).
fn is_subdomain(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            bytes.first().is_some_and(alnum)
                && bytes.last().is_some_and(alnum)
                && bytes.iter().all(|b| alnum(b) || *b == b'-')
        })
}
