//! The reconcile pipeline, one step per module, in the order they run:
//!
//! [`validate`] → [`dereference`] (read and create Secrets) → [`build`] (pure) →
//! [`discover`] (leave out the kinds whose CRDs the cluster lacks) → [`volumes`] (keep the
//! data's major version, grow volume claims) → [`apply`]
//! (server-side apply, stage by stage, past rejected children) → [`prune`] → [`observe`]
//! (workloads and pods that cannot start) → [`status`] (conditions, and Events from their
//! typed transitions, see [`events`]).
//!
//! A step that fails stops the pipeline and is reported as `Degraded` with its
//! [`Fault`](crate::status::Fault); children the API server rejects are collected instead, so
//! that one immutable field does not freeze the whole stack.

pub mod apply;
pub mod build;
pub mod dereference;
pub mod discover;
pub mod events;
pub mod handoff;
pub mod observe;
pub mod prune;
pub mod status;
pub mod validate;
pub mod volumes;

use kube::ResourceExt as _;
use kube::runtime::controller::Action;
use tracing::{debug, warn};

use crate::controller::{self, Context};
use crate::crd::MicroserviceStack;
use crate::error::Error;
use crate::manifests::common::Ctx;
use crate::status::Outcome;

/// Runs the pipeline for one stack and says when to look at it again.
///
/// # Errors
/// Transient failures (API errors), after recording them in status; the controller backs off.
pub async fn run(stack: &MicroserviceStack, ctx: &Context) -> Result<Action, Error> {
    if stack.metadata.deletion_timestamp.is_some() {
        // Being deleted: the garbage collector removes the children (all carry an
        // ownerReference), and applying them again would re-create what it just removed.
        debug!("stack is being deleted; nothing to reconcile");
        return Ok(Action::await_change());
    }
    if let Err(invalid) = validate::spec(stack) {
        return settle(stack, ctx, &invalid)
            .await
            .map(|()| Action::await_change());
    }
    if stack.spec.paused {
        return settle(stack, ctx, &Outcome::Paused)
            .await
            .map(|()| Action::requeue(ctx.resync));
    }
    match converge(stack, ctx).await {
        Ok(outcome) => settle(stack, ctx, &outcome)
            .await
            .map(|()| Action::requeue(controller::requeue_after(&outcome, ctx.resync))),
        Err(e) => failed(stack, ctx, e).await,
    }
}

async fn converge(stack: &MicroserviceStack, ctx: &Context) -> Result<Outcome, Error> {
    let build_ctx = Ctx::new(stack)?;
    let secrets = dereference::secrets(&ctx.client, &build_ctx).await?;
    let mut children = build::children(stack, &secrets)?;
    let engines = children.engines();
    discover::require_engines(&ctx.client, &engines).await?;
    let prometheus_operator = discover::prometheus_operator(&ctx.client).await?;
    if !prometheus_operator && children.drop_prometheus_operator_kinds() > 0 {
        let note = format!(
            "spec.monitoring is enabled but the cluster serves no {}: install the \
             prometheus-operator CRDs; the ServiceMonitors, PodMonitor and PrometheusRule \
             were skipped (dashboards and the NATS exporter are applied)",
            crate::manifests::monitoring::kinds::API_VERSION
        );
        warn!(stack = stack.name_any(), "{note}");
        events::publish(ctx, stack, events::Reason::MonitoringUnavailable, &note).await;
    }
    let guarded = volumes::guard(&ctx.client, &build_ctx.namespace, &mut children).await?;
    let to_apply = guarded.to_apply(&children);
    let mut applied = apply::children(&ctx.client, &build_ctx.namespace, &to_apply).await?;
    applied.rejected.extend(guarded.refusals);
    // Reported as not rolled out (no status) until they exist again.
    applied.stateful_sets.extend(guarded.recreating);
    let served = prune::Served {
        prometheus_operator,
        engines,
    };
    let pruned = prune::orphans(&ctx.client, &build_ctx, &children, &served).await?;
    if !pruned.is_empty() {
        let note = format!("deleted {}", pruned.join(", "));
        events::publish(ctx, stack, events::Reason::Pruned, &note).await;
    }
    let stuck = observe::stuck(&ctx.client, &build_ctx, &applied).await?;
    Ok(status::outcome(&build_ctx, &applied, stuck))
}

/// Records a status (and the failure metric when it is degraded).
async fn settle(stack: &MicroserviceStack, ctx: &Context, outcome: &Outcome) -> Result<(), Error> {
    if let Some(fault) = outcome.fault() {
        ctx.metrics.failure(fault.as_str());
        warn!(
            stack = stack.name_any(),
            reason = fault.as_str(),
            "stack degraded"
        );
    }
    status::write(stack, ctx, outcome).await
}

/// A step failed: report it, then wait for the Secret it needs, for an edit, or back off.
async fn failed(stack: &MicroserviceStack, ctx: &Context, e: Error) -> Result<Action, Error> {
    warn!(error = %e, "reconcile failed");
    let outcome = Outcome::Failed {
        fault: e.fault(),
        message: e.to_string(),
    };
    // A failed status write must not hide the original error.
    if let Err(status_error) = settle(stack, ctx, &outcome).await {
        warn!(error = %status_error, "status write failed");
    }
    if e.awaits_secret() {
        // Referenced Secrets are not watched (the operator lists and watches only its own):
        // look again soon, so creating or restoring one needs no edit of the stack.
        Ok(Action::requeue(
            controller::SECRET_RETRY_AFTER.min(ctx.resync),
        ))
    } else if matches!(e, Error::EngineMissing { .. }) {
        // Installing CNPG or the MongoDB operator changes no watched object: look again as
        // for a stack that is not ready, so the stack proceeds soon after it is installed.
        Ok(Action::requeue(
            controller::NOT_READY_RETRY_AFTER.min(ctx.resync),
        ))
    } else if e.is_permanent() {
        Ok(Action::await_change())
    } else {
        Err(e)
    }
}
