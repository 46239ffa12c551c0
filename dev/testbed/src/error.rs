//! Why a server or process of the test bed could not be started or stopped running.

use std::path::PathBuf;

/// A test-bed failure.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A needed program is not installed.
    #[error("{tool} not found: {hint}")]
    ToolMissing {
        /// The program.
        tool: String,
        /// What to install or set.
        hint: String,
    },
    /// A server did not come up, or a set-up step for it failed.
    #[error("{server} did not start: {detail}")]
    Start {
        /// The server.
        server: &'static str,
        /// What went wrong, with the end of its log.
        detail: String,
    },
    /// A process could not be started.
    #[error("cannot start {name}: {source}")]
    Spawn {
        /// The process.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A process exited; the end of its log says why.
    #[error("{name} exited; the end of its log ({log}):\n{tail}")]
    Exited {
        /// The process.
        name: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A process did not become ready in time.
    #[error("{what} not ready after {seconds} s; the end of its log ({log}):\n{tail}")]
    NotReady {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
        /// The log to look at.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A file-system or process error.
    #[error("test bed I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl HarnessError {
    /// A PostgreSQL set-up step (initdb, a template copy, psql) failed: `detail` says which
    /// and why.
    pub(crate) fn postgres(detail: String) -> Self {
        Self::Start {
            server: "postgres",
            detail,
        }
    }

    /// Whether a process exited because its address was taken: the port found free was
    /// taken before the server bound it, and another free port will do.
    pub fn is_port_clash(&self) -> bool {
        match self {
            Self::Exited { tail, .. } | Self::NotReady { tail, .. } => {
                let tail = tail.to_ascii_lowercase();
                // nats-server, PostgreSQL and Python say "address already in use", Rust's
                // standard library "Address in use (os error 98)".
                tail.contains("address already in use") || tail.contains("address in use")
            }
            _ => false,
        }
    }
}
