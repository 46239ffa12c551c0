//! The test environment: nats-server (with JetStream for the events tests) and PostgreSQL
//! ([`PgStack`]) with the customers service running in-process through `customers::SERVER`
//! ([`ServiceApp`]).

use contract::events::StreamSettings;
use runtime::test_support::{PgStack, ServiceApp};

pub use runtime::test_support::{assert_invalid, assert_status};

/// Starts the servers and one ready instance of the service.
pub async fn start() -> (PgStack, ServiceApp) {
    let stack = PgStack::start("customers").await;
    let database = stack.database();
    let app = ServiceApp::start(&stack.nats, |nats, health, stop| {
        customers::SERVER.run(nats, database, health, stop)
    })
    .await;
    (stack, app)
}

/// Starts the servers with JetStream and the `EVENTS` stream, and one ready instance.
pub async fn start_with_events() -> (PgStack, ServiceApp) {
    let stack = PgStack::start_with_jetstream("customers").await;
    create_stream(&stack).await;
    let app = instance(&stack).await;
    (stack, app)
}

/// Creates the `EVENTS` stream, as the stack's operator does.
pub async fn create_stream(stack: &PgStack) {
    runtime::events::stream::ensure(&stack.nats.client().await, &StreamSettings::default())
        .await
        .expect("the stream is created");
}

/// One more ready instance of the service on `stack`.
pub async fn instance(stack: &PgStack) -> ServiceApp {
    let database = stack.database();
    ServiceApp::start(&stack.nats, |nats, health, stop| {
        customers::SERVER.run(nats, database, health, stop)
    })
    .await
}
