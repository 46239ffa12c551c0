//! The `products` binary: the shared arguments and the database's, then [`products::SERVER`].

runtime::service_main!(pg products::SERVER);
