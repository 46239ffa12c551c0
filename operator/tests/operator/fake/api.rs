//! The verbs: get, list, create, patch (apply, merge, strategic), replace, delete, on the
//! main resource and on the `status` and `scale` subresources.

use serde_json::{Value, json};

use super::admission;
use super::gc;
use super::http::{ApiError, Request, matches_selector, merge};
use super::ssa;
use super::store::{self, Key, State, has_status};

/// The manager of a write: `fieldManager`, else what the API server derives for clients that
/// name none.
fn manager(req: &Request) -> String {
    req.param("fieldManager")
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Serves one request; returns the response code, its body, and whether state changed.
pub(super) fn serve(state: &mut State, req: &Request) -> (u16, Value, bool) {
    let revision = (state.revision(), state.objects.len());
    if let Some(result) = optional_api(state, req) {
        return match result {
            Ok(body) => (200, body, false),
            Err(e) => (e.code, e.body(), false),
        };
    }
    let result = match (req.method.as_str(), &req.name) {
        ("GET", Some(name)) => get(state, req, name),
        ("GET", None) => Ok((200, list(state, req))),
        ("POST", _) => create(state, req),
        ("PATCH" | "PUT", Some(name)) => write(state, req, name),
        ("DELETE", Some(name)) => {
            let key = (req.collection.clone(), name.clone());
            let options = req.body.clone().unwrap_or_else(|| json!({}));
            gc::delete(state, &key, &options).map(|v| (200, v))
        }
        _ => Err(ApiError::new(405, "MethodNotAllowed", "unsupported")),
    };
    let changed = (state.revision(), state.objects.len()) != revision;
    match result {
        Ok((code, body)) => (code, body, changed),
        Err(e) => (e.code, e.body(), changed),
    }
}

/// The custom API groups a cluster may lack, with their resources and kinds.
pub(super) const OPTIONAL_APIS: [(&str, &[(&str, &str)]); 3] = [
    (
        "monitoring.coreos.com/v1",
        &[
            ("servicemonitors", "ServiceMonitor"),
            ("podmonitors", "PodMonitor"),
            ("prometheusrules", "PrometheusRule"),
        ],
    ),
    (
        "postgresql.cnpg.io/v1",
        &[
            ("clusters", "Cluster"),
            ("databases", "Database"),
            ("scheduledbackups", "ScheduledBackup"),
        ],
    ),
    (
        "mongodbcommunity.mongodb.com/v1",
        &[("mongodbcommunity", "MongoDBCommunity")],
    ),
];

/// The optional API groups ([`OPTIONAL_APIS`]), served only once their CRDs are installed:
/// their discovery documents, and a 404 for any request to their kinds without them (as a
/// real API server answers for a group it does not know). `None` for the built-in APIs.
fn optional_api(state: &State, req: &Request) -> Option<Result<Value, ApiError>> {
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    if !req.collection.contains("/namespaces/") {
        let served = OPTIONAL_APIS.iter().find(|(group_version, _)| {
            req.collection == format!("/apis/{group_version}")
                && state.installed.contains(group_version)
        });
        let Some((group_version, kinds)) = served else {
            return Some(Err(not_found()));
        };
        let resources: Vec<Value> = kinds
            .iter()
            .map(|(name, kind)| {
                json!({"name": name, "singularName": "", "namespaced": true, "kind": kind,
                       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
            })
            .collect();
        return Some(Ok(json!({"kind": "APIResourceList", "apiVersion": "v1",
                              "groupVersion": group_version, "resources": resources})));
    }
    OPTIONAL_APIS
        .iter()
        .find(|(group_version, _)| {
            req.collection
                .starts_with(&format!("/apis/{group_version}/"))
        })
        .filter(|(group_version, _)| !state.installed.contains(group_version))
        .map(|_| Err(not_found()))
}

fn get(state: &State, req: &Request, name: &str) -> Result<(u16, Value), ApiError> {
    let obj = state
        .objects
        .get(&(req.collection.clone(), name.to_owned()))
        .ok_or_else(|| ApiError::not_found(&req.collection, name))?;
    if req.subresource.as_deref() == Some("scale") {
        return Ok((200, scale(obj)));
    }
    let key = (req.collection.clone(), name.to_owned());
    Ok((200, ssa::presented(state, &key, obj.clone())))
}

/// The `autoscaling/v1` Scale of a Deployment or StatefulSet.
fn scale(obj: &Value) -> Value {
    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
           "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"],
                        "resourceVersion": obj["metadata"]["resourceVersion"]},
           "spec": {"replicas": obj["spec"]["replicas"]},
           "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0)}})
}

fn list(state: &State, req: &Request) -> Value {
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|((c, _), obj)| *c == req.collection && matches_selector(obj, &req.query))
        .map(|(key, obj)| ssa::presented(state, key, obj.clone()))
        .collect();
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": state.revision()},
           "items": items})
}

