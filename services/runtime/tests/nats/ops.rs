//! Operations and a small service used by the tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use contract::{Empty, Envelope, ServiceError, operation};
pub use runtime::test_support::stub::Running;
use runtime::test_support::stub::{Gate, failure};
use runtime::{CallError, CallOptions, RequestContext, Requester, ServiceBuilder};
use serde::{Deserialize, Serialize};

operation! {
    /// Echo the body
    pub Echo: "test"."echo", POST "/echo", auth Public, status 200,
        params Empty, query Empty, body serde_json::Value, response serde_json::Value
}

#[derive(Debug, Default, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
#[serde(deny_unknown_fields)]
pub struct FailBody {
    pub status: u16,
    pub message: String,
}

operation! {
    /// Fail with the given status
    pub Fail: "test"."fail", POST "/fail", auth Public, status 200,
        params Empty, query Empty, body FailBody, response ();

    /// Wait at the gate, then answer with the instance name
    pub Gated: "test"."gated", GET "/gated", auth Public, status 200,
        params Empty, query Empty, body (), response String;

    /// Answer with the instance name and the caller
    pub Whoami: "test"."whoami", GET "/whoami", auth User, status 200,
        params Empty, query Empty, body u64, response Identity;

    /// Only for admins
    pub AdminOnly: "test"."admin", DELETE "/admin", auth Admin, status 204,
        params Empty, query Empty, body (), response ();

    /// Panic
    pub Panic: "test"."panic", GET "/panic", auth Public, status 200,
        params Empty, query Empty, body (), response ();

    /// Take a minute, counting starts and cancellations
    pub Slow: "test"."slow", GET "/slow", auth Public, status 200,
        params Empty, query Empty, body (), response ();

    /// The deadline as received: the header and the time left in the handler, in ms
    pub Remaining: "test"."remaining", GET "/remaining", auth Public, status 200,
        params Empty, query Empty, body (), response (Option<u64>, Option<u64>)
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct Identity {
    pub instance: String,
    pub seq: u64,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
    pub roles: Vec<String>,
}

/// Shared state of one test service instance.
#[derive(Clone)]
pub struct State {
    pub instance: String,
    pub gate: Gate,
    pub in_flight: Arc<AtomicUsize>,
    pub max_seen: Arc<AtomicUsize>,
    pub seen: Arc<std::sync::Mutex<Vec<u64>>>,
    pub slow_started: Arc<AtomicUsize>,
    pub slow_dropped: Arc<AtomicUsize>,
}

impl State {
    pub fn new(instance: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            gate: Gate::default(),
            in_flight: Arc::default(),
            max_seen: Arc::default(),
            seen: Arc::default(),
            slow_started: Arc::default(),
            slow_dropped: Arc::default(),
        }
    }

    /// Lets every gated request (waiting now or later) through.
    pub fn open_gate(&self) {
        self.gate.open();
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The most gated requests that were handled at once.
    pub fn max_seen(&self) -> usize {
        self.max_seen.load(Ordering::SeqCst)
    }

    /// How many [`Slow`] handlers started.
    pub fn slow_started(&self) -> usize {
        self.slow_started.load(Ordering::SeqCst)
    }

    /// How many [`Slow`] handlers were dropped (cancelled).
    pub fn slow_dropped(&self) -> usize {
        self.slow_dropped.load(Ordering::SeqCst)
    }
}

/// Calls [`Echo`] with the body `1` and the default options: the call that shows whether the
/// test service serves.
pub async fn echo_one(requester: &Requester) -> Result<serde_json::Value, CallError> {
    requester
        .call::<Echo>(&Envelope::body(1.into()), CallOptions::default())
        .await
}

async fn echo(
    _: State,
    _: RequestContext,
    req: contract::RequestOf<Echo>,
) -> Result<serde_json::Value, ServiceError> {
    Ok(req.body)
}

async fn fail(
    _: State,
    _: RequestContext,
    req: contract::RequestOf<Fail>,
) -> Result<(), ServiceError> {
    Err(failure(req.body.status, req.body.message))
}

async fn gated(
    state: State,
    _: RequestContext,
    _: contract::RequestOf<Gated>,
) -> Result<String, ServiceError> {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_seen.fetch_max(now, Ordering::SeqCst);
    state.gate.wait().await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    Ok(state.instance)
}

async fn whoami(
    state: State,
    ctx: RequestContext,
    req: contract::RequestOf<Whoami>,
) -> Result<Identity, ServiceError> {
    state.seen.lock().unwrap().push(req.body);
    Ok(Identity {
        instance: state.instance,
        seq: req.body,
        request_id: ctx.request_id.clone(),
        user_id: ctx.caller.as_ref().map(|c| c.user_id.clone()),
        roles: ctx.caller.map(|c| c.roles).unwrap_or_default(),
    })
}

/// Counts its drop: how a test sees a handler cancelled.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn slow(
    state: State,
    _: RequestContext,
    _: contract::RequestOf<Slow>,
) -> Result<(), ServiceError> {
    state.slow_started.fetch_add(1, Ordering::SeqCst);
    let _dropped = DropCount(state.slow_dropped.clone());
    tokio::time::sleep(Duration::from_secs(60)).await;
    Ok(())
}

async fn remaining(
    _: State,
    ctx: RequestContext,
    _: contract::RequestOf<Remaining>,
) -> Result<(Option<u64>, Option<u64>), ServiceError> {
    let header = ctx
        .headers
        .get(contract::headers::DEADLINE_MS)
        .and_then(|v| v.as_str().parse().ok());
    let left = runtime::deadline::remaining().map(|d| d.as_millis() as u64);
    Ok((header, left))
}

async fn admin_only(
    _: State,
    _: RequestContext,
    _: contract::RequestOf<AdminOnly>,
) -> Result<(), ServiceError> {
    Ok(())
}

async fn panic(
    _: State,
    _: RequestContext,
    _: contract::RequestOf<Panic>,
) -> Result<(), ServiceError> {
    panic!("handler bug")
}

/// The test service's builder.
pub fn builder(state: State) -> ServiceBuilder<State> {
    ServiceBuilder::new("test", "1.2.3", "runtime test service", state)
        .endpoint::<Echo, _>(echo)
        .endpoint::<Fail, _>(fail)
        .endpoint::<Gated, _>(gated)
        .endpoint::<Whoami, _>(whoami)
        .endpoint::<Panic, _>(panic)
        .endpoint::<AdminOnly, _>(admin_only)
        .endpoint::<Slow, _>(slow)
        .endpoint::<Remaining, _>(remaining)
        .drain_timeout(Duration::from_secs(10))
}

/// Starts the test service on `client`, runs it, and waits until the server routes to it.
pub async fn start(client: &async_nats::Client, state: State) -> Running {
    Running::start(client, builder(state)).await
}
