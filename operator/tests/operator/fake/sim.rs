//! What the kubelet and the built-in controllers would do, run when a test says so: roll a
//! Deployment or StatefulSet out (its status for its current generation), leave one stuck,
//! finish a Job, and create the PVCs of a StatefulSet's `volumeClaimTemplates`.
//!
//! These writes are the controllers', not the operator's: they are not logged and change
//! only `status` (or create PVCs), never a `generation`.

use serde_json::{Value, json};

use super::http::resource;
use super::store::{Key, State, now};

fn replicas(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": now(), "lastUpdateTime": now()})
}

/// The status of a workload whose current generation is rolled out and available.
pub(super) fn available(collection: &str, obj: &Value) -> Value {
    let n = replicas(obj);
    let generation = &obj["metadata"]["generation"];
    match resource(collection) {
        "statefulsets" => json!({
            "observedGeneration": generation, "replicas": n, "readyReplicas": n,
            "currentReplicas": n, "updatedReplicas": n, "availableReplicas": n,
            "currentRevision": format!("{}-r{generation}", obj["metadata"]["name"].as_str().unwrap_or_default()),
            "updateRevision": format!("{}-r{generation}", obj["metadata"]["name"].as_str().unwrap_or_default()),
        }),
        _ => json!({
            "observedGeneration": generation, "replicas": n, "readyReplicas": n,
            "updatedReplicas": n, "availableReplicas": n,
            "conditions": [
                condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                condition("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet has successfully progressed."),
            ],
        }),
    }
}

/// The status of a Deployment whose new rollout cannot make progress (`waiting` is the
/// reason its new pods wait: `ImagePullBackOff`, `CrashLoopBackOff`); the old replicas stay
/// available.
pub(super) fn stuck(obj: &Value, waiting: &str) -> Value {
    let n = replicas(obj);
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    json!({
        "observedGeneration": obj["metadata"]["generation"], "replicas": n + 1,
        "readyReplicas": n, "updatedReplicas": 1, "availableReplicas": n, "unavailableReplicas": 1,
        "conditions": [
            condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            condition("Progressing", "False", "ProgressDeadlineExceeded",
                      &format!("ReplicaSet \"{name}-new\" has timed out progressing ({waiting}).")),
        ],
    })
}

/// The status of a Job that completed or failed.
pub(super) fn finished(succeeded: bool) -> Value {
    if succeeded {
        json!({"succeeded": 1, "completionTime": now(), "conditions": [
            condition("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
            condition("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
        ]})
    } else {
        json!({"failed": 7, "conditions": [
            condition("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        ]})
    }
}

/// Creates the PVCs `<template>-<statefulset>-<ordinal>` the StatefulSet controller makes
/// for each replica. They are owned by the StatefulSet only when its
/// `persistentVolumeClaimRetentionPolicy.whenDeleted` is `Delete`; otherwise nothing owns
/// them and they outlive it. Returns the names created.
pub(super) fn claims(state: &mut State, key: &Key) -> Vec<String> {
    let sts = state.objects.get(key).cloned().expect("statefulset exists");
    let namespace = sts["metadata"]["namespace"].clone();
    let collection = key
        .0
        .replace("/apis/apps/v1/", "/api/v1/")
        .replace("/statefulsets", "/persistentvolumeclaims");
    let owned = sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete";
    let mut created = Vec::new();
    for template in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for ordinal in 0..replicas(&sts) {
            let name = format!(
                "{}-{}-{ordinal}",
                template["metadata"]["name"].as_str().unwrap_or_default(),
                key.1
            );
            if state
                .objects
                .contains_key(&(collection.clone(), name.clone()))
            {
                continue;
            }
            let mut pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": sts["spec"]["selector"]["matchLabels"]},
                "spec": template["spec"], "status": {"phase": "Bound"}});
            if owned {
                pvc["metadata"]["ownerReferences"] = json!([{
                    "apiVersion": "apps/v1", "kind": "StatefulSet", "name": key.1,
                    "uid": sts["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]);
            }
            state.insert(&collection, pvc);
            created.push(name);
        }
    }
    created
}
