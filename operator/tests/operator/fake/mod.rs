//! A small stateful fake of the Kubernetes API behind a `tower_test` mock: it stores objects by
//! path, answers get/list/create/apply/delete like the apiserver, and logs every request so
//! tests can assert what was written, in which order, and whether a write changed anything.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

pub mod reject;

/// One request the operator made.
#[derive(Clone, Debug)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Collection path, e.g. `/apis/apps/v1/namespaces/shop/deployments`.
    pub collection: String,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource, if any (`status`).
    pub subresource: Option<String>,
    /// Query string.
    pub query: String,
    /// Request body.
    pub body: Option<Value>,
    /// Whether the request changed stored state.
    pub changed: bool,
}

impl Call {
    /// The resource plural of the collection (`deployments`, `secrets`, ...).
    pub fn resource(&self) -> &str {
        self.collection.rsplit('/').next().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<(String, String), Value>,
    log: Vec<Call>,
    fail_writes: Option<u16>,
    next_uid: u64,
}

/// Handle on the fake's state.
#[derive(Clone, Default)]
pub struct Fake {
    state: Arc<Mutex<State>>,
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
               "reason": reason, "message": message, "code": code}),
    )
}

fn split(path: &str) -> (String, Option<String>, Option<String>) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ns = parts
        .iter()
        .position(|p| *p == "namespaces")
        .expect("namespaced path");
    let resource_end = ns + 3;
    let collection = format!("/{}", parts[..resource_end.min(parts.len())].join("/"));
    (
        collection,
        parts.get(resource_end).map(|s| (*s).to_owned()),
        parts.get(resource_end + 1).map(|s| (*s).to_owned()),
    )
}

fn matches_selector(obj: &Value, query: &str) -> bool {
    let Some(selector) = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("labelSelector="))
    else {
        return true;
    };
    let selector = selector
        .replace("%3D", "=")
        .replace("%2C", ",")
        .replace("%2F", "/");
    selector.split(',').all(|req| {
        let (k, v) = req.split_once('=').expect("equality selector");
        obj["metadata"]["labels"][k] == v
    })
}

