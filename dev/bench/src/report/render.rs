//! The report as text: the runs' table with ratios to a baseline, CPU per request by process,
//! the floor and the bounds, memory, the targets' verdicts and the failures.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{FLOOR, Report, RunRecord, Via};
use crate::memory::Kind;
use crate::table::{Table, thousands};

impl Report {
    /// The tables, the targets and any errors, as text; with ratios to `baseline` if given.
    pub fn render(&self, baseline: Option<&Self>) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "\nnatstack {} · {} cores · {} · {} MiB · Linux {} · RUST_LOG={} · {} s measured after {} s warm-up per run\n",
            self.version,
            m.cores,
            m.cpu,
            m.memory_mib,
            m.kernel,
            self.settings.rust_log,
            self.settings.duration_s,
            self.settings.warmup_s
        );
        self.render_runs(&mut out, baseline);
        self.render_cpu(&mut out);
        self.render_floor(&mut out);
        self.render_bounds(&mut out);
        crate::events_report::render(self, &mut out);
        crate::startup_report::render(self, &mut out);
        self.render_memory(&mut out);
        self.render_targets(&mut out);
        self.render_errors(&mut out);
        out
    }

    fn render_cpu(&self, out: &mut String) {
        let processes: BTreeSet<&str> = self
            .runs
            .iter()
            .flat_map(|r| r.cpu_us_per_request.keys().map(String::as_str))
            .collect();
        if processes.is_empty() {
            return;
        }
        // natstack's own processes in the order they were tracked, then the rest.
        let order: Vec<&str> = self
            .memory
            .iter()
            .map(|m| m.process.as_str())
            .filter(|p| processes.contains(p))
            .chain(
                processes
                    .iter()
                    .copied()
                    .filter(|p| !self.memory.iter().any(|m| m.process == *p)),
            )
            .collect();
        let mut table = run_columns();
        for p in &order {
            table = table.right(*p, p.len().max(6));
        }
        let _ = writeln!(
            out,
            "\nCPU µs per request (user + system, measured window)\n{}",
            table.header()
        );
        for run in &self.runs {
            let values = order.iter().map(|p| {
                run.cpu_us_per_request
                    .get(*p)
                    .filter(|us| **us >= 0.05)
                    .map_or_else(|| "·".to_owned(), |us| format!("{us:.1}"))
            });
            let cells = run_cells(run).into_iter().chain(values);
            let _ = writeln!(out, "{}", table.row(cells));
        }
    }

    fn render_floor(&self, out: &mut String) {
        let gateway = contract::deploy::GATEWAY;
        let pairs: Vec<(&RunRecord, f64, f64)> = self
            .runs
            .iter()
            .filter(|r| r.via == Via::Gateway)
            .filter_map(|r| {
                let floor = self.runs.iter().find(|f| {
                    f.via == Via::Floor
                        && f.operation == r.operation
                        && f.concurrency == r.concurrency
                })?;
                Some((
                    r,
                    *r.cpu_us_per_request.get(gateway)?,
                    *floor.cpu_us_per_request.get(FLOOR)?,
                ))
            })
            .collect();
        if pairs.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\ngateway CPU per request against the floor (a bare HTTP server, same bytes, no NATS)"
        );
        for (run, gw, floor) in pairs {
            let _ = writeln!(
                out,
                "  {:<40} gateway {gw:>6.1} µs   floor {floor:>6.1} µs   ×{:.1}",
                run.title(),
                gw / floor.max(f64::EPSILON)
            );
        }
    }

    /// The best a gateway could do on this machine (see [`crate::bound`]).
    fn render_bounds(&self, out: &mut String) {
        let bounds = crate::bound::bounds(self);
        if bounds.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\nthe best a gateway could do here: only HTTP (the floor) and one NATS request (the load \
             generator's NATS client)"
        );
        for b in bounds {
            let measured = b.measured.map_or_else(String::new, |(us, ratio)| {
                format!("; measured: the bare proxy {us:.1} µs, {ratio:.2} of direct")
            });
            let _ = writeln!(
                out,
                "  {:<40} {:>6.1} µs per request, at most {:.2} of direct NATS{measured}",
                format!("{} ×{}", b.operation, b.concurrency),
                b.minimal_gateway_us,
                b.ratio
            );
        }
    }

    fn render_runs(&self, out: &mut String, baseline: Option<&Self>) {
        let mut table = run_columns()
            .right("req/s", 9)
            .right("p50 ms", 8)
            .right("p90 ms", 8)
            .right("p99 ms", 8)
            .right("max ms", 8)
            .right("errors", 6)
            .right("gw/direct", 9);
        if baseline.is_some() {
            table = table.right("vs base", 9);
        }
        let _ = writeln!(out, "{}", table.header());
        let mut last_operation = "";
        for run in &self.runs {
            if run.operation != last_operation && !last_operation.is_empty() {
                out.push('\n');
            }
            last_operation = &run.operation;
            let ratio = run
                .gateway_over_direct
                .map_or_else(String::new, |r| format!("{r:.2}"));
            let figures = [
                thousands(run.rps),
                format!("{:.2}", run.p50_ms),
                format!("{:.2}", run.p90_ms),
                format!("{:.2}", run.p99_ms),
                format!("{:.2}", run.max_ms),
                run.errors.to_string(),
                ratio,
            ];
            let vs = baseline.map(|base| {
                base.runs
                    .iter()
                    .find(|b| b.same_run(run))
                    .filter(|b| b.rps > 0.0)
                    .map_or_else(|| "–".to_owned(), |b| format!("{:.2}", run.rps / b.rps))
            });
            let cells = run_cells(run).into_iter().chain(figures).chain(vs);
            let _ = writeln!(out, "{}", table.row(cells));
        }
    }

    fn render_memory(&self, out: &mut String) {
        let table = Table::new()
            .left("process", 12)
            .left("kind", 14)
            .right("rest MiB", 9)
            .right("peak MiB", 9)
            .right("after MiB", 9)
            .space(1)
            .left("peak during", 0);
        let _ = writeln!(out, "\n{}", table.header());
        for p in &self.memory {
            let kind = match p.kind {
                Kind::Ours => "natstack",
                Kind::Server => "server",
                Kind::ServerTree => "server (PSS)",
                Kind::LoadGenerator => "load gen",
            };
            let _ = writeln!(
                out,
                "{}",
                table.row([
                    p.process.clone(),
                    kind.to_owned(),
                    format!("{:.1}", mib(p.at_rest_kib)),
                    format!("{:.1}", mib(p.peak_kib)),
                    format!("{:.1}", mib(p.after_kib)),
                    p.peak_during.clone(),
                ])
            );
        }
    }

    fn render_targets(&self, out: &mut String) {
        let _ = writeln!(out, "\ntargets:");
        for verdict in &self.targets {
            let _ = writeln!(out, "  {} {}", verdict.mark(), verdict.detail);
        }
    }

    fn render_errors(&self, out: &mut String) {
        let failed: Vec<&RunRecord> = self.runs.iter().filter(|r| r.errors > 0).collect();
        for run in failed {
            let _ = writeln!(
                out,
                "\n{}: {} failed requests, e.g.",
                run.title(),
                run.errors
            );
            for sample in &run.error_samples {
                let _ = writeln!(out, "    {sample}");
            }
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The columns every per-run table starts with: what was run, how, and at what concurrency.
fn run_columns() -> Table {
    Table::new()
        .left("operation", 24)
        .left("via", 8)
        .right("conns", 5)
}

/// The cells of [`run_columns`] for `run`.
fn run_cells(run: &RunRecord) -> [String; 3] {
    [
        run.operation.clone(),
        run.via.label().to_owned(),
        run.concurrency.to_string(),
    ]
}
