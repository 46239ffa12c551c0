//! `--topology full`: the same load through the full example's topology (`examples/full.yaml`:
//! a 3-server NATS cluster, 2 gateways, 2 replicas of each service) run on this machine by the
//! rendered-stack harness with the release binaries, compared with the single topology (the
//! launcher's one process each) measured just before:
//!
//! - [`stack`]: the stack file with the gateway's limits lifted, and the harness run on it;
//! - [`instances`]: the stack's processes found in `/proc` and grouped into components, whose
//!   CPU per request is summed over their instances;
//! - [`model`]: the sizing rule's arithmetic and the prediction for a second size;
//! - [`compare`]: the comparison table, the rule, the check, PostgreSQL's connections and
//!   memory per instance, printed and written as JSON (`topology.json` beside the report).
//!
//! The two cores cannot give the full topology more CPU: the point is each component's CPU
//! per request, and what the cluster's extra hops cost.

pub mod compare;
mod instances;
mod model;
mod stack;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use http::Method;
use tracing::info;

use crate::cli::Options;
use crate::cpu::CpuMeter;
use crate::load::{self, HttpRequest, Outcome, Target};
use crate::memory::{Kind, Tracked};
use crate::report::{LOAD_GENERATOR, RunRecord, Via};
use compare::{Check, Connections, Memory, Row, Side, TopologyReport};
use instances::{Instance, component_of, sum_by_component};

/// Which system the load runs through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Topology {
    /// The launcher's one process each (as `make run`).
    #[default]
    Single,
    /// The single topology, then `examples/full.yaml` through the rendered-stack harness,
    /// compared.
    Full,
}

/// The operations the full topology carries (it has no echo service: the stack file's
/// services are auth, customers and products).
const CARRIED: [&str; 2] = [
    crate::scenario::PRODUCTS_GET,
    crate::scenario::CUSTOMERS_LIST,
];
/// The concurrency the rule is checked at when it was measured (else the highest measured).
const CHECK_CONCURRENCY: usize = 64;

/// Runs the selected GET operations through the full topology, prints the comparison with
/// the `single` runs and writes it as JSON; returns the requests that failed.
pub async fn run(options: &Options, single: &[RunRecord]) -> anyhow::Result<u64> {
    let operations: Vec<(&'static str, &'static str)> = crate::scenario::operations("")
        .into_iter()
        .filter(|op| CARRIED.contains(&op.name) && options.selects(op.name))
        .map(|op| (op.name, op.path))
        .collect();
    if operations.is_empty() {
        info!("no operation of the full topology selected (products, customers)");
        return Ok(0);
    }
    let bin_dir = launcher::binaries::beside_current_exe()?;
    let work = options
        .json
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    info!(stack = stack::STACK_FILE, "starting the full topology");
    let stack = stack::Stack::start(work, &options.logs.join("full"), &bin_dir).await?;
    let gateway = stack.banner.gateway;
    let token = log_in(
        gateway,
        &stack.banner.admin_email,
        &stack.banner.admin_password,
    )
    .await?;
    let found = instances::discover(stack.pid());
    let mut tracked: Vec<Tracked> = found.iter().map(Instance::tracked).collect();
    tracked.push(Tracked::new(
        LOAD_GENERATOR,
        std::process::id(),
        Kind::LoadGenerator,
    ));
    let cpu = CpuMeter::new(tracked.clone());
    let mut peaks = vec![0u64; tracked.len()];
    info!(gateway = %gateway, instances = ?instances::count_by_component(&found), "full topology up");

    let request = |path: &str| {
        Target::Http(HttpRequest {
            addr: gateway,
            method: Method::GET,
            path: path.to_owned(),
            token: Some(token.clone()),
            body: None,
        })
    };
    let mut rows = Vec::new();
    let mut errors = 0;
    for (name, path) in &operations {
        let target = request(path);
        crate::scenario::probe(&target, None, name)
            .await
            .context("the full topology")?;
        for &concurrency in &options.concurrency {
            let outcome = load::run(&target, concurrency, options, &cpu).await;
            let record = RunRecord::new(name, Via::Gateway, concurrency, &outcome);
            errors += record.errors;
            remember_peaks(&tracked, &mut peaks);
            info!(
                run = %record.title(),
                rps = record.rps.round(),
                p99_ms = record.p99_ms,
                errors = record.errors,
                "measured (full topology)"
            );
            let full = Side::of(&record, sum_by_component(&record.cpu_us_per_request));
            let single = single
                .iter()
                .find(|r| {
                    r.operation == *name && r.via == Via::Gateway && r.concurrency == concurrency
                })
                .map(|r| Side::of(r, r.cpu_us_per_request.clone()));
            rows.push(Row {
                operation: (*name).to_owned(),
                concurrency,
                single,
                full,
            });
        }
    }

    let check = if operations.len() >= 2 {
        let (check, failed) = check(options, &operations, &rows, &request, &cpu).await;
        errors += failed;
        remember_peaks(&tracked, &mut peaks);
        check
    } else {
        None
    };
    let report = TopologyReport {
        stack_file: stack::STACK_FILE.to_owned(),
        instances: instances::count_by_component(&found),
        rows,
        check,
        connections: connections(&found),
        memory: memory(&tracked, &peaks),
    };
    drop(stack);
    let cores = crate::cli::available_cores();
    crate::scenario::print(&report.render(cores));
    let file = options.json.with_file_name("topology.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&report).context("the topology report encodes")?,
    )
    .with_context(|| format!("cannot write {}", file.display()))?;
    crate::scenario::print(&format!("topology figures written to {}\n", file.display()));
    Ok(errors)
}

