//! A stateful fake of the Kubernetes API server behind a `tower_test` mock (a kube `Client`),
//! as strict as the real one where an operator can go wrong:
//!
//! - [`store`]: uid, `resourceVersion` (409 on a stale one), `generation` (desired-state
//!   changes only), the status subresource, defaults;
//! - [`admission`]: immutable fields (422) and the CRD's CEL rules, transition rules included;
//! - [`ssa`]: server-side apply and field ownership of `spec.replicas`;
//! - [`gc`]: `deletionTimestamp`, finalizers, background and foreground garbage collection;
//! - [`sim`]: the kubelet and built-in controllers, run when a test says so.
//!
//! It logs every request ([`Call`]) so tests can assert what was written, in which order, and
//! whether a write changed anything.
#![allow(dead_code)]

mod admission;
mod api;
mod gc;
mod http;
mod sim;
mod ssa;
mod store;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use http::Request;
use kube::client::Body;
use serde_json::Value;

pub use http::Call;
pub mod reject;

/// Handle on the fake's state.
#[derive(Clone, Default)]
pub struct Fake {
    state: Arc<Mutex<store::State>>,
}

impl Fake {
    /// A client talking to a new fake.
    pub fn start() -> (Self, kube::Client) {
        let (service, mut handle) =
            tower_test::mock::pair::<::http::Request<Body>, ::http::Response<Body>>();
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
                    .unwrap_or_default();
                let request = Request::new(
                    parts.method.as_str(),
                    parts.uri.path(),
                    parts.uri.query().unwrap_or_default(),
                    content_type,
                    body,
                );
                let (code, value) = server.handle(&request);
                let response = ::http::Response::builder()
                    .status(::http::StatusCode::from_u16(code).expect("status"))
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&value).expect("json")))
                    .expect("response");
                send.send_response(response);
            }
        });
        (fake, kube::Client::new(service, "default"))
    }

    fn state(&self) -> MutexGuard<'_, store::State> {
        self.state.lock().unwrap()
    }

    fn handle(&self, request: &Request) -> (u16, Value) {
        let mut state = self.state();
        let is_write = request.method != "GET";
        let injected = state.fail_writes.filter(|_| {
            is_write && request.resource() != "events" && request.subresource.is_none()
        });
        let (code, value, changed) = match injected {
            Some(code) => {
                let e = http::ApiError::new(code, "InternalError", "injected failure");
                (code, e.body(), false)
            }
            None => api::serve(&mut state, request),
        };
        state.log.push(Call {
            method: request.method.clone(),
            collection: request.collection.clone(),
            name: request.name.clone(),
            subresource: request.subresource.clone(),
            query: request.query.clone(),
            body: request.body.clone(),
            changed,
            code,
        });
        (code, value)
    }

    /// Stores an object as if it had been written earlier (no admission): a fresh
    /// `resourceVersion`, and a uid and generation 1 unless it has them.
    pub fn insert(&self, collection: &str, obj: Value) {
        self.state().insert(collection, obj);
    }

    /// A stored object.
    pub fn get(&self, collection: &str, name: &str) -> Option<Value> {
        self.state()
            .objects
            .get(&(collection.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Names of the stored objects of a collection.
    pub fn names(&self, collection: &str) -> Vec<String> {
        self.state()
            .objects
            .keys()
            .filter(|(c, _)| c == collection)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Every stored object's `resource/name`.
    pub fn all(&self) -> Vec<String> {
        self.state()
            .objects
            .keys()
            .map(|(c, n)| format!("{}/{n}", http::resource(c)))
            .collect()
    }

    /// Runs the garbage collector until it has nothing left to do; returns what it deleted,
    /// as `resource/name`.
    pub fn collect_garbage(&self) -> Vec<String> {
        gc::collect(&mut self.state())
    }

    /// The field managers owning `pointer` (a JSON pointer such as `/spec/replicas`) of an
    /// object, for the fields whose ownership the fake tracks.
    pub fn managers(&self, collection: &str, name: &str, pointer: &str) -> Vec<String> {
        ssa::managers(
            &self.state(),
            &(collection.to_owned(), name.to_owned()),
            pointer,
        )
    }

    /// The Deployment or StatefulSet controller and the kubelet: the current generation is
    /// rolled out and every replica available.
    pub fn roll_out(&self, collection: &str, name: &str) {
        let mut state = self.state();
        let key = (collection.to_owned(), name.to_owned());
        let status = sim::available(collection, &state.objects[&key]);
        state.set_status(&key, status);
    }

    /// [`Self::roll_out`] for every Deployment and StatefulSet, and the StatefulSets' PVCs.
    pub fn roll_out_all(&self) {
        let keys: Vec<(String, String)> = self
            .state()
            .objects
            .keys()
            .filter(|(c, _)| matches!(http::resource(c), "deployments" | "statefulsets"))
            .cloned()
            .collect();
        for (collection, name) in keys {
            self.roll_out(&collection, &name);
            if http::resource(&collection) == "statefulsets" {
                self.provision_claims(&collection, &name);
            }
        }
    }

    /// The Deployment controller: the current generation's rollout cannot progress, its new
    /// pods waiting with `waiting` (`ImagePullBackOff`, `CrashLoopBackOff`).
    pub fn stall(&self, collection: &str, name: &str, waiting: &str) {
        let mut state = self.state();
        let key = (collection.to_owned(), name.to_owned());
        let status = sim::stuck(&state.objects[&key], waiting);
        state.set_status(&key, status);
    }

    /// The Job controller: the Job completed (or failed).
    pub fn finish_job(&self, collection: &str, name: &str, succeeded: bool) {
        let key = (collection.to_owned(), name.to_owned());
        self.state().set_status(&key, sim::finished(succeeded));
    }

    /// The StatefulSet controller: the PVCs of its `volumeClaimTemplates`; returns the names
    /// it created.
    pub fn provision_claims(&self, collection: &str, name: &str) -> Vec<String> {
        sim::claims(&mut self.state(), &(collection.to_owned(), name.to_owned()))
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Call> {
        self.state().log.clone()
    }

    /// Installs (or removes) the prometheus-operator's CRDs: its kinds are served from now on.
    pub fn prometheus_operator(&self, installed: bool) {
        self.install("monitoring.coreos.com/v1", installed);
    }

    /// Installs (or removes) the CRDs of an optional API group (`postgresql.cnpg.io/v1`,
    /// `mongodbcommunity.mongodb.com/v1`, ...): its kinds are served from now on.
    pub fn install(&self, group_version: &str, installed: bool) {
        let known = api::OPTIONAL_APIS
            .iter()
            .map(|(g, _)| *g)
            .find(|g| *g == group_version)
            .unwrap_or_else(|| panic!("{group_version} is not an optional API of the fake"));
        let mut state = self.state();
        if installed {
            state.installed.insert(known);
        } else {
            state.installed.remove(known);
        }
    }

    /// The object's operator: writes `status` on the status subresource's behalf (CNPG's
    /// Cluster status, the MongoDB operator's phase).
    pub fn set_status(&self, collection: &str, name: &str, status: Value) {
        let key = (collection.to_owned(), name.to_owned());
        self.state().set_status(&key, status);
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.state().log.clear();
    }

    /// Makes every object write (apply, create, delete; not status or events) fail with `code`,
    /// or succeed again.
    pub fn fail_writes(&self, code: Option<u16>) {
        self.state().fail_writes = code;
    }
}