/// A JSON merge patch (RFC 7386): objects merge key by key, `null` deletes, anything else
/// replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let object = target.as_object_mut().expect("object");
    for (k, v) in fields {
        if v.is_null() {
            object.remove(k);
        } else {
            merge(object.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn strip_volatile(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    v
}

impl Fake {
    /// A client talking to a new fake.
    pub fn start() -> (Self, kube::Client) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = Self::default();
        let server = fake.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.expect("request body");
                let body: Option<Value> =
                    (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).expect("json body"));
                let content_type = parts
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let (code, value) = server.handle(
                    parts.method.as_str(),
                    parts.uri.path(),
                    parts.uri.query().unwrap_or_default(),
                    &content_type,
                    body,
                );
                let response = Response::builder()
                    .status(StatusCode::from_u16(code).expect("status"))
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&value).expect("json")))
                    .expect("response");
                send.send_response(response);
            }
        });
        (fake, kube::Client::new(service, "default"))
    }

    /// Stores an object as if it existed already (its path from apiVersion, kind and namespace).
    pub fn insert(&self, collection: &str, obj: Value) {
        let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
        self.state
            .lock()
            .unwrap()
            .objects
            .insert((collection.to_owned(), name), obj);
    }

    /// A stored object.
    pub fn get(&self, collection: &str, name: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .objects
            .get(&(collection.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Names of the stored objects of a collection.
    pub fn names(&self, collection: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .objects
            .keys()
            .filter(|(c, _)| c == collection)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Deletes every object owned by `owner_uid`, as the garbage collector does once the owner
    /// is gone; returns the deleted objects' names.
    pub fn collect_garbage(&self, owner_uid: &str) -> Vec<String> {
        let mut state = self.state.lock().unwrap();
        let owned: Vec<(String, String)> = state
            .objects
            .iter()
            .filter(|(_, obj)| {
                obj["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid))
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in &owned {
            state.objects.remove(key);
        }
        owned.into_iter().map(|(_, name)| name).collect()
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Call> {
        self.state.lock().unwrap().log.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// Makes every object write (apply, create, delete; not status or events) fail with `code`,
    /// or succeed again.
    pub fn fail_writes(&self, code: Option<u16>) {
        self.state.lock().unwrap().fail_writes = code;
    }

    fn handle(
        &self,
        method: &str,
        path: &str,
        query: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (collection, name, subresource) = split(path);
        let mut state = self.state.lock().unwrap();
        let is_event = collection.ends_with("/events");
        let is_write = method != "GET";
        let mut call = Call {
            method: method.to_owned(),
            collection: collection.clone(),
            name: name.clone(),
            subresource: subresource.clone(),
            query: query.to_owned(),
            body: body.clone(),
            changed: false,
        };
        let injected = state
            .fail_writes
            .filter(|_| is_write && !is_event && subresource.is_none());
        let result = if let Some(code) = injected {
            status(code, "InternalError", "injected failure")
        } else {
            match (method, name) {
                ("GET", Some(name)) => match state.objects.get(&(collection, name.clone())) {
                    Some(obj) => (200, obj.clone()),
                    None => status(404, "NotFound", &format!("{name} not found")),
                },
                ("GET", None) => {
                    let items: Vec<Value> = state
                        .objects
                        .iter()
                        .filter(|((c, _), obj)| *c == collection && matches_selector(obj, query))
                        .map(|(_, obj)| obj.clone())
                        .collect();
                    (
                        200,
                        json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
                    )
                }
                ("POST", _) => {
                    let mut obj = body.expect("create body");
                    let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
                    let key = (collection, name.clone());
                    if state.objects.contains_key(&key) {
                        status(409, "AlreadyExists", &format!("{name} already exists"))
                    } else {
                        state.next_uid += 1;
                        obj["metadata"]["uid"] = json!(format!("uid-{}", state.next_uid));
                        obj["metadata"]["resourceVersion"] = json!("1");
                        state.objects.insert(key, obj.clone());
                        call.changed = true;
                        (201, obj)
                    }
                }
                ("PATCH", Some(name)) => {
                    let key = (collection, name.clone());
                    let existing = state.objects.get(&key).cloned();
                    let patch = body.expect("patch body");
                    let new = if subresource.as_deref() == Some("status") {
                        existing.clone().map(|mut o| {
                            o["status"] = patch["status"].clone();
                            o
                        })
                    } else if content_type.starts_with("application/apply-patch") {
                        let mut o = patch;
                        if let Some(old) = &existing {
                            o["metadata"]["uid"] = old["metadata"]["uid"].clone();
                            if let Some(s) = old.get("status") {
                                o["status"] = s.clone();
                            }
                        } else {
                            state.next_uid += 1;
                            o["metadata"]["uid"] = json!(format!("uid-{}", state.next_uid));
                        }
                        Some(o)
                    } else {
                        existing.clone().map(|mut o| {
                            merge(&mut o, &patch);
                            o
                        })
                    };
                    match new {
                        Some(new) => {
                            call.changed =
                                existing.map(strip_volatile) != Some(strip_volatile(new.clone()));
                            state.objects.insert(key, new.clone());
                            (200, new)
                        }
                        None => status(404, "NotFound", &format!("{name} not found")),
                    }
                }
                ("DELETE", Some(name)) => match state.objects.remove(&(collection, name.clone())) {
                    Some(_) => {
                        call.changed = true;
                        (
                            200,
                            json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success", "code": 200}),
                        )
                    }
                    None => status(404, "NotFound", &format!("{name} not found")),
                },
                _ => status(405, "MethodNotAllowed", "unsupported"),
            }
        };
        state.log.push(call);
        result
    }
}
