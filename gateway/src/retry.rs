//! Calling a service once more when the first attempt was lost, within the same deadline.
//!
//! Two cases are retried, once each:
//!
//! - **no responders**, for any method: the NATS server had nobody to deliver the request to,
//!   so nobody received it and sending it again cannot do anything twice. The second attempt
//!   goes out after [`NO_RESPONDERS_PAUSE`] (at most half the time left), long enough for an
//!   instance that is restarting or reconnecting to subscribe again;
//! - **no answer by half the deadline**, for GET and HEAD only: the instance may have crashed
//!   with the request, so a second attempt goes out (to whichever instance the queue group
//!   picks) while the first keeps waiting, and the first of the two answers wins. A service
//!   that is merely slow still answers through the first attempt within the full deadline.
//!
//! Nothing else is sent twice: a POST, PATCH, PUT or DELETE that timed out may have been
//! carried out, so it ends in the 504. Every retry is counted in
//! `natstack_gateway_upstream_retries_total{reason}`.
//!
//! Retries are paid from a [`Budget`] (as Finagle's and Envoy's retry budgets do): each call
//! earns a tenth of a retry, up to a cap. When a service is slow for everyone, hedging every
//! GET would double its load exactly when it can least take it; with the budget, at most about
//! one call in ten is sent twice, and the refused retries are counted in
//! `natstack_gateway_upstream_retries_denied_total{reason}`.

use std::pin::pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_nats::{HeaderMap, Message};
use axum::http::Method;
use bytes::Bytes;
use futures::future::{Either, select};
use runtime::{CallError, CallOptions, Requester};
use tokio::time::Instant;

use crate::metrics::GatewayMetrics;

/// The pause before resending a request nobody received.
pub const NO_RESPONDERS_PAUSE: Duration = Duration::from_millis(250);

/// Whether a request with this method may be sent twice: only methods that change nothing.
pub fn is_safe(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// Retries earned per call, in thousandths of a retry: one call in ten may be sent twice.
const EARNED_PER_CALL: i64 = 100;
/// The cost of one retry, in thousandths.
const RETRY_COST: i64 = 1_000;
/// Most retries saved up (and what a new gateway starts with, so a quiet one can retry too).
const MAX_SAVED: i64 = 100 * RETRY_COST;

/// The retries the gateway may still send (see the module docs).
#[derive(Debug)]
pub struct Budget {
    /// Thousandths of a retry.
    balance: AtomicI64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            balance: AtomicI64::new(MAX_SAVED),
        }
    }
}

impl Budget {
    /// Credits one call.
    fn earn(&self) {
        // Cheap on the hot path: a plain add, clamped only when over the cap.
        if self.balance.fetch_add(EARNED_PER_CALL, Ordering::Relaxed) > MAX_SAVED {
            self.balance.fetch_min(MAX_SAVED, Ordering::Relaxed);
        }
    }

    /// Takes one retry when the budget holds one.
    fn spend(&self) -> bool {
        self.balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                (b >= RETRY_COST).then_some(b - RETRY_COST)
            })
            .is_ok()
    }
}

/// Calls to services: the one NATS requester, the deadline of each call, and the retry
/// [`Budget`] (counted in the gateway's metrics).
#[derive(Debug)]
pub struct Upstream {
    requester: Requester,
    timeout: Duration,
    budget: Budget,
    metrics: GatewayMetrics,
}

impl Upstream {
    /// Calls through `requester`, each within `timeout`, with a full budget.
    pub fn new(requester: Requester, timeout: Duration, metrics: GatewayMetrics) -> Self {
        Self {
            requester,
            timeout,
            budget: Budget::default(),
            metrics,
        }
    }

    /// Whether a retry for `reason` may go out: paid from the budget, counted either way.
    fn may_retry(&self, reason: &'static str) -> bool {
        let granted = self.budget.spend();
        if granted {
            self.metrics.upstream_retry(reason);
        } else {
            self.metrics.upstream_retry_denied(reason);
        }
        granted
    }

    /// One call to a service: `subject` and `payload` with the headers `headers` makes
    /// (called again for a second attempt, which is cheaper than copying them for every
    /// call), sent with the configured request timeout as the deadline, retried as the module
    /// docs say (`safe`: a GET or HEAD).
    pub async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        headers: impl Fn() -> HeaderMap,
        safe: bool,
    ) -> Result<Message, CallError> {
        self.budget.earn();
        let deadline = Instant::now() + self.timeout;
        let attempt = || {
            let options = CallOptions {
                timeout: deadline.saturating_duration_since(Instant::now()),
                headers: headers(),
            };
            self.requester.request(subject, payload.clone(), options)
        };
        // Pinned in place: the first attempt may outlive the hedge timer and race a second one.
        let mut first = pin!(attempt());
        let outcome = if safe {
            match tokio::time::timeout(self.timeout / 2, &mut first).await {
                Ok(outcome) => outcome,
                Err(_) if self.may_retry("timeout") => {
                    return first_answer(first, pin!(attempt())).await;
                }
                Err(_) => return first.await,
            }
        } else {
            first.await
        };
        if matches!(outcome, Err(CallError::NoResponders { .. })) && self.may_retry("no_responders")
        {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(NO_RESPONDERS_PAUSE.min(left / 2)).await;
            return attempt().await;
        }
        outcome
    }
}

/// Whichever of two attempts answers first; when one of them is lost (no answer, nobody
/// listening, the connection gone), what the other one gets.
async fn first_answer<A, B>(a: A, b: B) -> Result<Message, CallError>
where
    A: Future<Output = Result<Message, CallError>> + Unpin,
    B: Future<Output = Result<Message, CallError>> + Unpin,
{
    match select(a, b).await {
        Either::Left((outcome, other)) if is_lost(&outcome) => other.await,
        Either::Right((outcome, other)) if is_lost(&outcome) => other.await,
        Either::Left((outcome, _)) | Either::Right((outcome, _)) => outcome,
    }
}

fn is_lost(outcome: &Result<Message, CallError>) -> bool {
    matches!(
        outcome,
        Err(CallError::TimedOut { .. } | CallError::NoResponders { .. } | CallError::Transport(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_one_retry_in_ten_calls_once_its_savings_are_spent() {
        let budget = Budget::default();
        let saved = (0..).take_while(|_| budget.spend()).count();
        assert_eq!(saved, 100, "a new gateway starts with its savings");
        let mut granted = 0;
        for _ in 0..1_000 {
            budget.earn();
            if budget.spend() {
                granted += 1;
            }
        }
        assert_eq!(granted, 100, "one retry per ten calls");
        for _ in 0..10_000 {
            budget.earn();
        }
        let capped = (0..).take_while(|_| budget.spend()).count();
        assert_eq!(capped, 100, "savings are capped");
    }

    #[test]
    fn only_get_and_head_are_safe_to_send_twice() {
        assert!(is_safe(&Method::GET));
        assert!(is_safe(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!is_safe(&method), "{method}");
        }
    }
}
