//! The one process supervisor: a child process with its output in a log, started so that it
//! never outlives its parent, stopped with its whole process group, and many stopped at once.
//! Every server and service the test bed, the launcher and the tests start runs under it.
//!
//! Every child runs in a process group of its own (`process_group(0)`): a Ctrl-C in the
//! terminal reaches only the parent (the launcher, a test), which then stops the children itself, and stopping a
//! child signals whatever it forked too (PostgreSQL's backends).
//!
//! Every child is also started through `setpriv --pdeathsig KILL` (util-linux), which sets
//! `PR_SET_PDEATHSIG` and then execs the program under the same pid: when the parent dies
//! without stopping its children (SIGKILL, a crash, a test harness timeout), the kernel kills
//! them, so no server outlives it. The workspace forbids `unsafe`, which rules out calling
//! `prctl` from `pre_exec`; setpriv does the same from inside the child. The "parent" of
//! `PR_SET_PDEATHSIG` is the *thread* that spawned the child, so children are spawned from the
//! caller's thread (the main thread or a runtime worker, which live as long as the system),
//! never from `spawn_blocking`, whose idle threads exit.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::future::Future;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User};

use crate::HarnessError;

/// How a process is asked to stop before it is killed.
pub const GRACE: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// A short name for messages (`nats-server`, `gateway`).
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set on top of the parent's environment (or of none, with `clear_env`).
    pub env: Vec<(String, String)>,
    /// Start from an empty environment instead of the parent's (a container's).
    pub clear_env: bool,
    /// The working directory (default: the parent's).
    pub workdir: Option<PathBuf>,
    /// Run as this user (PostgreSQL refuses root).
    pub user: Option<User>,
    /// The signal that stops it cleanly (PostgreSQL's fast shutdown is SIGINT).
    pub stop_signal: Signal,
}

impl Spec {
    /// `program` with no arguments, stopped with SIGTERM, as the current user.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            clear_env: false,
            workdir: None,
            user: None,
            stop_signal: Signal::SIGTERM,
        }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

/// A running child, its output appended to its log.
#[derive(Debug)]
pub struct Child {
    /// The name of its [`Spec`].
    pub name: String,
    /// The log its output is appended to.
    pub log: PathBuf,
    process: std::process::Child,
    stop_signal: Signal,
    exited: bool,
    /// What it runs, to start it again ([`respawn`](Self::respawn)).
    spec: Spec,
}

impl Child {
    /// Starts `spec`, appending stdout and stderr to `log`.
    pub fn spawn(spec: Spec, log: &Path) -> Result<Self, HarnessError> {
        let again = spec.clone();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let err = out.try_clone()?;
        let mut command = Command::new("setpriv");
        if spec.clear_env {
            command.env_clear();
        }
        if let Some(dir) = &spec.workdir {
            command.current_dir(dir);
        }
        if let Some(user) = &spec.user {
            command
                .arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .arg("--init-groups");
        }
        command
            .args(["--pdeathsig", "KILL", "--"])
            .arg(&spec.program)
            .args(&spec.args)
            // Secrets the parent itself may have been given reach only the process whose
            // spec names them (auth), not every child by inheritance.
            .env_remove(contract::deploy::env::ADMIN_PASSWORD)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let process = command.spawn().map_err(|source| HarnessError::Spawn {
            name: spec.name.clone(),
            source,
        })?;
        Ok(Self {
            name: spec.name,
            log: log.to_owned(),
            process,
            stop_signal: spec.stop_signal,
            exited: false,
            spec: again,
        })
    }

    /// Stops it (as [`stop_all`] does) if it still runs, and starts it again: same program,
    /// arguments, variables and log.
    pub fn respawn(&mut self) -> Result<(), HarnessError> {
        stop_all(std::slice::from_mut(self));
        *self = Self::spawn(self.spec.clone(), &self.log)?;
        Ok(())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        if !self.exited {
            self.exited = !matches!(self.process.try_wait(), Ok(None));
        }
        !self.exited
    }

    /// An error saying it exited, with the end of its log.
    pub fn exited_error(&self) -> HarnessError {
        HarnessError::Exited {
            name: self.name.clone(),
            log: self.log.clone(),
            tail: log_tail(&self.log, 30),
        }
    }

    /// Fails with [`exited_error`](Self::exited_error) when it has exited.
    pub fn check(&mut self) -> Result<(), HarnessError> {
        if self.alive() {
            Ok(())
        } else {
            Err(self.exited_error())
        }
    }

