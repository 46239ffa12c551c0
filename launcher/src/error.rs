//! Why the system could not be started or stopped running.

use std::path::PathBuf;

use runtime::test_support::HarnessError;

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
    /// A program the system needs is not installed.
    #[error(transparent)]
    Missing(#[from] HarnessError),
    /// One of the project's binaries has not been built.
    #[error("{path} is missing; build it first ({hint})")]
    NotBuilt {
        /// Where it was expected.
        path: PathBuf,
        /// The command that builds it.
        hint: String,
    },
    /// A process could not be started.
    #[error("cannot start {name}: {source}")]
    Spawn {
        /// The process.
        name: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A process exited; the end of its log says why.
    #[error("{name} exited; the end of its log ({log}):\n{tail}")]
    Exited {
        /// The process.
        name: &'static str,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A process did not become ready in time.
    #[error("{what} not ready after {seconds} s (see {log})")]
    NotReady {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
        /// The log to look at.
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
        match self {
            Self::Exited { tail, .. } => {
                let tail = tail.to_ascii_lowercase();
                // nats-server, PostgreSQL and Python say "address already in use", Rust's
                // standard library "Address in use (os error 98)".
                tail.contains("address already in use") || tail.contains("address in use")
            }
            _ => false,
        }
    }

    /// An I/O error while doing `context`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
