//! Step 5: delete children of this stack (by label and controller ownerReference) that the
//! spec no longer asks for.
//!
//! Secrets are never deleted here: the operator holds no delete permission on Secrets. The
//! Secrets of a removed component (its NATS password, its database URL) stay until the stack
//! itself is deleted, when Kubernetes garbage-collects them through their ownerReference, and
//! are reused if the component comes back. Retained ones outlive the stack.

use std::collections::BTreeSet;
use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::info;

use crate::error::Error;
use crate::manifests::cnpg::{Database, ScheduledBackup};
use crate::manifests::common::{Ctx, LABEL_RETAIN};
use crate::manifests::monitoring::kinds::{PodMonitor, PrometheusRule, ServiceMonitor};
use crate::manifests::{Children, Engine};

async fn prune_kind<K>(
    client: &Client,
    ctx: &Ctx<'_>,
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
            .any(|o| o.uid == ctx.owner_uid() && o.controller == Some(true));
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

/// The optional APIs the cluster serves, whose kinds can be listed (listing a kind the API
/// server does not serve fails).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// The prometheus-operator's kinds.
    pub prometheus_operator: bool,
    /// The database engines' operators the stack uses (their APIs are served, or nothing
    /// would have been applied).
    pub engines: BTreeSet<Engine>,
}

/// Deletes the stack's children that `children` no longer holds; returns them as
/// `Kind/name`. The kinds of optional APIs are pruned only where `served` says the cluster
/// serves them.
///
/// # Errors
/// [`Error::Kube`] on API errors.
pub async fn orphans(
    client: &Client,
    ctx: &Ctx<'_>,
    children: &Children,
    served: &Served,
) -> Result<Vec<String>, Error> {
    // By kind and name: a component's Deployment, Service, PDB and HPA share one name, and a
    // PDB or HPA the spec no longer wants must go while the rest stays.
    let keep: BTreeSet<(String, String)> = children
        .iter()
        .map(|c| (c.kind().to_owned(), c.name().to_owned()))
        .collect();
    let mut deleted = Vec::new();
    if served.prometheus_operator {
        deleted.extend(prune_kind::<ServiceMonitor>(client, ctx, &keep).await?);
        deleted.extend(prune_kind::<PodMonitor>(client, ctx, &keep).await?);
        deleted.extend(prune_kind::<PrometheusRule>(client, ctx, &keep).await?);
    }
    // A Cluster or MongoDBCommunity is never pruned: deleting one deletes its data. While
    // the stack uses the engine it keeps its one object (the provider cannot change); with
    // the database disabled it stays until the stack is deleted (garbage collection through
    // its ownerReference) or the user deletes it. A Database keeps its data on deletion
    // (`databaseReclaimPolicy: retain`).
    if served.engines.contains(&Engine::CloudNativePg) {
        deleted.extend(prune_kind::<ScheduledBackup>(client, ctx, &keep).await?);
        deleted.extend(prune_kind::<Database>(client, ctx, &keep).await?);
    }
    deleted.extend(prune_kind::<HorizontalPodAutoscaler>(client, ctx, &keep).await?);
    deleted.extend(prune_kind::<Deployment>(client, ctx, &keep).await?);
    deleted.extend(prune_kind::<PodDisruptionBudget>(client, ctx, &keep).await?);
    deleted.extend(prune_kind::<Job>(client, ctx, &keep).await?);
    deleted.extend(prune_kind::<Service>(client, ctx, &keep).await?);
    deleted.extend(prune_kind::<StatefulSet>(client, ctx, &keep).await?);
    deleted.extend(prune_kind::<ConfigMap>(client, ctx, &keep).await?);
    deleted.extend(prune_kind::<NetworkPolicy>(client, ctx, &keep).await?);
    Ok(deleted)
}
