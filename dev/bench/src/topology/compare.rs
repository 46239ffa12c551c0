//! The topology comparison: per operation and concurrency, throughput, p99 and CPU µs per
//! request of each component in the single topology (one process each) and the full one,
//! then the sizing rule, the cost of a NATS cluster hop, the check of the rule against a
//! mixed load, PostgreSQL's connections and memory per instance. Printed, and written as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::model;
use crate::report::RunRecord;
use crate::table::{Table, thousands};

/// Components in the order the table lists them; others follow by name.
const ORDER: [&str; 9] = [
    contract::deploy::GATEWAY,
    contract::deploy::PRODUCTS,
    contract::deploy::CUSTOMERS,
    contract::deploy::AUTH,
    "nats-server",
    super::instances::POSTGRES,
    "nx-27017",
    crate::report::LOAD_GENERATOR,
    super::instances::HARNESS,
];
/// Figures below this many µs are left out of the table.
const SHOWN: f64 = 0.05;

/// One side of a comparison row.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// Requests per second.
    pub rps: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Failed requests.
    pub errors: u64,
    /// CPU µs per request of each component, summed over its instances.
    pub cpu_us: BTreeMap<String, f64>,
}

impl Side {
    /// The figures of a run.
    pub fn of(run: &RunRecord, cpu_us: BTreeMap<String, f64>) -> Self {
        Self {
            rps: run.rps,
            p99_ms: run.p99_ms,
            errors: run.errors,
            cpu_us,
        }
    }

    /// CPU µs per request of every process on the machine together.
    pub fn total_us(&self) -> f64 {
        self.cpu_us.values().sum()
    }

    fn us(&self, component: &str) -> f64 {
        self.cpu_us.get(component).copied().unwrap_or(0.0)
    }
}

/// One operation at one concurrency in both topologies.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The operation.
    pub operation: String,
    /// Concurrent clients (split evenly between the gateways in the full topology).
    pub concurrency: usize,
    /// The single topology's run through the gateway, when it was made.
    pub single: Option<Side>,
    /// The full topology's run.
    pub full: Side,
}

/// The sizing rule checked against a measured mixed load.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Concurrent clients, split evenly between the operations.
    pub concurrency: usize,
    /// The operations mixed.
    pub operations: Vec<String>,
    /// Σ CPU µs per request of each operation alone (the rule's input).
    pub us_per_request: Vec<f64>,
    /// Cores of the machine.
    pub cores: usize,
    /// CPU µs a second the processes got in the single-operation runs (≤ cores × 10⁶).
    pub busy_cpu_us_per_s: f64,
    /// Predicted with `cores × 10⁶`.
    pub predicted_rps_cores: f64,
    /// Predicted with the CPU the processes got in the single-operation runs.
    pub predicted_rps: f64,
    /// Measured.
    pub measured_rps: f64,
    /// (predicted − measured) / measured, for `predicted_rps`.
    pub off_by: f64,
    /// The same for `predicted_rps_cores`.
    pub off_by_cores: f64,
}

/// PostgreSQL's connections in the full topology.
#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    /// `DATABASE_MAX_CONNECTIONS` of each PostgreSQL service's pods, as they run.
    pub pool_per_pod: BTreeMap<String, u32>,
    /// Pods of each of those services.
    pub pods: BTreeMap<String, usize>,
    /// The server's `max_connections`, as it runs.
    pub max_connections: Option<u32>,
}

impl Connections {
    /// Σ pool × pods: the connections the services may open at once.
    pub fn needed(&self) -> u32 {
        self.pool_per_pod
            .iter()
            .map(|(s, pool)| pool * self.pods.get(s).copied().unwrap_or(0) as u32)
            .sum()
    }
}

/// Resident memory of a component's instances.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// The component.
    pub component: String,
    /// Its instances.
    pub instances: usize,
    /// The highest resident memory of one instance seen after any run, KiB (PostgreSQL: PSS
    /// over its tree).
    pub peak_kib_per_instance: u64,
}

/// Everything the full topology measured.
#[derive(Debug, Clone, Serialize)]
pub struct TopologyReport {
    /// The stack file run.
    pub stack_file: String,
    /// Instances of each component in the full topology.
    pub instances: BTreeMap<String, usize>,
    /// The comparison.
    pub rows: Vec<Row>,
    /// The rule against a mixed load.
    pub check: Option<Check>,
    /// PostgreSQL's connections.
    pub connections: Option<Connections>,
    /// Memory per instance.
    pub memory: Vec<Memory>,
}

