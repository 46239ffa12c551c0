//! Why the system could not be started or stopped running.

use std::path::PathBuf;

use testbed::HarnessError;

/// A launcher failure.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A fixed port is taken by another program; `variable` chooses another one.
    #[error("port {port} is in use (set {variable} to another one)")]
    PortInUse {
        /// The port.
        port: u16,
        /// The environment variable that sets it.
        variable: &'static str,
    },
    /// A server or process of the system could not be started, exited or was not ready in
    /// time (the test bed's error, with the end of the log).
    #[error(transparent)]
    Process(#[from] HarnessError),
    /// One of the project's binaries has not been built.
    #[error("{path} is missing; build it first ({hint})")]
    NotBuilt {
        /// Where it was expected.
        path: PathBuf,
        /// The command that builds it.
        hint: String,
    },
    /// The gateway did not route every service in time.
    #[error("{what} not ready after {seconds} s (see {log})")]
    NotReady {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
        /// The logs to look at.
        log: PathBuf,
    },
    /// A set-up step (a database, a data directory) failed.
    #[error("{0}")]
    Setup(String),
    /// A file-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

impl LaunchError {
    /// Whether a process exited because its address was taken.
    pub fn is_port_clash(&self) -> bool {
        matches!(self, Self::Process(e) if e.is_port_clash())
    }

    /// An I/O error while doing `context`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
