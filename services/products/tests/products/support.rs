//! The test environment: the shared harness for database-backed services
//! ([`runtime::test_support::pg_service`]) running the products service in-process.

use std::future::Future;
use std::pin::Pin;

use runtime::pg::ServiceConfig;
use runtime::test_support::pg_service::{self, PgService, RunFuture};
use tokio::net::TcpListener;

pub use runtime::test_support::pg_service::{READY, assert_invalid};

/// The products service, run through `products::run`.
pub struct Products;

impl PgService for Products {
    const DATABASE: &'static str = "products";

    fn run(
        config: ServiceConfig,
        health: TcpListener,
        shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> RunFuture {
        Box::pin(products::run(config, health, shutdown))
    }
}

/// Servers, a database and one running instance.
pub type Env = pg_service::Env<Products>;

/// One running instance.
pub type Instance = pg_service::Instance<Products>;