/// The second size: the operations together, the clients split evenly between them, at
/// [`CHECK_CONCURRENCY`] (or the highest measured), predicted from each operation's runs alone.
async fn check(
    options: &Options,
    operations: &[(&'static str, &'static str)],
    rows: &[Row],
    request: &impl Fn(&str) -> Target,
    cpu: &CpuMeter,
) -> (Option<Check>, u64) {
    let concurrency = if options.concurrency.contains(&CHECK_CONCURRENCY) {
        CHECK_CONCURRENCY
    } else {
        options.concurrency.iter().copied().max().unwrap_or(0)
    };
    let alone: Vec<&Row> = operations
        .iter()
        .filter_map(|(name, _)| {
            rows.iter()
                .find(|r| r.operation == *name && r.concurrency == concurrency)
        })
        .collect();
    let share = concurrency / operations.len();
    if alone.len() != operations.len() || share == 0 {
        return (None, 0);
    }
    let targets: Vec<Target> = operations.iter().map(|(_, path)| request(path)).collect();
    // Every operation's clients run at once, in one measured window.
    let runs: Vec<_> = targets
        .into_iter()
        .map(|target| {
            let (cpu, options) = (cpu.clone(), options.clone());
            tokio::spawn(async move { load::run(&target, share, &options, &cpu).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    let mut failed = 0;
    for run in runs {
        match run.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(_) => failed += 1,
        }
    }
    let measured: f64 = outcomes.iter().map(Outcome::throughput).sum();
    failed += outcomes.iter().map(|o| o.errors).sum::<u64>();
    let us_per_request: Vec<f64> = alone.iter().map(|r| r.full.total_us()).collect();
    let busy = alone
        .iter()
        .map(|r| model::busy(r.full.rps, r.full.total_us()))
        .sum::<f64>()
        / alone.len() as f64;
    let cores = crate::cli::available_cores();
    let predicted = model::mixed_throughput(busy, &us_per_request);
    let predicted_cores = model::mixed_throughput(cores as f64 * 1e6, &us_per_request);
    info!(
        predicted = predicted.round(),
        measured = measured.round(),
        "mixed load on the full topology"
    );
    let check = Check {
        concurrency: share * operations.len(),
        operations: operations.iter().map(|(n, _)| (*n).to_owned()).collect(),
        us_per_request,
        cores,
        busy_cpu_us_per_s: busy,
        predicted_rps_cores: predicted_cores,
        predicted_rps: predicted,
        measured_rps: measured,
        off_by: model::off_by(predicted, measured),
        off_by_cores: model::off_by(predicted_cores, measured),
    };
    (Some(check), failed)
}

fn remember_peaks(tracked: &[Tracked], peaks: &mut [u64]) {
    for (t, peak) in tracked.iter().zip(peaks.iter_mut()) {
        *peak = (*peak).max(t.resident_kib());
    }
}

/// The highest resident memory of one instance of each component (the load generator left
/// out).
fn memory(tracked: &[Tracked], peaks: &[u64]) -> Vec<Memory> {
    let mut by: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for (t, peak) in tracked.iter().zip(peaks) {
        if t.kind == Kind::LoadGenerator {
            continue;
        }
        let entry = by.entry(component_of(&t.name).to_owned()).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(*peak);
    }
    by.into_iter()
        .map(|(component, (instances, peak))| Memory {
            component,
            instances,
            peak_kib_per_instance: peak,
        })
        .collect()
}

/// PostgreSQL's connections as the processes run: each service pod's pool from its
/// environment, the server's `max_connections` from its command line.
fn connections(found: &[Instance]) -> Option<Connections> {
    let mut pool_per_pod = BTreeMap::new();
    let mut pods = BTreeMap::new();
    for i in found {
        let environ = instances::proc_file(i.pid, "environ");
        if let Some(pool) =
            instances::env_value(&environ, contract::deploy::env::DATABASE_MAX_CONNECTIONS)
                .and_then(|v| v.parse::<u32>().ok())
        {
            pool_per_pod.insert(i.component.clone(), pool);
            *pods.entry(i.component.clone()).or_insert(0) += 1;
        }
    }
    let max_connections = found
        .iter()
        .find(|i| i.component == instances::POSTGRES)
        .and_then(|i| {
            instances::setting(&instances::proc_file(i.pid, "cmdline"), "max_connections")
        })
        .and_then(|v| v.parse().ok());
    (!pool_per_pod.is_empty()).then_some(Connections {
        pool_per_pod,
        pods,
        max_connections,
    })
}

/// Logs in as the stack's administrator through the gateway; returns the access token.
async fn log_in(gateway: SocketAddr, email: &str, password: &str) -> anyhow::Result<String> {
    let mut connection = load::connect(gateway).await?;
    let tokens = crate::scenario::log_in_as(&mut connection, gateway, email, password)
        .await
        .context("login to the full topology")?;
    Ok(tokens.access_token)
}
