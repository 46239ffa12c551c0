//! The test's output: one line per check, `OK`, `FAIL` or `SKIP` (allow-listed, with the
//! reason), and the count of failures that decides the exit status.

/// The checks made so far.
#[derive(Debug, Default)]
pub struct Checks {
    failed: Vec<String>,
    passed: usize,
    skipped: usize,
}

// The lines are this program's output.
#[allow(clippy::print_stdout)]
impl Checks {
    /// Records and prints one check.
    pub fn check(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("OK    {name}");
            }
            Err(why) => {
                println!("FAIL  {name}: {why}");
                self.failed.push(name.to_owned());
            }
        }
    }

    /// Records and prints a check not made, and why.
    pub fn skip(&mut self, name: &str, reason: &str) {
        self.skipped += 1;
        println!("SKIP  {name} (allow-listed: {reason})");
    }

    /// Prints a note that is neither a check nor a failure.
    pub fn note(&self, text: &str) {
        println!("      {text}");
    }

    /// The names of the failed checks.
    pub fn failures(&self) -> &[String] {
        &self.failed
    }

    /// One line: how many passed, were skipped and failed.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} allow-listed, {} failed",
            self.passed,
            self.skipped,
            self.failed.len()
        )
    }
}
