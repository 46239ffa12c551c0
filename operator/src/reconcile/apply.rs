//! Step 4: server-side apply of every child, stage by stage, in order.
//!
//! A child the API server *rejects* (a 4xx that retrying cannot fix: an immutable field, an
//! invalid or forbidden object) is recorded and the others are still applied, so that, say, a
//! database StatefulSet refusing a new `storageClassName` does not keep the services and the
//! gateway from their upgrades; a stage that is a
//! [`prerequisite`](crate::manifests::Stage::prerequisite) stops the later ones. Any other
//! failure (5xx, timeouts, conflicts, throttling) ends the step: the controller backs off.
//!
//! A provisioning Job that failed is deleted once it has been failed for
//! [`JOB_RETRY_AFTER`](crate::status::JOB_RETRY_AFTER); the deletion triggers a reconcile that
//! creates it again.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::Status;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use crate::error::Error;
use crate::manifests::common::FIELD_MANAGER;
use crate::manifests::{Child, Children, each_child};
use crate::status::{self, Fault};

/// Objects returned by the API server after applying, with their current status, and the
/// children it rejected.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Deployments as stored.
    pub deployments: Vec<Deployment>,
    /// StatefulSets as stored.
    pub stateful_sets: Vec<StatefulSet>,
    /// Services as stored.
    pub services: Vec<Service>,
    /// CloudNativePG Clusters as stored (their status is the PostgreSQL component's).
    pub clusters: Vec<crate::manifests::cnpg::Cluster>,
    /// MongoDBCommunity replica sets as stored (their status is the MongoDB component's).
    pub replica_sets: Vec<crate::manifests::mongodb_community::MongoDBCommunity>,
    /// Provisioning Jobs as stored (a failed one is also in `retried` once deleted).
    pub jobs: Vec<Job>,
    /// Failed Jobs deleted so that the next reconcile runs them again.
    pub retried: Vec<String>,
    /// Children the API server refused.
    pub rejected: Vec<Rejection>,
    /// Stages not applied because a prerequisite stage had a rejected child.
    pub skipped: Vec<&'static str>,
}

/// A child the API server refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// [`Fault::ImmutableField`] or [`Fault::ApplyFailed`] (from the API server), or a refusal
    /// of the [`volumes`](super::volumes) guard.
    pub fault: Fault,
    /// `<Kind> <name>`.
    pub object: String,
    /// The refused fields (`spec.volumeClaimTemplates`), when the API server names them.
    pub fields: Vec<String>,
    /// The API server's message.
    pub message: String,
}

impl Rejection {
    /// The rejection of `child` if `status` is one (a 400, 403 or 422); `None` for failures
    /// worth retrying.
    #[must_use]
    pub fn of(child: &Child, status: &Status) -> Option<Self> {
        if !matches!(status.code, 400 | 403 | 422) {
            return None;
        }
        let causes = status
            .details
            .as_ref()
            .map(|d| d.causes.as_slice())
            .unwrap_or_default();
        let immutable_cause = |reason: &str, message: &str| {
            reason == "FieldValueForbidden" || says_immutable(message)
        };
        let immutable = status.code == 422
            && (says_immutable(&status.message)
                || causes
                    .iter()
                    .any(|c| immutable_cause(&c.reason, &c.message)));
        let fields = causes
            .iter()
            .filter(|c| !immutable || immutable_cause(&c.reason, &c.message))
            .map(|c| c.field.clone())
            .filter(|f| !f.is_empty())
            .collect();
        Some(Self {
            fault: if immutable {
                Fault::ImmutableField
            } else {
                Fault::ApplyFailed
            },
            object: format!("{} {}", child.kind(), child.name()),
            fields,
            message: status.message.clone(),
        })
    }

    /// What happened and what to do, for the `Degraded` message.
    #[must_use]
    pub fn explain(&self) -> String {
        let Self {
            object, message, ..
        } = self;
        match self.fault {
            Fault::ApplyFailed => return format!("{object} was rejected: {message}"),
            Fault::MajorVersionChange | Fault::StorageNotExpandable => {
                return format!("{object}: {message}");
            }
            _ => {}
        }
        let fields = if self.fields.is_empty() {
            "a field".to_owned()
        } else {
            self.fields.join(", ")
        };
        let remedy = if object.starts_with("StatefulSet ") {
            let name = object.trim_start_matches("StatefulSet ");
            format!(
                "to apply it, delete the StatefulSet but not its pods and volumes \
                 (`kubectl delete statefulset {name} --cascade=orphan`; the operator creates it \
                 again, and existing volumes keep their old settings), or move to a new stack"
            )
        } else {
            "undo the edit, or move to a new stack".to_owned()
        };
        format!("{object}: {fields} cannot change after creation ({message}); {remedy}")
    }
}

