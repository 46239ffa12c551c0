//! The test environment: nats-server and PostgreSQL ([`PgStack`]) with the products service
//! running in-process through `products::SERVER` ([`ServiceApp`]).

use runtime::test_support::{PgStack, ServiceApp};

pub use runtime::test_support::assert_invalid;

/// Starts the servers and one ready instance of the service.
pub async fn start() -> (PgStack, ServiceApp) {
    let stack = PgStack::start("products").await;
    let database = stack.database();
    let app = ServiceApp::start(&stack.nats, |nats, health, stop| {
        products::SERVER.run(nats, database, health, stop)
    })
    .await;
    (stack, app)
}
