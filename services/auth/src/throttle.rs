//! Failed-login throttling that slows guessing without handing attackers a lockout weapon.
//!
//! Three counters see every failed login, each over a fixed window (`LOGIN_WINDOW_SECS`):
//!
//! - **the pair** (account, client address): `LOGIN_MAX_FAILURES` failures lock this pair for
//!   `LOGIN_LOCKOUT_SECS`; a locked pair is refused with 429 and `Retry-After` before the
//!   password is even checked. This is what keeps online guessing to a handful per window,
//!   and it locks out only the guesser: the account's owner at any other address, and other
//!   accounts at the guesser's address, are not affected.
//! - **the account** (over every address) and **the address** (over every account): past
//!   `LOGIN_DELAY_AFTER` failures, every further attempt touching that key waits a progressive
//!   delay (doubling per failure, at most `LOGIN_MAX_DELAY_MS`) before the password is
//!   checked. The right password still gets through, only later; guessing from many addresses
//!   (or at many accounts from one) is slowed, and nobody can lock an account or an address
//!   for everyone. The delay applies to right and wrong passwords alike, so it reveals nothing.
//!
//! This follows OWASP's authentication guidance: lock the guesser, not the account, and use
//! delays rather than hard lockouts where a lockout would be a denial of service. What remains
//! possible is a botnet trying `LOGIN_MAX_FAILURES` guesses from each of its addresses per
//! window; the gateway's per-address rate limit on auth routes bounds it further.
//!
//! The client address is the one the gateway resolved (the socket peer, or the client named
//! by a trusted proxy in `X-Forwarded-For`) and forwards in
//! [`CLIENT_ADDR_HEADER`](contract::auth::CLIENT_ADDR_HEADER). A caller on NATS without it is
//! counted as one address for all such callers, so for those the pair is the account.
//!
//! A success clears the pair and the account's count, not the address's (one valid account
//! must not launder an address's guesses at others). Unknown emails count exactly like known
//! ones, so throttling reveals nothing about which accounts exist.
//!
//! State is per instance, in memory: with N replicas an attacker gets at most N times the
//! limits. The table is bounded; expired entries are pruned when it fills.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::ThrottleArgs;

/// Most keys held before pruning; beyond it, the oldest windows are dropped first.
const MAX_KEYS: usize = 100_000;

/// The first progressive delay, doubled for each further failure.
const BASE_DELAY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// Who is trying to log in: the normalised email and, when the gateway sent it, the client
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    account: String,
    addr: Option<String>,
}

impl Attempt {
    /// An attempt at `account` (a normalised email) from `addr`.
    pub fn new(account: &str, addr: Option<&str>) -> Self {
        Self {
            account: account.to_owned(),
            addr: addr.map(str::to_owned),
        }
    }

    fn pair_key(&self) -> String {
        format!(
            "pair:{}|{}",
            self.addr.as_deref().unwrap_or(""),
            self.account
        )
    }

    fn account_key(&self) -> String {
        format!("account:{}", self.account)
    }

    fn addr_key(&self) -> Option<String> {
        self.addr.as_ref().map(|a| format!("client:{a}"))
    }

    /// The keys whose count leads to a delay.
    fn soft_keys(&self) -> impl Iterator<Item = String> {
        std::iter::once(self.account_key()).chain(self.addr_key())
    }
}

/// May an attempt go ahead?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password after waiting this long (zero: at once).
    Proceed(Duration),
    /// Refused: this pair is locked for this many more seconds.
    Locked(u64),
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

    fn window(&self) -> Duration {
        Duration::from_secs(self.args.login_window_secs)
    }

    /// Whether `attempt` may check its password, and after which delay.
    pub fn check(&self, attempt: &Attempt) -> Verdict {
        let now = Instant::now();
        let entries = self.lock();
        if let Some(until) = entries
            .get(&attempt.pair_key())
            .and_then(|e| e.locked_until)
            .filter(|until| *until > now)
        {
            let secs = (until - now).as_secs_f64().ceil() as u64;
            return Verdict::Locked(secs.max(1));
        }
        let failures = attempt
            .soft_keys()
            .filter_map(|k| entries.get(&k))
            .filter(|e| now.duration_since(e.window_start) < self.window())
            .map(|e| e.failures)
            .max()
            .unwrap_or(0);
        Verdict::Proceed(self.delay(failures))
    }

    /// The delay before an attempt whose busiest soft key counts `failures`.
    fn delay(&self, failures: u32) -> Duration {
        let excess = failures.saturating_sub(self.args.login_delay_after);
        if excess == 0 {
            return Duration::ZERO;
        }
        let max = Duration::from_millis(self.args.login_max_delay_ms);
        BASE_DELAY
            .checked_mul(1 << (excess - 1).min(16))
            .unwrap_or(max)
            .min(max)
    }

    /// Records a failed attempt; locks its pair when that reaches the limit.
    pub fn failure(&self, attempt: &Attempt) {
        let now = Instant::now();
        let window = self.window();
        let lockout = Duration::from_secs(self.args.login_lockout_secs);
        let mut entries = self.lock();
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| {
                now.duration_since(e.window_start) < window
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let pair = count(&mut entries, attempt.pair_key(), now, window);
        if pair.failures >= self.args.login_max_failures {
            pair.locked_until = Some(now + lockout);
        }
        for key in attempt.soft_keys() {
            count(&mut entries, key, now, window);
        }
    }

    /// Clears the pair and the account after a successful login.
    pub fn success(&self, attempt: &Attempt) {
        let mut entries = self.lock();
        entries.remove(&attempt.pair_key());
        entries.remove(&attempt.account_key());
    }
}

