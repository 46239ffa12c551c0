//! Failed-login throttling per account and per client address.
//!
//! Each key (`account:<email>`, `client:<addr>`) counts failures in a fixed window; reaching
//! the limit locks the key for the lockout period, and a locked key is refused with 429 and
//! `Retry-After` before the password is even checked. A success clears the account's count
//! (not the client's: one valid account must not launder a client's guesses at others).
//!
//! Unknown emails count exactly like known ones, so throttling reveals nothing about which
//! accounts exist. The client key exists only when the gateway forwards the caller's address
//! in [`CLIENT_ADDR_HEADER`](contract::auth::CLIENT_ADDR_HEADER); without it, throttling is
//! per account only (one address for every caller would let one attacker lock everyone out).
//!
//! State is per instance, in memory: with N replicas an attacker gets at most N times the
//! limit, which still turns an online guessing attack from millions of tries into a handful.
//! The table is bounded; expired entries are pruned when it fills.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::ThrottleArgs;

/// Most keys held before pruning; beyond it, the oldest windows are dropped first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// The throttle. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct Throttle {
    args: ThrottleArgs,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(args: ThrottleArgs) -> Self {
        Self {
            args,
            entries: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // Entries are plain values updated in one step: a poisoned lock holds no torn state.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds until the first locked key among `keys` unlocks, or `None` when all may try.
    pub fn retry_after(&self, keys: &[String]) -> Option<u64> {
        let now = Instant::now();
        let entries = self.lock();
        keys.iter()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| (until - now).as_secs_f64().ceil() as u64)
            .max()
            .map(|secs| secs.max(1))
    }

    /// Records a failure for every key.
    pub fn failure(&self, keys: &[String]) {
        let now = Instant::now();
        let window = Duration::from_secs(self.args.login_window_secs);
        let lockout = Duration::from_secs(self.args.login_lockout_secs);
        let mut entries = self.lock();
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| {
                now.duration_since(e.window_start) < window
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        for key in keys {
            let entry = entries.entry(key.clone()).or_insert(Entry {
                window_start: now,
                failures: 0,
                locked_until: None,
            });
            if now.duration_since(entry.window_start) >= window
                && entry.locked_until.is_none_or(|u| u <= now)
            {
                *entry = Entry {
                    window_start: now,
                    failures: 0,
                    locked_until: None,
                };
            }
            entry.failures = entry.failures.saturating_add(1);
            if entry.failures >= self.args.login_max_failures {
                entry.locked_until = Some(now + lockout);
            }
        }
    }

    /// Clears `key` after a successful login.
    pub fn success(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The throttle key of an account.
pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

/// The throttle key of a client address.
pub fn client_key(addr: &str) -> String {
    format!("client:{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max: u32) -> Throttle {
        Throttle::new(ThrottleArgs {
            login_max_failures: max,
            login_window_secs: 60,
            login_lockout_secs: 120,
        })
    }

    #[test]
    fn locks_after_the_limit_and_success_clears_the_account() {
        let t = throttle(3);
        let keys = [account_key("a@x.io"), client_key("10.0.0.1")];
        t.failure(&keys);
        t.failure(&keys);
        assert_eq!(t.retry_after(&keys), None);
        t.failure(&keys);
        let secs = t.retry_after(&keys).unwrap();
        assert!((119..=120).contains(&secs), "{secs}");
        // The client stays locked for another account; the account for another client.
        assert!(
            t.retry_after(&[account_key("b@x.io"), keys[1].clone()])
                .is_some()
        );
        assert!(
            t.retry_after(&[keys[0].clone(), client_key("10.0.0.2")])
                .is_some()
        );
        assert!(t.retry_after(&[account_key("b@x.io")]).is_none());
        t.success(&keys[0]);
        assert!(t.retry_after(&keys[..1]).is_none());
        assert!(t.retry_after(&keys[1..]).is_some());
    }
}
