//! What a request must be before any handler sees it, and the memory its body may take.
//!
//! - **One `Host` header**: a request with none or with several is answered 400 (RFC 9112
//!   §3.2), so two parts of a chain can never read two different hosts off one request.
//! - **No body where none is taken**: a GET, HEAD, DELETE or any method other than POST, PUT
//!   and PATCH that carries a body (`Content-Length` above 0, or `Transfer-Encoding`) is
//!   answered 400 before a byte of it is read, and the connection closed; the proxy does the
//!   same for a POST, PUT or PATCH whose service publishes that it takes no body
//!   ([`no_body_taken`]).
//! - **Body budget** ([`BodyBudget`]): request bodies held at once, across every connection,
//!   stay within `BODY_BUDGET_BYTES`. A body takes its declared `Content-Length` from the
//!   budget when it starts to be read (a chunked one, each chunk as it arrives) and gives it
//!   back once the request is answered; a body that does not fit gets 503 with `Retry-After`
//!   and its connection is closed. Slow uploads thus cannot pile up without bound, whatever
//!   the route.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use contract::ErrorCode;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::state::AppState;

/// Default of `BODY_BUDGET_BYTES`.
pub const DEFAULT_BODY_BUDGET_BYTES: u64 = contract::deploy::DEFAULT_BODY_BUDGET_BYTES;

/// The request-body bytes the gateway holds at once.
#[derive(Debug, Clone)]
pub struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        let bytes = usize::try_from(bytes)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Self(Arc::new(Semaphore::new(bytes)))
    }

    /// Bytes not taken.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

/// Checks the request's head, then runs it with its body counted against the state's
/// [`BodyBudget`] until the response is ready.
pub async fn admit(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let budget = &state.body_budget;
    let hosts = request.headers().get_all(header::HOST).iter().count();
    if hosts != 1 {
        let error = ApiError::new(
            ErrorCode::BadRequest,
            format!("a request needs exactly one Host header, not {hosts}"),
        );
        return error.into_response_closing(has_body(&request));
    }
    if has_body(&request) && !takes_body(request.method()) {
        return no_body_taken();
    }
    let held = Held::default();
    let request = request.map(|body| {
        Body::new(Budgeted {
            inner: body,
            budget: budget.0.clone(),
            held: held.clone(),
            counted: 0,
            delivered: 0,
            started: false,
        })
    });
    // `held` lives until here: the body's bytes are freed when the answer is ready (the
    // envelope that carries them lives as long as the call to the service).
    let response = next.run(request).await;
    drop(held);
    response
}

/// Whether `request` carries a body: a `Content-Length` above 0, or a `Transfer-Encoding`.
pub fn has_body<B: HttpBody>(request: &Request<B>) -> bool {
    !request.body().is_end_stream()
}

/// Whether a request of `method` may carry a body at all.
fn takes_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// The answer to a body sent to a route that takes none: 400, and the connection closed, since
/// the unread body cannot be framed as a next request.
pub fn no_body_taken() -> Response {
    let error = ApiError::new(ErrorCode::BadRequest, "this route takes no request body");
    error.into_response_closing(true)
}

/// The answer to a body beyond the budget.
pub fn over_budget() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the gateway is holding too many request bodies; retry shortly",
    )
    .with_retry_after(1)
}

/// Whether reading a body failed because the budget had no room for it.
pub fn is_over_budget(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<OverBudget>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The budget taken by one request, shared by its body and the middleware.
type Held = Arc<Mutex<Option<OwnedSemaphorePermit>>>;

/// The error a body read ends with when the budget has no room for it.
#[derive(Debug, thiserror::Error)]
#[error("the request-body budget is exhausted")]
struct OverBudget;

/// A request body that takes from the budget what it will hold before it is read.
struct Budgeted {
    inner: Body,
    budget: Arc<Semaphore>,
    held: Held,
    /// Bytes taken from the budget so far.
    counted: u64,
    /// Bytes read so far.
    delivered: u64,
    /// Whether the declared length was taken (on the first poll).
    started: bool,
}

impl Budgeted {
    /// Takes `bytes` more from the budget, or fails without waiting.
    fn take(&mut self, bytes: u64) -> Result<(), OverBudget> {
        let n = u32::try_from(bytes).map_err(|_| OverBudget)?;
        let permit = self
            .budget
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| OverBudget)?;
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.as_mut() {
            Some(all) => all.merge(permit),
            None => *held = Some(permit),
        }
        self.counted += bytes;
        Ok(())
    }
}

impl HttpBody for Budgeted {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if !self.started {
            self.started = true;
            // A declared length is taken whole before anything is read, so a slow upload
            // holds from its start what it will hold at its end.
            if let Some(declared) = self.inner.size_hint().exact()
                && declared > 0
            {
                self.take(declared)?;
            }
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other.map_err(Into::into),
        };
        if let Some(data) = frame.data_ref() {
            self.delivered += data.len() as u64;
            let more = self.delivered.saturating_sub(self.counted);
            if more > 0 {
                self.take(more)?;
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
