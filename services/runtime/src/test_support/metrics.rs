//! Assertions on a `/metrics` exposition: Prometheus' linter finds nothing, and the series stay
//! few whatever ids the requests carried. Also the figures read from one: a sample's value and
//! what the transactional outbox's relay reports.

use crate::outbox::metrics::{FAILURES, PENDING, PUBLISHED};
use crate::test_support::promtool;

/// The value of the unlabelled series `series` in `exposition` (`None` when it is not there).
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// What the outbox relay of a service reports in its `/metrics` exposition; a figure is
/// `None` when its series is not there.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Outbox {
    /// Events published and acknowledged ([`PUBLISHED`]).
    pub published: Option<f64>,
    /// Events not yet acknowledged ([`PENDING`]).
    pub pending: Option<f64>,
    /// Failed attempts to publish ([`FAILURES`]).
    pub failures: Option<f64>,
}

/// The outbox relay's figures in `exposition`.
pub fn outbox(exposition: &str) -> Outbox {
    // The counters carry the `_total` suffix of the text format in the exposition.
    Outbox {
        published: sample(exposition, &format!("{PUBLISHED}_total")),
        pending: sample(exposition, PENDING),
        failures: sample(exposition, &format!("{FAILURES}_total")),
    }
}

/// Asserts that `promtool check metrics` finds no problem in `exposition`.
pub fn assert_promtool_clean(exposition: &str) {
    let problems = promtool::check_metrics(exposition).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        problems.is_empty(),
        "promtool check metrics:\n{problems}\nin\n{exposition}"
    );
}

/// How many samples (series) `exposition` holds.
pub fn series(exposition: &str) -> usize {
    exposition
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// Asserts that none of `raw` (ids, paths a client chose) is part of any sample's labels.
pub fn assert_not_labelled(exposition: &str, raw: &[&str]) {
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        for value in raw {
            assert!(
                !line.contains(value),
                "{value} became a label value: {line}"
            );
        }
    }
}

/// Asks `app` for 200 ids that do not exist through `ask` (the `get` endpoint; each must be
/// answered 404), then asserts what a PostgreSQL service's `/metrics` must show whatever ids
/// clients send: clean for promtool, no series added by the ids, none of `raw` in a label,
/// the 404s counted by endpoint and code, and the pool's gauges with `max_connections`.
pub async fn assert_unknown_ids_leave_metrics_bounded<F, Fut>(
    app: &super::ServiceApp,
    mut ask: F,
    raw: &[&str],
    max_connections: u32,
) where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = u16>,
{
    assert_eq!(ask(0).await, 404);
    let before = series(&app.metrics().await);
    for i in 1..200 {
        assert_eq!(ask(i).await, 404);
    }
    let text = app.metrics().await;
    assert_promtool_clean(&text);
    assert_eq!(series(&text), before, "200 ids added series:\n{text}");
    assert_not_labelled(&text, raw);
    for needle in [
        r#"natstack_service_requests_total{endpoint="get",code="404"} 200"#,
        r#"natstack_service_request_duration_seconds_count{endpoint="get"} 200"#,
        "natstack_db_pool_connections_in_use ",
        "natstack_db_pool_connections_idle ",
        &format!("natstack_db_pool_connections_max {max_connections}\n"),
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}
