//! What each scenario found, and the table `make chaos` prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The result of one scenario.
#[derive(Debug)]
pub struct Outcome {
    /// The scenario's name.
    pub name: &'static str,
    /// Requests sent during it.
    pub sent: u64,
    /// Requests that failed, by status (0: no HTTP answer).
    pub failed: BTreeMap<u16, u64>,
    /// From the fault to the last failure's answer, when the scenario injects a fault.
    pub recovery: Option<Duration>,
    /// What else was measured.
    pub note: String,
    /// `Err(why)` when something was lost that the README says will not be.
    pub verdict: Result<(), String>,
}

impl Outcome {
    /// An outcome with nothing sent yet, passing.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            sent: 0,
            failed: BTreeMap::new(),
            recovery: None,
            note: String::new(),
            verdict: Ok(()),
        }
    }

    /// Records a broken promise (the first one is kept).
    pub fn fail(&mut self, why: impl Into<String>) {
        if self.verdict.is_ok() {
            self.verdict = Err(why.into());
        }
    }

    /// Checks a promise.
    pub fn require(&mut self, holds: bool, why: impl FnOnce() -> String) {
        if !holds {
            self.fail(why());
        }
    }

    /// Adds failures by status.
    pub fn add_failed(&mut self, by_status: &BTreeMap<u16, u64>) {
        for (status, n) in by_status {
            *self.failed.entry(*status).or_default() += n;
        }
    }
}

/// The table of `outcomes`, one line each, and a line per broken promise.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>8} {:<22} {:>10}  {:<6} note",
        "scenario", "sent", "failed (status×n)", "recovery", "result"
    );
    for o in outcomes {
        let failed = if o.failed.is_empty() {
            "0".to_owned()
        } else {
            o.failed
                .iter()
                .map(|(status, n)| format!("{status}×{n}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let recovery = o
            .recovery
            .map_or_else(|| "-".to_owned(), |d| format!("{:.2}s", d.as_secs_f64()));
        let result = if o.verdict.is_ok() { "ok" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{:<16} {:>8} {:<22} {:>10}  {:<6} {}",
            o.name, o.sent, failed, recovery, result, o.note
        );
    }
    for o in outcomes {
        if let Err(why) = &o.verdict {
            let _ = writeln!(out, "FAIL {}: {why}", o.name);
        }
    }
    out
}
