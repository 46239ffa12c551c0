//! The start-up figures ([`crate::startup`]) and the default configuration's cost
//! ([`crate::defaults`]): their records in the JSON, their tables, and their targets (issue 30,
//! items 3 and 4):
//!
//! - every binary is ready within [`READY_TARGET_MS`] of its exec, cold and warm (the median
//!   of the samples is judged; the max is printed beside it);
//! - a new instance of every service answers its first request through the gateway within
//!   [`ROUTED_TARGET_MS`] of its exec (median judged);
//! - the gateway with a stack's defaults spends at most [`DEFAULTS_MAX_RATIO`] × the CPU per
//!   request of the stripped configuration (the worst operation judged).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::report::Report;
use crate::table::Table;
use crate::targets::Verdict;

/// Exec to ready, each binary.
pub const READY_TARGET_MS: f64 = 300.0;
/// Exec to the first request answered through the gateway, each service.
pub const ROUTED_TARGET_MS: f64 = 1000.0;
/// The stock gateway's CPU per request over the stripped gateway's.
pub const DEFAULTS_MAX_RATIO: f64 = 1.10;

/// Samples of one duration, in milliseconds, in the order taken.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    /// Every sample, ms.
    pub ms: Vec<f64>,
}

impl Samples {
    /// The median (the lower middle of an even count); `None` with no samples.
    pub fn median(&self) -> Option<f64> {
        let mut sorted = self.ms.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        (n > 0).then(|| sorted[(n - 1) / 2])
    }

    /// The largest sample; `None` with no samples.
    pub fn max(&self) -> Option<f64> {
        self.ms.iter().copied().max_by(f64::total_cmp)
    }

    /// The median and max cells of the start-up table.
    fn cells(&self) -> [String; 2] {
        match (self.median(), self.max()) {
            (Some(median), Some(max)) => [format!("{median:.0}"), format!("{max:.0}")],
            _ => ["–".to_owned(), "–".to_owned()],
        }
    }
}

/// One binary's start-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartupRecord {
    /// `gateway`, `auth`, `customers` or `products`.
    pub binary: String,
    /// Exec to ready on a fresh database (migrations, seed, the admin's hash), with the page
    /// cache dropped first when that was allowed.
    pub cold: Samples,
    /// Exec to ready again on the database the cold start prepared.
    pub warm: Samples,
    /// Exec of a new instance, beside a running one, to the first request it answered
    /// through the gateway (services only).
    #[serde(default)]
    pub routed: Samples,
}

/// What the start-up scenario measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Startup {
    /// Whether `/proc/sys/vm/drop_caches` could be written before each cold start.
    pub caches_dropped: bool,
    /// One record per binary.
    pub binaries: Vec<StartupRecord>,
}

/// One operation through both gateways.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DefaultsRecord {
    /// The operation.
    pub operation: String,
    /// Concurrent clients.
    pub concurrency: usize,
    /// The stripped gateway's (rate limits off, pretty logs) µs of CPU per request.
    pub stripped_us: f64,
    /// The stock gateway's (a stack's defaults) µs of CPU per request.
    pub stock_us: f64,
    /// Requests per second, stripped.
    pub stripped_rps: f64,
    /// Requests per second, stock.
    pub stock_rps: f64,
    /// Failed requests over both.
    pub errors: u64,
}

impl DefaultsRecord {
    /// The stock gateway's CPU per request over the stripped one's.
    pub fn ratio(&self) -> Option<f64> {
        (self.stripped_us > 0.0).then(|| self.stock_us / self.stripped_us)
    }
}

fn verdict(met: bool, detail: String) -> Verdict {
    Verdict {
        met: Some(met),
        detail,
    }
}

fn not_run(what: &str) -> Verdict {
    Verdict {
        met: None,
        detail: format!("{what}: not run"),
    }
}

/// The start-up and default-configuration targets, judged on `report`.
pub fn verdicts(report: &Report) -> Vec<Verdict> {
    vec![ready(report), routed(report), defaults(report)]
}

