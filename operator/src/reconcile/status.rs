//! Step 7: the outcome of the pipeline as the stack's status, written with server-side apply
//! on the status subresource, with one Event per typed condition change
//! ([`events::Reason::of_change`]). An unchanged status is not written, so the write does not
//! re-trigger the controller.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::apply::Applied;
use super::events;
use crate::controller::Context;
use crate::crd::{ComponentStatus, MicroserviceStack, MicroserviceStackStatus};
use crate::error::Error;
use crate::manifests::common::{Ctx, FIELD_MANAGER, LABEL_NAME};
use crate::status::{self, Fault, Outcome};

/// The outcome of an apply: `Failed` naming every rejected child, else the components as the
/// workloads report them, where the gateway answers, and what cannot start.
#[must_use]
pub fn outcome(ctx: &Ctx<'_>, applied: &Applied, stuck: Vec<String>) -> Outcome {
    if !applied.rejected.is_empty() {
        // The most specific reason names the stack's state: a refused edit of the data first.
        let fault = [
            Fault::MajorVersionChange,
            Fault::StorageNotExpandable,
            Fault::ImmutableField,
        ]
        .into_iter()
        .find(|f| applied.rejected.iter().any(|r| r.fault == *f))
        .unwrap_or(Fault::ApplyFailed);
        let mut lines: Vec<String> = applied.rejected.iter().map(|r| r.explain()).collect();
        if !applied.skipped.is_empty() {
            lines.push(format!(
                "not applied until then: {} (they depend on what was rejected)",
                applied.skipped.join(", ")
            ));
        }
        return Outcome::Failed {
            fault,
            message: lines.join("; "),
        };
    }
    let components: Vec<ComponentStatus> = components(&applied.stateful_sets)
        .chain(components(&applied.deployments))
        .chain(components(&applied.clusters))
        .chain(components(&applied.replica_sets))
        .chain(components(&applied.jobs))
        .collect();
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
        stuck,
    }
}

/// The components `objects` report, each named by its `app.kubernetes.io/name` label.
fn components<T: status::Component + Resource>(
    objects: &[T],
) -> impl Iterator<Item = ComponentStatus> + '_ {
    objects.iter().filter_map(|o| {
        let name = o.labels().get(LABEL_NAME).map_or("", String::as_str);
        o.component(name)
    })
}

/// Computes the new status; publishes the Events its changes call for, then writes it.
///
/// # Errors
/// [`Error::Kube`] when the status write fails.
pub async fn write(
    stack: &MicroserviceStack,
    ctx: &Context,
    outcome: &Outcome,
) -> Result<(), Error> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let old = stack.status.as_ref();
    let new = status::compute(old, stack.metadata.generation, outcome, &now);
    if old == Some(&new) {
        return Ok(());
    }
    for change in status::changes(old, &new) {
        if let Some(reason) = events::Reason::of_change(&change, outcome) {
            events::publish(ctx, stack, reason, &change.after.message).await;
        }
    }
    apply_status(ctx, stack, &new).await
}

async fn apply_status(
    ctx: &Context,
    stack: &MicroserviceStack,
    status: &MicroserviceStackStatus,
) -> Result<(), Error> {
    let namespace = stack
        .namespace()
        .ok_or(Error::MissingObjectKey("metadata.namespace"))?;
    let api: Api<MicroserviceStack> = Api::namespaced(ctx.client.clone(), &namespace);
    let body = serde_json::json!({
        "apiVersion": MicroserviceStack::api_version(&()),
        "kind": MicroserviceStack::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&stack.name_any(), &params, &Patch::Apply(&body))
        .await?;
    Ok(())
}
