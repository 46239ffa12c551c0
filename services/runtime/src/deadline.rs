//! The caller's deadline, carried from call to call.
//!
//! Every request [`crate::Requester`] sends carries [`headers::DEADLINE_MS`]: how long the
//! caller will still wait, in milliseconds, relative to the moment it is received, so no two
//! clocks need to agree. The serving loop reads it when it takes a request: a request with no
//! time left is dropped before any work, and a handler still running when the time is up is
//! cancelled (its future dropped), since nobody waits for its answer. While a handler runs,
//! its deadline is in scope ([`scope`]), and the calls it makes through a `Requester` wait at
//! most what remains ([`bound`]) and pass that on in turn.
//!
//! Time spent in the NATS server and in the instance's subscription buffer before the request
//! is taken is not counted: the deadline starts when the serving loop takes the request.

use std::future::Future;
use std::time::Duration;

use async_nats::HeaderMap;
use contract::headers;
use tokio::time::Instant;
use tracing::debug;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline a request carries, counted from `received`: `None` without the header or
/// with a value that is not a whole number of milliseconds (such a request is served as
/// before the header existed, without a deadline).
pub fn from_headers(headers: Option<&HeaderMap>, received: Instant) -> Option<Instant> {
    let value = headers?.get(headers::DEADLINE_MS)?.as_str();
    let Ok(ms) = value.trim().parse::<u64>() else {
        debug!(value, "ignoring an unparsable deadline header");
        return None;
    };
    // A deadline too far away to represent is no deadline.
    received.checked_add(Duration::from_millis(ms))
}

/// The header value for a caller that waits `timeout`: whole milliseconds, rounded down so
/// the callee never believes it has more time than the caller gives it.
pub fn header_value(timeout: Duration) -> String {
    timeout.as_millis().to_string()
}

/// Runs `work` with `deadline` in scope for [`remaining`] and [`bound`]; without a deadline it
/// runs `work` unchanged.
pub async fn scope<F: Future>(deadline: Option<Instant>, work: F) -> F::Output {
    match deadline {
        Some(deadline) => DEADLINE.scope(deadline, work).await,
        None => work.await,
    }
}

/// The time left before the deadline of the request being handled, if it has one.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// `timeout`, shortened to the time left of the request being handled: a call made while
/// handling a request never waits longer than that request's caller.
pub fn bound(timeout: Duration) -> Duration {
    remaining().map_or(timeout, |left| left.min(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_relative_milliseconds_and_junk_is_ignored() {
        let now = Instant::now();
        let mut h = HeaderMap::new();
        h.insert(headers::DEADLINE_MS, "1500");
        assert_eq!(
            from_headers(Some(&h), now),
            Some(now + Duration::from_millis(1500))
        );
        for junk in ["-1", "soon", "1.5", ""] {
            h.insert(headers::DEADLINE_MS, junk);
            assert_eq!(from_headers(Some(&h), now), None, "{junk:?}");
        }
        h.insert(headers::DEADLINE_MS, u64::MAX.to_string());
        assert!(
            from_headers(Some(&h), now).is_some_and(|d| d > now),
            "far, not an error"
        );
        assert_eq!(from_headers(None, now), None);
        assert_eq!(header_value(Duration::from_micros(2_999_999)), "2999");
    }

    #[tokio::test]
    async fn calls_inside_a_scope_are_bounded_by_what_remains() {
        assert_eq!(bound(Duration::from_secs(5)), Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_millis(300);
        scope(Some(deadline), async {
            let left = bound(Duration::from_secs(5));
            assert!(left <= Duration::from_millis(300), "{left:?}");
            assert_eq!(bound(Duration::from_millis(10)), Duration::from_millis(10));
        })
        .await;
        let past = Instant::now();
        scope(Some(past), async {
            assert_eq!(remaining(), Some(Duration::ZERO));
        })
        .await;
        scope(None, async { assert_eq!(remaining(), None) }).await;
    }
}
