//! The picture of a dashboard without Grafana: the overview's main panels, each drawn from
//! Prometheus' range query over the run, as an SVG (the test bed's charts).

use std::path::Path;

use anyhow::Result;
use testbed::plot::{Chart, Line, palette};

use crate::dashboards::{Query, legend};
use crate::prometheus::Prometheus;
use crate::promql::Variables;

/// How many panels the picture shows (the first ones of the overview: rate, errors, latency,
/// instances, refusals).
pub const PANELS: usize = 6;

/// Draws the first [`PANELS`] panels of `queries` from `start` to `end` (Unix seconds) into
/// `path`, two to a row.
pub async fn write(
    prometheus: &Prometheus,
    queries: &[Query],
    variables: &Variables,
    (start, end): (f64, f64),
    path: &Path,
) -> Result<()> {
    let mut charts: Vec<Chart> = Vec::new();
    for query in queries {
        let index = match charts.iter().position(|c| c.title == query.panel) {
            Some(index) => index,
            None if charts.len() < PANELS => {
                charts.push(Chart {
                    title: query.panel.clone(),
                    x_desc: "seconds into the run".to_owned(),
                    y_desc: String::new(),
                    x_log: false,
                    lines: Vec::new(),
                });
                charts.len() - 1
            }
            None => continue,
        };
        let chart = &mut charts[index];
        let series = prometheus
            .query_range(&variables.apply(&query.expr), start, end, 1.0)
            .await?;
        for one in series {
            let points = one["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|pair| {
                    let t = pair[0].as_f64()?;
                    let v: f64 = pair[1].as_str()?.parse().ok()?;
                    Some((t - start, v))
                })
                .collect();
            let colour = palette(chart.lines.len());
            chart.lines.push(Line {
                label: legend(query.legend.as_deref(), &one["metric"]),
                colour,
                faded: false,
                points,
            });
        }
    }
    testbed::plot::write(&charts, 2, path)?;
    Ok(())
}
