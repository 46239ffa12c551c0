//! The stack's Grafana dashboards as ConfigMaps labelled for Grafana's dashboard sidecar
//! (`grafana_dashboard: "1"`), one per JSON file of `monitoring/dashboards/`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use contract::deploy;

use super::{COMPONENT, meta};
use crate::manifests::common::Ctx;

/// The label Grafana's dashboard sidecar looks for, and its value.
pub const GRAFANA_DASHBOARD_LABEL: (&str, &str) = ("grafana_dashboard", "1");

/// Every stack dashboard: its name and JSON, embedded at build time, and the built-in service
/// it shows (`None`: shown for every stack).
pub const DASHBOARDS: [(&str, &str, Option<&str>); 5] = [
    (
        "overview",
        include_str!("../../../../monitoring/dashboards/overview.json"),
        None,
    ),
    (
        "gateway",
        include_str!("../../../../monitoring/dashboards/gateway.json"),
        None,
    ),
    (
        "auth",
        include_str!("../../../../monitoring/dashboards/auth.json"),
        Some(deploy::AUTH),
    ),
    (
        "customers",
        include_str!("../../../../monitoring/dashboards/customers.json"),
        Some(deploy::CUSTOMERS),
    ),
    (
        "products",
        include_str!("../../../../monitoring/dashboards/products.json"),
        Some(deploy::PRODUCTS),
    ),
];

/// The ConfigMaps of the dashboards this stack has: the overview, the gateway's, and one per
/// built-in service it runs.
#[must_use]
pub fn config_maps(ctx: &Ctx<'_>) -> Vec<ConfigMap> {
    DASHBOARDS
        .iter()
        .filter(|(_, _, service)| {
            service.is_none_or(|name| ctx.spec.services.iter().any(|s| s.name == name))
        })
        .map(|(name, json, _)| {
            let mut metadata = meta(ctx, &ctx.child(&format!("dashboard-{name}")), COMPONENT);
            let (key, value) = GRAFANA_DASHBOARD_LABEL;
            metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(key.to_owned(), value.to_owned());
            ConfigMap {
                metadata,
                data: Some(BTreeMap::from([(
                    format!("natstack-{name}.json"),
                    (*json).to_owned(),
                )])),
                ..ConfigMap::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_dashboard_is_json_with_a_uid() {
        for (name, json, _) in DASHBOARDS {
            let value: serde_json::Value = serde_json::from_str(json).expect(name);
            assert!(value["uid"].is_string(), "{name} has no uid");
            assert!(value["panels"].is_array(), "{name} has no panels");
        }
    }
}
