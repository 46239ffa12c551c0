//! The I/O steps of a reconcile: resolve Secrets (create the created-once ones if absent),
//! server-side apply children, prune children that are no longer desired, and write status.
//!
//! Retained credential Secrets carry no ownerReference, so deleting a stack keeps them with
//! its database volumes; ones an earlier version made with an ownerReference are released
//! here. A provisioning Job that failed is deleted once it has been failed for
//! [`status::JOB_RETRY_AFTER`] (the controller requeues the stack that soon); the deletion
//! triggers a reconcile that creates it again.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info};

use crate::crd::{MicroserviceStack, MicroserviceStackStatus};
use crate::error::Error;
use crate::generate;
use crate::manifests::common::{Ctx, FIELD_MANAGER, LABEL_RETAIN};
use crate::manifests::secrets::{self, GeneratedSecret};
use crate::manifests::{Child, Children, SecretData};
use crate::status;

/// Objects returned by the apiserver after applying, with their current status.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Deployments as stored.
    pub deployments: Vec<Deployment>,
    /// StatefulSets as stored.
    pub stateful_sets: Vec<StatefulSet>,
    /// Services as stored.
    pub services: Vec<Service>,
    /// Provisioning Jobs as stored (a failed one is also in `retried` once deleted).
    pub jobs: Vec<Job>,
    /// Failed Jobs deleted so that the next reconcile runs them again.
    pub retried: Vec<String>,
}

/// Reads every Secret the stack depends on, creating the created-once ones that are absent.
///
/// # Errors
/// [`Error::MissingSecret`] when a user-referenced Secret does not exist; [`Error::Kube`] on API errors.
pub async fn resolve_secrets(client: &Client, ctx: &Ctx<'_>) -> Result<SecretData, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &ctx.namespace);
    let mut out = SecretData::new();
    for name in secrets::referenced(ctx.spec) {
        let secret = api
            .get_opt(&name)
            .await?
            .ok_or_else(|| Error::MissingSecret(name.clone()))?;
        out.insert(name, generate::decode(&secret));
    }
    for generated in secrets::generated(ctx) {
        let data = ensure_secret(&api, ctx, &generated).await?;
        out.insert(generated.name().to_owned(), data);
    }
    Ok(out)
}

async fn ensure_secret(
    api: &Api<Secret>,
    ctx: &Ctx<'_>,
    generated: &GeneratedSecret,
) -> Result<BTreeMap<String, String>, Error> {
    if let Some(existing) = api.get_opt(generated.name()).await? {
        if generated.is_retained() {
            release(api, ctx, &existing).await?;
        }
        return Ok(generate::decode(&existing));
    }
    let (secret, data) = generate::secret(generated)?;
    let params = PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    match api.create(&params, &secret).await {
        Ok(_) => {
            info!(secret = generated.name(), "created secret");
            Ok(data)
        }
        // Lost a race with another writer: theirs wins, never overwrite.
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            let existing = api.get(generated.name()).await?;
            Ok(generate::decode(&existing))
        }
        Err(e) => Err(e.into()),
    }
}

/// Drops this stack's ownerReference from a retained Secret made by an earlier operator, so
/// that deleting the stack no longer deletes it (only metadata changes, never the data).
async fn release(api: &Api<Secret>, ctx: &Ctx<'_>, existing: &Secret) -> Result<(), Error> {
    let owners = existing.owner_references();
    let kept: Vec<_> = owners
        .iter()
        .filter(|o| o.uid != ctx.owner_uid())
        .cloned()
        .collect();
    if kept.len() == owners.len() {
        return Ok(());
    }
    let mut metadata = serde_json::json!({
        "ownerReferences": if kept.is_empty() { serde_json::Value::Null } else { serde_json::json!(kept) },
    });
    // Only if nobody changed it since it was read.
    if let Some(version) = existing.resource_version() {
        metadata["resourceVersion"] = version.into();
    }
    let patch = serde_json::json!({ "metadata": metadata });
    api.patch(
        &existing.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    info!(
        secret = existing.name_any(),
        "released retained secret from the stack's ownership"
    );
    Ok(())
}

async fn apply_one<K>(client: &Client, namespace: &str, obj: &K) -> Result<K, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api
        .patch(&obj.name_any(), &params, &Patch::Apply(obj))
        .await?)
}

