//! The route a request was answered by, as a label for metrics and logs.
//!
//! The proxy sets it to the matched template; the gateway's own paths get axum's matched
//! path; anything else is [`UNMATCHED`], so unknown paths cannot blow up label cardinality.

use axum::extract::MatchedPath;
use axum::response::Response;

use crate::metrics::UNMATCHED;

/// The matched route's template (a response extension).
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Labels the response with `matched` (axum's matched path, taken from the request) unless
/// the handler already labelled it.
pub fn label(matched: Option<MatchedPath>, response: &mut Response) {
    if response.extensions().get::<RouteLabel>().is_none() {
        let label = matched.map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
        response.extensions_mut().insert(RouteLabel(label));
    }
}

/// The route label of a response from inside [`label`].
pub fn of(response: &Response) -> &str {
    response
        .extensions()
        .get::<RouteLabel>()
        .map_or(UNMATCHED, |r| r.0.as_str())
}
