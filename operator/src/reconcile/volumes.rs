//! Step 3b (between [`build`](super::build) and [`apply`](super::apply)): the data volumes of
//! the operator's StatefulSets, guarded against the edits Kubernetes would take but the data
//! would not survive, and grown where the cluster can.
//!
//! - **A major version change under existing data is refused.** PostgreSQL cannot open a data
//!   directory written by another major version, and MongoDB must be upgraded one major
//!   version at a time with its feature compatibility version raised in between; a plain image
//!   edit would leave the server crash-looping on its own volume (or, worse, half-upgraded). The
//!   running image is kept, and the stack is `Degraded`
//!   [`MajorVersionChange`](Fault::MajorVersionChange) with what to do. The image the data was
//!   written with is read from the live StatefulSet and, so that deleting the StatefulSet
//!   (`--cascade=orphan`) does not lose it, also recorded on the volume claim
//!   ([`DATA_IMAGE_ANNOTATION`]).
//! - **Growing `storage` resizes the claims.** A StatefulSet's `volumeClaimTemplates` cannot
//!   change, so the applied StatefulSet keeps the size it was created with, and each existing
//!   claim is patched to the new size; the cluster expands the volume when its StorageClass
//!   allows it (`allowVolumeExpansion`). Where it does not, the API server refuses the patch and
//!   the stack is `Degraded` [`StorageNotExpandable`](Fault::StorageNotExpandable) with its
//!   message. Shrinking is refused by the CRD.
//!
//! - **A claim template added or removed is applied by re-creating the StatefulSet.** When a
//!   new version of the operator gives a workload a volume it did not have (NATS's JetStream
//!   store), the API server would refuse the StatefulSet for good. The StatefulSet is deleted
//!   with `propagationPolicy: Orphan` (its pods keep running and serving) and created again on
//!   the next reconcile, which the deletion triggers; the new StatefulSet adopts the pods and
//!   rolls them onto the new template one by one. What users did by hand with
//!   `kubectl delete statefulset --cascade=orphan`, done where it is safe: only templates that
//!   appear or disappear, never one whose size or class changes (that is data).
//!
//! The decisions are pure ([`review`]); this module's I/O only reads the live objects and
//! patches the claims.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt as _};
use serde_json::json;
use tracing::info;

use super::apply::Rejection;
use crate::error::Error;
use crate::manifests::common::LABEL_NAME;
use crate::manifests::pods::memory_bytes;
use crate::manifests::{Child, Children};
use crate::status::Fault;

/// Annotation on a database's volume claim: the server image its data was last run with.
pub const DATA_IMAGE_ANNOTATION: &str = "natstack.dev/data-image";

/// The components whose image must keep its major version under existing data.
const DATABASES: [&str; 2] = ["postgres", "mongodb"];

/// What to do about one StatefulSet before it is applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Review {
    /// Refused edits, for the `Degraded` message.
    pub refusals: Vec<Rejection>,
    /// Claim templates to grow: template name → new size.
    pub grow: BTreeMap<String, Quantity>,
    /// The claim templates appear or disappear: the StatefulSet must be created again.
    pub recreate: bool,
}

/// The major version of a server image: the leading number of its tag (`postgres:17-alpine`
/// → 17, `mongo:8.0.4` → 8, `registry:5000/postgres:16.4` → 16); `None` without a numeric tag
/// (`latest`, a digest only), where nothing can be compared.
#[must_use]
pub fn major_version(image: &str) -> Option<u32> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let (_, tag) = last.split_once(':')?;
    let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Decides what `desired` may change of `live` (the StatefulSet as stored, if any) and
