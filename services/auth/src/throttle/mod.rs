//! Failed-login throttling that slows guessing without handing attackers a lockout weapon,
//! and without letting a flood of guesses queue ahead of the account's owner.
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
//!   checked. The client does the waiting, not the service: the attempt is answered 429 with
//!   `Retry-After` (the delay in whole seconds, rounded up), and the pair's next attempt once
//!   that time has come is checked. The right password still gets through, only later;
//!   guessing from many addresses (or at many accounts from one) is slowed, and nobody can
//!   lock an account or an address for everyone. The delay applies to right and wrong
//!   passwords alike, so it reveals nothing. The account's count does not delay the first
//!   attempt of a pair in the window (an address new to the account): a flood from many
//!   addresses must not delay the owner logging in from elsewhere, and each address gets
//!   that one undelayed attempt once per window, within the pair's allowance anyway.
//!
//! Two bounds keep a flood from queueing ahead of everyone, since checking a password is the
//! scarce resource (an argon2 hash):
//!
//! - nothing waits inside the service: a delayed attempt holds no request slot and no
//!   hashing slot, it is answered at once;
//! - at most `LOGIN_MAX_CONCURRENT` attempts at one account are checked at once in each of
//!   two lanes, one for the first attempt of a pair in the window and one for the pair's
//!   further attempts (and for first attempts that found their lane full); beyond it the
//!   attempt is answered 429 with `Retry-After: 1`. Guessers repeating themselves thus never
//!   crowd out a first attempt from a new address, typically the owner's, and however many
//!   addresses guess at an account, its checks queue at most two lanes deep.
//!
//! An attempt whose check starts but never finishes (the caller's deadline passes while it
//! waits for a hashing slot, and the service drops it) counts as a failure: otherwise a
//! flood that outlasts the gateway's deadline would cost the guessers nothing.
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

use tracing::info;

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
    /// Pairs only: when the attempt told to wait may be checked.
    ready_at: Option<Instant>,
    /// Pairs only: an attempt was checked, or found its lane full, in this window.
    seen: bool,
}

impl Entry {
    fn new(now: Instant) -> Self {
        Self {
            window_start: now,
            failures: 0,
            locked_until: None,
            ready_at: None,
            seen: false,
        }
    }

    /// Whether its window is over and it is not locked: it counts as absent.
    fn is_stale(&self, now: Instant, window: Duration) -> bool {
        now.duration_since(self.window_start) >= window
            && self.locked_until.is_none_or(|u| u <= now)
    }
}

/// The two lanes of checks per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// The first attempt of a pair in the window.
    First = 0,
    /// Every other attempt.
    Repeat = 1,
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

/// Why an attempt is refused before its password is checked; each is a 429 whose
/// `Retry-After` is [`Refusal::retry_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The pair is locked for this many more seconds.
    Locked(u64),
    /// The attempt must wait: the pair's attempt after this many seconds is checked.
    Delayed(u64),
    /// The account's lane is full: retry after this many seconds.
    Busy(u64),
}

impl Refusal {
    /// Seconds until a retry may be checked.
    pub fn retry_after(self) -> u64 {
        match self {
            Self::Locked(s) | Self::Delayed(s) | Self::Busy(s) => s,
        }
    }

    /// The client-facing message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Locked(_) => "too many failed logins; try again later",
            Self::Delayed(_) => "login delayed after repeated failures; retry after Retry-After",
            Self::Busy(_) => "too many logins to this account at once; retry after Retry-After",
        }
    }
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Checks under way per account key, by lane.
    checking: HashMap<String, [u32; 2]>,
}

