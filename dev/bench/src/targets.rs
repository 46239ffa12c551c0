//! The targets a run is held to (issue 17), each met or missed, in the printed report and the
//! JSON alike:
//!
//! - the echo operation (no database) through the gateway keeps ≥ 0.6 of its direct NATS
//!   throughput at 64 clients and ≥ 0.5 at 256;
//! - `GET /products/{id}` through the gateway keeps ≥ 0.9 of direct at 64 clients with a p99 of
//!   at most 8 ms;
//! - the gateway spends at most 20 µs of CPU per proxied request (every gateway run at 64
//!   clients);
//! - every natstack process stays under 30 MiB resident under load, except auth, whose budget is
//!   what its argon2 settings promise: `ARGON2_MAX_CONCURRENT` × `ARGON2_MEMORY_KIB` plus
//!   [`contract::deploy::AUTH_BASE_MEMORY_BYTES`];
//! - every request succeeded.

use serde::{Deserialize, Serialize};

use crate::memory::Kind;
use crate::report::{Report, RunRecord, Via};
use crate::scenario::{ECHO_GET, PRODUCTS_GET};

/// The budget of natstack's own processes under load (auth aside).
pub const MEMORY_BUDGET_KIB: u64 = 30 * 1024;
/// Echo through the gateway over echo directly, at 64 and 256 clients.
pub const ECHO_RATIOS: [(usize, f64); 2] = [(64, 0.6), (256, 0.5)];
/// Products through the gateway over products directly, at 64 clients.
pub const PRODUCTS_RATIO: f64 = 0.9;
/// The p99 of products through the gateway at 64 clients.
pub const PRODUCTS_P99_MS: f64 = 8.0;
/// The gateway's CPU per proxied request.
pub const GATEWAY_CPU_US: f64 = 20.0;
/// The concurrency the throughput, latency and CPU targets are read at.
const HEADLINE_CONCURRENCY: usize = 64;

/// One target and whether the run met it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether it was met; `None` when the runs it needs were not made.
    pub met: Option<bool>,
    /// What was required and what was measured.
    pub detail: String,
}

impl Verdict {
    fn new(met: bool, detail: String) -> Self {
        Self {
            met: Some(met),
            detail,
        }
    }

    fn not_run(what: &str) -> Self {
        Self {
            met: None,
            detail: format!("{what}: not run"),
        }
    }

    /// `met `, `MISS` or `–   `, for the printed report.
    pub fn mark(&self) -> &'static str {
        match self.met {
            Some(true) => "met ",
            Some(false) => "MISS",
            None => "–   ",
        }
    }
}

fn gateway_run<'a>(
    report: &'a Report,
    operation: &str,
    concurrency: usize,
) -> Option<&'a RunRecord> {
    report
        .runs
        .iter()
        .find(|r| r.operation == operation && r.via == Via::Gateway && r.concurrency == concurrency)
}

fn ratio(report: &Report, operation: &str, concurrency: usize, min: f64) -> Verdict {
    let what = format!("{operation} via gateway ×{concurrency} ≥ {min} of direct NATS");
    match gateway_run(report, operation, concurrency).and_then(|r| r.gateway_over_direct) {
        Some(r) => Verdict::new(r >= min, format!("{what}: {r:.2}")),
        None => Verdict::not_run(&what),
    }
}

fn products(report: &Report) -> Verdict {
    let what = format!(
        "{PRODUCTS_GET} via gateway ×{HEADLINE_CONCURRENCY} ≥ {PRODUCTS_RATIO} of direct, \
         p99 ≤ {PRODUCTS_P99_MS} ms"
    );
    match gateway_run(report, PRODUCTS_GET, HEADLINE_CONCURRENCY) {
        Some(r) => {
            let value = r.gateway_over_direct.unwrap_or_default();
            Verdict::new(
                value >= PRODUCTS_RATIO && r.p99_ms <= PRODUCTS_P99_MS && r.errors == 0,
                format!("{what}: {value:.2}, p99 {:.2} ms", r.p99_ms),
            )
        }
        None => Verdict::not_run(&what),
    }
}

fn gateway_cpu(report: &Report) -> Verdict {
    let what = format!(
        "gateway ≤ {GATEWAY_CPU_US} µs CPU per proxied request (every run ×{HEADLINE_CONCURRENCY})"
    );
    let worst = report
        .runs
        .iter()
        .filter(|r| r.via == Via::Gateway && r.concurrency == HEADLINE_CONCURRENCY)
        .filter_map(|r| Some((r.cpu_us_per_request.get(contract::deploy::GATEWAY)?, r)))
        .max_by(|a, b| a.0.total_cmp(b.0));
    match worst {
        Some((us, r)) => Verdict::new(
            *us <= GATEWAY_CPU_US,
            format!("{what}: worst {us:.1} µs ({})", r.title()),
        ),
        None => Verdict::not_run(&what),
    }
}

/// auth's memory budget in KiB: its hashing slots plus its stated base.
pub fn auth_budget_kib(report: &Report) -> u64 {
    let s = &report.settings;
    s.argon2_max_concurrent * s.argon2_memory_kib + contract::deploy::AUTH_BASE_MEMORY_BYTES / 1024
}

fn memory(report: &Report) -> Verdict {
    let auth_budget = auth_budget_kib(report);
    let over: Vec<String> = report
        .memory
        .iter()
        .filter(|p| p.kind == Kind::Ours)
        .filter(|p| {
            let budget = if p.process == contract::deploy::AUTH {
                auth_budget
            } else {
                MEMORY_BUDGET_KIB
            };
            p.peak_kib > budget
        })
        .map(|p| {
            format!(
                "{} {:.1} MiB during {}",
                p.process,
                mib(p.peak_kib),
                p.peak_during
            )
        })
        .collect();
    let s = &report.settings;
    let what = format!(
        "every natstack process under {} MiB resident under load; auth under {:.1} MiB \
         ({} × {} KiB argon2 + {} MiB base)",
        MEMORY_BUDGET_KIB / 1024,
        mib(auth_budget),
        s.argon2_max_concurrent,
        s.argon2_memory_kib,
        contract::deploy::AUTH_BASE_MEMORY_BYTES / (1024 * 1024)
    );
    if over.is_empty() {
        Verdict::new(true, what)
    } else {
        Verdict::new(false, format!("{what}: over: {}", over.join("; ")))
    }
}

fn no_errors(report: &Report) -> Verdict {
    let errors = report.errors();
    Verdict::new(
        errors == 0,
        format!("every request succeeded ({errors} failed)"),
    )
}

/// Every target, judged on `report`'s runs.
pub fn judge(report: &Report) -> Vec<Verdict> {
    let mut out: Vec<Verdict> = ECHO_RATIOS
        .iter()
        .map(|(concurrency, min)| ratio(report, ECHO_GET, *concurrency, *min))
        .collect();
    out.push(products(report));
    out.push(gateway_cpu(report));
    out.push(memory(report));
    out.push(no_errors(report));
    out
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
