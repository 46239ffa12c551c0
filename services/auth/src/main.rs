//! The `auth` binary: the shared arguments and [`auth::Config`], then [`auth::run`].

runtime::service_main!(auth::Config, auth::SERVICE, auth::run);
