//! The controller: watches stacks and their children and runs the reconcile
//! [pipeline](crate::reconcile) for each; here are the kube `Controller` wiring, when to look
//! at a stack again, and the per-object backoff.
//!
//! Invalid stacks (failing validation or deserialization) get a `Degraded` condition and a
//! Warning Event and wait for a change instead of looping.
//!
//! Secrets are watched only when they carry the operator's `managed-by` label (the ones it
//! creates). Secrets a user references (`existingSecret`, `adminPasswordSecret`) are read by
//! name with a GET on every reconcile, so the operator never lists or caches the other Secrets
//! of the cluster; a change to one of them reaches the stack on its next reconcile (any change
//! to the stack or its children, or the resync period). API errors back off exponentially
//! per object; a success resets the backoff. Every successful reconcile requeues after the
//! resync period to correct drift, and sooner while the stack is not ready.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, instrument, warn};

use crate::crd::MicroserviceStack;
use crate::error::Error;
use crate::manifests::common::{LABEL_MANAGED_BY, MANAGED_BY};
use crate::metrics::Metrics;
use crate::reconcile::{self as pipeline, events};
use crate::server::Health;
use crate::status::{self, Outcome};

/// Name of the controller in Events.
pub const CONTROLLER_NAME: &str = "natstack-operator";
/// First retry delay after an error.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay after repeated errors.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The watched resource: a stack, or the metadata of one that failed to deserialize.
pub type Guarded = DeserializeGuard<MicroserviceStack>;

/// What every reconcile shares.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Event recorder (one per controller, so repeated events aggregate).
    pub recorder: Recorder,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Period after which a healthy stack is reconciled again (drift correction).
    pub resync: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context with no failures recorded yet.
    #[must_use]
    pub fn new(client: Client, metrics: Arc<Metrics>, resync: Duration) -> Self {
        let reporter = Reporter {
            controller: CONTROLLER_NAME.into(),
            instance: std::env::var(contract::deploy::env::operator::POD_NAME).ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            resync,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one more failure of `key` and returns the delay before its next attempt.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures();
        let count = failures.entry(key.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        backoff_delay(*count)
    }

    /// Forgets the failures of `key` after a success.
    pub fn reset(&self, key: &str) {
        self.failures().remove(key);
    }
}

/// Exponential backoff: 1 s after the first failure, doubling, at most 5 min.
#[must_use]
pub fn backoff_delay(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

fn key(obj: &Guarded) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// How soon a stack waiting for a Secret is reconciled again: one it references (missing, or
/// lacking a key), or a lost credential Secret someone must restore.
pub const SECRET_RETRY_AFTER: Duration = Duration::from_secs(15);

/// How soon a stack that is not ready is reconciled again, whatever its workloads do: a crash
/// loop or an image that cannot be pulled changes no watched object, and must still be noticed
/// and reported (`RolloutStuck`) well before the resync period.
pub const NOT_READY_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Reconciles one stack: runs the [pipeline](crate::reconcile) and records the result.
///
/// # Errors
/// Transient failures (API errors), after recording them in status; the controller then calls
/// [`error_policy`].
#[instrument(skip_all, fields(stack = %key(&obj)))]
pub async fn reconcile(obj: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let stack = match &obj.0 {
        Ok(stack) => stack,
        Err(invalid) => {
            warn!(error = %invalid, "stack does not deserialize");
            let reason = events::Reason::InvalidObject;
            events::publish(&ctx, obj.as_ref(), reason, &invalid.to_string()).await;
            ctx.metrics.record("invalid", started);
            return Ok(Action::await_change());
        }
    };
    let result = pipeline::run(stack, &ctx).await;
    match &result {
        Ok(_) => {
            ctx.reset(&key(&obj));
            ctx.metrics.record("ok", started);
        }
        Err(_) => ctx.metrics.record("error", started),
    }
    result
}

/// When to reconcile again after a reconcile that did not fail: after the resync period; at
/// most [`NOT_READY_RETRY_AFTER`] while the stack is not ready or a child was rejected; at most
/// [`status::JOB_RETRY_AFTER`] while a provisioning Job has failed, so that it is run again
/// that soon.
#[must_use]
pub fn requeue_after(outcome: &Outcome, resync: Duration) -> Duration {
    match outcome {
        Outcome::Applied {
            components, stuck, ..
        } => {
            let ready =
                stuck.is_empty() && !components.is_empty() && components.iter().all(|c| c.ready);
            let failed_job = components.iter().any(|c| c.kind == "Job" && !c.ready);
            let mut delay = resync;
            if !ready {
                delay = delay.min(NOT_READY_RETRY_AFTER);
            }
            if failed_job {
                delay = delay.min(status::JOB_RETRY_AFTER);
            }
            delay
        }
        Outcome::Failed { .. } => resync.min(NOT_READY_RETRY_AFTER),
        Outcome::Paused | Outcome::Invalid(_) => resync,
    }
}

/// Retry delay after a failed reconcile: per-object exponential backoff.
#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature Controller::run expects"
)]
pub fn error_policy(obj: Arc<Guarded>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff(&key(&obj));
    warn!(stack = %key(&obj), %error, delay_secs = delay.as_secs(), "reconcile failed; backing off");
    Action::requeue(delay)
}

/// Runs the controller in `namespace` or cluster-wide until `shutdown` resolves.
///
/// After `shutdown`, no new reconcile starts and the ones in flight get `grace` to finish.
/// The bound matters when the API server is unreachable: the watchers then retry forever and
/// kube's graceful drain never completes, so without it the process would ignore SIGTERM until
/// the kubelet kills it.
pub async fn run(
    client: Client,
    namespace: Option<&str>,
    health: Health,
    resync: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) {
    fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        namespace.map_or_else(
            || Api::all(client.clone()),
            |ns| Api::namespaced(client.clone(), ns),
        )
    }
    let owned = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
    let controller = Controller::new(
        api::<Guarded>(&client, namespace),
        watcher::Config::default().any_semantic(),
    );
    let ready_store = controller.store();
    health.metrics.stacks.watch(ready_store.clone());
    let ready = health.ready.clone();
    tokio::spawn(async move {
        if ready_store.wait_until_ready().await.is_ok() {
            ready.store(true, Ordering::Release);
            info!("caches synced");
        }
    });
    let ctx = Arc::new(Context::new(client.clone(), health.metrics.clone(), resync));
    let shutdown = shutdown.shared();
    let drained = controller
        .owns(api::<Deployment>(&client, namespace), owned.clone())
        .owns(api::<StatefulSet>(&client, namespace), owned.clone())
        .owns(api::<Service>(&client, namespace), owned.clone())
        .owns(api::<ConfigMap>(&client, namespace), owned.clone())
        .owns(api::<Secret>(&client, namespace), owned.clone())
        .owns(api::<NetworkPolicy>(&client, namespace), owned.clone())
        .owns(
            api::<PodDisruptionBudget>(&client, namespace),
            owned.clone(),
        )
        .owns(api::<Job>(&client, namespace), owned.clone())
        .owns(api::<HorizontalPodAutoscaler>(&client, namespace), owned)
        .graceful_shutdown_on(shutdown.clone())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => info!(stack = %obj, "reconciled"),
                Err(e) => warn!(error = %e, "controller error"),
            }
        });
    let grace_over = async move {
        shutdown.await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = drained => info!("controller stopped"),
        () = grace_over => warn!(
            grace_secs = grace.as_secs(),
            "reconciles still running after the grace period; stopping anyway"
        ),
    }
}
