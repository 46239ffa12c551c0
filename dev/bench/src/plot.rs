//! The picture: for each operation, throughput and p99 latency against concurrency, one line
//! per path (gateway, direct NATS, floor), as an SVG. With a baseline, its lines are drawn too,
//! paler, so two runs compare at a glance.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use crate::report::{Report, RunRecord, Via};

const WIDTH: u32 = 1100;
const ROW_HEIGHT: u32 = 300;
const FONT: &str = "sans-serif";

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

fn colour(via: Via) -> RGBColor {
    match via {
        Via::Gateway => RGBColor(0xd6, 0x27, 0x28),
        Via::Nats => RGBColor(0x1f, 0x77, 0xb4),
        Via::Floor => RGBColor(0x2c, 0xa0, 0x2c),
        Via::Proxy => RGBColor(0x94, 0x67, 0xbd),
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
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut operations: Vec<&str> = Vec::new();
    for run in &report.runs {
        if !operations.contains(&run.operation.as_str()) {
            operations.push(&run.operation);
        }
    }
    if operations.is_empty() {
        return Ok(());
    }
    let rows = u32::try_from(operations.len()).unwrap_or(1);
    let root = SVGBackend::new(path, (WIDTH, ROW_HEIGHT * rows)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing)?;
    let cells = root.split_evenly((operations.len(), 2));
    for (i, cell) in cells.iter().enumerate() {
        let operation = operations[i / 2];
        let measure = if i % 2 == 0 {
            Measure::Throughput
        } else {
            Measure::P99
        };
        chart(cell, report, baseline, operation, measure)?;
    }
    root.present().map_err(drawing)?;
    Ok(())
}

fn drawing<E: std::error::Error + Send + Sync + 'static>(error: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the picture: {error}")
}

fn chart(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    report: &Report,
    baseline: Option<&Report>,
    operation: &str,
    measure: Measure,
) -> anyhow::Result<()> {
    let runs = [Some(report), baseline];
    let all: Vec<&RunRecord> = runs
        .iter()
        .flatten()
        .flat_map(|r| r.runs.iter())
        .filter(|r| r.operation == operation)
        .collect();
    let max_x = all.iter().map(|r| r.concurrency).max().unwrap_or(1) as f64;
    let max_y = all.iter().map(|r| measure.of(r)).fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{operation}: {}", measure.label()), (FONT, 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (0.8..max_x * 1.25).log_scale(),
            0.0..(max_y * 1.1).max(f64::EPSILON),
        )
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc(measure.label())
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(drawing)?;
    for via in [Via::Gateway, Via::Nats, Via::Floor, Via::Proxy] {
        if let Some(base) = baseline {
            let line = points(base, operation, via, measure);
            if !line.is_empty() {
                let style = colour(via).mix(0.35).stroke_width(2);
                chart
                    .draw_series(LineSeries::new(line, style))
                    .map_err(drawing)?
                    .label(format!("{} (baseline)", label(via)))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
        }
        let line = points(report, operation, via, measure);
        if !line.is_empty() {
            let style = colour(via).stroke_width(2);
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(drawing)?
                .label(label(via))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(drawing)?;
    Ok(())
}

fn label(via: Via) -> &'static str {
    match via {
        Via::Gateway => "gateway",
        Via::Nats => "direct NATS",
        Via::Floor => "floor (bare HTTP)",
        Via::Proxy => "bare proxy (HTTP + one NATS request)",
    }
}
