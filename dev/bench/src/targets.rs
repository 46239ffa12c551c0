//! The targets a run is held to (issue 30; issue 17's throughput ratios and gateway CPU target
//! are retired), each met or missed, in the printed report and the JSON alike:
//!
//! - the products service spends at most 30 µs of CPU per `GET /products/{id}` at 64 clients
//!   (read on the gateway run; the direct NATS run's figure is shown beside it);
//! - the customers service spends at most 70 µs per `GET /customers?limit=20` at 64 clients
//!   (likewise);
//! - `GET /products/{id}` through the gateway at 64 clients has a p99 of at most 10 ms;
//! - every natstack process stays under 30 MiB resident under load, except auth, whose budget is
//!   what its argon2 settings promise: `ARGON2_MAX_CONCURRENT` × `ARGON2_MEMORY_KIB` plus
//!   [`contract::deploy::AUTH_BASE_MEMORY_BYTES`];
//! - every request succeeded.
//!
//! Other modules add their own verdicts to what [`judge`] returns, built with
//! [`Verdict::new`] and [`Verdict::not_run`].

use serde::{Deserialize, Serialize};

use crate::memory::Kind;
use crate::report::{Report, RunRecord, Via};
use crate::scenario::{CUSTOMERS_LIST, PRODUCTS_GET};

/// The budget of natstack's own processes under load (auth aside).
pub const MEMORY_BUDGET_KIB: u64 = 30 * 1024;
/// The p99 of products through the gateway at 64 clients.
pub const PRODUCTS_P99_MS: f64 = 10.0;
/// The products service's CPU per `GET /products/{id}`.
pub const PRODUCTS_CPU_US: f64 = 30.0;
/// The customers service's CPU per `GET /customers?limit=20`.
pub const CUSTOMERS_CPU_US: f64 = 70.0;
/// The concurrency the latency and CPU targets are read at.
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
    /// A target judged: `met` or not, with what was required and measured.
    pub fn new(met: bool, detail: String) -> Self {
        Self {
            met: Some(met),
            detail,
        }
    }

    /// A target whose runs were not made (`--only`, `--concurrency`).
    pub fn not_run(what: &str) -> Self {
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

fn run<'a>(
    report: &'a Report,
    operation: &str,
    via: Via,
    concurrency: usize,
) -> Option<&'a RunRecord> {
    report
        .runs
        .iter()
        .find(|r| r.operation == operation && r.via == via && r.concurrency == concurrency)
}

fn products_p99(report: &Report) -> Verdict {
    let what =
        format!("{PRODUCTS_GET} via gateway ×{HEADLINE_CONCURRENCY} p99 ≤ {PRODUCTS_P99_MS} ms");
    match run(report, PRODUCTS_GET, Via::Gateway, HEADLINE_CONCURRENCY) {
        Some(r) => Verdict::new(
            r.p99_ms <= PRODUCTS_P99_MS && r.errors == 0,
            format!("{what}: {:.2} ms", r.p99_ms),
        ),
        None => Verdict::not_run(&what),
    }
}

/// `service`'s CPU per `operation` at the headline concurrency, judged on the gateway run (the
/// way clients reach it) with the direct NATS run's figure beside it.
fn service_cpu(report: &Report, operation: &str, service: &str, max_us: f64) -> Verdict {
    let what = format!(
        "{service} service ≤ {max_us} µs CPU per {operation} (via gateway ×{HEADLINE_CONCURRENCY})"
    );
    let us = |via| {
        run(report, operation, via, HEADLINE_CONCURRENCY)
            .and_then(|r| r.cpu_us_per_request.get(service).copied())
    };
    let direct = us(Via::Nats).map_or_else(String::new, |d| format!(", via nats {d:.1} µs"));
    match us(Via::Gateway) {
        Some(us) => Verdict::new(us <= max_us, format!("{what}: {us:.1} µs{direct}")),
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

/// Every target of this module, judged on `report`'s runs; other modules extend the list.
pub fn judge(report: &Report) -> Vec<Verdict> {
    vec![
        service_cpu(
            report,
            PRODUCTS_GET,
            contract::deploy::PRODUCTS,
            PRODUCTS_CPU_US,
        ),
        service_cpu(
            report,
            CUSTOMERS_LIST,
            contract::deploy::CUSTOMERS,
            CUSTOMERS_CPU_US,
        ),
        products_p99(report),
        memory(report),
        no_errors(report),
    ]
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report, run as record};

    fn with_cpu(mut r: RunRecord, process: &str, us: f64) -> RunRecord {
        r.cpu_us_per_request.insert(process.to_owned(), us);
        r
    }

    fn detail<'a>(verdicts: &'a [Verdict], prefix: &str) -> &'a Verdict {
        verdicts
            .iter()
            .find(|v| v.detail.starts_with(prefix))
            .unwrap_or_else(|| panic!("no verdict starting {prefix:?} in {verdicts:?}"))
    }

    #[test]
    fn the_services_cpu_is_read_on_the_gateway_run_with_the_direct_figure_beside_it() {
        let mut report = report();
        report.runs = vec![
            with_cpu(
                record(PRODUCTS_GET, Via::Nats, 64, 1.0, 3.0),
                "products",
                24.0,
            ),
            with_cpu(
                record(PRODUCTS_GET, Via::Gateway, 64, 1.0, 9.5),
                "products",
                29.0,
            ),
            with_cpu(
                record(CUSTOMERS_LIST, Via::Gateway, 64, 1.0, 9.0),
                "customers",
                71.0,
            ),
        ];
        let verdicts = judge(&report);
        let products = detail(&verdicts, "products service");
        assert_eq!(products.met, Some(true));
        assert!(
            products.detail.ends_with("29.0 µs, via nats 24.0 µs"),
            "{products:?}"
        );
        let customers = detail(&verdicts, "customers service");
        assert_eq!(customers.met, Some(false), "{customers:?}");
        assert!(customers.detail.ends_with("71.0 µs"), "{customers:?}");
        assert_eq!(detail(&verdicts, PRODUCTS_GET).met, Some(true));
    }

    #[test]
    fn a_slow_tail_misses_and_missing_runs_are_not_judged() {
        let mut report = report();
        report.runs = vec![record(PRODUCTS_GET, Via::Gateway, 64, 1.0, 10.5)];
        let verdicts = judge(&report);
        let p99 = detail(&verdicts, PRODUCTS_GET);
        assert_eq!(p99.met, Some(false));
        assert!(p99.detail.ends_with("10.50 ms"), "{p99:?}");
        // The record has no products CPU line, and no customers run was made.
        assert_eq!(detail(&verdicts, "products service").met, None);
        assert_eq!(detail(&verdicts, "customers service").met, None);
        assert_eq!(detail(&verdicts, "customers service").mark(), "–   ");
    }
}
