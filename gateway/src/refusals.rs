//! Floods of refused requests (401, 403, 429) made visible in the logs without a line per
//! request.
//!
//! The access log shows 4xx answers only at DEBUG (a line per request at INFO costs CPU, and a
//! flood would bury everything else). Refusals are what an attack looks like, though, so they
//! are summed per client address: the first refusal of an address is logged at WARN at once,
//! and then at most one line per address every [`REPORT_EVERY`], with how many of each status
//! it got since the last line. A client refused once shows up once; one refused 10,000 times a
//! second shows up every few seconds with its count.
//!
//! The client address is the one [`crate::client`] resolved. The table is bounded: past [`MAX_ADDRS`] addresses, idle ones are dropped, and refusals of
//! further new addresses are summed under one line for all of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::warn;

use crate::client::ClientAddr;
use crate::state::AppState;

/// Least time between two lines about one address.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Most addresses tracked at once.
pub const MAX_ADDRS: usize = 10_000;

/// Refusals of one address since its last line, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// 401 answers.
    pub unauthenticated: u64,
    /// 403 answers.
    pub forbidden: u64,
    /// 429 answers.
    pub rate_limited: u64,
}

impl Counts {
    fn add(&mut self, status: u16) {
        match status {
            401 => self.unauthenticated += 1,
            403 => self.forbidden += 1,
            _ => self.rate_limited += 1,
        }
    }
}

#[derive(Debug)]
struct Entry {
    reported_at: Instant,
    pending: Counts,
}

/// Who a report is about: one address, or every address past the table's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// One client address.
    Addr(IpAddr),
    /// Addresses that did not fit in the table.
    Others,
}

/// The per-address sums. Cheap to clone; clones share state.
#[derive(Debug, Clone, Default)]
pub struct Refusals {
    table: Arc<Mutex<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    addrs: HashMap<Who, Entry>,
}

/// Whether `status` is a refusal worth summing.
pub fn is_refusal(status: u16) -> bool {
    matches!(status, 401 | 403 | 429)
}

impl Refusals {
    /// Counts a refusal with `status` of a request from `addr` at `now`; the counts to log
    /// when this address is due for a line.
    pub fn record(&self, addr: IpAddr, status: u16, now: Instant) -> Option<(Who, Counts)> {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let addrs = &mut table.addrs;
        let mut who = Who::Addr(addr);
        if !addrs.contains_key(&who) && addrs.len() >= MAX_ADDRS {
            addrs.retain(|_, e| now.duration_since(e.reported_at) < REPORT_EVERY);
            if addrs.len() >= MAX_ADDRS {
                who = Who::Others;
            }
        }
        let mut fresh = false;
        let entry = addrs.entry(who).or_insert_with(|| {
            fresh = true;
            Entry {
                reported_at: now,
                pending: Counts::default(),
            }
        });
        entry.pending.add(status);
        if fresh || now.duration_since(entry.reported_at) >= REPORT_EVERY {
            entry.reported_at = now;
            return Some((who, std::mem::take(&mut entry.pending)));
        }
        None
    }
}

/// The middleware: passes the request on and sums the response in the state's [`Refusals`]
/// when it is a refusal.
pub async fn watch(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let peer = ClientAddr::of(request.extensions());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if let Some(addr) = peer.filter(|_| is_refusal(status))
        && let Some((who, counts)) = state.refusals.record(addr, status, Instant::now())
    {
        let client = match who {
            Who::Addr(addr) => addr.to_string(),
            Who::Others => "others".to_owned(),
        };
        warn!(
            client = %client,
            unauthenticated = counts.unauthenticated,
            forbidden = counts.forbidden,
            rate_limited = counts.rate_limited,
            every_secs = REPORT_EVERY.as_secs(),
            "requests refused"
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_flood_is_one_line_per_address_per_period_with_its_count() {
        let refusals = Refusals::default();
        let t0 = Instant::now();
        let a = ip("203.0.113.1");
        // The first refusal is reported at once.
        let first = refusals.record(a, 401, t0).unwrap();
        assert_eq!(
            first,
            (
                Who::Addr(a),
                Counts {
                    unauthenticated: 1,
                    ..Counts::default()
                }
            )
        );
        // A flood within the period is summed silently…
        for i in 0..1000 {
            let status = if i % 2 == 0 { 401 } else { 429 };
            assert!(
                refusals
                    .record(a, status, t0 + Duration::from_millis(i))
                    .is_none()
            );
        }
        // …and another address is reported on its own.
        assert!(refusals.record(ip("203.0.113.2"), 403, t0).is_some());
        // After the period, one line with everything since the last one.
        let (who, counts) = refusals.record(a, 429, t0 + REPORT_EVERY).unwrap();
        assert_eq!(who, Who::Addr(a));
        assert_eq!(
            counts,
            Counts {
                unauthenticated: 500,
                forbidden: 0,
                rate_limited: 501
            }
        );
        assert!(refusals.record(a, 401, t0 + REPORT_EVERY).is_none());
    }

    #[test]
    fn the_table_stays_bounded() {
        let refusals = Refusals::default();
        let t0 = Instant::now();
        for i in 0..MAX_ADDRS as u32 {
            refusals.record(IpAddr::from(i.to_be_bytes()), 401, t0);
        }
        let extra = ip("198.51.100.9");
        assert_eq!(refusals.record(extra, 401, t0).unwrap().0, Who::Others);
        assert!(refusals.record(ip("198.51.100.10"), 401, t0).is_none());
        // Once the others have gone quiet, a new address gets its own line again.
        let later = t0 + REPORT_EVERY;
        assert_eq!(
            refusals.record(extra, 401, later).unwrap().0,
            Who::Addr(extra)
        );
        assert!(refusals.table.lock().unwrap().addrs.len() < MAX_ADDRS);
    }

    #[test]
    fn only_refusals_count() {
        assert!(is_refusal(401) && is_refusal(403) && is_refusal(429));
        assert!(!is_refusal(404) && !is_refusal(200) && !is_refusal(503));
    }
}
