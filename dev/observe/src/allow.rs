//! The allow-list: series this machine cannot produce, each with the reason. A query or rule
//! that returns nothing passes only when every metric it reads is listed here; everything
//! else must return series.

/// Metric name prefixes that cannot have series here, and why.
pub const ALLOWED: [(&str, &str); 7] = [
    (
        "natstack_operator_",
        "the operator does not run here; its rules are proven by promtool unit tests only",
    ),
    ("kube_", "kube-state-metrics does not run here (no cluster)"),
    ("cnpg_", "CloudNativePG does not run here (no cluster)"),
    (
        "gnatsd_connz_",
        "the NATS exporter stand-in reads /varz and /routez only",
    ),
    (
        "gnatsd_subz_",
        "the NATS exporter stand-in reads /varz and /routez only",
    ),
    (
        "gnatsd_healthz_",
        "the NATS exporter stand-in reads /varz and /routez only",
    ),
    (
        "jetstream_",
        "the NATS exporter stand-in reads /varz and /routez only",
    ),
];

/// Why `metric` may have no series here, if it may.
pub fn reason(metric: &str) -> Option<&'static str> {
    ALLOWED
        .iter()
        .find(|(prefix, _)| metric.starts_with(prefix))
        .map(|(_, why)| *why)
}

/// Why every one of `metrics` may have no series here (the first reason), if all may.
pub fn all_allowed<'a>(metrics: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let mut first = None;
    for metric in metrics {
        let why = reason(metric)?;
        first.get_or_insert(why);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_metrics_are_allowed_to_be_missing() {
        assert!(all_allowed(["natstack_operator_reconciles_total"]).is_some());
        assert!(all_allowed(["natstack_operator_reconciles_total", "up"]).is_none());
        assert!(all_allowed(["natstack_gateway_http_requests_total"]).is_none());
        assert!(all_allowed([]).is_none());
    }
}