/// Whether an API server message says a field cannot change (the wording of immutability
/// errors in core validation: `field is immutable`, `Forbidden: updates to ... are
/// forbidden`, `may not change once set`).
fn says_immutable(message: &str) -> bool {
    message.contains("field is immutable")
        || message.contains("Forbidden")
        || message.contains("may not change once set")
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

/// Applies one child and records what the API server stored.
async fn apply_child(
    client: &Client,
    namespace: &str,
    child: &Child,
    applied: &mut Applied,
) -> Result<(), Error> {
    // The object the API server stored, after applying `$o`.
    macro_rules! stored {
        ($o:expr) => {
            apply_one(client, namespace, $o).await?
        };
    }
    match child {
        Child::StatefulSet(o) => applied.stateful_sets.push(stored!(o)),
        Child::Service(o) => applied.services.push(stored!(o)),
        Child::Cluster(o) => applied.clusters.push(stored!(o)),
        Child::MongoDBCommunity(o) => applied.replica_sets.push(stored!(o)),
        Child::Job(o) => {
            let stored = stored!(o);
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
            super::handoff::keep_replicas(client, namespace, o).await?;
            applied.deployments.push(stored!(o));
        }
        // What the API server stored of the other kinds is not read.
        other => each_child!(other, o => drop(stored!(o))),
    }
    Ok(())
}

/// Server-side applies every child, stage by stage, in order, past rejected children.
///
/// # Errors
/// [`Error::Kube`] on the first failure that is not a rejection; later children are not
/// applied.
pub async fn children(
    client: &Client,
    namespace: &str,
    children: &Children,
) -> Result<Applied, Error> {
    let mut applied = Applied::default();
    let mut blocked = false;
    for stage in &children.stages {
        if blocked {
            applied.skipped.push(stage.name);
            continue;
        }
        debug!(
            stage = stage.name,
            objects = stage.objects.len(),
            "applying stage"
        );
        let rejected_before = applied.rejected.len();
        for child in &stage.objects {
            match apply_child(client, namespace, child, &mut applied).await {
                Ok(()) => {}
                Err(Error::Kube(kube::Error::Api(status))) => {
                    let Some(rejection) = Rejection::of(child, &status) else {
                        return Err(Error::Kube(kube::Error::Api(status)));
                    };
                    warn!(
                        object = rejection.object,
                        message = rejection.message,
                        "rejected"
                    );
                    applied.rejected.push(rejection);
                }
                Err(e) => return Err(e),
            }
        }
        blocked = stage.prerequisite && applied.rejected.len() > rejected_before;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    use super::*;

    fn status(value: serde_json::Value) -> Status {
        serde_json::from_value(value).expect("status")
    }

    fn stateful_set() -> Child {
        Child::StatefulSet(StatefulSet {
            metadata: ObjectMeta {
                name: Some("s-postgres".into()),
                ..ObjectMeta::default()
            },
            ..StatefulSet::default()
        })
    }

    #[test]
    fn rejections_are_told_from_failures_worth_retrying() {
        let forbidden = status(json!({"code": 422, "reason": "Invalid",
            "message": "StatefulSet.apps \"s-postgres\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas' ... are forbidden",
            "details": {"causes": [{"reason": "FieldValueForbidden", "field": "spec",
                                    "message": "Forbidden: updates ... are forbidden"}]}}));
        let rejection = Rejection::of(&stateful_set(), &forbidden).expect("rejected");
        assert_eq!(rejection.fault, Fault::ImmutableField);
        assert_eq!(rejection.fields, ["spec"]);
        let explained = rejection.explain();
        assert!(
            explained.starts_with("StatefulSet s-postgres: spec cannot change"),
            "{explained}"
        );
        assert!(explained.contains("--cascade=orphan"), "{explained}");

        let immutable = status(json!({"code": 422, "reason": "Invalid",
            "message": "Job.batch \"j\" is invalid: spec.template: Invalid value: ...: field is immutable"}));
        let rejection = Rejection::of(&stateful_set(), &immutable).expect("rejected");
        assert_eq!(rejection.fault, Fault::ImmutableField);

        let invalid = status(json!({"code": 422, "reason": "Invalid",
            "message": "x is invalid: data: Invalid value: too long",
            "details": {"causes": [{"reason": "FieldValueInvalid", "field": "data"}]}}));
        let rejection = Rejection::of(&stateful_set(), &invalid).expect("rejected");
        assert_eq!(rejection.fault, Fault::ApplyFailed);
        assert!(rejection.explain().contains("was rejected"));

        let quota = status(json!({"code": 403, "reason": "Forbidden",
            "message": "exceeded quota: compute, requested: limits.cpu=1"}));
        assert_eq!(
            Rejection::of(&stateful_set(), &quota).map(|r| r.fault),
            Some(Fault::ApplyFailed)
        );
        for code in [404, 409, 429, 500, 503, 504] {
            let transient = status(json!({"code": code, "message": "try again"}));
            assert_eq!(Rejection::of(&stateful_set(), &transient), None, "{code}");
        }
    }
}
