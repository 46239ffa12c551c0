//! The `greeter` binary: the shared arguments, then [`greeter::run`].

runtime::service_main!(greeter::SERVICE, greeter::run);
