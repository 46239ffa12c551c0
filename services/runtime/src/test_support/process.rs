//! A child server process that is stopped when its guard is dropped.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::HarnessError;

/// A running server process and its log file.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Option<Child>,
    name: &'static str,
    log: PathBuf,
    stop_signal: Signal,
}

impl ServerProcess {
    /// Spawns `command` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log: PathBuf,
        stop_signal: Signal,
    ) -> Result<Self, HarnessError> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| HarnessError::Start {
                server: name,
                detail: format!("cannot run {:?}: {e}", command.get_program()),
            })?;
        Ok(Self {
            child: Some(child),
            name,
            log,
            stop_signal,
        })
    }

    /// The process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process has exited.
    pub(crate) fn exited(&mut self) -> bool {
        match &mut self.child {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Polls `ready` every 10 ms until it says the server is up. An error carrying the end of
    /// the log if the process exits first, or (`"{not_ready} within {timeout} s"`) if `timeout`
    /// passes.
    pub(crate) async fn wait_ready<F, Fut>(
        &mut self,
        timeout: Duration,
        not_ready: &str,
        mut ready: F,
    ) -> Result<(), HarnessError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let up = tokio::time::timeout(timeout, async {
            while !ready().await {
                if self.exited() {
                    return Err(self.failure(&format!("{} exited", self.name)));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(())
        });
        match up.await {
            Ok(started) => started,
            Err(_) => Err(self.failure(&format!("{not_ready} within {} s", timeout.as_secs()))),
        }
    }

    /// A start failure carrying the end of the log.
    pub(crate) fn failure(&self, what: &str) -> HarnessError {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        HarnessError::Start {
            server: self.name,
            detail: format!("{what}; last log lines:\n{}", tail.join("\n")),
        }
    }

    /// Asks the process to stop, then kills it if it has not exited within `grace`.
    pub(crate) fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), self.stop_signal);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the process at once, as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Whether something accepts TCP connections on loopback `port`.
pub(crate) async fn accepts(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}
