//! Step 2: the Secrets the stack reads. User-referenced ones are read by name; created-once
//! credentials are created when absent, never rewritten.
//!
//! Retained credentials (no ownerReference, labelled `natstack.dev/retain`) outlive the stack
//! with the database volumes that hold them. One an earlier version made with an
//! ownerReference is released here. One that is missing while the volume it unlocks still
//! exists is *not* generated afresh: the data keeps the old password, so a new one would lock
//! the provisioning Jobs (and auth's admin) out for good. The stack is then `Degraded`
//! [`CredentialsLost`](crate::status::Fault::CredentialsLost) until the Secret is restored or
//! the volume deleted, as CloudNativePG refuses in the same situation.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use tracing::info;

use crate::error::Error;
use crate::generate;
use crate::manifests::SecretData;
use crate::manifests::common::{Ctx, FIELD_MANAGER, LABEL_RETAIN};
use crate::manifests::secrets::{self, GeneratedSecret};

/// Reads every Secret the stack depends on, creating the created-once ones that are absent.
///
/// # Errors
/// [`Error::MissingSecret`] when a user-referenced Secret does not exist;
/// [`Error::CredentialsLost`] when a retained Secret is missing but its volume is not (then
/// nothing is created); [`Error::Kube`] on API errors.
pub async fn secrets(client: &Client, ctx: &Ctx<'_>) -> Result<SecretData, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &ctx.namespace);
    let mut out = SecretData::new();
    for name in secrets::referenced(ctx.spec) {
        let secret = api
            .get_opt(&name)
            .await?
            .ok_or_else(|| Error::MissingSecret(name.clone()))?;
        out.insert(name, generate::decode(&secret));
    }
    let generated = secrets::generated(ctx);
    let mut existing = BTreeMap::new();
    for wanted in &generated {
        existing.insert(wanted.name().to_owned(), api.get_opt(wanted.name()).await?);
    }
    refuse_lost(client, ctx, &generated, &existing).await?;
    for wanted in &generated {
        let data = match existing.remove(wanted.name()).flatten() {
            Some(found) => {
                if wanted.is_retained() {
                    release(&api, ctx, &found).await?;
                }
                generate::decode(&found)
            }
            None => create(&api, wanted).await?,
        };
        out.insert(wanted.name().to_owned(), data);
    }
    Ok(out)
}

/// Fails when a missing created-once Secret protects a volume that still exists.
async fn refuse_lost(
    client: &Client,
    ctx: &Ctx<'_>,
    generated: &[GeneratedSecret],
    existing: &BTreeMap<String, Option<Secret>>,
) -> Result<(), Error> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ctx.namespace);
    let mut lost = Vec::new();
    for wanted in generated {
        let missing = existing.get(wanted.name()).is_some_and(Option::is_none);
        let Some(claim) = wanted.protects.as_deref().filter(|_| missing) else {
            continue;
        };
        if claims.get_opt(claim).await?.is_some() {
            lost.push(format!(
                "Secret {} is missing but volume {claim} still holds the data it unlocks",
                wanted.name()
            ));
        }
    }
    if lost.is_empty() {
        return Ok(());
    }
    Err(Error::CredentialsLost(format!(
        "{}; a new password would not match the data, so none is generated and nothing is \
         applied: restore the Secret from a backup (it is kept when the stack is deleted), or \
         delete the PersistentVolumeClaim to start that database empty",
        lost.join("; ")
    )))
}

async fn create(
    api: &Api<Secret>,
    wanted: &GeneratedSecret,
) -> Result<BTreeMap<String, String>, Error> {
    let (secret, data) = generate::secret(wanted)?;
    let params = PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    match api.create(&params, &secret).await {
        Ok(_) => {
            info!(secret = wanted.name(), "created secret");
            Ok(data)
        }
        // Lost a race with another writer: theirs wins, never overwrite.
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            let existing = api.get(wanted.name()).await?;
            Ok(generate::decode(&existing))
        }
        Err(e) => Err(e.into()),
    }
}

/// Drops this stack's ownerReference from a retained Secret made by an earlier operator, so
/// that deleting the stack no longer deletes it (only metadata changes, never the data).
async fn release(api: &Api<Secret>, ctx: &Ctx<'_>, existing: &Secret) -> Result<(), Error> {
    let owners = existing.owner_references();
    let kept: Vec<_> = owners
        .iter()
        .filter(|o| o.uid != ctx.owner_uid())
        .cloned()
        .collect();
    if kept.len() == owners.len() {
        return Ok(());
    }
    // Labelled as retained too: a Secret that became retained in a later version (the admin
    // password) was made without the label.
    let mut metadata = serde_json::json!({
        "ownerReferences": if kept.is_empty() { serde_json::Value::Null } else { serde_json::json!(kept) },
        "labels": { LABEL_RETAIN: "true" },
    });
    // Only if nobody changed it since it was read.
    if let Some(version) = existing.resource_version() {
        metadata["resourceVersion"] = version.into();
    }
    let patch = serde_json::json!({ "metadata": metadata });
    api.patch(
        &existing.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    info!(
        secret = existing.name_any(),
        "released retained secret from the stack's ownership"
    );
    Ok(())
}