fn create(state: &mut State, req: &Request) -> Result<(u16, Value), ApiError> {
    let obj = req.body.clone().expect("create body");
    admission::admit(&req.collection, None, &obj)?;
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key = (req.collection.clone(), name);
    let stored = state.create(&req.collection, obj)?;
    ssa::update(state, &key, None, &stored, &manager(req));
    Ok((201, stored))
}

/// `PATCH` and `PUT`, on the object or a subresource.
fn write(state: &mut State, req: &Request, name: &str) -> Result<(u16, Value), ApiError> {
    let key: Key = (req.collection.clone(), name.to_owned());
    let body = req.body.clone().expect("write body");
    let apply = req.method == "PATCH" && req.content_type.starts_with("application/apply-patch");
    if req.method == "PATCH" && req.content_type.starts_with("application/json-patch") {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "JSON patch is not modelled",
        ));
    }
    let manager = manager(req);
    if apply && req.param("fieldManager").is_none() {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "PATCH, application/apply-patch+yaml: fieldManager is required",
        ));
    }
    let Some(old) = state.objects.get(&key).cloned() else {
        if apply && req.subresource.is_none() {
            // An apply creates what does not exist yet.
            admission::admit(&req.collection, None, &body)?;
            let owners = state.owners.clone();
            let new = ssa::apply(state, &key, None, body, &manager, true)?;
            return match state.create(&req.collection, new) {
                Ok(stored) => Ok((201, stored)),
                Err(e) => {
                    state.owners = owners;
                    Err(e)
                }
            };
        }
        return Err(ApiError::not_found(&req.collection, name));
    };
    let owners = state.owners.clone();
    let result = update(state, req, &key, &old, body, apply, &manager);
    if result.is_err() {
        // Refused writes change no ownership either.
        state.owners = owners;
    }
    result
}

fn update(
    state: &mut State,
    req: &Request,
    key: &Key,
    old: &Value,
    body: Value,
    apply: bool,
    manager: &str,
) -> Result<(u16, Value), ApiError> {
    let merged = |mut target: Value| {
        if req.method == "PUT" {
            body.clone()
        } else {
            merge(&mut target, &body);
            target
        }
    };
    let new = match req.subresource.as_deref() {
        Some("status") => {
            let written = if apply {
                body.clone()
            } else {
                merged(old.clone())
            };
            store::check_version(key, old, &written)?;
            let mut new = old.clone();
            new["status"] = written["status"].clone();
            new
        }
        Some("scale") => {
            store::check_version(key, old, &body)?;
            let mut new = old.clone();
            new["spec"]["replicas"] = body["spec"]["replicas"].clone();
            ssa::update(state, key, Some(old), &new, manager);
            new
        }
        Some(other) => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("no subresource {other}"),
            ));
        }
        None => {
            let mut new = if apply {
                let force = req.param("force").as_deref() == Some("true");
                store::check_version(key, old, &body)?;
                ssa::apply(state, key, Some(old), body.clone(), manager, force)?
            } else {
                let new = merged(old.clone());
                store::check_version(key, old, &new)?;
                ssa::update(state, key, Some(old), &new, manager);
                new
            };
            if has_status(&req.collection) {
                match old.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            new
        }
    };
    if req.subresource.is_none() {
        admission::admit(&req.collection, Some(old), &new)?;
    }
    let (stored, _) = state.update(key, old, new);
    if req.subresource.as_deref() == Some("scale") {
        return Ok((200, scale(&stored)));
    }
    Ok((200, stored))
}