fn components(rows: &[Row]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for row in rows {
        for side in row.single.iter().chain([&row.full]) {
            for (c, us) in &side.cpu_us {
                if *us >= SHOWN {
                    seen.insert(c.clone());
                }
            }
        }
    }
    let mut out: Vec<String> = ORDER
        .iter()
        .filter(|c| seen.contains(**c))
        .map(|c| (*c).to_owned())
        .collect();
    out.extend(seen.into_iter().filter(|c| !ORDER.contains(&c.as_str())));
    out
}

fn us_cell(us: f64) -> String {
    if us.abs() < SHOWN {
        "·".to_owned()
    } else {
        format!("{us:.1}")
    }
}

impl TopologyReport {
    /// The printed form.
    pub fn render(&self, cores: usize) -> String {
        let mut out = String::new();
        let instances: Vec<String> = self
            .instances
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect();
        let _ = writeln!(
            out,
            "\ntopology comparison: single (the launcher, one process each) against full ({}, \
             run by stack-run: {}), rate limits off, load through the gateway Service (its \
             connections alternate between the gateway pods)",
            self.stack_file,
            instances.join(", ")
        );
        let columns = components(&self.rows);
        let mut table = Table::new()
            .left("operation", 24)
            .right("conns", 5)
            .left("topology", 12)
            .right("req/s", 9)
            .right("p99 ms", 8)
            .right("errors", 6);
        for c in &columns {
            table = table.right(c.as_str(), 11);
        }
        let table = table.right("total", 8);
        let _ = writeln!(out, "{}   (CPU µs per request)", table.header());
        for row in &self.rows {
            let line = |out: &mut String, label: &str, side: &Side| {
                let cells = [
                    row.operation.clone(),
                    row.concurrency.to_string(),
                    label.to_owned(),
                    thousands(side.rps),
                    format!("{:.2}", side.p99_ms),
                    side.errors.to_string(),
                ]
                .into_iter()
                .chain(columns.iter().map(|c| us_cell(side.us(c))))
                .chain([format!("{:.1}", side.total_us())]);
                let _ = writeln!(out, "{}", table.row(cells));
            };
            if let Some(single) = &row.single {
                line(&mut out, "single", single);
            }
            line(&mut out, "full", &row.full);
            if let Some(single) = &row.single {
                let differences = columns.iter().map(|c| {
                    let d = row.full.us(c) - single.us(c);
                    if d.abs() < SHOWN {
                        "·".to_owned()
                    } else {
                        format!("{d:+.1}")
                    }
                });
                let cells = [
                    row.operation.clone(),
                    row.concurrency.to_string(),
                    "full−single".to_owned(),
                    format!("{:+.0}%", model::off_by(row.full.rps, single.rps) * 100.0),
                    String::new(),
                    String::new(),
                ]
                .into_iter()
                .chain(differences)
                .chain([format!("{:+.1}", row.full.total_us() - single.total_us())]);
                let _ = writeln!(out, "{}", table.row(cells));
            }
        }

        let _ = writeln!(
            out,
            "\na NATS cluster hop: nats-server CPU µs per request, all servers, full − single"
        );
        for row in &self.rows {
            if let Some(single) = &row.single {
                let (s, f) = (single.us("nats-server"), row.full.us("nats-server"));
                let _ = writeln!(
                    out,
                    "  {:<24} ×{:<4} single {s:>6.1}  full {f:>6.1}  hop {:>+6.1} µs",
                    row.operation,
                    row.concurrency,
                    f - s
                );
            }
        }

        let _ = writeln!(
            out,
            "\nsizing rule (full topology): cores per 1,000 req/s of each component, and what {cores} \
             cores serve when CPU-bound (cores × 10⁶ / total µs)"
        );
        let rule_columns: Vec<&String> = columns
            .iter()
            .filter(|c| c.as_str() != super::instances::HARNESS)
            .collect();
        let mut rule = Table::new()
            .space(2)
            .left("operation", 24)
            .right("conns", 5);
        for c in &rule_columns {
            rule = rule.right(c.as_str(), 11);
        }
        let rule = rule.right("total", 8).right("req/s", 10);
        let _ = writeln!(out, "{}", rule.header());
        for row in &self.rows {
            let total_us = row.full.total_us();
            let per_component = rule_columns
                .iter()
                .map(|c| format!("{:.4}", model::cores_per_thousand(row.full.us(c))));
            let cells = [row.operation.clone(), row.concurrency.to_string()]
                .into_iter()
                .chain(per_component)
                .chain([
                    format!("{:.4}", model::cores_per_thousand(total_us)),
                    thousands(model::throughput(cores as f64 * 1e6, total_us)),
                ]);
            let _ = writeln!(out, "{}", rule.row(cells));
        }
        let _ = writeln!(
            out,
            "  (total: every process on this machine, the load generator and stack-run \
             included; stack-run's Service proxies are a cluster's kube-proxy, in the kernel \
             there, so a cluster's sizing leaves them out)"
        );

        if let Some(check) = &self.check {
            let _ = writeln!(
                out,
                "\nthe rule against a second size: ×{} split evenly between {} on the full topology",
                check.concurrency,
                check.operations.join(" and ")
            );
            let costs: Vec<String> = check
                .operations
                .iter()
                .zip(&check.us_per_request)
                .map(|(o, us)| format!("{o} {us:.1} µs"))
                .collect();
            let _ = writeln!(
                out,
                "  alone: {}; the processes got {:.2} of {} cores in those runs",
                costs.join(", "),
                check.busy_cpu_us_per_s / 1e6,
                check.cores
            );
            let _ = writeln!(
                out,
                "  prediction vs measured: predicted {} req/s, measured {} req/s, off by {:+.1}% \
                 (with cores × 10⁶: predicted {} req/s, off by {:+.1}%)",
                thousands(check.predicted_rps),
                thousands(check.measured_rps),
                check.off_by * 100.0,
                thousands(check.predicted_rps_cores),
                check.off_by_cores * 100.0
            );
        }

        if let Some(pg) = &self.connections {
            let pools: Vec<String> = pg
                .pool_per_pod
                .iter()
                .map(|(s, pool)| {
                    format!("{s} {pool} × {} pods", pg.pods.get(s).copied().unwrap_or(0))
                })
                .collect();
            let max = pg
                .max_connections
                .map_or_else(|| "unknown".to_owned(), |m| m.to_string());
            let _ = writeln!(
                out,
                "\nPostgreSQL connections: pools {} = {} at most, server max_connections {max}",
                pools.join(", "),
                pg.needed()
            );
        }
        if !self.memory.is_empty() {
            let _ = writeln!(
                out,
                "\nmemory per instance (full topology, highest after any run)"
            );
            for m in &self.memory {
                let _ = writeln!(
                    out,
                    "  {:<12} ×{}  {:>7.1} MiB",
                    m.component,
                    m.instances,
                    m.peak_kib_per_instance as f64 / 1024.0
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(rps: f64, cpu: &[(&str, f64)]) -> Side {
        Side {
            rps,
            p99_ms: 12.5,
            errors: 0,
            cpu_us: cpu.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn the_comparison_shows_both_sides_the_hop_and_the_rule() {
        let report = TopologyReport {
            stack_file: "examples/full.yaml".into(),
            instances: [("gateway".to_owned(), 2), ("nats-server".to_owned(), 3)].into(),
            rows: vec![Row {
                operation: "GET /products/{id}".into(),
                concurrency: 64,
                single: Some(side(
                    10_000.0,
                    &[("gateway", 30.0), ("nats-server", 20.0), ("floor", 0.01)],
                )),
                full: side(
                    8_000.0,
                    &[
                        ("gateway", 32.0),
                        ("nats-server", 35.0),
                        ("stack-run", 40.0),
                    ],
                ),
            }],
            check: Some(Check {
                concurrency: 64,
                operations: vec!["a".into(), "b".into()],
                us_per_request: vec![100.0, 200.0],
                cores: 2,
                busy_cpu_us_per_s: 1.9e6,
                predicted_rps: 14_250.0,
                predicted_rps_cores: 15_000.0,
                measured_rps: 15_000.0,
                off_by: -0.05,
                off_by_cores: 0.0,
            }),
            connections: Some(Connections {
                pool_per_pod: [("products".to_owned(), 10)].into(),
                pods: [("products".to_owned(), 2)].into(),
                max_connections: Some(100),
            }),
            memory: vec![Memory {
                component: "gateway".into(),
                instances: 2,
                peak_kib_per_instance: 10_240,
            }],
        };
        let text = report.render(2);
        assert!(text.contains("2 gateway, 3 nats-server"), "{text}");
        // The idle floor is not a column; the harness is.
        assert!(!text.contains("floor"), "{text}");
        assert!(text.contains("stack-run"), "{text}");
        assert!(text.contains("-20%"), "{text}");
        assert!(text.contains("hop  +15.0 µs"), "{text}");
        // 107 µs in all: 0.1070 cores per 1,000 req/s, 2 cores serve 18,692 req/s.
        assert!(text.contains("0.1070"), "{text}");
        assert!(text.contains("18,692"), "{text}");
        assert!(text.contains("predicted 14,250 req/s, measured 15,000 req/s, off by -5.0%"));
        assert!(text.contains("products 10 × 2 pods = 20 at most, server max_connections 100"));
        assert!(text.contains("gateway      ×2     10.0 MiB"), "{text}");
        assert_eq!(report.connections.as_ref().unwrap().needed(), 20);
        assert!(
            serde_json::to_string(&report)
                .unwrap()
                .contains("\"off_by\":-0.05")
        );
    }
}
