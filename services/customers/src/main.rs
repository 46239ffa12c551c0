//! The `customers` binary: the shared arguments and the database's, then [`customers::run`].

runtime::service_main!(runtime::pg::PgArgs, customers::SERVICE, customers::run);
