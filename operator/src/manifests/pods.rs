//! What the stack's spec adds to every pod template it renders: the image pull Secrets, and
//! the component's `podOverrides` (scheduling, identity, extra labels and annotations).
//!
//! Every builder calls [`customize`] on its pod template before anything hashes it (a Job's
//! name carries the hash of its template), so a changed override rolls the pods like any
//! other template change.

use k8s_openapi::api::core::v1::{LocalObjectReference, PodTemplateSpec};

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
