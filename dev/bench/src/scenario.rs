//! What is measured, in which order: for each operation and concurrency level, the direct NATS
//! request first (the ceiling), then, for the echo operation, the floor server (the same bytes
//! over HTTP with no NATS hop) and the bare proxy (HTTP plus one NATS request, nothing else),
//! then the same operation through the gateway, so the runs of a level see the same warm
//! system. Login is measured through the gateway only. Domain events are measured first
//! ([`crate::events`]: writes with and without the outbox, and a write's event's latency)
//! and listed last.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::{Context, bail};
use bytes::Bytes;
use contract::{Caller as Identity, Envelope, headers};
use http::Method;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use runtime::Requester;
use runtime::config::{LogFormat, TelemetryArgs};
use tracing::info;

use crate::cli::Options;
use crate::cpu::CpuMeter;
use crate::load::{self, HttpRequest, NatsRequest, Target};
use crate::memory::{Kind, Sampler, Tracked};
use crate::report::{FLOOR, Machine, MemoryRecord, PROXY, Report, RunRecord, Settings, Via};
use crate::system::{ADMIN_EMAIL, System};

/// The headline operation.
pub const PRODUCTS_GET: &str = "GET /products/{id}";
/// A page of customers: the list read.
pub const CUSTOMERS_LIST: &str = "GET /customers?limit=20";
/// The database-free operation: what the gateway hop itself costs.
pub const ECHO_GET: &str = "GET /echo (no database)";

/// One operation, as HTTP and (unless HTTP-only) as its NATS subject and envelope.
pub(crate) struct Operation {
    pub(crate) name: &'static str,
    method: Method,
    pub(crate) path: &'static str,
    body: Option<serde_json::Value>,
    /// The same request straight to the service, when measured directly too.
    direct: Option<Direct>,
    /// Whether the floor server and the bare proxy answer it too (they serve the echo route
    /// only).
    floor: bool,
    login: bool,
}

/// A NATS request: the subject and the envelope's path parameters and query.
struct Direct {
    subject: &'static str,
    params: &'static [(&'static str, &'static str)],
    query: &'static [(&'static str, &'static str)],
}

pub(crate) fn operations(admin_password: &str) -> Vec<Operation> {
    vec![
        Operation {
            name: PRODUCTS_GET,
            method: Method::GET,
            path: "/products/7",
            body: None,
            direct: Some(Direct {
                subject: "products.get",
                params: &[("id", "7")],
                query: &[],
            }),
            floor: false,
            login: false,
        },
        Operation {
            name: CUSTOMERS_LIST,
            method: Method::GET,
            path: "/customers?limit=20",
            body: None,
            direct: Some(Direct {
                subject: "customers.list",
                params: &[],
                query: &[("limit", "20")],
            }),
            floor: false,
            login: false,
        },
        Operation {
            name: ECHO_GET,
            method: Method::GET,
            path: "/echo?msg=hello",
            body: None,
            direct: Some(Direct {
                subject: "echo.get",
                params: &[],
                query: &[("msg", "hello")],
            }),
            floor: true,
            login: false,
        },
        Operation {
            name: "POST /auth/login",
            method: Method::POST,
            path: "/auth/login",
            body: Some(serde_json::json!({ "email": ADMIN_EMAIL, "password": admin_password })),
            direct: None,
            floor: false,
            login: true,
        },
    ]
}

