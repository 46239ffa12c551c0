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

/// Checks that every metric each rule reads has series here (any sample in the last 10
/// minutes: an alert's expression itself returns nothing while all is well, by design). A
/// selector whose metric exists but whose label values did not occur in this run (an
/// upstream `kind="timeout"`) passes, and is named in a note.
pub async fn check_series_exist(prometheus: &Prometheus, groups: &[Value], checks: &mut Checks) {
    for (name, kind, query) in rules(groups) {
        let what = format!("{kind} rule {name}: every metric it reads has series");
        let mut missing = Vec::new();
        let mut unseen = Vec::new();
        for selector in promql::selectors(&query) {
            if has_series(prometheus, &selector).await {
                continue;
            }
            let metric = promql::metric_name(&selector);
            if !metric.is_empty() && has_series(prometheus, metric).await {
                unseen.push(selector);
            } else {
                missing.push(selector);
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
        if !unseen.is_empty() {
            checks.note(&format!("not seen in this run: {}", unseen.join(", ")));
        }
    }
}

/// Whether `selector` had a sample in the last 10 minutes.
async fn has_series(prometheus: &Prometheus, selector: &str) -> bool {
    let probe = format!("last_over_time({selector}[10m])");
    prometheus
        .query(&probe)
        .await
        .is_ok_and(|result| !result.is_empty())
}
