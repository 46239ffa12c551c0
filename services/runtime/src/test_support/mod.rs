//! What tests of services need on top of the test bed's real servers (re-exported here, so a
//! test names one place): [`ServiceApp`] runs a service's real `run` in-process against them
//! (with the `postgres` feature, [`PgStack`] is the servers of a database-backed service);
//! [`TraceCapture`] keeps the spans a test makes, [`stub`] is the plumbing of the small
//! services tests stand up, and [`events`] reads back the domain events they published.

mod app;
pub mod events;
pub mod metrics;
#[cfg(feature = "postgres")]
mod pg_stack;
mod registration;
pub mod stub;
pub mod tls;
mod trace;

use std::time::Duration;

pub use app::{CALL_TIMEOUT, READY, ServiceApp, Stop, assert_invalid, assert_status};
#[cfg(feature = "postgres")]
pub use pg_stack::PgStack;
pub use registration::{Endpoint, assert_registered, endpoint_of};
pub use testbed::http::get as http_get;
pub use testbed::{
    HarnessError, MongoServer, NatsOptions, NatsServer, PgOptions, PgServer, free_port,
    nats_server_bin, poll, wait_until,
};
pub use trace::TraceCapture;

/// Finding the server programs, and running PostgreSQL's as its own user: for harnesses that
/// start servers their own way (the rendered-stack harness).
pub use testbed::programs;

/// `promtool check metrics` on a `/metrics` exposition.
pub use testbed::promtool;

/// Waits until instance `id` of service `name` answers `$SRV.PING` as seen from `client`'s
/// connection, so requests sent from it after this are routed to the instance.
pub async fn wait_for_instance(client: &async_nats::Client, name: &str, id: &str) {
    let options = crate::discover::GatherOptions {
        total: Duration::from_millis(500),
        stall: Duration::from_millis(100),
        max: usize::MAX,
    };
    wait_until(
        &format!("instance {id} of `{name}` answers pings"),
        Duration::from_secs(20),
        || async {
            crate::discover::ping(client, Some(name), options)
                .await
                .is_ok_and(|pings| pings.iter().any(|p| p.id == id))
        },
    )
    .await;
}
