//! The echo service: one endpoint, `GET /echo` on `echo.get`, that returns its query
//! parameters. No database, no I/O: measured through the gateway and directly, it shows what
//! the gateway hop itself costs. It needs a caller (`auth User`), as the Northwind reads do,
//! so the gateway's token check is part of what is measured.

use std::collections::BTreeMap;

use anyhow::Context;
use contract::{Empty, RequestOf, ServiceError, operation};
use runtime::{RequestContext, ServiceBuilder};
use tracing::info;

use crate::cli::EchoArgs;

/// The Services API name of the echo service.
pub const SERVICE: &str = "echo";

/// Query parameters, echoed back.
pub type Params = BTreeMap<String, String>;

operation! {
    /// Echo the query parameters (benchmark only)
    pub Echo: "echo"."get", GET "/echo", auth User, status 200,
        params Empty, query Params, body (), response Params
}

async fn echo(
    _state: (),
    _ctx: RequestContext,
    request: RequestOf<Echo>,
) -> Result<Params, ServiceError> {
    Ok(request.query)
}

/// Serves the echo endpoint until SIGTERM or Ctrl-C.
pub async fn serve(args: EchoArgs) -> anyhow::Result<()> {
    let _telemetry =
        runtime::telemetry::init(SERVICE, &args.telemetry).context("cannot set up telemetry")?;
    let client = runtime::connect::connect(&args.nats, SERVICE, true)
        .await
        .context("cannot connect to NATS")?;
    let service = ServiceBuilder::new(
        SERVICE,
        env!("CARGO_PKG_VERSION"),
        "Echoes its query (benchmark)",
        (),
    )
    .endpoint::<Echo, _>(echo)
    .start(&client)
    .await
    .context("cannot register the echo service")?;
    info!(id = service.id(), "echo service ready");
    service
        .run(runtime::shutdown::signal())
        .await
        .context("echo service failed")
}
