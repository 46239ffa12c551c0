//! Assertions on a `/metrics` exposition: Prometheus' linter finds nothing, and the series stay
//! few whatever ids the requests carried.

use crate::test_support::promtool;

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
