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

/// One call to a service: `subject`, `payload` and `headers` sent with `timeout` as the
/// deadline, retried as the module docs say.
pub async fn request(
    caller: &Requester,
    metrics: &GatewayMetrics,
    subject: &str,
    payload: Bytes,
    headers: HeaderMap,
    timeout: Duration,
    safe: bool,
) -> Result<Message, CallError> {
    let deadline = Instant::now() + timeout;
    let attempt = || {
        let options = CallOptions {
            timeout: deadline.saturating_duration_since(Instant::now()),
            headers: headers.clone(),
        };
        caller.request(subject, payload.clone(), options)
    };
    let first = Box::pin(attempt());
    let hedge = Box::pin(async {
        if safe {
            tokio::time::sleep_until(Instant::now() + timeout / 2).await;
        } else {
            std::future::pending::<()>().await;
        }
    });
    match select(first, hedge).await {
        Either::Left((Err(CallError::NoResponders { .. }), _)) => {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(NO_RESPONDERS_PAUSE.min(left / 2)).await;
            metrics.upstream_retry("no_responders");
            attempt().await
        }
        Either::Left((outcome, _)) => outcome,
        Either::Right(((), first)) => {
            metrics.upstream_retry("timeout");
            first_answer(first, Box::pin(attempt())).await
        }
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
    fn only_get_and_head_are_safe_to_send_twice() {
        assert!(is_safe(&Method::GET));
        assert!(is_safe(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!is_safe(&method), "{method}");
        }
    }
}
