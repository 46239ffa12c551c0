//! The domain events' part of the printed report: the outbox's cost on writes (latency and
//! CPU per write, with and without it) and the latency from a write's reply to its event.

use std::fmt::Write as _;

use crate::events::{DeliveryRecord, WRITE_OUTBOX, WRITE_PLAIN};
use crate::report::{Report, RunRecord};
use crate::table::Table;

/// The processes that do a write's work and its event's: the service (either instance),
/// PostgreSQL and nats-server.
const WRITE_PATH: [&str; 4] = [
    contract::deploy::PRODUCTS,
    crate::events::PLAIN,
    "postgres",
    "nats-server",
];

/// CPU µs per write summed over [`WRITE_PATH`].
pub fn write_cpu(run: &RunRecord) -> f64 {
    WRITE_PATH
        .iter()
        .filter_map(|p| run.cpu_us_per_request.get(*p))
        .sum()
}

/// Appends the section to `out` (nothing when the events were not measured).
pub fn render(report: &Report, out: &mut String) {
    let with: Vec<&RunRecord> = report
        .runs
        .iter()
        .filter(|r| r.operation == WRITE_OUTBOX)
        .collect();
    if with.is_empty() && report.delivery.is_none() {
        return;
    }
    let table = Table::new()
        .right("conns", 5)
        .space(1)
        .right("outbox p50 / p99 ms", 22)
        .space(1)
        .right("no outbox p50 / p99 ms", 22)
        .space(1)
        .right("CPU µs/write", 16);
    let _ = writeln!(
        out,
        "\nDomain events: the outbox's cost on POST /products through the gateway (CPU µs per \
         write of products, PostgreSQL and nats-server)\n{}",
        table.header()
    );
    for w in with {
        let Some(p) = report
            .runs
            .iter()
            .find(|r| r.operation == WRITE_PLAIN && r.concurrency == w.concurrency)
        else {
            continue;
        };
        let cells = [
            w.concurrency.to_string(),
            format!("{:.2} / {:.2}", w.p50_ms, w.p99_ms),
            format!("{:.2} / {:.2}", p.p50_ms, p.p99_ms),
            format!("{:.0} vs {:.0}", write_cpu(w), write_cpu(p)),
        ];
        let _ = writeln!(out, "{}", table.row(cells));
    }
    if let Some(d) = &report.delivery {
        let _ = writeln!(out, "{}", delivery_line(d));
    }
}

/// The reply-to-event latency in one line.
pub fn delivery_line(d: &DeliveryRecord) -> String {
    format!(
        "write reply → its event on GET /events: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         ({} writes, one at a time)",
        d.p50_ms, d.p99_ms, d.max_ms, d.writes
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Via;

    #[test]
    fn the_section_pairs_the_runs_and_sums_the_write_path() {
        let mut report = crate::report::tests::report();
        let mut with = crate::report::tests::run(WRITE_OUTBOX, Via::Gateway, 16, 900.0, 20.0);
        with.cpu_us_per_request = [
            ("products".to_owned(), 300.0),
            ("postgres".to_owned(), 200.0),
        ]
        .into_iter()
        .collect();
        let mut plain = crate::report::tests::run(WRITE_PLAIN, Via::Gateway, 16, 1200.0, 15.0);
        plain.cpu_us_per_request = [
            ("products-plain".to_owned(), 200.0),
            ("postgres".to_owned(), 150.0),
            ("gateway".to_owned(), 90.0),
        ]
        .into_iter()
        .collect();
        assert!((write_cpu(&with) - 500.0).abs() < 1e-9);
        assert!((write_cpu(&plain) - 350.0).abs() < 1e-9);
        report.runs.extend([with, plain]);
        report.delivery = Some(DeliveryRecord {
            writes: 200,
            p50_ms: 1.5,
            p99_ms: 4.25,
            max_ms: 9.0,
        });
        let mut out = String::new();
        render(&report, &mut out);
        assert!(out.contains("500 vs 350"), "{out}");
        assert!(out.contains("p50 1.50 ms, p99 4.25 ms"), "{out}");
    }
}