fn pairs(list: &[(&str, &str)]) -> BTreeMap<String, String> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Runs the whole benchmark and prints the report; fails when any request failed.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let telemetry = TelemetryArgs {
        log_format: LogFormat::Pretty,
        otlp_endpoint: None,
        traces_sampler: None,
        traces_sampler_arg: None,
        resource_attributes: None,
    };
    let _telemetry =
        runtime::telemetry::init("bench", &telemetry).context("cannot set up logging")?;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let baseline = options.baseline.as_deref().map(Report::read).transpose()?;

    let mut system = System::start(&options.logs, &options.rust_log).await?;
    info!(gateway = %system.gateway, logs = %options.logs.display(), "system up");
    let floor = crate::floor::start().await?;
    let (token, identity) = log_in(system.gateway, &system.admin_password).await?;
    let proxy = crate::proxy::start(
        &system.nats_url(),
        &<crate::echo::Echo as contract::Operation>::subject(),
        &identity.user_id,
        &identity.roles_header(),
    )
    .await?;
    let client = async_nats::connect(system.nats_url())
        .await
        .context("cannot connect to NATS")?;
    let requester = Requester::new(client).await?;
    let mut nats_headers = async_nats::HeaderMap::new();
    nats_headers.insert(headers::USER_ID, identity.user_id.as_str());
    nats_headers.insert(headers::ROLES, identity.roles_header());

    // First, while the products instances are swapped (new pids), so that the memory of the
    // products left running is tracked from here on; listed last.
    let (event_runs, delivery) = if options.selects(crate::events::SELECTOR) {
        let runs = crate::events::writes(&mut system, &token, &options).await?;
        let delivery = crate::events::delivery(&system, &token).await?;
        system.check_alive()?;
        (runs, Some(delivery))
    } else {
        (Vec::new(), None)
    };
    let mut tracked = system.tracked();
    // The baseline instance is stopped from here on.
    tracked.retain(|t| t.name != crate::events::PLAIN);
    tracked.push(Tracked::new(FLOOR, floor.pid(), Kind::LoadGenerator));
    tracked.push(Tracked::new(PROXY, proxy.pid(), Kind::LoadGenerator));
    let cpu = CpuMeter::new(tracked.clone());
    let sampler = Sampler::start(tracked);
    let at_rest = sampler.now();
    let mut peaks: Vec<(u64, String)> = at_rest.iter().map(|k| (*k, "rest".to_owned())).collect();
    let mut runs = Vec::new();

    for op in operations(&system.admin_password) {
        if !options.selects(op.name) {
            continue;
        }
        let http = Target::Http(HttpRequest {
            addr: system.gateway,
            method: op.method.clone(),
            path: op.path.to_owned(),
            token: (!op.login).then(|| token.clone()),
            body: op.body.as_ref().map(|b| Bytes::from(b.to_string())),
        });
        let direct = op.direct.as_ref().map(|d| {
            let envelope = Envelope::new(pairs(d.params), pairs(d.query), serde_json::Value::Null);
            Target::Nats(NatsRequest {
                requester: requester.clone(),
                subject: d.subject.to_owned(),
                payload: Bytes::from(serde_json::to_vec(&envelope).expect("an envelope encodes")),
                headers: nats_headers.clone(),
            })
        });
        // The same HTTP request to the floor and to the bare proxy.
        let elsewhere = |addr| match &http {
            Target::Http(request) => Target::Http(HttpRequest {
                addr,
                ..request.clone()
            }),
            Target::Nats(_) | Target::Call(_) => unreachable!("the gateway is reached over HTTP"),
        };
        let floor = op.floor.then(|| elsewhere(floor.addr));
        let proxy = op.floor.then(|| elsewhere(proxy.addr));
        probe(&http, direct.as_ref(), op.name).await?;
        for helper in floor.iter().chain(&proxy) {
            probe(helper, None, op.name).await?;
        }
        let levels = if op.login {
            &options.login_concurrency
        } else {
            &options.concurrency
        };
        for &concurrency in levels {
            let mut direct_rps = None;
            let mut measured = Vec::new();
            if let Some(direct) = &direct {
                measured.push((Via::Nats, direct));
            }
            if let Some(floor) = &floor {
                measured.push((Via::Floor, floor));
            }
            if let Some(proxy) = &proxy {
                measured.push((Via::Proxy, proxy));
            }
            measured.push((Via::Gateway, &http));
            for (via, target) in measured {
                sampler.reset();
                let outcome = load::run(target, concurrency, &options, &cpu).await;
                let mut record = RunRecord::new(op.name, via, concurrency, &outcome);
                match via {
                    Via::Nats => direct_rps = Some(record.rps),
                    Via::Gateway | Via::Proxy => {
                        record.gateway_over_direct =
                            direct_rps.filter(|d| *d > 0.0).map(|d| record.rps / d);
                    }
                    Via::Floor => {}
                }
                for ((peak, during), now) in peaks.iter_mut().zip(sampler.peaks()) {
                    if now > *peak {
                        *peak = now;
                        *during = record.title();
                    }
                }
                info!(
                    run = %record.title(),
                    rps = record.rps.round(),
                    p99_ms = record.p99_ms,
                    gateway_cpu_us = record.cpu_us_per_request.get(contract::deploy::GATEWAY),
                    errors = record.errors,
                    "measured"
                );
                runs.push(record);
                system.check_alive()?;
            }
        }
    }

    runs.extend(event_runs);

    // After the load: the stock gateway's and the extra instances' CPU and memory stay out of
    // the figures above; start-up last, as auth's second instance publishes another key.
    let defaults = if options.selects(crate::defaults::SELECTOR) {
        crate::defaults::measure(&system, &token, &options).await?
    } else {
        Vec::new()
    };
    let driver = if options.selects(crate::driver::SELECTOR) {
        Some(crate::driver::measure(&system, &options).await?)
    } else {
        None
    };
    let startup = if options.selects(crate::startup::SELECTOR) {
        Some(crate::startup::measure(&system, &token, &options).await?)
    } else {
        None
    };

    let after = sampler.now();
    let memory = sampler
        .tracked()
        .iter()
        .zip(at_rest)
        .zip(peaks)
        .zip(after)
        .map(
            |(((p, at_rest_kib), (peak_kib, peak_during)), after_kib)| MemoryRecord {
                process: p.name.to_owned(),
                kind: p.kind,
                at_rest_kib,
                peak_kib,
                peak_during,
                after_kib,
            },
        )
        .collect();
    let mut report = Report {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        machine: Machine::detect(),
        settings: Settings {
            duration_s: options.duration().as_secs_f64(),
            warmup_s: options.warmup().as_secs_f64(),
            rust_log: options.rust_log.clone(),
            load_threads: options.threads.unwrap_or_else(crate::cli::available_cores),
            argon2_max_concurrent: system.argon2_max_concurrent,
            argon2_memory_kib: system.argon2_memory_kib,
        },
        runs,
        memory,
        targets: Vec::new(),
        delivery,
        startup,
        defaults,
    };
    report.judge();
    drop(sampler);
    drop(floor);
    drop(proxy);
    drop(system);
    report.write(&options.json)?;
    print(&report.render(baseline.as_ref()));
    if let Some(driver) = &driver {
        print(driver);
    }
    print(&format!("figures written to {}\n", options.json.display()));
    crate::plot::write(&report, baseline.as_ref(), &options.svg)?;
    print(&format!("picture written to {}\n", options.svg.display()));
    let mut errors = report.errors();
    if options.topology == crate::topology::Topology::Full {
        errors += crate::topology::run(&options, &report.runs).await?;
    }
    if errors > 0 {
        bail!("{errors} requests failed (see above)");
    }
    Ok(())
}

