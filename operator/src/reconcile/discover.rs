//! Step 3b: which optional APIs the cluster serves.
//!
//! - The prometheus-operator's kinds (`monitoring.coreos.com/v1`) are custom resources a
//!   cluster may not have; applying or listing them there fails, so the reconciler leaves
//!   them out and says so instead.
//! - The database engines' operators (CloudNativePG, the MongoDB community operator) are
//!   required by a stack whose `provider` names them: without their API the stack has no
//!   database, so nothing is applied and the stack is `Degraded` with `CloudNativePGMissing`
//!   or `MongoDBOperatorMissing`, whose message says how to install it.

use std::collections::BTreeSet;

use kube::Client;

use crate::error::Error;
use crate::manifests::monitoring::kinds::API_VERSION;
use crate::manifests::{Engine, cnpg, mongodb_community};

/// The resources of [`API_VERSION`] the operator writes.
const RESOURCES: [&str; 3] = ["servicemonitors", "podmonitors", "prometheusrules"];

/// Whether the cluster serves the ServiceMonitor, PodMonitor and PrometheusRule kinds.
///
/// # Errors
/// [`Error::Kube`] when discovery fails for another reason than the group being absent.
pub async fn prometheus_operator(client: &Client) -> Result<bool, Error> {
    serves(client, API_VERSION, &RESOURCES).await
}

/// Whether the cluster serves every resource of `resources` in `api_version`.
async fn serves(client: &Client, api_version: &str, resources: &[&str]) -> Result<bool, Error> {
    match client.list_api_group_resources(api_version).await {
        Ok(list) => Ok(resources
            .iter()
            .all(|name| list.resources.iter().any(|r| r.name == *name))),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The group version and resources an engine's objects need.
#[must_use]
pub fn engine_api(engine: Engine) -> (&'static str, &'static [&'static str]) {
    match engine {
        Engine::CloudNativePg => (
            cnpg::kinds::API_VERSION,
            &["clusters", "databases", "scheduledbackups"],
        ),
        Engine::MongoDbOperator => (mongodb_community::kinds::API_VERSION, &["mongodbcommunity"]),
    }
}

/// What a stack says when `engine`'s API is missing: what to install, and how.
#[must_use]
pub fn missing_message(engine: Engine) -> String {
    let (api_version, _) = engine_api(engine);
    match engine {
        Engine::CloudNativePg => format!(
            "postgres.provider is cnpg but the cluster serves no {api_version}: install \
             CloudNativePG {}: `{}`; nothing is applied until then",
            cnpg::CNPG_RELEASE,
            cnpg::CNPG_INSTALL
        ),
        Engine::MongoDbOperator => format!(
            "mongodb.provider is community-operator but the cluster serves no {api_version}: \
             install the MongoDB community operator {}: `{}`; nothing is applied until then",
            mongodb_community::OPERATOR_RELEASE,
            mongodb_community::OPERATOR_INSTALL
        ),
    }
}

/// The engines of `needed` whose API the cluster serves (the others are missing).
///
/// # Errors
/// [`Error::Kube`] when discovery fails for another reason than the group being absent.
pub async fn engines(
    client: &Client,
    needed: &BTreeSet<Engine>,
) -> Result<BTreeSet<Engine>, Error> {
    let mut served = BTreeSet::new();
    for engine in needed {
        let (api_version, resources) = engine_api(*engine);
        if serves(client, api_version, resources).await? {
            served.insert(*engine);
        }
    }
    Ok(served)
}

/// Fails with the first engine of `needed` the cluster does not serve.
///
/// # Errors
/// [`Error::EngineMissing`] naming it, or [`Error::Kube`] when discovery fails.
pub async fn require_engines(client: &Client, needed: &BTreeSet<Engine>) -> Result<(), Error> {
    let served = engines(client, needed).await?;
    match needed.difference(&served).next() {
        Some(engine) => Err(Error::EngineMissing {
            engine: *engine,
            message: missing_message(*engine),
        }),
        None => Ok(()),
    }
}
