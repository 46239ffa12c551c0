//! Handing a Deployment's `spec.replicas` over to its HorizontalPodAutoscaler.
//!
//! An autoscaled Deployment is applied without `spec.replicas`. Under server-side apply, a
//! field that its only owner stops applying is removed, and `replicas` then defaults to 1:
//! switching a running service to autoscaling would scale it down to one pod first. So before
//! the first apply without the field, the stored count is applied under a second field manager
//! ([`REPLICAS_FIELD_MANAGER`]); the field stays co-owned and keeps its value when the
//! operator's own manager lets go, and the autoscaler's updates take it over from there.
//!
//! Switching back to fixed `replicas` needs nothing here: the operator's forced apply takes
//! the field back.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use tracing::info;

use crate::error::Error;
use crate::manifests::common::{FIELD_MANAGER, REPLICAS_FIELD_MANAGER};

/// Before `desired` (an autoscaled Deployment, without `spec.replicas`) is applied: if the
/// stored Deployment's `spec.replicas` is still owned by the operator's apply, co-owns the
/// current value under [`REPLICAS_FIELD_MANAGER`]. Does nothing for a Deployment with
/// replicas, one that does not exist yet (it starts at one pod and the autoscaler takes it
/// from there), or one handed over already.
///
/// # Errors
/// [`Error::Kube`] on API errors.
pub async fn keep_replicas(
    client: &Client,
    namespace: &str,
    desired: &Deployment,
) -> Result<(), Error> {
    if desired.spec.as_ref().is_none_or(|s| s.replicas.is_some()) {
        return Ok(());
    }
    let name = desired.name_any();
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let Some(stored) = api.get_opt(&name).await? else {
        return Ok(());
    };
    let Some(current) = stored.spec.as_ref().and_then(|s| s.replicas) else {
        return Ok(());
    };
    if !applies_replicas(&stored, FIELD_MANAGER) {
        return Ok(());
    }
    let body = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name },
        "spec": { "replicas": current },
    });
    // Forced: the value is the stored one, so this only adds an owner, never changes it.
    let params = PatchParams::apply(REPLICAS_FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&body)).await?;
    info!(
        deployment = name,
        replicas = current,
        "handed replicas over to the autoscaler"
    );
    Ok(())
}

/// Whether `manager`'s server-side apply owns `spec.replicas` of `deployment` (read from
/// its `managedFields`).
#[must_use]
pub fn applies_replicas(deployment: &Deployment, manager: &str) -> bool {
    deployment
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry.manager.as_deref() == Some(manager) && entry.operation.as_deref() == Some("Apply")
        })
        .filter_map(|entry| entry.fields_v1.as_ref())
        .any(|fields| fields.0["f:spec"].get("f:replicas").is_some())
}