fn ready(report: &Report) -> Verdict {
    let what =
        format!("every binary ready ≤ {READY_TARGET_MS} ms after exec, cold and warm (median)");
    let Some(startup) = report.startup.as_ref().filter(|s| !s.binaries.is_empty()) else {
        return not_run(&what);
    };
    let mut worst: Option<(f64, String)> = None;
    for record in &startup.binaries {
        for (kind, samples) in [("cold", &record.cold), ("warm", &record.warm)] {
            if let Some(median) = samples.median()
                && worst.as_ref().is_none_or(|(w, _)| median > *w)
            {
                worst = Some((median, format!("{} {kind}", record.binary)));
            }
        }
    }
    match worst {
        Some((ms, which)) => verdict(
            ms <= READY_TARGET_MS,
            format!("{what}: slowest {which} {ms:.0} ms"),
        ),
        None => not_run(&what),
    }
}

fn routed(report: &Report) -> Verdict {
    let what = format!(
        "every service's new instance answers through the gateway ≤ {ROUTED_TARGET_MS} ms after exec (median)"
    );
    let medians: Vec<(f64, &str)> = report
        .startup
        .iter()
        .flat_map(|s| &s.binaries)
        .filter_map(|r| Some((r.routed.median()?, r.binary.as_str())))
        .collect();
    match medians.iter().max_by(|a, b| a.0.total_cmp(&b.0)) {
        Some((ms, which)) => verdict(
            *ms <= ROUTED_TARGET_MS,
            format!(
                "{what}: slowest {which} {ms:.0} ms ({} services)",
                medians.len()
            ),
        ),
        None => not_run(&what),
    }
}

