//! The test environment: nats-server (with JetStream for the events tests) and PostgreSQL
//! ([`PgStack`]) with the products service running in-process through `products::SERVER`
//! ([`ServiceApp`]).

use contract::events::StreamSettings;
use contract::products::{ProductIdParams, ProductPatch, UpdateProduct};
use contract::{Empty, Envelope, RequestOf};
use runtime::test_support::{NatsOptions, PgStack, ServiceApp};

pub use runtime::test_support::{assert_invalid, assert_status};

/// Starts the servers and one ready instance of the service.
pub async fn start() -> (PgStack, ServiceApp) {
    start_on(PgStack::start("products").await).await
}

/// Starts the servers with JetStream and the `EVENTS` stream, and one ready instance.
pub async fn start_with_events() -> (PgStack, ServiceApp) {
    let stack = PgStack::start_with(
        "products",
        NatsOptions {
            jetstream: true,
            ..NatsOptions::default()
        },
    )
    .await;
    runtime::events::stream::ensure(&stack.nats.client().await, &StreamSettings::default())
        .await
        .expect("the stream is created");
    start_on(stack).await
}

/// The request that applies `patch` to the product `id` names.
pub fn update(id: ProductIdParams, patch: ProductPatch) -> RequestOf<UpdateProduct> {
    Envelope::new(id, Empty {}, patch)
}

async fn start_on(stack: PgStack) -> (PgStack, ServiceApp) {
    let database = stack.database();
    let app = ServiceApp::start(&stack.nats, |nats, health, stop| {
        products::SERVER.run(nats, database, health, stop)
    })
    .await;
    (stack, app)
}
