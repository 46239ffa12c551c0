//! The HTTP side of the fake: a request split into collection, name and subresource, its
//! query parameters, the request log, and the API server's `Status` error bodies.

use serde_json::{Value, json};

/// One request the operator (or a test acting as a user) made.
#[derive(Clone, Debug)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Collection path, e.g. `/apis/apps/v1/namespaces/shop/deployments`.
    pub collection: String,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource, if any (`status`, `scale`).
    pub subresource: Option<String>,
    /// Query string.
    pub query: String,
    /// Request body.
    pub body: Option<Value>,
    /// Whether the request changed stored state.
    pub changed: bool,
    /// The response code.
    pub code: u16,
}

impl Call {
    /// The resource plural of the collection (`deployments`, `secrets`, ...).
    pub fn resource(&self) -> &str {
        self.collection.rsplit('/').next().unwrap_or_default()
    }
}

/// A request as the fake sees it.
pub(super) struct Request {
    pub method: String,
    pub collection: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub query: String,
    pub content_type: String,
    pub body: Option<Value>,
}

impl Request {
    /// Parses a namespaced path (`/apis/<group>/<version>/namespaces/<ns>/<resource>/...`),
    /// or a discovery path (`/apis/<group>/<version>`), whose collection is the whole path.
    pub fn new(
        method: &str,
        path: &str,
        query: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> Self {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let Some(ns) = parts.iter().position(|p| *p == "namespaces") else {
            assert_eq!(method, "GET", "only discovery is served outside namespaces");
            return Self {
                method: method.to_owned(),
                collection: path.to_owned(),
                name: None,
                subresource: None,
                query: query.to_owned(),
                content_type: content_type.to_owned(),
                body,
            };
        };
        let resource_end = ns + 3;
        Self {
            method: method.to_owned(),
            collection: format!("/{}", parts[..resource_end.min(parts.len())].join("/")),
            name: parts.get(resource_end).map(|s| (*s).to_owned()),
            subresource: parts.get(resource_end + 1).map(|s| (*s).to_owned()),
            query: query.to_owned(),
            content_type: content_type.to_owned(),
            body,
        }
    }

    /// The resource plural (`deployments`).
    pub fn resource(&self) -> &str {
        resource(&self.collection)
    }

    /// A query parameter, percent-decoded.
    pub fn param(&self, key: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| decode(v))
        })
    }
}

/// The resource plural of a collection path.
pub(super) fn resource(collection: &str) -> &str {
    collection.rsplit('/').next().unwrap_or_default()
}

/// The kind as the API server names it in messages: `StatefulSet.apps`, `Secret`.
pub(super) fn qualified_kind(collection: &str, obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or("Object");
    match collection.strip_prefix("/apis/") {
        Some(rest) => format!("{kind}.{}", rest.split('/').next().unwrap_or_default()),
        None => kind.to_owned(),
    }
}

fn decode(value: &str) -> String {
    value
        .replace("%3D", "=")
        .replace("%2C", ",")
        .replace("%2F", "/")
        .replace("%3A", ":")
}

/// Whether `obj` matches the equality `labelSelector` of `query` (if any).
pub(super) fn matches_selector(obj: &Value, query: &str) -> bool {
    let Some(selector) = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("labelSelector="))
    else {
        return true;
    };
    decode(selector).split(',').all(|req| {
        let (k, v) = req.split_once('=').expect("equality selector");
        obj["metadata"]["labels"][k] == v
    })
}

/// An error as the API server reports it: a `Status` with a code, a reason and a message.
#[derive(Debug)]
pub(super) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn not_found(collection: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource(collection)),
        )
    }

    /// 409 for a write whose `resourceVersion` is not the stored one (optimistic concurrency).
    pub fn conflict(collection: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                resource(collection)
            ),
        )
    }

    /// 422 as validation reports it: `<Kind> "<name>" is invalid: <causes>`.
    pub fn invalid(kind: &str, name: &str, causes: &[String]) -> Self {
        Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {}", causes.join(", ")),
        )
    }

    /// The response body.
    pub fn body(&self) -> Value {
        json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
               "reason": self.reason, "message": self.message, "code": self.code})
    }
}

/// A JSON merge patch (RFC 7386): objects merge key by key, `null` deletes, anything else
/// replaces. Strategic merge patches are applied the same way (the operator sends none whose
/// lists would merge differently).
pub(super) fn merge(target: &mut Value, patch: &Value) {
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
