//! The request path: match → authorise → build the envelope → call the service over NATS →
//! translate the reply.

use std::collections::BTreeMap;

use async_nats::HeaderMap as NatsHeaders;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::{Caller, Envelope, ErrorCode};
use runtime::{CallError, header_names};
use serde_json::value::RawValue;
use tracing::{debug, error, warn};

use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::limit::Class;
use crate::observe::RouteLabel;
use crate::state::AppState;
use crate::table::{Match, Route};
use crate::{admission, idempotency, metrics, request_id, retry};

/// Room left in a NATS message for the envelope's own JSON around the body.
pub(crate) const ENVELOPE_OVERHEAD: usize = 4 * 1024;

/// Serves every path that is not one of the gateway's own.
pub async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let Some(snapshot) = state.catalog.snapshot() else {
        return ApiError::new(ErrorCode::Unavailable, "routing table not ready yet")
            .into_response();
    };
    let (parts, body) = request.into_parts();
    // The route is borrowed from the snapshot, which this request keeps alive until it is
    // answered: cheaper than copying the route's strings, and a table swapped meanwhile is
    // freed as soon as its last request ends.
    let (route, params) = match snapshot.table.find(&parts.method, parts.uri.path()) {
        Match::Found(route, params) => (route, params),
        Match::MethodNotAllowed(allowed) => return ApiError::method_not_allowed(&allowed),
        Match::BadPath => {
            return ApiError::new(ErrorCode::BadRequest, "path is not valid UTF-8").into_response();
        }
        Match::NotFound => {
            // Perhaps a service that appeared since the last poll: look again soon.
            state.catalog.trigger("route miss");
            return ApiError::no_route().into_response();
        }
    };
    let label = RouteLabel(route.path.clone());
    // Refused unread: a body no one will decode must not be held (see `admission`).
    let bodiless = snapshot.openapi.takes_no_body(route);
    let mut response = if bodiless && !axum::body::HttpBody::is_end_stream(&body) {
        admission::no_body_taken()
    } else {
        forward(&state, route, params, parts, body).await
    };
    response.extensions_mut().insert(label);
    response
}

async fn forward(
    state: &AppState,
    route: &Route,
    params: BTreeMap<String, String>,
    parts: Parts,
    body: Body,
) -> Response {
    let guard = &state.limits;
    // Held until the reply: what counts against the in-flight budget is the wait on a service.
    let _in_flight = match guard.admit() {
        Ok(permit) => permit,
        Err(shed) => {
            state.metrics.refused(metrics::LOAD_SHED);
            return shed.into_response();
        }
    };
    let client = ClientAddr::of(&parts.extensions);
    let caller = match state.auth.authorize(&parts.headers, route.auth).await {
        Ok(caller) => caller,
        Err(refused) => {
            // A missing or bad token costs the client address's quota, so a flood of them is
            // held to it like any anonymous traffic (429 once it is spent).
            if refused.is_clients_fault()
                && let Err(limited) = guard.check_caller(Class::of(route), None, client)
            {
                state.metrics.refused(metrics::RATE_LIMITED);
                return limited.into_response();
            }
            return refused.into_response();
        }
    };
    // Before the body is read: a refused request costs no more than its head.
    let user = caller.as_ref().map(|c| c.user_id.as_str());
    if let Err(limited) = guard.check_caller(Class::of(route), user, client) {
        state.metrics.refused(metrics::RATE_LIMITED);
        return limited.into_response();
    }
    let key = match idempotency::key_to_forward(route, &parts.headers) {
        Ok(key) => key,
        Err(bad) => return bad.into_response(),
    };
    let request_id = request_id::get(&parts.extensions);
    let query = parse_query(parts.uri.query());
    let body = match read_json_body(state, &parts.headers, body).await {
        Ok(body) => body,
        Err(e) => return closing(e),
    };
    let envelope = Envelope::new(params, query, body.as_deref().unwrap_or(RawValue::NULL));
    let payload = match serde_json::to_vec(&envelope) {
        Ok(payload) => payload,
        Err(e) => {
            error!(request_id, error = %e, "envelope could not be encoded");
            return ApiError::new(ErrorCode::Internal, "internal error").into_response();
        }
    };
    let client = client.map(|addr| addr.to_string());
    let headers = || {
        let mut out = nats_headers(request_id, caller.as_ref(), client.as_deref());
        idempotency::forward(key, &mut out);
        out
    };
    let outcome = state
        .upstream
        .request(
            &route.subject,
            payload.into(),
            headers,
            retry::is_safe(&parts.method),
        )
        .await;
    match outcome {
        Ok(reply) => reply_to_response(state, route, &reply, request_id),
        Err(e) => call_error(state, route, &e, request_id),
    }
}

