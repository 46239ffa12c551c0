//! One child process of the system, and stopping many at once.
//!
//! Every child runs in a process group of its own (`process_group(0)`): a Ctrl-C in the
//! terminal reaches only the launcher, which then stops the children itself, and stopping a
//! child signals whatever it forked too (PostgreSQL's backends).
//!
//! Every child is also started through `setpriv --pdeathsig KILL` (util-linux), which sets
//! `PR_SET_PDEATHSIG` and then execs the program under the same pid: when the launcher dies
//! without stopping its children (SIGKILL, a crash, a test harness timeout), the kernel kills
//! them, so no server outlives it. The workspace forbids `unsafe`, which rules out calling
//! `prctl` from `pre_exec`; setpriv does the same from inside the child. The "parent" of
//! `PR_SET_PDEATHSIG` is the *thread* that spawned the child, so children are spawned from the
//! caller's thread (the main thread or a runtime worker, which live as long as the system),
//! never from `spawn_blocking`, whose idle threads exit.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User};

use crate::error::LaunchError;

/// How a process is asked to stop before it is killed.
const GRACE: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    /// Run as this user (PostgreSQL refuses root).
    pub user: Option<User>,
    /// The signal that stops it cleanly (PostgreSQL's fast shutdown is SIGINT).
    pub stop_signal: Signal,
}

impl Spec {
    /// `program` with no arguments, stopped with SIGTERM, as the current user.
    pub fn new(name: &'static str, program: impl Into<PathBuf>) -> Self {
        Self {
            name,
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
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
pub(crate) struct Child {
    pub name: &'static str,
    pub log: PathBuf,
    process: std::process::Child,
    stop_signal: Signal,
    exited: bool,
    /// What it runs, to start it again ([`respawn`](Self::respawn)).
    spec: Spec,
}

impl Child {
    /// Starts `spec`, appending stdout and stderr to `log`.
    pub fn spawn(spec: Spec, log: &Path) -> Result<Self, LaunchError> {
        let again = spec.clone();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(LaunchError::io(format!("cannot open {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(LaunchError::io("cannot duplicate a log file"))?;
        let mut command = Command::new("setpriv");
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
            // Secrets the launcher itself may have been given reach only the process whose
            // spec names them (auth), not every child by inheritance.
            .env_remove(contract::deploy::env::ADMIN_PASSWORD)
            .envs(spec.env)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let process = command.spawn().map_err(|source| LaunchError::Spawn {
            name: spec.name,
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
    pub fn respawn(&mut self) -> Result<(), LaunchError> {
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
    pub fn exited_error(&self) -> LaunchError {
        LaunchError::Exited {
            name: self.name,
            log: self.log.clone(),
            tail: log_tail(&self.log, 30),
        }
    }

    /// Fails with [`exited_error`](Self::exited_error) when it has exited.
    pub fn check(&mut self) -> Result<(), LaunchError> {
        if self.alive() {
            Ok(())
        } else {
            Err(self.exited_error())
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
pub(crate) fn stop_all(children: &mut [Child]) {
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

/// The last `lines` lines of `log`.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
