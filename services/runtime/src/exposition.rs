//! The one rendering of a metrics registry served on `/metrics`: Prometheus' text format 0.0.4.
//!
//! `prometheus_client` writes OpenMetrics, where a counter family is named without its
//! `_total` suffix (`# TYPE x counter` above the sample `x_total`). Parsers of the text format
//! (`promtool check metrics`, most scrapers but Prometheus itself) then find samples with no
//! `HELP` and no `TYPE`. Rewriting the OpenMetrics text into the text format is exact for what
//! natstack exports (counters, gauges, histograms, no exemplars): the counter descriptors are
//! renamed to their samples' name, and the lines the text format does not have (`# UNIT`,
//! `# EOF`) are dropped. Prometheus scrapes either format alike.

use std::collections::HashSet;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `registry` in the Prometheus text format 0.0.4.
#[must_use]
pub fn render(registry: &Registry) -> String {
    let mut open_metrics = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut open_metrics, registry);
    to_text_format(&open_metrics)
}

/// The `/metrics` answer carrying `text`, the output of [`render`].
#[must_use]
pub fn response(text: String) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// OpenMetrics text (as `prometheus_client` writes it) rewritten into the text format 0.0.4.
#[must_use]
pub fn to_text_format(open_metrics: &str) -> String {
    let counters: HashSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len() + 8 * counters.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        match descriptor(line) {
            Some((kind, name, rest)) if counters.contains(name) => {
                out.push_str(&format!("# {kind} {name}_total{rest}"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A `# HELP` or `# TYPE` line split into its keyword, family name and the rest.
fn descriptor(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix("# ")?;
    let (kind, rest) = rest.split_once(' ')?;
    if kind != "HELP" && kind != "TYPE" {
        return None;
    }
    let end = rest.find(' ').unwrap_or(rest.len());
    Some((kind, &rest[..end], &rest[end..]))
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;

    use super::*;

    #[test]
    fn counters_are_described_under_their_sample_name_and_openmetrics_lines_go() {
        let mut registry = Registry::with_prefix("x");
        let counter = Counter::<u64>::default();
        counter.inc();
        registry.register("calls", "Calls made", counter);
        registry.register("depth", "Queue depth", Gauge::<i64>::default());
        let text = render(&registry);
        assert_eq!(
            text,
            "# HELP x_calls_total Calls made.\n# TYPE x_calls_total counter\nx_calls_total 1\n\
             # HELP x_depth Queue depth.\n# TYPE x_depth gauge\nx_depth 0\n"
        );
    }

    #[test]
    fn a_gauge_whose_name_starts_like_a_counter_is_left_alone() {
        let text = to_text_format(
            "# HELP a Counter.\n# TYPE a counter\na_total 1\n\
             # HELP a_b Gauge.\n# TYPE a_b gauge\n# UNIT a_b seconds\na_b 2\n# EOF\n",
        );
        assert_eq!(
            text,
            "# HELP a_total Counter.\n# TYPE a_total counter\na_total 1\n\
             # HELP a_b Gauge.\n# TYPE a_b gauge\na_b 2\n"
        );
    }
}
