//! The `main` of every service binary, written once: parse the shared arguments
//! ([`CommonArgs`]) and the service's own, set up telemetry, bind the health listener, run the
//! service until SIGINT or SIGTERM, and report a failure with its causes and a non-zero exit.
//!
//! A binary is one line, [`service_main!`](crate::service_main):
//!
//! ```ignore
//! runtime::service_main!(auth::SERVICE, auth::run);
//! ```
//!
//! or, for a service that owns a PostgreSQL database ([`crate::pg::PgService`]),
//! `runtime::service_main!(pg customers::SERVER);`.
//!
//! `--help` names the binary after its service and takes its version and one-line description
//! from the binary's own `Cargo.toml`.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser};
use tokio::net::TcpListener;

use crate::config::{CommonArgs, NatsArgs};

/// The allocator of every service binary ([`service_main!`](crate::service_main)); its settings
/// are the gateway's (`.cargo/config.toml`).
pub use tikv_jemallocator::Jemalloc as Allocator;

/// A service binary's arguments: the ones every binary shares, then the service's own.
#[derive(Debug, Parser)]
pub struct ServiceArgs<T: Args> {
    /// NATS, telemetry and health settings.
    #[command(flatten)]
    pub common: CommonArgs,
    /// The service's own settings.
    #[command(flatten)]
    pub own: T,
}

/// The own arguments of a service that has none.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct NoArgs {}

/// The shutdown signal a service's `run` receives.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Who the binary is, for `--help` and `--version`.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The service name (also the binary's).
    pub name: &'static str,
    /// The crate version.
    pub version: &'static str,
    /// One line about it.
    pub about: &'static str,
}

/// Parses the arguments, runs `run` on a multi-threaded runtime until SIGINT or SIGTERM, and
/// turns its outcome into the process's exit code.
pub fn main<T, F, Fut, E>(binary: Binary, run: F) -> ExitCode
where
    T: Args,
    F: FnOnce(NatsArgs, T, TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    let command = ServiceArgs::<T>::command()
        .name(binary.name)
        .version(binary.version)
        .about(binary.about);
    let args =
        ServiceArgs::<T>::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let outcome = tokio::runtime::Runtime::new()
        .map_err(|e| failure(binary.name, "cannot start the async runtime", &e))
        .and_then(|runtime| runtime.block_on(serve(binary.name, args, run)));
    outcome.map_or_else(|code| code, |()| ExitCode::SUCCESS)
}

async fn serve<T, F, Fut, E>(name: &str, args: ServiceArgs<T>, run: F) -> Result<(), ExitCode>
where
    T: Args,
    F: FnOnce(NatsArgs, T, TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    let _telemetry = crate::telemetry::init(name, &args.common.telemetry)
        .map_err(|e| failure(name, "cannot set up telemetry", &e))?;
    let addr = args.common.health.health_addr;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| failure(name, &format!("cannot bind HEALTH_ADDR {addr}"), &e))?;
    let shutdown: Shutdown = Box::pin(crate::shutdown::signal());
    run(args.common.nats, args.own, listener, shutdown)
        .await
        .map_err(|e| failure(name, "the service failed", &e))
}

/// Prints `what` and the whole chain of causes of `error` to stderr; the exit code to use.
fn failure(name: &str, what: &str, error: &(dyn std::error::Error + 'static)) -> ExitCode {
    let mut message = format!("{name}: {what}: {error}");
    let mut cause = error.source();
    while let Some(e) = cause {
        message.push_str(&format!("\n  caused by: {e}"));
        cause = e.source();
    }
    eprintln!("{message}");
    ExitCode::FAILURE
}

/// The whole `main` of a service binary: `service_main!(OwnArgs, SERVICE, run)` where `run`
/// is `async fn(NatsArgs, OwnArgs, TcpListener, shutdown) -> Result<(), E>`, or
/// `service_main!(SERVICE, run)` for a service with no arguments of its own
/// (`async fn(NatsArgs, TcpListener, shutdown)`), or `service_main!(pg SERVER)` for a
/// [`crate::pg::PgService`].
#[macro_export]
macro_rules! service_main {
    (@allocator) => {
        /// jemalloc, as in the gateway: a request allocates and frees dozens of small buffers
        /// (headers, rows, the reply) across the worker threads, and glibc's malloc spent a
        /// large share of a service's instructions on them (`docs/bench.md`).
        #[global_allocator]
        static ALLOCATOR: $crate::binary::Allocator = $crate::binary::Allocator;
    };
    (pg $server:path) => {
        $crate::service_main!(@allocator);
        fn main() -> ::std::process::ExitCode {
            $crate::binary::main::<$crate::pg::PgArgs, _, _, _>(
                $crate::binary::Binary {
                    name: $server.name,
                    version: env!("CARGO_PKG_VERSION"),
                    about: env!("CARGO_PKG_DESCRIPTION"),
                },
                |nats, database, listener, shutdown| {
                    $server.run(nats, database, listener, shutdown)
                },
            )
        }
    };
    ($own:ty, $service:expr, $run:path) => {
        $crate::service_main!(@allocator);
        fn main() -> ::std::process::ExitCode {
            $crate::binary::main::<$own, _, _, _>(
                $crate::binary::Binary {
                    name: $service,
                    version: env!("CARGO_PKG_VERSION"),
                    about: env!("CARGO_PKG_DESCRIPTION"),
                },
                $run,
            )
        }
    };
    ($service:expr, $run:path) => {
        $crate::service_main!(@allocator);
        fn main() -> ::std::process::ExitCode {
            $crate::binary::main::<$crate::binary::NoArgs, _, _, _>(
                $crate::binary::Binary {
                    name: $service,
                    version: env!("CARGO_PKG_VERSION"),
                    about: env!("CARGO_PKG_DESCRIPTION"),
                },
                |nats, _: $crate::binary::NoArgs, listener, shutdown| {
                    $run(nats, listener, shutdown)
                },
            )
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_and_own_arguments_parse_together() {
        ServiceArgs::<NoArgs>::command().debug_assert();
        let args =
            ServiceArgs::<NoArgs>::try_parse_from(["svc", "--nats-url", "nats://elsewhere:4222"])
                .unwrap();
        assert_eq!(args.common.nats.nats_url, "nats://elsewhere:4222");
    }
}
