//! Step 3b: which optional APIs the cluster serves. The prometheus-operator's kinds
//! (`monitoring.coreos.com/v1`) are custom resources a cluster may not have; applying or
//! listing them there fails, so the reconciler leaves them out and says so instead.

use kube::Client;

use crate::error::Error;
use crate::manifests::monitoring::kinds::API_VERSION;

/// The resources of [`API_VERSION`] the operator writes.
const RESOURCES: [&str; 3] = ["servicemonitors", "podmonitors", "prometheusrules"];

/// Whether the cluster serves the ServiceMonitor, PodMonitor and PrometheusRule kinds.
///
/// # Errors
/// [`Error::Kube`] when discovery fails for another reason than the group being absent.
pub async fn prometheus_operator(client: &Client) -> Result<bool, Error> {
    match client.list_api_group_resources(API_VERSION).await {
        Ok(list) => Ok(RESOURCES
            .iter()
            .all(|name| list.resources.iter().any(|r| r.name == *name))),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}
