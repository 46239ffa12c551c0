//! The alerts this test provokes, and the checks on Prometheus' rules and alerts.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::allow;
use crate::prometheus::Prometheus;
use crate::promql;
use crate::report::Checks;

/// A stopped service: no instance left behind its routes.
pub const SERVICE_WITHOUT_INSTANCES: &str = "NatstackServiceWithoutInstances";
/// Logins with wrong passwords.
pub const LOGIN_FAILURES: &str = "NatstackLoginFailuresSurging";
/// A flood the gateway refuses.
pub const REQUESTS_REFUSED: &str = "NatstackRequestsRefused";

/// The alerts the faults must raise.
pub const EXPECTED: [&str; 3] = [SERVICE_WITHOUT_INSTANCES, LOGIN_FAILURES, REQUESTS_REFUSED];

/// The names of the alerts pending or firing now.
pub async fn active(prometheus: &Prometheus) -> anyhow::Result<BTreeSet<String>> {
    Ok(prometheus
        .alerts()
        .await?
        .iter()
        .filter(|a| a["state"] == "pending" || a["state"] == "firing")
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
        .collect())
}

/// Every rule loaded: its name, kind (`alerting`, `recording`) and expression.
pub fn rules(groups: &[Value]) -> Vec<(String, String, String)> {
    groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (text("name"), text("type"), text("query"))
        })
        .collect()
}

/// Checks that every series each rule reads exists (any sample in the last 10 minutes:
/// an alert's expression itself returns nothing while all is well, by design).
pub async fn check_series_exist(prometheus: &Prometheus, groups: &[Value], checks: &mut Checks) {
    for (name, kind, query) in rules(groups) {
        let what = format!("{kind} rule {name}: every series it reads exists");
        let selectors = promql::selectors(&query);
        let mut missing = Vec::new();
        for selector in &selectors {
            let probe = format!("last_over_time({selector}[10m])");
            match prometheus.query(&probe).await {
                Ok(result) if !result.is_empty() => {}
                Ok(_) => missing.push(selector.clone()),
                Err(e) => missing.push(format!("{selector} ({e:#})")),
            }
        }
        if missing.is_empty() {
            checks.check(&what, Ok(()));
        } else if let Some(why) = allow::all_allowed(missing.iter().map(|s| promql::metric_name(s)))
        {
            checks.skip(&what, why);
        } else {
            checks.check(&what, Err(format!("no series for {}", missing.join(", "))));
        }
    }
}
