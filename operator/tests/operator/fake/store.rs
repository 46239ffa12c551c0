//! Stored objects and the metadata the API server owns.
//!
//! - `metadata.uid` and `creationTimestamp` are set on create and never change.
//! - `metadata.resourceVersion` is a global counter (etcd's revision): every change gives the
//!   object a new one; a write that changes nothing keeps it (no-op updates are not
//!   persisted). A write carrying another `resourceVersion` than the stored one is refused
//!   with 409 Conflict (optimistic concurrency).
//! - `metadata.generation` is 1 on create and grows by one when the desired state changes:
//!   everything outside `metadata` and `status` (`spec`; `data` of Secrets and ConfigMaps).
//!   Status and metadata-only writes leave it alone.
//! - Status subresource: for the resources that have one, writes to the main resource keep
//!   the stored `status` (and create drops it), writes to `/status` change only `status`.
//! - Defaults the operator relies on: `spec.replicas` of Deployments and StatefulSets is 1
//!   when absent; a Service that is not headless gets a `clusterIP` allocated on create.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::http::{ApiError, Call, resource};

/// A stored object's collection path and name.
pub(super) type Key = (String, String);

/// Resources served with a status subresource.
const WITH_STATUS: [&str; 10] = [
    "clusters",
    "mongodbcommunity",
    "microservicestacks",
    "deployments",
    "statefulsets",
    "jobs",
    "services",
    "poddisruptionbudgets",
    "persistentvolumeclaims",
    "horizontalpodautoscalers",
];

/// Whether `collection` has a status subresource.
pub(super) fn has_status(collection: &str) -> bool {
    WITH_STATUS.contains(&resource(collection))
}

/// Everything the fake holds.
#[derive(Default)]
pub(super) struct State {
    pub objects: BTreeMap<Key, Value>,
    /// Managers of the fields whose ownership is tracked ([`super::ssa`]), by object and field.
    pub owners: BTreeMap<(Key, &'static str), Vec<String>>,
    /// How each manager last wrote an object (`Apply` or `Update`), for `managedFields`.
    pub operations: BTreeMap<(Key, String), &'static str>,
    /// The manager that applies each object whole (its first applier), see [`super::ssa`].
    pub primary: BTreeMap<Key, String>,
    pub log: Vec<Call>,
    pub fail_writes: Option<u16>,
    /// The optional API groups whose CRDs are installed (see `api::OPTIONAL_APIS`).
    pub installed: std::collections::BTreeSet<&'static str>,
    next_uid: u64,
    revision: u64,
    next_ip: u64,
}

/// The object without what never makes a write a change (`resourceVersion`).
fn persisted(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    v
}

/// The desired state: everything but `metadata` and `status`.
fn desired(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    v
}

/// The current time as the API server writes it.
pub(super) fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl State {
    fn next_revision(&mut self) -> Value {
        self.revision += 1;
        json!(self.revision.to_string())
    }

    /// The current revision, as list responses carry it.
    pub fn revision(&self) -> String {
        self.revision.to_string()
    }

    fn new_uid(&mut self) -> String {
        self.next_uid += 1;
        format!("00000000-0000-4000-8000-{:012}", self.next_uid)
    }

    fn defaults(&mut self, collection: &str, obj: &mut Value) {
        let resource = resource(collection);
        if matches!(resource, "deployments" | "statefulsets")
            && obj["spec"].is_object()
            && obj["spec"].get("replicas").is_none()
        {
            obj["spec"]["replicas"] = json!(1);
        }
        if resource == "services"
            && obj["spec"].is_object()
            && obj["spec"].get("clusterIP").is_none()
            && obj["spec"]["type"] != "ExternalName"
        {
            self.next_ip += 1;
            let ip = format!("10.96.{}.{}", self.next_ip / 250, self.next_ip % 250 + 1);
            obj["spec"]["clusterIP"] = json!(ip);
            obj["spec"]["clusterIPs"] = json!([ip]);
        }
    }

    /// Stores a new object with the metadata the API server sets.
    ///
    /// # Errors
    /// 409 `AlreadyExists`; 400 when the object carries a `resourceVersion`.
    pub fn create(&mut self, collection: &str, mut obj: Value) -> Result<Value, ApiError> {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let key = (collection.to_owned(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", resource(collection)),
            ));
        }
        if obj["metadata"].get("resourceVersion").is_some() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if has_status(collection)
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        self.defaults(collection, &mut obj);
        obj["metadata"]["uid"] = json!(self.new_uid());
        obj["metadata"]["generation"] = json!(1);
        obj["metadata"]["creationTimestamp"] = json!(now());
        obj["metadata"]["resourceVersion"] = self.next_revision();
        self.objects.insert(key, obj.clone());
        Ok(obj)
    }

    /// Stores `new` in place of `old`: keeps the metadata only the server sets, bumps
    /// `generation` when the desired state changed, persists nothing when nothing changed,
    /// and removes an object being deleted once its last finalizer is gone.
    ///
    /// Returns the stored object and whether anything changed.
    pub fn update(&mut self, key: &Key, old: &Value, mut new: Value) -> (Value, bool) {
        for field in [
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "resourceVersion",
        ] {
            match old["metadata"].get(field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    if let Some(meta) = new["metadata"].as_object_mut() {
                        meta.remove(field);
                    }
                }
            }
        }
        self.defaults(&key.0, &mut new);
        if persisted(&new) == persisted(old) {
            return (old.clone(), false);
        }
        if desired(&new) != desired(old) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        new["metadata"]["resourceVersion"] = self.next_revision();
        let finalized = new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
        if new["metadata"].get("deletionTimestamp").is_some() && finalized {
            self.remove(key);
        } else {
            self.objects.insert(key.clone(), new.clone());
        }
        (new, true)
    }

    /// Removes an object (and what the fake knows about its fields' managers).
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        self.owners.retain(|(k, _), _| k != key);
        self.operations.retain(|(k, _), _| k != key);
        self.primary.remove(key);
        self.objects.remove(key)
    }

    /// Stores an object as it is, as if it had been written earlier: a test's way to set up
    /// state (or a controller's status) without going through admission.
    pub fn insert(&mut self, collection: &str, mut obj: Value) {
        let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
        if obj["metadata"].get("uid").is_none() {
            obj["metadata"]["uid"] = json!(self.new_uid());
        }
        if obj["metadata"].get("generation").is_none() {
            obj["metadata"]["generation"] = json!(1);
        }
        obj["metadata"]["resourceVersion"] = self.next_revision();
        self.objects.insert((collection.to_owned(), name), obj);
    }

    /// Replaces an object's `status` as its controller would (no generation change).
    pub fn set_status(&mut self, key: &Key, status: Value) {
        let revision = self.next_revision();
        let obj = self.objects.get_mut(key).expect("object exists");
        obj["status"] = status;
        obj["metadata"]["resourceVersion"] = revision;
    }

    /// Whether a stored object with this uid exists.
    pub fn by_uid(&self, uid: &str) -> Option<(&Key, &Value)> {
        self.objects
            .iter()
            .find(|(_, o)| o["metadata"]["uid"] == uid)
    }
}

/// The 409 for a write whose `resourceVersion` precondition does not hold.
///
/// # Errors
/// When `new` carries a `resourceVersion` other than the stored one.
pub(super) fn check_version(key: &Key, old: &Value, new: &Value) -> Result<(), ApiError> {
    match new["metadata"].get("resourceVersion") {
        Some(v) if !v.is_null() && *v != old["metadata"]["resourceVersion"] => {
            Err(ApiError::conflict(&key.0, &key.1))
        }
        _ => Ok(()),
    }
}
