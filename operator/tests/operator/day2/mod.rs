//! Day-2 scenarios: the real reconciler ([`operator::controller::reconcile`]) against the
//! strict fake API server ([`crate::fake`]), one scenario per test, each driven as a user and
//! the cluster's controllers would drive it (edits through the API, rollouts and garbage
//! collection when the test runs them).
//!
//! The Kubernetes behaviours the suite relies on, all modelled by the fake:
//! - `metadata.generation` grows only on spec changes, and workloads report the generation
//!   they rolled out in `status.observedGeneration`;
//! - admission: the CRD's CEL rules on create and update, transition rules (`oldSelf`)
//!   skipped where the old value is absent; immutable StatefulSet fields;
//! - the status subresource and `resourceVersion` preconditions;
//! - server-side apply ownership of `spec.replicas` (an Update by another manager takes it);
//! - deletion: background and foreground garbage collection through ownerReferences,
//!   `blockOwnerDeletion`, finalizers and `deletionTimestamp`;
//! - the StatefulSet controller's PVCs, which nothing owns under `whenDeleted: Retain`.

mod admission;
mod deletion;
mod edits;
mod engines;
mod monitoring;
mod replicas;
mod secrets;
mod upgrade;
mod volumes;

use std::sync::Arc;

use kube::api::{Api, PostParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use operator::controller::{Context, reconcile};
use operator::crd::MicroserviceStack;
use operator::metrics::Metrics;
use serde_json::{Value, json};

use crate::common::paths::{CLAIMS, DEPLOYMENTS, JOBS, NS, RESYNC, SECRETS, STACKS, STATEFUL_SETS};
use crate::common::{self, base64};
use crate::fake::{Call, Fake};

/// A cluster with one stack in it.
struct World {
    fake: Fake,
    ctx: Arc<Context>,
    stacks: Api<MicroserviceStack>,
    name: String,
}

impl World {
    /// A fake cluster; `fixture` created through the API (admission, uid, generation 1).
    async fn create(fixture: &str) -> Self {
        let (fake, client) = Fake::start();
        let stacks: Api<MicroserviceStack> = Api::namespaced(client.clone(), NS);
        let mut stack = common::load(fixture);
        stack.metadata.uid = None;
        stack.metadata.generation = None;
        stacks
            .create(&PostParams::default(), &stack)
            .await
            .expect("the fixture is admitted");
        let ctx = Arc::new(Context::new(client, Arc::new(Metrics::default()), RESYNC));
        Self {
            fake,
            ctx,
            stacks,
            name: stack.metadata.name.expect("name"),
        }
    }

    /// An `Api` of another kind in the namespace, as a user's client.
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.ctx.client.clone(), NS)
    }

    /// The stack as stored now.
    fn stack(&self) -> MicroserviceStack {
        serde_json::from_value(self.fake.get(STACKS, &self.name).expect("stack stored"))
            .expect("stack")
    }

    /// One reconcile of the stack as the controller's cache would hand it over (the stored
    /// object).
    async fn reconcile(&self) -> Action {
        let stack = self.stack();
        reconcile(Arc::new(DeserializeGuard(Ok(stack))), self.ctx.clone())
            .await
            .expect("reconcile succeeds")
    }

    /// `(status, reason, message)` of a condition of the stored stack.
    fn condition(&self, kind: &str) -> (String, String, String) {
        common::condition(&self.stack(), kind)
    }

    /// Asserts that the stack is Ready, showing its whole status when it is not.
    #[track_caller]
    fn assert_ready(&self) {
        let status = self.stack().status;
        assert_eq!(self.condition("Ready").0, "True", "{status:?}");
    }

    /// Asserts that condition `kind` of the stored stack has `status` for `reason`, and returns
    /// its message for the scenario's own checks.
    #[track_caller]
    fn assert_condition(&self, kind: &str, status: &str, reason: &str) -> String {
        common::assert_condition(&self.stack(), kind, status, reason)
    }

    /// Asserts that the stack is not Degraded, showing the condition when it is.
    #[track_caller]
    fn assert_not_degraded(&self) {
        let degraded = self.condition("Degraded");
        assert_eq!(degraded.0, "False", "{degraded:?}");
    }

    /// Replaces the stored stack with `change` applied, through the API (a spec edit, admitted
    /// like a user's).
    async fn edit(&self, change: impl FnOnce(&mut MicroserviceStack)) {
        let mut stack = self.stack();
        change(&mut stack);
        self.stacks
            .replace(&self.name, &PostParams::default(), &stack)
            .await
            .expect("the edit is admitted");
    }

    /// `status.observedGeneration` of the stored stack.
    fn observed_generation(&self) -> Option<i64> {
        self.stack().status.and_then(|s| s.observed_generation)
    }

    /// Creates the stack, applies it, lets every workload roll out and every Job complete:
    /// Ready.
    async fn ready(fixture: &str) -> Self {
        let world = Self::create(fixture).await;
        world.reconcile().await;
        world.fake.roll_out_all();
        for job in world.fake.names(JOBS) {
            world.fake.finish_job(JOBS, &job, true);
        }
        world.reconcile().await;
        world.assert_ready();
        world
    }
}

/// The writes of `log` that changed stored state, as `METHOD resource/name[/subresource]`.
fn changing_writes(log: &[Call]) -> Vec<String> {
    log.iter()
        .filter(|c| c.changed && c.resource() != "events")
        .map(|c| {
            let sub = c
                .subresource
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default();
            format!(
                "{} {}/{}{sub}",
                c.method,
                c.resource(),
                c.name.as_deref().unwrap_or("")
            )
        })
        .collect()
}

/// A user's Secret with the keys external databases and the admin password need.
fn user_secret(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": name, "namespace": NS},
           "data": {"host": base64("db.example.com"), "username": base64("admin"),
                    "password": base64("pw")}})
}