/// `recorded` (the image the data was last run with, from its claim), and makes `desired`
/// applicable: it keeps the running image when the major version would change, and the
/// stored claim templates (which cannot change) whatever their size.
#[must_use]
pub fn review(
    desired: &mut StatefulSet,
    live: Option<&StatefulSet>,
    recorded: Option<&str>,
) -> Review {
    let mut review = Review::default();
    let name = desired.name_any();
    let component = component_of(desired);
    if DATABASES.contains(&component.as_str()) {
        let running = live
            .and_then(|s| image_of(s, &component))
            .or(recorded.map(str::to_owned));
        if let (Some(running), Some(wanted)) = (running, image_of(desired, &component))
            && let (Some(from), Some(to)) = (major_version(&running), major_version(&wanted))
            && from != to
        {
            set_image(desired, &component, &running);
            review.refusals.push(Rejection {
                fault: Fault::MajorVersionChange,
                object: format!("StatefulSet {name}"),
                fields: vec![format!("spec.{component}.image")],
                message: format!(
                    "{wanted} would run major version {to} on data written by {running} \
                     (major version {from}); the server keeps running {running}. Undo the \
                     image edit, or upgrade the data first (PostgreSQL: dump and restore, or \
                     pg_upgrade; MongoDB: one major version at a time, raising \
                     featureCompatibilityVersion in between)"
                ),
            });
        }
    }
    let Some(live) = live else {
        return review;
    };
    let stored: BTreeMap<String, Option<Quantity>> = templates(live)
        .map(|t| (t.name_any(), storage_of(t)))
        .collect();
    let wanted: Vec<String> = templates(desired).map(|t| t.name_any()).collect();
    review.recreate =
        wanted.len() != stored.len() || wanted.iter().any(|t| !stored.contains_key(t));
    if let Some(claims) = desired
        .spec
        .as_mut()
        .and_then(|s| s.volume_claim_templates.as_mut())
    {
        for claim in claims.iter_mut() {
            let Some(Some(old)) = stored.get(&claim.name_any()) else {
                continue;
            };
            let Some(new) = storage_of(claim) else {
                continue;
            };
            match (memory_bytes(old), memory_bytes(&new)) {
                (Some(old_bytes), Some(new_bytes)) if new_bytes > old_bytes => {
                    review.grow.insert(claim.name_any(), new.clone());
                }
                (Some(old_bytes), Some(new_bytes)) if new_bytes < old_bytes => {
                    review.refusals.push(Rejection {
                        fault: Fault::ImmutableField,
                        object: format!("StatefulSet {name}"),
                        fields: vec!["storage".to_owned()],
                        message: format!("volumes cannot shrink from {} to {}", old.0, new.0),
                    });
                }
                _ => {}
            }
            set_storage(claim, old.clone());
        }
    }
    review
}

/// What the guard decided for the whole stack.
#[derive(Debug, Default)]
pub struct Guarded {
    /// Refused edits, for the `Degraded` message.
    pub refusals: Vec<Rejection>,
    /// StatefulSets deleted (orphaning their pods) to be created again with new claim
    /// templates; left out of this reconcile's apply (but kept from pruning) and reported not
    /// ready until then.
    pub recreating: Vec<StatefulSet>,
}

impl Guarded {
    /// `children` without the StatefulSets being re-created: what this reconcile applies.
    #[must_use]
    pub fn to_apply(&self, children: &Children) -> Children {
        let mut out = children.clone();
        for stage in &mut out.stages {
            stage.objects.retain(|child| {
                !matches!(child, Child::StatefulSet(s)
                    if self.recreating.iter().any(|r| r.name_any() == s.name_any()))
            });
        }
        out
    }
}

