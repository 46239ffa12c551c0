//! Step 6: the stack's pods, read to find workloads that cannot start
//! ([`status::rollout`](crate::status::rollout)): a crash loop or an image that cannot be
//! pulled leaves a Deployment's own status unchanged, so only its pods tell.

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};

use super::apply::Applied;
use crate::error::Error;
use crate::manifests::common::Ctx;
use crate::status::rollout;

/// Why components cannot start, one line each; empty when nothing is stuck.
///
/// # Errors
/// [`Error::Kube`] when the pods cannot be listed.
pub async fn stuck(
    client: &Client,
    ctx: &Ctx<'_>,
    applied: &Applied,
) -> Result<Vec<String>, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ctx.namespace);
    let list = pods
        .list(&ListParams::default().labels(&ctx.stack_selector()))
        .await?;
    Ok(rollout::stuck(&applied.deployments, &list.items))
}