fn defaults(report: &Report) -> Verdict {
    let what = format!(
        "gateway with a stack's defaults ≤ {DEFAULTS_MAX_RATIO} × the stripped CPU per request"
    );
    let worst = report
        .defaults
        .iter()
        .filter_map(|r| Some((r.ratio()?, r)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match worst {
        Some((ratio, r)) => verdict(
            ratio <= DEFAULTS_MAX_RATIO && r.errors == 0,
            format!(
                "{what}: worst {ratio:.2} ({} ×{}: {:.1} vs {:.1} µs)",
                r.operation, r.concurrency, r.stock_us, r.stripped_us
            ),
        ),
        None => not_run(&what),
    }
}

/// The start-up and default-configuration tables, when measured.
pub fn render(report: &Report, out: &mut String) {
    if let Some(startup) = &report.startup {
        let _ = writeln!(
            out,
            "\nstart-up, exec to ready (/readyz 200 and, for a service, its instance answering \
             $SRV.PING), ms; routed: exec of a second instance to its first reply through the \
             gateway; page cache {}:",
            if startup.caches_dropped {
                "dropped before each cold start"
            } else {
                "could not be dropped (cold = fresh database only)"
            }
        );
        let table = Table::new()
            .left("binary", 10)
            .right("cold p50", 8)
            .right("max", 8)
            .space(2)
            .right("warm p50", 8)
            .right("max", 8)
            .space(2)
            .right("rout p50", 8)
            .right("max", 8)
            .space(2)
            .left("samples", 0);
        let _ = writeln!(out, "{}", table.header());
        for r in &startup.binaries {
            let counts = format!(
                "{}/{}/{}",
                r.cold.ms.len(),
                r.warm.ms.len(),
                r.routed.ms.len()
            );
            let cells = std::iter::once(r.binary.clone())
                .chain(r.cold.cells())
                .chain(r.warm.cells())
                .chain(r.routed.cells())
                .chain([counts]);
            let _ = writeln!(out, "{}", table.row(cells));
        }
    }
    if !report.defaults.is_empty() {
        let _ = writeln!(
            out,
            "\nthe gateway's CPU per request, stripped (RATE_LIMITS=off, {} logs) against a \
             stack's defaults (rate limits on, JSON logs at info):",
            report.settings.rust_log
        );
        let table = Table::new()
            .left("operation", 26)
            .right("conns", 5)
            .right("stripped µs", 12)
            .right("defaults µs", 12)
            .right("ratio", 7)
            .right("stripped r/s", 12)
            .right("defaults r/s", 12);
        let _ = writeln!(out, "{}", table.header());
        for r in &report.defaults {
            let ratio = r
                .ratio()
                .map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"));
            let cells = [
                r.operation.clone(),
                r.concurrency.to_string(),
                format!("{:.1}", r.stripped_us),
                format!("{:.1}", r.stock_us),
                ratio,
                format!("{:.0}", r.stripped_rps),
                format!("{:.0}", r.stock_rps),
            ];
            let _ = writeln!(out, "{}", table.row(cells));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(ms: &[f64]) -> Samples {
        Samples { ms: ms.to_vec() }
    }

    #[test]
    fn median_and_max() {
        assert_eq!(samples(&[]).median(), None);
        assert_eq!(samples(&[]).max(), None);
        assert_eq!(samples(&[5.0, 1.0, 3.0]).median(), Some(3.0));
        assert_eq!(samples(&[4.0, 1.0, 3.0, 2.0]).median(), Some(2.0));
        assert_eq!(samples(&[4.0, 1.0, 9.0]).max(), Some(9.0));
    }

    fn record(binary: &str, cold: &[f64], warm: &[f64], routed: &[f64]) -> StartupRecord {
        StartupRecord {
            binary: binary.into(),
            cold: samples(cold),
            warm: samples(warm),
            routed: samples(routed),
        }
    }

    fn report_with(startup: Option<Startup>, defaults: Vec<DefaultsRecord>) -> Report {
        let mut report: Report = serde_json::from_value(serde_json::json!({
            "version": "0", "started_at": "", "runs": [], "memory": [],
            "machine": { "cores": 2, "cpu": "x", "memory_mib": 1, "kernel": "k" },
            "settings": { "duration_s": 1.0, "warmup_s": 0.0, "rust_log": "info", "load_threads": 2 }
        }))
        .unwrap();
        report.startup = startup;
        report.defaults = defaults;
        report
    }

    #[test]
    fn start_up_is_judged_on_the_slowest_median() {
        let fast = Startup {
            caches_dropped: false,
            binaries: vec![
                record("gateway", &[], &[40.0, 50.0, 400.0], &[]),
                record("products", &[250.0, 280.0, 900.0], &[90.0], &[300.0, 320.0]),
            ],
        };
        let report = report_with(Some(fast), Vec::new());
        let [ready, routed, defaults] = verdicts(&report).try_into().unwrap();
        assert_eq!(ready.met, Some(true), "{}", ready.detail);
        assert!(
            ready.detail.contains("products cold 280 ms"),
            "{}",
            ready.detail
        );
        assert_eq!(routed.met, Some(true));
        assert_eq!(defaults.met, None);

        let slow = Startup {
            caches_dropped: true,
            binaries: vec![record("auth", &[310.0], &[100.0], &[1500.0])],
        };
        let report = report_with(Some(slow), Vec::new());
        let [ready, routed, _] = verdicts(&report).try_into().unwrap();
        assert_eq!(ready.met, Some(false));
        assert_eq!(routed.met, Some(false));
        assert!(routed.detail.contains("auth 1500 ms"), "{}", routed.detail);

        let mut text = String::new();
        render(&report, &mut text);
        assert!(text.contains("dropped before each cold start"), "{text}");
        assert!(text.contains("auth"), "{text}");
    }

    #[test]
    fn defaults_are_judged_on_the_worst_ratio() {
        let row = |operation: &str, stripped_us, stock_us, errors| DefaultsRecord {
            operation: operation.into(),
            concurrency: 64,
            stripped_us,
            stock_us,
            stripped_rps: 1.0,
            stock_rps: 1.0,
            errors,
        };
        let report = report_with(
            None,
            vec![row("echo", 20.0, 21.0, 0), row("products", 30.0, 32.0, 0)],
        );
        let [ready, _, defaults] = verdicts(&report).try_into().unwrap();
        assert_eq!(ready.met, None);
        assert_eq!(defaults.met, Some(true), "{}", defaults.detail);
        assert!(defaults.detail.contains("1.07"), "{}", defaults.detail);

        let report = report_with(None, vec![row("echo", 20.0, 23.0, 0)]);
        assert_eq!(verdicts(&report)[2].met, Some(false));
        let report = report_with(None, vec![row("echo", 20.0, 20.0, 3)]);
        assert_eq!(verdicts(&report)[2].met, Some(false));
        assert_eq!(row("x", 0.0, 1.0, 0).ratio(), None);

        let mut text = String::new();
        render(&report, &mut text);
        assert!(text.contains("defaults µs"), "{text}");
    }
}