    /// Polls `ready` every `every` until it holds, failing early when the process exits and
    /// with [`HarnessError::NotReady`] after `timeout`.
    pub async fn wait_ready<F, Fut>(
        &mut self,
        what: &str,
        timeout: Duration,
        every: Duration,
        ready: F,
    ) -> Result<(), HarnessError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        if crate::poll(timeout, every, ready, || self.check()).await? {
            Ok(())
        } else {
            Err(HarnessError::NotReady {
                what: what.to_owned(),
                seconds: timeout.as_secs(),
                log: self.log.clone(),
                tail: log_tail(&self.log, 30),
            })
        }
    }

    /// Kills it and its process group at once, as a crash would; also what it left running
    /// after it exited (a shell's children).
    pub fn kill(&mut self) {
        self.signal_group(Signal::SIGKILL);
        if self.alive() {
            let _ = self.process.wait();
            self.exited = true;
        }
    }

    /// Stops it as [`stop_all`] does: its stop signal, then SIGKILL after [`GRACE`].
    pub fn stop(&mut self) {
        stop_all(std::slice::from_mut(self));
    }

    /// Stops it with its stop signal and kills its group after `grace`. Blocks for up to
    /// `grace`.
    pub fn stop_within(&mut self, grace: Duration) {
        if self.alive() {
            self.signal_group(self.stop_signal);
        }
        let deadline = Instant::now() + grace;
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }

    /// Waits until it exits, without blocking the runtime; its exit status.
    pub async fn wait(&mut self) -> Option<std::process::ExitStatus> {
        loop {
            match self.process.try_wait() {
                Ok(Some(status)) => {
                    self.exited = true;
                    return Some(status);
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(_) => {
                    self.exited = true;
                    return None;
                }
            }
        }
    }

    fn signal_group(&self, signal: Signal) {
        if let Ok(pid) = i32::try_from(self.process.id()) {
            // Fails only when the group is already gone.
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }
}

impl Drop for Child {
    /// A child dropped before [`stop_all`] (a start that fails or is interrupted half-way)
    /// is stopped as well.
    fn drop(&mut self) {
        if !self.exited {
            stop_all(std::slice::from_mut(self));
        }
    }
}

/// Stops `children`: every one is signalled at once, then all are awaited together for up to
/// [`GRACE`]; whatever still runs then is killed with its whole process group.
pub fn stop_all(children: &mut [Child]) {
    for child in children.iter_mut() {
        if child.alive() {
            child.signal_group(child.stop_signal);
        }
    }
    let deadline = Instant::now() + GRACE;
    while children.iter_mut().any(Child::alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for child in children.iter_mut() {
        if child.alive() {
            child.signal_group(Signal::SIGKILL);
            let _ = child.process.wait();
            child.exited = true;
        }
    }
}

/// Whether something accepts TCP connections on loopback `port`.
pub async fn accepts(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// The last `lines` lines of `log`, without a backtrace at its end ([`tail`]).
pub fn log_tail(log: &Path, lines: usize) -> String {
    tail(&std::fs::read_to_string(log).unwrap_or_default(), lines)
}

/// The last `lines` lines of a log's `text`. A Rust backtrace that ends the log (a panic's, or
/// the error `main` returned, printed when `RUST_BACKTRACE` is set) is left out and named in
/// one line: its frames would otherwise fill the tail and push out the message that says why
/// the process stopped.
pub fn tail(text: &str, lines: usize) -> String {
    let mut all: Vec<&str> = text.lines().collect();
    let mut omitted = None;
    if let Some(at) = all
        .iter()
        .rposition(|l| l.trim().eq_ignore_ascii_case("stack backtrace:"))
    {
        // Only a backtrace that runs to the end: its frames are indented, then a `note:`.
        let frames = &all[at + 1..];
        if frames
            .iter()
            .all(|l| l.starts_with(' ') || l.starts_with("note:"))
        {
            omitted = Some(frames.len());
            all.truncate(at);
        }
    }
    let mut out = all[all.len().saturating_sub(lines)..].join("\n");
    if let Some(frames) = omitted {
        let _ = write!(out, "\n(a backtrace of {frames} lines follows in the log)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn the_tail_keeps_the_error_and_names_a_backtrace_at_the_end() {
        let log = "starting\nError: cannot bind 127.0.0.1:4000\n\nCaused by:\n    \
                   Address already in use (os error 98)\n\nStack backtrace:\n   0: main\n      \
                     at src/main.rs:1:1\nnote: Some details are omitted";
        let tail = tail(log, 3);
        assert!(tail.contains("Address already in use"), "{tail}");
        assert!(!tail.contains("src/main.rs"), "{tail}");
        assert!(
            tail.ends_with("(a backtrace of 3 lines follows in the log)"),
            "{tail}"
        );
    }

    #[test]
    fn lines_after_a_backtrace_keep_it_in_the_tail() {
        let log = "thread 'x' panicked\nstack backtrace:\n   0: f\nrecovered, still running";
        assert_eq!(tail(log, 2), "   0: f\nrecovered, still running");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
    }
}
