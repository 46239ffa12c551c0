//! The figures: one record per run and per process, printed as tables and written as JSON
//! (the same numbers), optionally next to an earlier run's.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

mod render;

use crate::load::Outcome;
use crate::memory::Kind;
use crate::targets::{self, Verdict};

/// A whole benchmark run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// natstack's version.
    pub version: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// Where it ran.
    pub machine: Machine,
    /// How it ran.
    pub settings: Settings,
    /// One record per (operation, path, concurrency).
    pub runs: Vec<RunRecord>,
    /// One record per process.
    pub memory: Vec<MemoryRecord>,
    /// The targets, met or missed (see [`targets`]).
    #[serde(default)]
    pub targets: Vec<Verdict>,
    /// From a write's reply to its event on `GET /events`, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::events::DeliveryRecord>,
    /// Each binary's start-up, when measured ([`crate::startup`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<crate::startup_report::Startup>,
    /// The gateway's CPU per request with a stack's defaults against the stripped
    /// configuration, when measured ([`crate::defaults`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults: Vec<crate::startup_report::DefaultsRecord>,
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Cores available to the processes.
    pub cores: usize,
    /// The CPU model.
    pub cpu: String,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// The kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads this machine's facts from `/proc`.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |k| k.trim().to_owned());
        Self {
            cores: crate::cli::available_cores(),
            cpu,
            memory_mib,
            kernel,
        }
    }
}

/// The settings of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Seconds measured per run.
    pub duration_s: f64,
    /// Seconds of warm-up per run.
    pub warmup_s: f64,
    /// `RUST_LOG` of the system's processes.
    pub rust_log: String,
    /// Load-generator worker threads.
    pub load_threads: usize,
    /// auth's `ARGON2_MAX_CONCURRENT` (its memory budget depends on it).
    #[serde(default)]
    pub argon2_max_concurrent: u64,
    /// auth's `ARGON2_MEMORY_KIB`.
    #[serde(default)]
    pub argon2_memory_kib: u64,
}

/// How a run reached the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// HTTP through the gateway.
    Gateway,
    /// A NATS request straight to the service.
    Nats,
    /// HTTP to the floor: a bare server answering the same bytes with no NATS hop.
    Floor,
    /// HTTP to the bare proxy: one NATS request per HTTP request and nothing else.
    Proxy,
}

impl Via {
    fn label(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Nats => "nats",
            Self::Floor => "floor",
            Self::Proxy => "proxy",
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The operation (`GET /products/{id}`).
    pub operation: String,
    /// How it was reached.
    pub via: Via,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Requests answered in the measured window.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest request, ms.
    pub max_ms: f64,
    /// Failed requests (warm-up included).
    pub errors: u64,
    /// The first few failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    /// Throughput over throughput directly, for runs through the gateway or the bare proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_over_direct: Option<f64>,
    /// Microseconds of CPU (user + system) per request answered, by process, over the
    /// measured window.
    #[serde(default)]
    pub cpu_us_per_request: BTreeMap<String, f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl RunRecord {
    /// The record of `outcome`.
    pub fn new(operation: &str, via: Via, concurrency: usize, outcome: &Outcome) -> Self {
        Self {
            operation: operation.to_owned(),
            via,
            concurrency,
            requests: outcome.latencies.len() as u64,
            rps: outcome.throughput(),
            p50_ms: ms(outcome.percentile(50.0)),
            p90_ms: ms(outcome.percentile(90.0)),
            p99_ms: ms(outcome.percentile(99.0)),
            max_ms: ms(outcome.percentile(100.0)),
            errors: outcome.errors,
            error_samples: outcome.error_samples.clone(),
            gateway_over_direct: None,
            cpu_us_per_request: outcome.cpu_us.clone(),
        }
    }

    /// What the run is, in one phrase.
    pub fn title(&self) -> String {
        format!(
            "{} via {} ×{}",
            self.operation,
            self.via.label(),
            self.concurrency
        )
    }

    fn same_run(&self, other: &Self) -> bool {
        self.operation == other.operation
            && self.via == other.via
            && self.concurrency == other.concurrency
    }
}

/// One process's memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// The process.
    pub process: String,
    /// What it is.
    pub kind: Kind,
    /// Resident before any load, KiB.
    pub at_rest_kib: u64,
    /// The highest value seen during any run, KiB.
    pub peak_kib: u64,
    /// The run during which the peak was seen.
    pub peak_during: String,
    /// Resident after the last run, KiB.
    pub after_kib: u64,
}

impl Report {
    /// Writes the report as pretty JSON to `path`, creating its directory.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Reads a report written by [`write`](Self::write).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let json = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&json)
            .with_context(|| format!("{} is not a benchmark report", path.display()))
    }

    /// Failed requests over every run.
    pub fn errors(&self) -> u64 {
        self.runs.iter().map(|r| r.errors).sum()
    }

    /// Judges the targets and keeps the verdicts in the report.
    pub fn judge(&mut self) {
        self.targets = targets::judge(self);
        self.targets.extend(crate::startup_report::verdicts(self));
    }
}