/// The error response to a body that was not read (too large, too slow): it asks to close the
/// connection, since what the client still sends can no longer be framed as a next request.
fn closing(error: ApiError) -> Response {
    // 503 here is the body budget's (`admission`): refused part-read.
    let unread = matches!(
        error.0.code,
        ErrorCode::PayloadTooLarge | ErrorCode::RequestTimeout | ErrorCode::Unavailable
    );
    error.into_response_closing(unread)
}

/// The headers a service receives: built from scratch, so nothing a client sent as
/// `natstack-user-id`/`natstack-roles` can reach a service. Trace context is added by the
/// caller from the current span.
fn nats_headers(request_id: &str, caller: Option<&Caller>, peer: Option<&str>) -> NatsHeaders {
    let mut out = NatsHeaders::new();
    if !request_id.is_empty() {
        out.insert(header_names::REQUEST_ID, request_id);
    }
    if let Some(caller) = caller {
        out.insert(header_names::USER_ID, caller.user_id.as_str());
        out.insert(header_names::ROLES, caller.roles_header());
    }
    if let Some(peer) = peer {
        out.insert(header_names::CLIENT_ADDR, peer);
    }
    out
}

/// Query parameters as strings; when a key repeats, the first value wins.
pub fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        out.entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    out
}

/// The body as JSON (`None` when empty), within the size limit, only as `application/json`.
/// It is checked to be one well-formed JSON value but not parsed into a tree: the envelope
/// carries it as it came, so the service decodes it once, into its own types.
async fn read_json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<Box<RawValue>>, ApiError> {
    let limit = state.body_limit();
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body is over the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // A request without a body (most GETs) needs no timer and no read.
    if axum::body::HttpBody::is_end_stream(&body) {
        return Ok(None);
    }
    let deadline = state.config.server.body_read_timeout;
    let read = tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await;
    let Ok(read) = read else {
        debug!("request body not received in time");
        return Err(ApiError::new(
            ErrorCode::RequestTimeout,
            "request body not received in time",
        ));
    };
    let bytes: Bytes = match read {
        Ok(bytes) => bytes,
        Err(e) => {
            let e = e.into_inner();
            let over = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Err(if over {
                too_large()
            } else if admission::is_over_budget(&*e) {
                admission::over_budget()
            } else {
                debug!("request body could not be read");
                ApiError::new(ErrorCode::BadRequest, "request body could not be read")
            });
        }
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    if !is_json(headers.get(header::CONTENT_TYPE)) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "request body must be JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice::<Box<RawValue>>(&bytes)
        .map(Some)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("malformed JSON body: {e}")))
}

