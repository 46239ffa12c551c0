//! Deletion, finalizers and the garbage collector.
//!
//! - `DELETE` of an object without finalizers removes it at once (`Background`, the default
//!   for every resource the operator uses); its dependents go when the garbage collector runs
//!   ([`collect`]), as the real one works asynchronously.
//! - `propagationPolicy=Foreground` sets `deletionTimestamp` and the `foregroundDeletion`
//!   finalizer: the owner stays, visible as being deleted, until the collector has deleted
//!   its dependents whose ownerReference has `blockOwnerDeletion: true`.
//! - `Orphan` adds the `orphan` finalizer: the collector removes the owner's reference from
//!   its dependents, which stay.
//! - An object with finalizers gets a `deletionTimestamp` and stays until an update removes
//!   its last finalizer. `preconditions` (uid, resourceVersion) are honoured (409).
//! - The collector deletes an object once none of its owners exists any more, or when every
//!   owner left is being deleted in the foreground; references to owners that are gone are
//!   removed from objects that keep another owner. Objects without ownerReferences (retained
//!   credential Secrets, PVCs of `volumeClaimTemplates` with `whenDeleted: Retain`) stay.

use serde_json::{Value, json};

use super::http::{ApiError, resource};
use super::store::{Key, State, now};

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn success() -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success", "code": 200})
}

/// Deletes the object at `key` with the `DeleteOptions` in `options`.
///
/// # Errors
/// 404 when absent; 409 when a precondition fails.
pub(super) fn delete(state: &mut State, key: &Key, options: &Value) -> Result<Value, ApiError> {
    let Some(obj) = state.objects.get(key).cloned() else {
        return Err(ApiError::not_found(&key.0, &key.1));
    };
    let preconditions = &options["preconditions"];
    for (field, pointer) in [
        ("uid", "/metadata/uid"),
        ("resourceVersion", "/metadata/resourceVersion"),
    ] {
        if let Some(expected) = preconditions.get(field).filter(|v| !v.is_null())
            && obj.pointer(pointer) != Some(expected)
        {
            return Err(ApiError::conflict(&key.0, &key.1));
        }
    }
    let policy = options["propagationPolicy"]
        .as_str()
        .unwrap_or("Background");
    let mut finals = finalizers(&obj);
    let extra = match policy {
        "Foreground" => Some(FOREGROUND),
        "Orphan" => Some(ORPHAN),
        _ => None,
    };
    if let Some(extra) = extra
        && !finals.iter().any(|f| f == extra)
    {
        finals.push(extra.to_owned());
    }
    if finals.is_empty() {
        state.remove(key);
        return Ok(success());
    }
    let mut new = obj.clone();
    new["metadata"]["finalizers"] = json!(finals);
    state.update(key, &obj, new.clone());
    // Only the server sets deletionTimestamp (an update keeps the stored one).
    let mut stored = state
        .objects
        .get(key)
        .cloned()
        .expect("kept by its finalizers");
    if stored["metadata"].get("deletionTimestamp").is_none() {
        stored["metadata"]["deletionTimestamp"] = json!(now());
        stored["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        state.objects.insert(key.clone(), stored.clone());
    }
    Ok(stored)
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn being_deleted_in_foreground(obj: &Value) -> bool {
    obj["metadata"].get("deletionTimestamp").is_some()
        && finalizers(obj).iter().any(|f| f == FOREGROUND)
}

/// Whether a stored object still blocks the foreground deletion of the owner `uid`.
fn blocks(obj: &Value, uid: &str) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["uid"] == uid && r["blockOwnerDeletion"] == true)
        })
}

fn drop_finalizer(state: &mut State, key: &Key, finalizer: &str) {
    let obj = state.objects.get(key).cloned().expect("exists");
    let mut new = obj.clone();
    let kept: Vec<String> = finalizers(&obj)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    new["metadata"]["finalizers"] = json!(kept);
    state.update(key, &obj, new);
}

/// One pass of the collector; returns what it deleted, as `resource/name`.
fn pass(state: &mut State) -> Vec<String> {
    let mut deleted = Vec::new();
    let keys: Vec<Key> = state.objects.keys().cloned().collect();
    for key in &keys {
        let Some(obj) = state.objects.get(key).cloned() else {
            continue;
        };
        let obj = &obj;
        let objects: Vec<(Key, Value)> = state
            .objects
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
        let finals = finalizers(obj);
        let deleting = obj["metadata"].get("deletionTimestamp").is_some();
        if deleting && finals.iter().any(|f| f == ORPHAN) {
            for (dependent, d) in &objects {
                if owner_uids(d).iter().any(|u| u == uid) {
                    let mut new = d.clone();
                    let refs: Vec<Value> = d["metadata"]["ownerReferences"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|r| r["uid"] != uid)
                        .cloned()
                        .collect();
                    new["metadata"]["ownerReferences"] = json!(refs);
                    state.update(dependent, d, new);
                }
            }
            drop_finalizer(state, key, ORPHAN);
            continue;
        }
        if deleting && finals.iter().any(|f| f == FOREGROUND) {
            let blocked = state.objects.values().any(|o| blocks(o, uid));
            if !blocked {
                drop_finalizer(state, key, FOREGROUND);
                if !state.objects.contains_key(key) {
                    deleted.push(format!("{}/{}", resource(&key.0), key.1));
                }
            }
            continue;
        }
        let owners = owner_uids(obj);
        if owners.is_empty() {
            continue;
        }
        let live: Vec<&String> = owners
            .iter()
            .filter(|u| state.by_uid(u).is_some())
            .collect();
        let all_going = live.iter().all(|u| {
            state
                .by_uid(u)
                .is_some_and(|(_, o)| being_deleted_in_foreground(o))
        });
        if live.is_empty() || all_going {
            if deleting {
                continue;
            }
            // Dependents of an object deleted in the foreground go in the foreground too.
            let policy = if live.is_empty() {
                "Background"
            } else {
                "Foreground"
            };
            let has_dependents = objects
                .iter()
                .any(|(_, d)| owner_uids(d).iter().any(|u| u == uid));
            let policy = if has_dependents { policy } else { "Background" };
            if delete(state, key, &json!({"propagationPolicy": policy})).is_ok()
                && !state.objects.contains_key(key)
            {
                deleted.push(format!("{}/{}", resource(&key.0), key.1));
            }
        } else if live.len() < owners.len() {
            let mut new = obj.clone();
            let refs: Vec<Value> = obj["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["uid"].as_str().is_some_and(|u| state.by_uid(u).is_some()))
                .cloned()
                .collect();
            new["metadata"]["ownerReferences"] = json!(refs);
            state.update(key, obj, new);
        }
    }
    deleted
}

/// Runs the garbage collector until it has nothing left to do; returns what it deleted.
pub(super) fn collect(state: &mut State) -> Vec<String> {
    let mut deleted = Vec::new();
    loop {
        let (revision, count) = (state.revision(), state.objects.len());
        deleted.extend(pass(state));
        // A pass that only removed finalizers or references still changed something.
        if state.revision() == revision && state.objects.len() == count {
            return deleted;
        }
    }
}
