//! Resident memory of the system's processes, read from `/proc` while the load runs.
//!
//! A single process reports `VmRSS`. PostgreSQL is a postmaster plus one backend per
//! connection sharing its buffers, so summing their RSS would count shared memory many times:
//! it reports the sum of `Pss` (proportional set size) over the process tree instead.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

/// How often the sampler reads `/proc` during a run.
const INTERVAL: Duration = Duration::from_millis(250);

/// What a tracked process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One of natstack's own processes: the 30 MiB budget applies.
    Ours,
    /// A third-party server, one process.
    Server,
    /// A third-party server of several processes (PostgreSQL): PSS summed over the tree.
    ServerTree,
    /// This benchmark.
    LoadGenerator,
}

/// A process whose memory is reported.
#[derive(Debug, Clone, Serialize)]
pub struct Tracked {
    /// Its name in the report.
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// What it is.
    pub kind: Kind,
}

impl Tracked {
    /// A process to report.
    pub fn new(name: impl Into<String>, pid: u32, kind: Kind) -> Self {
        Self {
            name: name.into(),
            pid,
            kind,
        }
    }

    /// Its resident memory now, in KiB (0 when it cannot be read).
    pub fn resident_kib(&self) -> u64 {
        match self.kind {
            Kind::ServerTree => tree(self.pid)
                .into_iter()
                .map(|pid| pss_kib(pid).or_else(|| rss_kib(pid)).unwrap_or(0))
                .sum(),
            _ => rss_kib(self.pid).unwrap_or(0),
        }
    }
}

/// `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field_kib(&status, "VmRSS:")
}

/// `Pss` of `pid` (from `smaps_rollup`), in KiB.
fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    field_kib(&rollup, "Pss:")
}

/// The value of a `Name:   1234 kB` line.
fn field_kib(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `root` and every process descended from it.
pub fn tree(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parent_of(&stat)?))
        })
        .collect();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    out
}

/// The parent pid in a `/proc/<pid>/stat` line. The command name in parentheses may itself
/// hold spaces and parentheses, so fields are counted after the last `)`.
fn parent_of(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Samples every tracked process in the background and keeps each one's peak.
pub struct Sampler {
    tracked: Vec<Tracked>,
    peaks: Arc<Mutex<Vec<u64>>>,
    task: JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling `tracked`.
    pub fn start(tracked: Vec<Tracked>) -> Self {
        let peaks = Arc::new(Mutex::new(vec![0; tracked.len()]));
        let task = tokio::spawn({
            let tracked = tracked.clone();
            let peaks = peaks.clone();
            async move {
                let mut tick = tokio::time::interval(INTERVAL);
                loop {
                    tick.tick().await;
                    let now: Vec<u64> = tracked.iter().map(Tracked::resident_kib).collect();
                    let mut peaks = peaks.lock().unwrap_or_else(PoisonError::into_inner);
                    for (peak, now) in peaks.iter_mut().zip(now) {
                        *peak = (*peak).max(now);
                    }
                }
            }
        });
        Self {
            tracked,
            peaks,
            task,
        }
    }

    /// The processes sampled.
    pub fn tracked(&self) -> &[Tracked] {
        &self.tracked
    }

    /// Every process's memory now, in KiB.
    pub fn now(&self) -> Vec<u64> {
        self.tracked.iter().map(Tracked::resident_kib).collect()
    }

    /// Forgets the peaks so far (the start of a run).
    pub fn reset(&self) {
        let now = self.now();
        *self.peaks.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Each process's peak since the last [`reset`](Self::reset), in KiB, including now.
    pub fn peaks(&self) -> Vec<u64> {
        let now = self.now();
        let peaks = self.peaks.lock().unwrap_or_else(PoisonError::into_inner);
        peaks.iter().zip(now).map(|(p, n)| (*p).max(n)).collect()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields() {
        let status = "Name:\tgateway\nVmPeak:\t  99 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(field_kib(status, "VmRSS:"), Some(12_345));
        assert_eq!(field_kib(status, "VmSwap:"), None);
        let rollup = "00400000-7ffd [rollup]\nRss:   2048 kB\nPss:   1024 kB\n";
        assert_eq!(field_kib(rollup, "Pss:"), Some(1024));
    }

    #[test]
    fn parent_pid_survives_odd_command_names() {
        assert_eq!(parent_of("42 (postgres) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("43 (a) b (c) S 9 1 1"), Some(9));
        assert_eq!(parent_of("garbage"), None);
    }

    #[tokio::test]
    async fn this_process_is_measured() {
        let me = Tracked::new("bench", std::process::id(), Kind::LoadGenerator);
        assert!(me.resident_kib() > 0, "VmRSS of this process");
        let tree = Tracked::new("bench", std::process::id(), Kind::ServerTree);
        assert!(tree.resident_kib() > 0, "PSS over this process tree");
        let sampler = Sampler::start(vec![me]);
        sampler.reset();
        assert!(sampler.peaks()[0] > 0);
    }
}