/// Counts one failure for `key`, starting a new window when its last one is over (and it is
/// not locked); the entry, to lock it.
fn count(
    entries: &mut HashMap<String, Entry>,
    key: String,
    now: Instant,
    window: Duration,
) -> &mut Entry {
    let fresh = Entry {
        window_start: now,
        failures: 0,
        locked_until: None,
    };
    let entry = entries.entry(key).or_insert(fresh);
    if now.duration_since(entry.window_start) >= window
        && entry.locked_until.is_none_or(|u| u <= now)
    {
        *entry = fresh;
    }
    entry.failures = entry.failures.saturating_add(1);
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleArgs {
            login_max_failures: 3,
            login_window_secs: 60,
            login_lockout_secs: 120,
            login_delay_after: 4,
            login_max_delay_ms: 1000,
        })
    }

    #[test]
    fn the_pair_locks_and_nothing_else_does() {
        let t = throttle();
        let guess = Attempt::new("a@x.io", Some("10.0.0.1"));
        for _ in 0..2 {
            t.failure(&guess);
        }
        assert_eq!(t.check(&guess), Verdict::Proceed(Duration::ZERO));
        t.failure(&guess);
        let Verdict::Locked(secs) = t.check(&guess) else {
            panic!("the pair is locked");
        };
        assert!((119..=120).contains(&secs), "{secs}");
        // The account from elsewhere, and another account from here, still get through.
        assert!(matches!(
            t.check(&Attempt::new("a@x.io", Some("10.0.0.2"))),
            Verdict::Proceed(_)
        ));
        assert!(matches!(
            t.check(&Attempt::new("b@x.io", Some("10.0.0.1"))),
            Verdict::Proceed(_)
        ));
        // Success elsewhere clears the account's count but not the locked pair.
        t.success(&Attempt::new("a@x.io", Some("10.0.0.2")));
        assert!(matches!(t.check(&guess), Verdict::Locked(_)));
    }

    #[test]
    fn many_failures_delay_progressively_up_to_the_cap() {
        let t = throttle();
        // Five addresses, two guesses each, at one account: no pair locks.
        for i in 0..5 {
            let guess = Attempt::new("admin@x.io", Some(&format!("10.0.0.{i}")));
            t.failure(&guess);
            t.failure(&guess);
        }
        let owner = Attempt::new("admin@x.io", Some("192.0.2.1"));
        // Ten failures, four allowed: 100 ms doubled five times, capped at 1 s.
        assert_eq!(t.check(&owner), Verdict::Proceed(Duration::from_secs(1)));
        assert_eq!(t.delay(4), Duration::ZERO);
        assert_eq!(t.delay(5), Duration::from_millis(100));
        assert_eq!(t.delay(6), Duration::from_millis(200));
        assert_eq!(t.delay(u32::MAX), Duration::from_secs(1));
        // The owner's success ends the account's delay.
        t.success(&owner);
        assert_eq!(t.check(&owner), Verdict::Proceed(Duration::ZERO));
        // The address's count stays: spraying many accounts from one address is slowed.
        let spray = Attempt::new("c@x.io", Some("10.0.0.9"));
        for i in 0..6 {
            t.failure(&Attempt::new(&format!("u{i}@x.io"), Some("10.0.0.9")));
        }
        assert_eq!(
            t.check(&spray),
            Verdict::Proceed(Duration::from_millis(200))
        );
    }
}
