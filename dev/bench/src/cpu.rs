//! CPU time of the system's processes, read from `/proc/<pid>/stat` at the start and the end
//! of each measured window: user plus system time, in clock ticks, turned into microseconds of
//! CPU per request served. Throughput on a shared machine moves a lot between runs; the CPU a
//! request costs each process moves much less, so it is what changes are judged by.
//!
//! PostgreSQL is a postmaster plus one backend per connection: its time is summed over the
//! process tree (see [`crate::memory`]).

use std::collections::BTreeMap;

use crate::memory::{Kind, Tracked, tree};

/// Clock ticks per second of `/proc/<pid>/stat`'s time fields.
fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)
        // The kernel's USER_HZ on every Linux architecture in use.
        .unwrap_or(100)
}

/// `utime + stime` of `pid`, in clock ticks (0 when it cannot be read: an exited process).
fn ticks_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| busy_ticks(&stat))
        .unwrap_or(0)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name in
/// parentheses may hold spaces, so fields are counted after the last `)`, where field 3 is
/// the first.
fn busy_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Reads the CPU time of every tracked process.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    tracked: Vec<Tracked>,
    tick_us: f64,
}

/// CPU time of every tracked process at one moment, in clock ticks (in [`CpuMeter`] order).
#[derive(Debug, Clone, Default)]
pub struct CpuSample(Vec<u64>);

impl CpuMeter {
    /// A meter of `tracked`.
    pub fn new(tracked: Vec<Tracked>) -> Self {
        Self {
            tracked,
            tick_us: 1e6 / ticks_per_second() as f64,
        }
    }

    /// Every tracked process's CPU time now.
    pub fn sample(&self) -> CpuSample {
        CpuSample(
            self.tracked
                .iter()
                .map(|t| match t.kind {
                    Kind::ServerTree => tree(t.pid).into_iter().map(ticks_of).sum(),
                    _ => ticks_of(t.pid),
                })
                .collect(),
        )
    }

    /// Microseconds of CPU per request of each process between `before` and `after`, by
    /// process name; empty when no request was served.
    pub fn per_request(
        &self,
        before: &CpuSample,
        after: &CpuSample,
        requests: u64,
    ) -> BTreeMap<String, f64> {
        if requests == 0 {
            return BTreeMap::new();
        }
        self.tracked
            .iter()
            .zip(before.0.iter().zip(&after.0))
            .map(|(t, (b, a))| {
                let us = a.saturating_sub(*b) as f64 * self.tick_us / requests as f64;
                (t.name.to_owned(), us)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ticks_survive_odd_command_names() {
        let stat = "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 3 4 20 0 9 0";
        assert_eq!(busy_ticks(stat), Some(325));
        assert_eq!(busy_ticks("42 (x) S 1"), None);
        assert_eq!(busy_ticks("garbage"), None);
    }

    #[test]
    fn this_process_uses_cpu() {
        let meter = CpuMeter::new(vec![Tracked::new(
            "bench",
            std::process::id(),
            Kind::LoadGenerator,
        )]);
        let before = meter.sample();
        // Spin until the kernel has charged at least one tick (bounded).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut x = 0u64;
        while meter.sample().0[0] == before.0[0] && std::time::Instant::now() < deadline {
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
        }
        std::hint::black_box(x);
        let after = meter.sample();
        let used = meter.per_request(&before, &after, 1);
        assert!(used["bench"] > 0.0, "{used:?}");
        assert!(meter.per_request(&before, &after, 0).is_empty());
    }
}
