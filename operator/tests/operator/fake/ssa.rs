//! Server-side apply and field ownership, modelled for what an operator relies on.
//!
//! The model:
//! - An apply (`PATCH`, `application/apply-patch+yaml`, `fieldManager=X`) states X's whole
//!   intent: the stored object becomes the applied one, keeping only what the server set
//!   (uid, resourceVersion, generation, timestamps, status) and what nobody applies (a
//!   Service's allocated `clusterIP`, finalizers other controllers added).
//! - One manager applies an object whole: its first applier (the operator). An apply by any
//!   other manager names only the fields that manager cares about, and is merged into the
//!   stored object, as the API server merges the configurations of several appliers (the
//!   operator's replicas hand-off applies `spec.replicas` alone this way).
//! - For the tracked fields ([`TRACKED`], `spec.replicas` of Deployments and StatefulSets)
//!   ownership is tracked per manager as Kubernetes does: an apply that names the field owns
//!   it (alone if it changed the value, shared if another manager had applied the same
//!   value); an apply by X that omits a field X owned alone removes it (and the default, 1,
//!   comes back); if another manager still owns it, or X never did, it stays.
//! - An Update (`PUT`, merge patch, `/scale`) that changes a tracked field's value makes its
//!   manager the sole owner. This is how an HPA (scale subresource) takes `spec.replicas`
//!   over, and keeps it only once the operator stops applying it.
//! - An apply without `force=true` that would change a tracked field another manager owns
//!   is refused with 409 Conflict, as the API server does.

use serde_json::{Value, json};

use super::http::{ApiError, merge, resource};
use super::store::{Key, State};

/// Fields whose managers are tracked, by resource, as JSON pointers.
pub(super) const TRACKED: [(&str, &str); 2] = [
    ("deployments", "/spec/replicas"),
    ("statefulsets", "/spec/replicas"),
];

fn tracked(collection: &str) -> impl Iterator<Item = &'static str> + '_ {
    TRACKED
        .iter()
        .filter(move |(r, _)| *r == resource(collection))
        .map(|(_, f)| *f)
}

fn set(obj: &mut Value, pointer: &str, value: Value) {
    let (parent, field) = pointer.rsplit_once('/').expect("pointer");
    if let Some(parent) = obj.pointer_mut(parent).and_then(Value::as_object_mut) {
        parent.insert(field.to_owned(), value);
    }
}

fn unset(obj: &mut Value, pointer: &str) {
    let (parent, field) = pointer.rsplit_once('/').expect("pointer");
    if let Some(parent) = obj.pointer_mut(parent).and_then(Value::as_object_mut) {
        parent.remove(field);
    }
}

/// The object an apply by `manager` stores, its tracked fields' owners updated.
///
/// # Errors
/// 409 Conflict when, without `force`, the apply would change a field another manager owns.
pub(super) fn apply(
    state: &mut State,
    key: &Key,
    old: Option<&Value>,
    patch: Value,
    manager: &str,
    force: bool,
) -> Result<Value, ApiError> {
    let primary = state
        .primary
        .entry(key.clone())
        .or_insert_with(|| manager.to_owned())
        .clone();
    let mut new = match old {
        Some(old) if primary != manager => {
            let mut merged = old.clone();
            merge(&mut merged, &patch);
            merged
        }
        _ => patch,
    };
    if let Some(old) = old {
        // Fields the server allocated or other controllers added are not the applier's.
        for pointer in ["/spec/clusterIP", "/spec/clusterIPs"] {
            if new.pointer(pointer).is_none()
                && let Some(v) = old.pointer(pointer)
            {
                set(&mut new, pointer, v.clone());
            }
        }
        if new.pointer("/metadata/finalizers").is_none()
            && let Some(v) = old.pointer("/metadata/finalizers")
        {
            set(&mut new, "/metadata/finalizers", v.clone());
        }
    }
    state
        .operations
        .insert((key.clone(), manager.to_owned()), "Apply");
    for field in tracked(&key.0) {
        let owners = state.owners.entry((key.clone(), field)).or_default();
        let current = old.and_then(|o| o.pointer(field)).cloned();
        match new.pointer(field).cloned() {
            Some(value) if current.as_ref() != Some(&value) => {
                let others: Vec<&String> = owners.iter().filter(|m| *m != manager).collect();
                if !force && !others.is_empty() {
                    return Err(ApiError::new(
                        409,
                        "Conflict",
                        format!(
                            "Apply failed with 1 conflict: conflict with {:?}: .{}",
                            others[0],
                            field.trim_start_matches('/').replace('/', ".")
                        ),
                    ));
                }
                *owners = vec![manager.to_owned()];
            }
            Some(_) => {
                if !owners.iter().any(|m| m == manager) {
                    owners.push(manager.to_owned());
                }
            }
            None => {
                let owned = owners.iter().any(|m| m == manager);
                owners.retain(|m| m != manager);
                if owned && owners.is_empty() {
                    // Released by its only owner: removed, so the default applies again.
                    unset(&mut new, field);
                } else if let Some(value) = current {
                    set(&mut new, field, value);
                }
            }
        }
    }
    Ok(new)
}

/// Records an Update (create, `PUT`, merge patch, `/scale`) by `manager`: it owns every
/// tracked field whose value it changed.
pub(super) fn update(
    state: &mut State,
    key: &Key,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
) {
    state
        .operations
        .insert((key.clone(), manager.to_owned()), "Update");
    for field in tracked(&key.0) {
        let before = old.and_then(|o| o.pointer(field));
        let after = new.pointer(field);
        if before != after {
            let owners = state.owners.entry((key.clone(), field)).or_default();
            *owners = after.map(|_| manager.to_owned()).into_iter().collect();
        }
    }
}

/// `obj` (stored at `key`) as the API server returns it: with `metadata.managedFields` for the
/// tracked fields, one entry per owning manager, which is how clients (the operator's replicas
/// hand-off among them) read field ownership.
pub(super) fn presented(state: &State, key: &Key, mut obj: Value) -> Value {
    let mut entries = Vec::new();
    for field in tracked(&key.0) {
        // `/spec/replicas` → `{"f:spec": {"f:replicas": {}}}`.
        let fields = field.trim_start_matches('/').split('/').rev().fold(
            json!({}),
            |inner, part| json!({ format!("f:{part}"): inner }),
        );
        for manager in managers(state, key, field) {
            let operation = state
                .operations
                .get(&(key.clone(), manager.clone()))
                .copied()
                .unwrap_or("Update");
            entries.push(json!({
                "manager": manager,
                "operation": operation,
                "apiVersion": obj["apiVersion"],
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            }));
        }
    }
    if !entries.is_empty()
        && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("managedFields".to_owned(), Value::Array(entries));
    }
    obj
}

/// The managers of `pointer` on the object at `key`.
pub(super) fn managers(state: &State, key: &Key, pointer: &str) -> Vec<String> {
    state
        .owners
        .iter()
        .find(|((k, f), _)| k == key && *f == pointer)
        .map(|(_, m)| m.clone())
        .unwrap_or_default()
}
