//! The test environment: the shared harness for database-backed services
//! ([`runtime::test_support::pg_service`]) running the customers service in-process.

use std::future::Future;
use std::pin::Pin;

use runtime::pg::ServiceConfig;
use runtime::test_support::pg_service::{self, PgService, RunFuture};
use tokio::net::TcpListener;

pub use runtime::test_support::pg_service::{READY, assert_invalid};

/// The customers service, run through `customers::run`.
pub struct Customers;

impl PgService for Customers {
    const DATABASE: &'static str = "customers";

    fn run(
        config: ServiceConfig,
        health: TcpListener,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> RunFuture {
        Box::pin(customers::run(config, health, shutdown))
    }
}

/// Servers, a database and one running instance.
pub type Env = pg_service::Env<Customers>;

/// One running instance.
pub type Instance = pg_service::Instance<Customers>;
