//! The `customers` binary: the shared arguments and the database's, then [`customers::SERVER`].

runtime::service_main!(pg customers::SERVER);
