//! `promtool check metrics`: Prometheus' own linter of a `/metrics` exposition (HELP on every
//! family, counters named `_total`, base units in names, ...), run on what a binary serves.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::HarnessError;
use crate::programs;

/// Where `promtool` is: `PROMTOOL_BIN`, else `PATH` (Debian's `prometheus` package).
///
/// # Errors
/// [`HarnessError::ToolMissing`] without it, saying what installs it.
pub fn bin() -> Result<std::path::PathBuf, HarnessError> {
    programs::find(
        "promtool",
        contract::deploy::env::dev::PROMTOOL_BIN,
        INSTALL_HINT,
    )
}

/// What installs Prometheus and `promtool`.
pub const INSTALL_HINT: &str = "run `make setup` (installs Debian's `prometheus`)";

/// The problems `promtool check metrics` finds in `exposition`, one per line; empty when
/// there are none.
///
/// # Errors
/// [`HarnessError::ToolMissing`] without `promtool` (Debian's `prometheus` package, which
/// `make setup` installs), [`HarnessError::Io`] when it cannot be run.
pub fn check_metrics(exposition: &str) -> Result<String, HarnessError> {
    let mut child = Command::new(bin()?)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| HarnessError::Spawn {
            name: "promtool".into(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(exposition.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    let mut problems = String::from_utf8_lossy(&output.stdout).into_owned();
    problems.push_str(&String::from_utf8_lossy(&output.stderr));
    if !output.status.success() && problems.trim().is_empty() {
        problems = format!("promtool exited with {}", output.status);
    }
    Ok(problems.trim().to_owned())
}