/// Writes the report to standard output: this program's result.
pub(crate) fn print(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Logs in as the admin through the gateway; returns the access token and who it names.
async fn log_in(gateway: SocketAddr, password: &str) -> anyhow::Result<(String, Identity)> {
    let mut connection = load::connect(gateway).await?;
    let tokens = log_in_as(&mut connection, gateway, ADMIN_EMAIL, password).await?;
    let me = HttpRequest {
        addr: gateway,
        method: Method::GET,
        path: "/auth/me".into(),
        token: Some(tokens.access_token.clone()),
        body: None,
    };
    let user: contract::auth::User = fetch(&mut connection, &me).await?;
    Ok((
        tokens.access_token,
        Identity {
            user_id: user.id,
            roles: user.roles,
        },
    ))
}

/// Logs in as `email` through the gateway at `gateway` on `connection`; returns the tokens.
pub(crate) async fn log_in_as(
    connection: &mut SendRequest<Full<Bytes>>,
    gateway: SocketAddr,
    email: &str,
    password: &str,
) -> anyhow::Result<contract::auth::TokenPair> {
    let login = HttpRequest {
        addr: gateway,
        method: Method::POST,
        path: "/auth/login".into(),
        token: None,
        body: Some(Bytes::from(
            serde_json::json!({ "email": email, "password": password }).to_string(),
        )),
    };
    fetch(connection, &login).await
}

/// Sends `request` once and decodes a successful JSON answer.
async fn fetch<T: serde::de::DeserializeOwned>(
    connection: &mut SendRequest<Full<Bytes>>,
    request: &HttpRequest,
) -> anyhow::Result<T> {
    let what = format!("{} {}", request.method, request.path);
    let (status, body) = load::exchange(connection, request)
        .await
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    if !status.is_success() {
        bail!(
            "{what} answered HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    serde_json::from_slice(&body).with_context(|| format!("{what} answered unexpected JSON"))
}

/// One request each way before measuring, so a broken set-up fails at once with its reason.
pub(crate) async fn probe(
    http: &Target,
    direct: Option<&Target>,
    name: &str,
) -> anyhow::Result<()> {
    if let Target::Http(request) = http {
        let mut connection = load::connect(request.addr).await?;
        fetch::<serde::de::IgnoredAny>(&mut connection, request)
            .await
            .with_context(|| format!("{name} over HTTP to {} fails", request.addr))?;
    }
    if let Some(Target::Nats(request)) = direct {
        load::send_nats(request)
            .await
            .map_err(|e| anyhow::anyhow!("{name} directly over NATS fails: {e}"))?;
    }
    Ok(())
}
