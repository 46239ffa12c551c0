//! The smallest custom natstack service, and the example to copy when writing one.
//!
//! One public route, `GET /greeter/hello?name=…`, on the NATS subject `greeter.hello`. Run it
//! beside a stack (list it in `spec.services` with its own image) and the gateway routes it
//! with no change of its own: the route travels in the endpoint metadata of the Services API.
//! Like every natstack binary it serves `/livez`, `/readyz` and `/metrics` on `HEALTH_ADDR`.

use std::collections::BTreeMap;
use std::future::Future;

use contract::{Empty, FieldError, RequestOf, ServiceError, operation};
use runtime::config::NatsArgs;
use runtime::host::{Host, HostError};
use runtime::{RequestContext, ServiceBuilder};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The Services API name, and the prefix of the service's NATS subjects.
pub const SERVICE: &str = "greeter";

/// The greeting.
#[derive(Debug, Serialize, Deserialize, contract::schemars::JsonSchema)]
#[schemars(crate = "contract::schemars")]
pub struct Greeting {
    /// `Hello, <name>!`
    pub message: String,
}

operation! {
    /// Greet someone
    pub Hello: "greeter"."hello", GET "/greeter/hello", auth Public, status 200,
        params Empty, query BTreeMap<String, String>, body (), response Greeting
}

async fn hello(
    _state: (),
    _ctx: RequestContext,
    request: RequestOf<Hello>,
) -> Result<Greeting, ServiceError> {
    let name = request.query.get("name").map_or("world", String::as_str);
    if name.chars().count() > 100 {
        return Err(ServiceError::validation(vec![FieldError::new(
            "name",
            "must be at most 100 characters",
        )]));
    }
    Ok(Greeting {
        message: format!("Hello, {name}!"),
    })
}

/// Serves health on `health_listener` at once, then connects to NATS, registers and serves
/// until `shutdown` resolves. `/readyz` answers 200 once NATS is connected and the service is
/// registered.
///
/// # Errors
/// When NATS refuses the connection or the registration, or the health server fails.
pub async fn run(
    nats: NatsArgs,
    health_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HostError> {
    Host::new(SERVICE, &nats)
        .run(health_listener, shutdown, || async {
            Ok(
                ServiceBuilder::new(SERVICE, env!("CARGO_PKG_VERSION"), "Greets people", ())
                    .endpoint::<Hello, _>(hello),
            )
        })
        .await
}
