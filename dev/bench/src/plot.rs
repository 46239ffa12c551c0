//! The picture: for each operation, throughput and p99 latency against concurrency, one line
//! per path (gateway, direct NATS, floor), as an SVG drawn by the test bed's charts
//! ([`testbed::plot`]). With a baseline, its lines are drawn too, paler, so two runs compare
//! at a glance.

use std::path::Path;

use testbed::plot::{Chart, Line};

use crate::report::{Report, RunRecord, Via};

/// What one chart shows.
#[derive(Clone, Copy)]
enum Measure {
    Throughput,
    P99,
}

impl Measure {
    fn of(self, run: &RunRecord) -> f64 {
        match self {
            Self::Throughput => run.rps,
            Self::P99 => run.p99_ms,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Throughput => "req/s",
            Self::P99 => "p99 ms",
        }
    }
}

fn colour(via: Via) -> (u8, u8, u8) {
    match via {
        Via::Gateway => (0xd6, 0x27, 0x28),
        Via::Nats => (0x1f, 0x77, 0xb4),
        Via::Floor => (0x2c, 0xa0, 0x2c),
        Via::Proxy => (0x94, 0x67, 0xbd),
    }
}

/// The points of `operation` via `via` in `report`, by concurrency.
fn points(report: &Report, operation: &str, via: Via, measure: Measure) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = report
        .runs
        .iter()
        .filter(|r| r.operation == operation && r.via == via)
        .map(|r| (r.concurrency as f64, measure.of(r)))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// Writes the picture of `report` (and `baseline`) to `path`, creating its directory.
pub fn write(report: &Report, baseline: Option<&Report>, path: &Path) -> anyhow::Result<()> {
    let mut operations: Vec<&str> = Vec::new();
    for run in &report.runs {
        if !operations.contains(&run.operation.as_str()) {
            operations.push(&run.operation);
        }
    }
    let charts: Vec<Chart> = operations
        .iter()
        .flat_map(|operation| {
            [Measure::Throughput, Measure::P99].map(|m| chart(report, baseline, operation, m))
        })
        .collect();
    testbed::plot::write(&charts, 2, path)?;
    Ok(())
}

fn chart(report: &Report, baseline: Option<&Report>, operation: &str, measure: Measure) -> Chart {
    let mut lines = Vec::new();
    for via in [Via::Gateway, Via::Nats, Via::Floor, Via::Proxy] {
        if let Some(base) = baseline {
            lines.push(Line {
                label: format!("{} (baseline)", label(via)),
                colour: colour(via),
                faded: true,
                points: points(base, operation, via, measure),
            });
        }
        lines.push(Line {
            label: label(via).to_owned(),
            colour: colour(via),
            faded: false,
            points: points(report, operation, via, measure),
        });
    }
    Chart {
        title: format!("{operation}: {}", measure.label()),
        x_desc: "concurrent clients".to_owned(),
        y_desc: measure.label().to_owned(),
        x_log: true,
        lines,
    }
}

fn label(via: Via) -> &'static str {
    match via {
        Via::Gateway => "gateway",
        Via::Nats => "direct NATS",
        Via::Floor => "floor (bare HTTP)",
        Via::Proxy => "bare proxy (HTTP + one NATS request)",
    }
}