/// Guards every StatefulSet of `children` (see the module doc): reads the live objects,
/// adjusts the children, grows and annotates claims, deletes the StatefulSets to re-create.
///
/// # Errors
/// [`Error::Kube`] when reading fails or a claim patch or deletion fails other than by
/// refusal.
pub async fn guard(
    client: &Client,
    namespace: &str,
    children: &mut Children,
) -> Result<Guarded, Error> {
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let mut refusals = Vec::new();
    let mut recreating = Vec::new();
    for stage in &mut children.stages {
        for child in &mut stage.objects {
            let Child::StatefulSet(desired) = child else {
                continue;
            };
            let name = desired.name_any();
            let component = component_of(desired);
            let live = sets.get_opt(&name).await?;
            let is_database = DATABASES.contains(&component.as_str());
            let first_claim = templates(desired)
                .next()
                .map(|t| format!("{}-{name}-0", t.name_any()));
            let data_claim = match (&first_claim, is_database) {
                (Some(claim), true) => claims.get_opt(claim).await?,
                _ => None,
            };
            let recorded = data_claim
                .as_ref()
                .and_then(|c| c.annotations().get(DATA_IMAGE_ANNOTATION).cloned());
            let review = review(desired, live.as_ref(), recorded.as_deref());
            refusals.extend(review.refusals);
            if review.recreate
                && live
                    .as_ref()
                    .is_some_and(|s| s.metadata.deletion_timestamp.is_none())
            {
                info!(
                    statefulset = name,
                    "volume claim templates changed: re-creating the StatefulSet, its pods kept"
                );
                sets.delete(&name, &DeleteParams::orphan()).await?;
            }
            if review.recreate {
                recreating.push(desired.clone());
                continue;
            }
            // Record the image the data now runs with, once the StatefulSet runs it.
            if let (Some(claim), Some(running)) = (
                &data_claim,
                live.as_ref().and_then(|s| image_of(s, &component)),
            ) && recorded.as_deref() != Some(running.as_str())
            {
                {
                    let patch =
                        json!({"metadata": {"annotations": {DATA_IMAGE_ANNOTATION: running}}});
                    claims
                        .patch(
                            &claim.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&patch),
                        )
                        .await?;
                }
            }
            let replicas = live
                .as_ref()
                .and_then(|s| s.spec.as_ref())
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            for (template, size) in &review.grow {
                for ordinal in 0..replicas {
                    let claim = format!("{template}-{name}-{ordinal}");
                    if let Some(refused) = grow(&claims, &claim, size).await? {
                        refusals.push(refused);
                    }
                }
            }
        }
    }
    Ok(Guarded {
        refusals,
        recreating,
    })
}

/// Patches `claim` to request `size` if it requests less; a refusal when the cluster cannot
/// expand it.
async fn grow(
    claims: &Api<PersistentVolumeClaim>,
    claim: &str,
    size: &Quantity,
) -> Result<Option<Rejection>, Error> {
    let Some(existing) = claims.get_opt(claim).await? else {
        return Ok(None);
    };
    let current = existing
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(memory_bytes);
    if current.is_some_and(|c| memory_bytes(size).is_some_and(|s| s <= c)) {
        return Ok(None);
    }
    let patch = json!({"spec": {"resources": {"requests": {"storage": size.0}}}});
    match claims
        .patch(claim, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            info!(claim, size = size.0, "volume claim resized");
            Ok(None)
        }
        Err(kube::Error::Api(status)) if matches!(status.code, 403 | 422) => Ok(Some(Rejection {
            fault: Fault::StorageNotExpandable,
            object: format!("PersistentVolumeClaim {claim}"),
            fields: vec!["storage".to_owned()],
            message: format!(
                "cannot grow to {}: {}. Use a StorageClass with allowVolumeExpansion: true, \
                 or undo the edit",
                size.0, status.message
            ),
        })),
        Err(e) => Err(e.into()),
    }
}

fn component_of(set: &StatefulSet) -> String {
    set.labels().get(LABEL_NAME).cloned().unwrap_or_default()
}

fn templates(set: &StatefulSet) -> impl Iterator<Item = &PersistentVolumeClaim> {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_ref())
        .into_iter()
        .flatten()
}

fn storage_of(claim: &PersistentVolumeClaim) -> Option<Quantity> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .cloned()
}

fn set_storage(claim: &mut PersistentVolumeClaim, size: Quantity) {
    if let Some(requests) = claim
        .spec
        .as_mut()
        .and_then(|s| s.resources.as_mut())
        .and_then(|r| r.requests.as_mut())
    {
        requests.insert("storage".to_owned(), size);
    }
}

fn image_of(set: &StatefulSet, container: &str) -> Option<String> {
    set.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == container)?
        .image
        .clone()
}

fn set_image(set: &mut StatefulSet, container: &str, image: &str) {
    if let Some(c) = set
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|p| p.containers.iter_mut().find(|c| c.name == container))
    {
        c.image = Some(image.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions_come_from_the_tag() {
        assert_eq!(major_version("postgres:17-alpine"), Some(17));
        assert_eq!(major_version("postgres:17.2"), Some(17));
        assert_eq!(
            major_version("registry.local:5000/lib/postgres:16.4-bookworm"),
            Some(16)
        );
        assert_eq!(major_version("mongo:8.0"), Some(8));
        assert_eq!(major_version("postgres:latest"), None);
        assert_eq!(major_version("postgres@sha256:abcd"), None);
        assert_eq!(major_version("registry.local:5000/postgres"), None);
    }
}
