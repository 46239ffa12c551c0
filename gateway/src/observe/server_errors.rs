//! Server errors (5xx) in the log without a line per request.
//!
//! The access log writes a WARN line for every 5xx answer, and the proxy one for every failed
//! call to a service. During an outage or a flood that is thousands of identical lines a
//! minute, so, as [`crate::refusals`] does for 401/403/429, they are summed: per route, status
//! and kind of line, the first occurrence is logged at once with its request id, and then at
//! most one line every [`SUM_EVERY`], with the request id of the request that wrote it and in
//! `count` how many occurred since the previous line (that request included). Occurrences
//! after the last line of a burst show in the next one; `/metrics` counts every request.
//!
//! The table holds one small entry per (route, status, kind): routes are the routing table's
//! templates (or the fixed label of unmatched paths), so it is bounded as the metrics'
//! labels are.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Least time between two lines about one (route, status, kind).
pub const SUM_EVERY: Duration = Duration::from_secs(1);

/// What a line is about: the route's template, the status answered, and the kind of line
/// (`request` for the access log, the failure kind for the proxy's upstream lines).
pub type Key = (String, u16, &'static str);

#[derive(Debug)]
struct Entry {
    reported_at: Instant,
    pending: u64,
}

/// The sums since each key's last line; shared by every request.
#[derive(Debug, Default)]
pub struct ServerErrors {
    table: Mutex<HashMap<Key, Entry>>,
}

impl ServerErrors {
    /// Counts one occurrence of `key` at `now`; when a line is due, how many occurred since
    /// the last one (this one included).
    pub fn record(&self, key: Key, now: Instant) -> Option<u64> {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match table.get_mut(&key) {
            None => {
                table.insert(
                    key,
                    Entry {
                        reported_at: now,
                        pending: 0,
                    },
                );
                Some(1)
            }
            Some(entry) => {
                entry.pending += 1;
                if now.duration_since(entry.reported_at) < SUM_EVERY {
                    return None;
                }
                entry.reported_at = now;
                Some(std::mem::take(&mut entry.pending))
            }
        }
    }

    /// [`ServerErrors::record`] at the current time.
    pub fn record_now(&self, route: &str, status: u16, kind: &'static str) -> Option<u64> {
        self.record((route.to_owned(), status, kind), Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(route: &str, status: u16) -> Key {
        (route.to_owned(), status, "request")
    }

    #[test]
    fn a_burst_is_one_line_per_period_with_its_count() {
        let errors = ServerErrors::default();
        let t0 = Instant::now();
        assert_eq!(
            errors.record(key("/a", 504), t0),
            Some(1),
            "the first at once"
        );
        for i in 1..=999 {
            assert_eq!(
                errors.record(key("/a", 504), t0 + Duration::from_micros(i)),
                None
            );
        }
        // Another status or route is a line of its own.
        assert_eq!(errors.record(key("/a", 503), t0), Some(1));
        assert_eq!(errors.record(key("/b", 504), t0), Some(1));
        assert_eq!(errors.record(("/a".into(), 504, "timeout"), t0), Some(1));
        // A period later: everything since the first line, this one included.
        assert_eq!(errors.record(key("/a", 504), t0 + SUM_EVERY), Some(1000));
        assert_eq!(errors.record(key("/a", 504), t0 + SUM_EVERY), None);
        assert_eq!(errors.record(key("/a", 504), t0 + 2 * SUM_EVERY), Some(2));
    }
}
