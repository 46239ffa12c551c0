//! The controller: watches stacks and their children, and runs the reconcile pipeline
//! validate → resolve Secrets → build (pure) → apply (SSA, in order) → prune → status.
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
//! resync period to correct drift.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{debug, info, instrument, warn};

use crate::apply::{self, Applied};
use crate::crd::{ComponentStatus, MicroserviceStack};
use crate::error::Error;
use crate::manifests;
use crate::manifests::common::{Ctx, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY};
use crate::metrics::Metrics;
use crate::server::Health;
use crate::status::{self, Outcome};
use crate::validate;

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

/// How soon a stack waiting for a Secret it references (missing, or lacking a key) is
/// reconciled again.
pub const SECRET_RETRY_AFTER: Duration = Duration::from_secs(15);

/// Reconciles one stack.
///
/// # Errors
/// Transient failures (API errors), after recording them in status and an Event; the
/// controller then calls [`error_policy`].
#[instrument(skip_all, fields(stack = %key(&obj)))]
pub async fn reconcile(obj: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let stack = match &obj.0 {
        Ok(stack) => stack,
        Err(invalid) => {
            warn!(error = %invalid, "stack does not deserialize");
            publish(
                &ctx,
                obj.as_ref(),
                EventType::Warning,
                "InvalidObject",
                &invalid.to_string(),
            )
            .await;
            ctx.metrics.record("invalid", started);
            return Ok(Action::await_change());
        }
    };
    let result = reconcile_stack(stack, &ctx).await;
    match &result {
        Ok(_) => {
            ctx.reset(&key(&obj));
            ctx.metrics.record("ok", started);
        }
        Err(_) => ctx.metrics.record("error", started),
    }
    result
}

async fn reconcile_stack(stack: &MicroserviceStack, ctx: &Context) -> Result<Action, Error> {
    if stack.metadata.deletion_timestamp.is_some() {
        // Being deleted: the garbage collector removes the children (all carry an
        // ownerReference), and applying them again would re-create what it just removed.
        debug!("stack is being deleted; nothing to reconcile");
        return Ok(Action::await_change());
    }
    let problems = validate::problems(stack);
    if !problems.is_empty() {
        let message = problems.join("; ");
        ctx.metrics.failure("InvalidSpec");
        warn!(%message, "invalid stack");
        publish(ctx, stack, EventType::Warning, "InvalidSpec", &message).await;
        finish(stack, ctx, &Outcome::Invalid(message)).await?;
        return Ok(Action::await_change());
    }
    if stack.spec.paused {
        finish(stack, ctx, &Outcome::Paused).await?;
        return Ok(Action::requeue(ctx.resync));
    }
    match converge(stack, ctx).await {
        Ok(outcome) => {
            finish(stack, ctx, &outcome).await?;
            Ok(Action::requeue(requeue_after(&outcome, ctx.resync)))
        }
        Err(e) => {
            warn!(error = %e, "reconcile failed");
            ctx.metrics.failure(e.reason());
            publish(ctx, stack, EventType::Warning, e.reason(), &e.to_string()).await;
            let outcome = Outcome::Failed {
                reason: e.reason().to_owned(),
                message: e.to_string(),
            };
            // A failed status write must not hide the original error.
            if let Err(status_error) = finish(stack, ctx, &outcome).await {
                warn!(error = %status_error, "status write failed");
            }
            if e.is_missing_secret() {
                // Referenced Secrets are not watched (the operator lists and watches only its
                // own): look again soon, so creating or fixing one needs no edit of the stack.
                Ok(Action::requeue(SECRET_RETRY_AFTER.min(ctx.resync)))
            } else if e.is_permanent() {
                Ok(Action::await_change())
            } else {
                Err(e)
            }
        }
    }
}

async fn converge(stack: &MicroserviceStack, ctx: &Context) -> Result<Outcome, Error> {
    let build_ctx = Ctx::new(stack)?;
    let uid = stack.uid().ok_or(Error::MissingObjectKey("metadata.uid"))?;
    let secret_data = apply::resolve_secrets(&ctx.client, &build_ctx).await?;
    let children = manifests::build(stack, &secret_data)?;
    let applied = apply::apply_all(&ctx.client, &build_ctx.namespace, &children).await?;
    let pruned = apply::prune(&ctx.client, &build_ctx, &uid, &children).await?;
    if !pruned.is_empty() {
        let note = format!("deleted {}", pruned.join(", "));
        publish(ctx, stack, EventType::Normal, "Pruned", &note).await;
    }
    Ok(outcome(&build_ctx, &applied))
}

/// When to reconcile again after a successful apply: after the resync period, or sooner while
/// a provisioning Job has failed, so that it is run again [`status::JOB_RETRY_AFTER`] after.
#[must_use]
pub fn requeue_after(outcome: &Outcome, resync: Duration) -> Duration {
    let failed_job = matches!(outcome, Outcome::Applied { components, .. }
        if components.iter().any(|c| c.kind == "Job" && !c.ready));
    if failed_job {
        resync.min(status::JOB_RETRY_AFTER)
    } else {
        resync
    }
}

/// The outcome of a successful apply, from the stored workloads and the gateway Service.
#[must_use]
pub fn outcome(ctx: &Ctx<'_>, applied: &Applied) -> Outcome {
    let component_of = |labels: &std::collections::BTreeMap<String, String>| {
        labels.get(LABEL_NAME).cloned().unwrap_or_default()
    };
    let mut components: Vec<ComponentStatus> = applied
        .stateful_sets
        .iter()
        .map(|s| status::stateful_set_component(&component_of(s.labels()), s))
        .collect();
    components.extend(
        applied
            .deployments
            .iter()
            .map(|d| status::deployment_component(&component_of(d.labels()), d)),
    );
    components.extend(
        applied
            .jobs
            .iter()
            .filter_map(|j| status::failed_job_component(&component_of(j.labels()), j)),
    );
    let gateway_address = applied
        .services
        .iter()
        .find(|s| s.name_any() == ctx.child(contract::deploy::GATEWAY))
        .and_then(|s| {
            status::gateway_address(
                s,
                &ctx.namespace,
                contract::deploy::GATEWAY_SERVICE_PORT.into(),
            )
        });
    Outcome::Applied {
        components,
        gateway_address,
    }
}

async fn finish(stack: &MicroserviceStack, ctx: &Context, outcome: &Outcome) -> Result<(), Error> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let old = stack.status.as_ref();
    let new = status::compute(old, stack.metadata.generation, outcome, &now);
    if old == Some(&new) {
        return Ok(());
    }
    for changed in status::transitions(old, &new) {
        let was_true = old
            .and_then(|o| o.conditions.iter().find(|c| c.type_ == changed.type_))
            .is_some_and(|c| c.status == "True");
        let event = match (changed.type_.as_str(), changed.status.as_str()) {
            ("Ready", "True") => Some((EventType::Normal, "Ready")),
            ("Ready", "False") if was_true => Some((EventType::Warning, "NotReady")),
            ("Degraded", "True") => Some((EventType::Warning, "Degraded")),
            ("Degraded", "False") if was_true => Some((EventType::Normal, "Recovered")),
            _ => None,
        };
        if let Some((kind, reason)) = event {
            publish(ctx, stack, kind, reason, &changed.message).await;
        }
    }
    apply::write_status(&ctx.client, stack, &new).await
}

/// Publishes an Event about `object` (failures to publish are only logged).
async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    kind: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_: kind,
        reason: reason.to_owned(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        warn!(error = %e, reason, "event not published");
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
        .owns(api::<Job>(&client, namespace), owned)
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