/// The throttle. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct Throttle {
    args: ThrottleArgs,
    state: Arc<Mutex<State>>,
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(args: ThrottleArgs) -> Self {
        Self {
            args,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Entries are plain values updated in one step: a poisoned lock holds no torn state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.args.login_window_secs)
    }

    /// Whether `attempt` may have its password checked now: the check to settle with its
    /// outcome, or why not.
    pub fn admit(&self, attempt: &Attempt) -> Result<Checking, Refusal> {
        let now = Instant::now();
        let window = self.window();
        let mut state = self.lock();
        let State { entries, checking } = &mut *state;
        let pair_key = attempt.pair_key();
        let pair = entries.get(&pair_key).filter(|e| !e.is_stale(now, window));
        if let Some(until) = pair.and_then(|e| e.locked_until).filter(|u| *u > now) {
            return Err(Refusal::Locked(whole_secs(until - now)));
        }
        let first = pair.is_none_or(|e| !e.seen);
        // The account's count does not delay an address's first attempt at it (module notes).
        let delaying = attempt
            .soft_keys()
            .filter(|k| !(first && *k == attempt.account_key()))
            .filter_map(|k| entries.get(&k))
            .filter(|e| now.duration_since(e.window_start) < window)
            .map(|e| e.failures)
            .max()
            .unwrap_or(0);
        let delay = self.delay(delaying);
        let lane = if first { Lane::First } else { Lane::Repeat };
        let account_key = attempt.account_key();
        let busy = checking
            .get(&account_key)
            .is_some_and(|c| c[lane as usize] >= self.args.login_max_concurrent);
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| !e.is_stale(now, window));
        }
        let pair = current(entries, pair_key, now, window);
        if !delay.is_zero() {
            match pair.ready_at {
                Some(at) if at <= now => {}
                Some(at) => return Err(Refusal::Delayed(whole_secs(at - now))),
                None => {
                    pair.ready_at = Some(now + delay);
                    return Err(Refusal::Delayed(whole_secs(delay)));
                }
            }
        }
        pair.seen = true;
        if busy {
            return Err(Refusal::Busy(1));
        }
        pair.ready_at = None;
        checking.entry(account_key).or_default()[lane as usize] += 1;
        Ok(Checking {
            throttle: self.clone(),
            attempt: attempt.clone(),
            lane,
            settled: false,
        })
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
    fn failure(&self, attempt: &Attempt) {
        let now = Instant::now();
        let window = self.window();
        let lockout = Duration::from_secs(self.args.login_lockout_secs);
        let mut state = self.lock();
        let entries = &mut state.entries;
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| !e.is_stale(now, window));
        }
        let pair = current(entries, attempt.pair_key(), now, window);
        pair.failures = pair.failures.saturating_add(1);
        if pair.failures >= self.args.login_max_failures {
            pair.locked_until = Some(now + lockout);
        }
        for key in attempt.soft_keys() {
            let entry = current(entries, key, now, window);
            entry.failures = entry.failures.saturating_add(1);
        }
    }

    /// Clears the pair and the account after a successful login.
    fn success(&self, attempt: &Attempt) {
        let mut state = self.lock();
        state.entries.remove(&attempt.pair_key());
        state.entries.remove(&attempt.account_key());
    }
}

/// An admitted attempt whose password is being checked; it holds its place in the
/// account's lane until dropped. Settle it with its outcome: dropped unsettled (its request
/// was cancelled at the caller's deadline) it counts as a failure.
#[derive(Debug)]
#[must_use = "an unsettled check counts as a failure"]
pub struct Checking {
    throttle: Throttle,
    attempt: Attempt,
    lane: Lane,
    settled: bool,
}

impl Checking {
    /// The password was right.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.success(&self.attempt);
    }

    /// The password was wrong (or the account unknown).
    pub fn failed(mut self) {
        self.settled = true;
        self.throttle.failure(&self.attempt);
    }

    /// The check could not be made for a reason of the service's (the database failed): the
    /// attempt counts neither way.
    pub fn abandoned(mut self) {
        self.settled = true;
    }
}

impl Drop for Checking {
    fn drop(&mut self) {
        {
            let mut state = self.throttle.lock();
            let key = self.attempt.account_key();
            let lane = self.lane as usize;
            let idle = state.checking.get_mut(&key).is_some_and(|lanes| {
                lanes[lane] = lanes[lane].saturating_sub(1);
                *lanes == [0, 0]
            });
            if idle {
                state.checking.remove(&key);
            }
        }
        if !self.settled {
            info!(
                account = ?self.attempt.account,
                client = ?self.attempt.addr.as_deref().unwrap_or("-"),
                "login check cancelled at its deadline; counted as a failure"
            );
            self.throttle.failure(&self.attempt);
        }
    }
}

/// Whole seconds to wait for `d`, rounded up, at least 1 (the unit of `Retry-After`).
fn whole_secs(d: Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}

/// The live entry for `key`: a new one when it is absent or its window is over (and it is
/// not locked).
fn current(
    entries: &mut HashMap<String, Entry>,
    key: String,
    now: Instant,
    window: Duration,
) -> &mut Entry {
    let entry = entries.entry(key).or_insert_with(|| Entry::new(now));
    if entry.is_stale(now, window) {
        *entry = Entry::new(now);
    }
    entry
}

#[cfg(test)]
mod tests;
