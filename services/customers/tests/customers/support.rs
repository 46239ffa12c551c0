//! The test environment: nats-server and PostgreSQL ([`PgStack`]) with the customers service
//! running in-process through `customers::SERVER` ([`ServiceApp`]).

use runtime::test_support::{PgStack, ServiceApp};

pub use runtime::test_support::assert_invalid;

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