/// The floor server's name in the CPU figures.
pub const FLOOR: &str = "floor";
/// The bare proxy's name in the CPU figures.
pub const PROXY: &str = "proxy";
/// The load generator's (this process's) name in the CPU figures.
pub const LOAD_GENERATOR: &str = "bench";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn run(
        operation: &str,
        via: Via,
        concurrency: usize,
        rps: f64,
        p99: f64,
    ) -> RunRecord {
        RunRecord {
            operation: operation.to_owned(),
            via,
            concurrency,
            requests: 1000,
            rps,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: p99,
            max_ms: 9.0,
            errors: 0,
            error_samples: Vec::new(),
            gateway_over_direct: (via == Via::Gateway).then_some(rps / 20_000.0),
            cpu_us_per_request: [("gateway".to_owned(), 18.5), ("floor".to_owned(), 6.0)]
                .into_iter()
                .collect(),
        }
    }

    pub(crate) fn report() -> Report {
        Report {
            version: "0.1.0".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            machine: Machine {
                cores: 2,
                cpu: "test cpu".into(),
                memory_mib: 1024,
                kernel: "6.1".into(),
            },
            settings: Settings {
                duration_s: 5.0,
                warmup_s: 1.0,
                rust_log: "info".into(),
                load_threads: 2,
                argon2_max_concurrent: 2,
                argon2_memory_kib: 19_456,
            },
            runs: vec![
                run(crate::scenario::PRODUCTS_GET, Via::Nats, 64, 20_000.0, 3.0),
                run(
                    crate::scenario::PRODUCTS_GET,
                    Via::Gateway,
                    64,
                    18_500.0,
                    8.0,
                ),
                run(crate::scenario::ECHO_GET, Via::Nats, 64, 20_000.0, 3.0),
                run(crate::scenario::ECHO_GET, Via::Floor, 64, 40_000.0, 1.0),
                run(crate::scenario::ECHO_GET, Via::Gateway, 64, 12_500.0, 8.0),
            ],
            memory: vec![
                MemoryRecord {
                    process: "gateway".into(),
                    kind: Kind::Ours,
                    at_rest_kib: 8 * 1024,
                    peak_kib: 31 * 1024,
                    peak_during: "x".into(),
                    after_kib: 9 * 1024,
                },
                // Within 2 × 19 MiB + 48 MiB.
                MemoryRecord {
                    process: "auth".into(),
                    kind: Kind::Ours,
                    at_rest_kib: 18 * 1024,
                    peak_kib: 80 * 1024,
                    peak_during: "y".into(),
                    after_kib: 20 * 1024,
                },
            ],
            targets: Vec::new(),
            delivery: None,
            startup: None,
            defaults: Vec::new(),
        }
    }

    /// Asserts that the rendered `text` holds every one of `lines`.
    fn assert_shows(text: &str, lines: &[&str]) {
        for line in lines {
            assert!(text.contains(line), "{line:?} missing from {text}");
        }
    }

    #[test]
    fn render_shows_targets_memory_cpu_and_baseline() {
        let mut report = report();
        report.judge();
        let text = report.render(None);
        assert_shows(
            &text,
            &[
                "12,500",
                "met  GET /products/{id} via gateway ×64 p99 ≤ 10 ms: 8.00 ms",
                "–    customers service ≤ 70 µs CPU per GET /customers?limit=20 (via gateway ×64): not run",
                "MISS every natstack process under 30 MiB resident under load; auth under 86.0 MiB",
                "over: gateway 31.0 MiB during x",
                "met  every request succeeded (0 failed)",
                "CPU µs per request",
                "gateway   18.5 µs   floor    6.0 µs   ×3.1",
            ],
        );
        assert!(
            !text.contains("auth 80.0 MiB"),
            "auth is within its budget: {text}"
        );
        assert!(!text.contains("vs base"));

        let mut base = self::report();
        base.runs[1].rps = 14_800.0;
        let text = report.render(Some(&base));
        assert!(text.contains("vs base"));
        assert!(text.contains("1.25"), "{text}");
    }

    #[test]
    fn errors_are_listed_with_samples() {
        let mut report = report();
        report.runs[1].errors = 3;
        report.runs[1].error_samples = vec!["HTTP 503: unavailable".into()];
        report.judge();
        let text = report.render(None);
        assert_shows(
            &text,
            &[
                "MISS every request succeeded (3 failed)",
                "HTTP 503: unavailable",
                "MISS GET /products/{id} via gateway ×64",
            ],
        );
    }

    #[test]
    fn json_round_trips() {
        let dir = tempfile_dir();
        let path = dir.join("nested/report.json");
        let mut report = report();
        report.judge();
        report.write(&path).unwrap();
        let back = Report::read(&path).unwrap();
        assert_eq!(back.runs.len(), 5);
        assert_eq!(back.runs[1].gateway_over_direct, Some(0.925));
        assert_eq!(back.runs[1].cpu_us_per_request["gateway"], 18.5);
        assert_eq!(back.targets.len(), report.targets.len());
        assert_eq!(back.targets[0].detail, report.targets[0].detail);
        assert!(back.targets.iter().any(|t| t.met == Some(true)));
        crate::plot::write(&back, Some(&report), &dir.join("nested/report.svg")).unwrap();
        let svg = std::fs::read_to_string(dir.join("nested/report.svg")).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("gateway (baseline)"),
            "{svg}"
        );
        assert!(Report::read(&dir.join("missing.json")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("natstack-bench-{}", nuid::next()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