/// Server-side applies every child, stage by stage, in order.
///
/// # Errors
/// [`Error::Kube`] on the first failed apply; later children are not applied.
pub async fn apply_all(
    client: &Client,
    namespace: &str,
    children: &Children,
) -> Result<Applied, Error> {
    let mut applied = Applied::default();
    for stage in &children.stages {
        debug!(
            stage = stage.name,
            objects = stage.objects.len(),
            "applying stage"
        );
        for child in &stage.objects {
            match child {
                Child::Secret(o) => drop(apply_one(client, namespace, o).await?),
                Child::ConfigMap(o) => drop(apply_one(client, namespace, o).await?),
                Child::NetworkPolicy(o) => drop(apply_one(client, namespace, o).await?),
                Child::StatefulSet(o) => applied
                    .stateful_sets
                    .push(apply_one(client, namespace, o).await?),
                Child::Service(o) => applied
                    .services
                    .push(apply_one(client, namespace, o).await?),
                Child::Pdb(o) => drop(apply_one(client, namespace, o).await?),
                Child::Job(o) => {
                    let stored = apply_one(client, namespace, o).await?;
                    if status::job_due_for_retry(&stored, &Timestamp::now()) {
                        let api: Api<Job> = Api::namespaced(client.clone(), namespace);
                        api.delete(&o.name_any(), &DeleteParams::background())
                            .await?;
                        info!(job = o.name_any(), "deleted failed job to run it again");
                        applied.retried.push(o.name_any());
                    }
                    applied.jobs.push(stored);
                }
                Child::Deployment(o) => {
                    crate::handoff::keep_replicas(client, namespace, o).await?;
                    applied
                        .deployments
                        .push(apply_one(client, namespace, o).await?);
                }
                Child::Hpa(o) => drop(apply_one(client, namespace, o).await?),
            }
        }
    }
    Ok(applied)
}

async fn prune_kind<K>(
    client: &Client,
    ctx: &Ctx<'_>,
    owner_uid: &str,
    keep: &BTreeSet<(String, String)>,
) -> Result<Vec<String>, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + DeserializeOwned
        + Clone
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &ctx.namespace);
    let list = api
        .list(&ListParams::default().labels(&ctx.stack_selector()))
        .await?;
    let mut deleted = Vec::new();
    for obj in list.items {
        let name = obj.name_any();
        let ours = obj
            .owner_references()
            .iter()
            .any(|o| o.uid == owner_uid && o.controller == Some(true));
        let retained = obj.labels().get(LABEL_RETAIN).is_some_and(|v| v == "true");
        let kind = K::kind(&()).to_string();
        if ours && !retained && !keep.contains(&(kind, name.clone())) {
            api.delete(&name, &DeleteParams::background()).await?;
            info!(kind = K::kind(&()).as_ref(), name, "pruned");
            deleted.push(format!("{}/{name}", K::kind(&())));
        }
    }
    Ok(deleted)
}

/// Deletes children of this stack (by label and controller ownerReference) that are no longer
/// desired.
///
/// Secrets are never deleted here: the operator holds no delete permission on Secrets. The
/// Secrets of a removed component (its NATS password, its database URL) stay until the stack
/// itself is deleted, when Kubernetes garbage-collects them through their ownerReference, and
/// are reused if the component comes back.
///
/// # Errors
/// [`Error::Kube`] on API errors.
pub async fn prune(
    client: &Client,
    ctx: &Ctx<'_>,
    owner_uid: &str,
    children: &Children,
) -> Result<Vec<String>, Error> {
    // By kind and name: a component's Deployment, Service, PDB and HPA share one name, and a
    // PDB or HPA the spec no longer wants must go while the rest stays.
    let keep: BTreeSet<(String, String)> = children
        .iter()
        .map(|c| (c.kind().to_owned(), c.name().to_owned()))
        .collect();
    let mut deleted = Vec::new();
    deleted.extend(prune_kind::<HorizontalPodAutoscaler>(client, ctx, owner_uid, &keep).await?);
    deleted.extend(prune_kind::<Deployment>(client, ctx, owner_uid, &keep).await?);
    deleted.extend(prune_kind::<PodDisruptionBudget>(client, ctx, owner_uid, &keep).await?);
    deleted.extend(prune_kind::<Job>(client, ctx, owner_uid, &keep).await?);
    deleted.extend(prune_kind::<Service>(client, ctx, owner_uid, &keep).await?);
    deleted.extend(prune_kind::<StatefulSet>(client, ctx, owner_uid, &keep).await?);
    deleted.extend(prune_kind::<ConfigMap>(client, ctx, owner_uid, &keep).await?);
    deleted.extend(prune_kind::<NetworkPolicy>(client, ctx, owner_uid, &keep).await?);
    Ok(deleted)
}

/// Server-side applies the status subresource.
///
/// # Errors
/// [`Error::Kube`] on API errors.
pub async fn write_status(
    client: &Client,
    stack: &MicroserviceStack,
    status: &MicroserviceStackStatus,
) -> Result<(), Error> {
    let namespace = stack
        .namespace()
        .ok_or(Error::MissingObjectKey("metadata.namespace"))?;
    let api: Api<MicroserviceStack> = Api::namespaced(client.clone(), &namespace);
    let body = serde_json::json!({
        "apiVersion": MicroserviceStack::api_version(&()),
        "kind": MicroserviceStack::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&stack.name_any(), &params, &Patch::Apply(&body))
        .await?;
    Ok(())
}
