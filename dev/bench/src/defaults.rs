//! The default configuration's cost (issue 30, item 4): the same requests through the
//! system's gateway (the stripped configuration: `RATE_LIMITS=off`, readable logs) and through
//! a second gateway started with a stack's defaults ([`crate::stock`]: rate limiting on with a
//! quota the load does not reach, JSON logs at `info`), each gateway's CPU per request read
//! from `/proc` ([`crate::cpu`]). The two runs alternate ([`ROUNDS`] each) so that a drift of
//! the shared machine falls on both; their CPU is summed over the rounds.

use anyhow::Context;
use bytes::Bytes;
use http::Method;
use tracing::info;

use crate::cli::Options;
use crate::cpu::CpuMeter;
use crate::load::{self, HttpRequest, Target};
use crate::memory::{Kind, Tracked};
use crate::startup_report::DefaultsRecord;
use crate::stock::{self, StockGateway};
use crate::system::System;

/// The name `--only` selects this scenario by.
pub const SELECTOR: &str = "defaults";
/// The concurrency both gateways are compared at.
pub const CONCURRENCY: usize = 64;
/// Runs per gateway and operation, alternating.
const ROUNDS: usize = 2;

/// The operations compared: the gateway's hop alone, and the headline read.
const OPERATIONS: [(&str, &str); 2] = [
    (crate::scenario::ECHO_GET, "/echo?msg=hello"),
    (crate::scenario::PRODUCTS_GET, "/products/7"),
];

/// Requests, CPU µs in total, and failures of one gateway over the rounds.
#[derive(Debug, Default)]
struct Sum {
    requests: u64,
    cpu_us: f64,
    seconds: f64,
    errors: u64,
}

impl Sum {
    fn per_request(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.cpu_us / self.requests as f64
        }
    }

    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds.max(f64::EPSILON)
    }
}

/// Measures every operation through both gateways.
pub async fn measure(
    system: &System,
    token: &str,
    options: &Options,
) -> anyhow::Result<Vec<DefaultsRecord>> {
    let stock = StockGateway::new(system)?;
    let mut child = stock
        .start(&options.logs, &["echo.get", "products.get"])
        .await?;
    let result = compare(system, &stock, child.pid(), token, options).await;
    stock::stop(&mut child);
    result
}

async fn compare(
    system: &System,
    stock: &StockGateway,
    stock_pid: u32,
    token: &str,
    options: &Options,
) -> anyhow::Result<Vec<DefaultsRecord>> {
    let stripped_pid = system
        .tracked()
        .into_iter()
        .find(|t| t.name == contract::deploy::GATEWAY)
        .map(|t| t.pid)
        .context("the system has no gateway")?;
    let cpu = CpuMeter::new(vec![
        Tracked::new(contract::deploy::GATEWAY, stripped_pid, Kind::Ours),
        Tracked::new(stock::NAME, stock_pid, Kind::Ours),
    ]);
    let mut out = Vec::new();
    for (operation, path) in OPERATIONS {
        let request = |addr| {
            Target::Http(HttpRequest {
                addr,
                method: Method::GET,
                path: path.to_owned(),
                token: Some(token.to_owned()),
                body: None::<Bytes>,
            })
        };
        let gateways = [
            (contract::deploy::GATEWAY, request(system.gateway)),
            (stock::NAME, request(stock.addr)),
        ];
        let mut sums = [Sum::default(), Sum::default()];
        for _ in 0..ROUNDS {
            for ((name, target), sum) in gateways.iter().zip(&mut sums) {
                let outcome = load::run(target, CONCURRENCY, options, &cpu).await;
                let requests = outcome.latencies.len() as u64;
                sum.requests += requests;
                sum.cpu_us +=
                    outcome.cpu_us.get(*name).copied().unwrap_or_default() * requests as f64;
                sum.seconds += outcome.elapsed.as_secs_f64();
                sum.errors += outcome.errors;
            }
        }
        let [stripped, stocked] = sums;
        let record = DefaultsRecord {
            operation: operation.to_owned(),
            concurrency: CONCURRENCY,
            stripped_us: stripped.per_request(),
            stock_us: stocked.per_request(),
            stripped_rps: stripped.rps(),
            stock_rps: stocked.rps(),
            errors: stripped.errors + stocked.errors,
        };
        info!(
            operation,
            stripped_us = record.stripped_us,
            defaults_us = record.stock_us,
            errors = record.errors,
            "default configuration measured"
        );
        out.push(record);
    }
    Ok(out)
}
