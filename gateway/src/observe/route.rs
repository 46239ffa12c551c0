//! The route a request was answered by, as a label for metrics and logs.
//!
//! The proxy sets it to the matched template; the gateway's own paths get axum's matched
//! path; anything else is [`UNMATCHED`], so unknown paths cannot blow up label cardinality.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::UNMATCHED;

/// The matched route's template (a response extension).
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Labels the response with its route unless the handler already did.
pub async fn label(request: Request, next: Next) -> Response {
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let mut response = next.run(request).await;
    if response.extensions().get::<RouteLabel>().is_none() {
        let label = matched.unwrap_or_else(|| UNMATCHED.to_owned());
        response.extensions_mut().insert(RouteLabel(label));
    }
    response
}

/// The route label of a response from inside [`label`].
pub fn of(response: &Response) -> &str {
    response
        .extensions()
        .get::<RouteLabel>()
        .map_or(UNMATCHED, |r| r.0.as_str())
}