/// `application/json` or any `application/*+json`, with any parameters.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn reply_to_response(
    state: &AppState,
    route: &Route,
    reply: &async_nats::Message,
    request_id: &str,
) -> Response {
    if let Some(error) = runtime::call::error_of(reply) {
        if error.code == ErrorCode::BadGateway {
            state.metrics.upstream_error("bad_reply");
        }
        return ApiError(error).into_response();
    }
    let status = StatusCode::from_u16(route.success_status).unwrap_or(StatusCode::OK);
    if status == StatusCode::NO_CONTENT {
        let mut response = status.into_response();
        idempotency::copy_replayed(reply.headers.as_ref(), &mut response);
        return response;
    }
    // A service's success body must be JSON; anything else is the gateway's 502, not the
    // client's problem to decode. JSON is UTF-8, and serde_json skips the strings of ignored
    // values without checking it, so the bytes are checked as UTF-8 first (std's check is a
    // fraction of the parse).
    if !is_json_value(&reply.payload) {
        if let Some(count) = state
            .server_errors
            .record_now(&route.path, 502, "bad_reply")
        {
            warn!(
                request_id,
                subject = %route.subject,
                bytes = reply.payload.len(),
                count,
                "service replied with invalid JSON"
            );
        }
        state.metrics.upstream_error("bad_reply");
        return ApiError::new(ErrorCode::BadGateway, "the service sent an invalid reply")
            .into_response();
    }
    let mut response = json_response(status, reply.payload.clone());
    idempotency::copy_replayed(reply.headers.as_ref(), &mut response);
    response
}

/// Whether `bytes` are one JSON value (RFC 8259, UTF-8 included).
fn is_json_value(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .is_ok_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok())
}

fn call_error(state: &AppState, route: &Route, error: &CallError, request_id: &str) -> Response {
    let (kind, api) = match error {
        CallError::NoResponders { .. } => {
            state.catalog.trigger("no responders");
            (
                "no_responders",
                ApiError::new(ErrorCode::Unavailable, "the service is unavailable")
                    .with_retry_after(1),
            )
        }
        CallError::TimedOut { .. } => (
            "timeout",
            ApiError::new(ErrorCode::Timeout, "the service did not answer in time"),
        ),
        CallError::PayloadTooLarge { max, .. } => (
            "too_large",
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("request is over the message limit of {max} bytes"),
            ),
        ),
        CallError::Transport(_) => (
            "transport",
            ApiError::new(ErrorCode::Unavailable, "the message bus is unavailable")
                .with_retry_after(1),
        ),
        CallError::Service { error, .. } => return ApiError(error.clone()).into_response(),
        CallError::Decode { .. } | CallError::Encode(_) => (
            "bad_reply",
            ApiError::new(ErrorCode::BadGateway, "the service sent an invalid reply"),
        ),
    };
    // Summed per route and kind, like the access log's 5xx lines.
    if let Some(count) = state
        .server_errors
        .record_now(&route.path, api.0.status(), kind)
    {
        warn!(request_id, subject = %route.subject, error = %error, kind, count, "upstream call failed");
    }
    state.metrics.upstream_error(kind);
    api.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_query_value_wins_and_values_are_decoded() {
        let q = parse_query(Some("q=a%20b&limit=2&q=ignored&flag&x=%E2%9C%93"));
        assert_eq!(q["q"], "a b");
        assert_eq!(q["limit"], "2");
        assert_eq!(q["flag"], "");
        assert_eq!(q["x"], "✓");
        assert!(parse_query(None).is_empty());
    }

    #[test]
    fn a_reply_is_json_only_when_it_is_one_utf8_json_value() {
        assert!(is_json_value(
            br#"{"name":"caf\u00e9","n":[1,2.5,null,true]}"#
        ));
        assert!(is_json_value("{\"name\":\"café\"}".as_bytes()));
        assert!(is_json_value(b" 7 "));
        for bad in [
            &b"{\"name\":\"caf\xe9\"}"[..], // Latin-1 in a string
            b"{\"a\":1,}",
            b"{not json",
            b"{} {}",
            b"",
        ] {
            assert!(!is_json_value(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn json_content_types() {
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("json", false),
        ] {
            assert_eq!(
                is_json(Some(&HeaderValue::from_static(value))),
                ok,
                "{value}"
            );
        }
        assert!(!is_json(None));
    }
}
