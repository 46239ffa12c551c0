//! The `products` binary: the shared arguments and the database's, then [`products::run`].

runtime::service_main!(runtime::pg::PgArgs, products::SERVICE, products::run);
