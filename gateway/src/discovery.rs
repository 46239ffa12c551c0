//! Discovery: polls `$SRV.INFO.<name>` of every declared service, tracks the live instances
//! and swaps in a fresh routing table.
//!
//! Each service is asked by name, never with the bare `$SRV.INFO` any service could answer:
//! NATS permissions let only a service's own user subscribe to `$SRV.INFO.<name>`, so a reply
//! there speaks for that service, and a reply naming another service is dropped. The table then
//! routes only the paths each service owns ([`crate::table`]).
//!
//! The first poll waits only [`FIRST_POLL_STALL`] after the last reply, and one that heard
//! nothing (the connection still being made) is tried again within milliseconds, so the
//! gateway has a table (and is ready) soon after its start; the next poll follows at once with
//! the full stall. After that the loop polls every `interval`, and sooner (throttled) when a
//! request asks for it: a route miss may mean a service just appeared, "no responders" that one just went away. An
//! instance that misses `missed_polls` polls in a row stops being routed, so a vanished
//! service is dropped within a bounded time; while the NATS connection is down nothing is
//! counted as missed, so an outage does not empty the table. Each poll builds a whole new
//! [`Snapshot`] and publishes it with one atomic swap.
//!
//! The snapshot also holds the OpenAPI document of its routes. After building the table a poll
//! fetches the schema documents its routes name and does not hold yet ([`SchemaCache`]: once
//! per content hash), and rebuilds the OpenAPI document only when the routes or the schema
//! documents changed; otherwise the previous one is shared.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use async_nats::Client;
use runtime::discover::{self, GatherOptions, ServiceInfo};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::DiscoveryConfig;
use crate::metrics::GatewayMetrics;
use crate::openapi::ApiDocument;
use crate::schemas::SchemaCache;
use crate::table::{Route, RouteTable};

/// One instance as discovery last saw it.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its `$SRV.INFO` reply.
    pub info: ServiceInfo,
    /// When it last answered.
    pub last_seen: SystemTime,
    /// Polls missed in a row since then.
    pub missed: u32,
}

/// What discovery saw at one point: the instances and the table built from them.
#[derive(Debug)]
pub struct Snapshot {
    /// The routing table.
    pub table: RouteTable,
    /// Every instance still routed, by id.
    pub instances: BTreeMap<String, Instance>,
    /// When this snapshot was built.
    pub at: SystemTime,
    /// How many snapshots were built before this one.
    pub generation: u64,
    /// The OpenAPI document of `table`, serialised.
    pub openapi: Arc<ApiDocument>,
}

/// The current snapshot, shared by discovery (writer) and requests (readers).
#[derive(Debug, Default)]
pub struct Catalog {
    current: ArcSwapOption<Snapshot>,
    wake: Notify,
    last_trigger: Mutex<Option<Instant>>,
    throttle: Duration,
}

impl Catalog {
    /// An empty catalog whose triggered polls are at least `throttle` apart.
    pub fn new(throttle: Duration) -> Self {
        Self {
            throttle,
            ..Self::default()
        }
    }

    /// The current snapshot; `None` until the first poll finished.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// Publishes a snapshot (used by discovery, and by tests that build tables by hand).
    pub fn publish(&self, snapshot: Snapshot) {
        self.current.store(Some(Arc::new(snapshot)));
    }

    /// Asks for an early poll. Returns whether it was accepted (not throttled).
    pub fn trigger(&self, why: &'static str) -> bool {
        let now = Instant::now();
        let mut last = self
            .last_trigger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| now.duration_since(at) < self.throttle) {
            return false;
        }
        *last = Some(now);
        drop(last);
        debug!(why, "early discovery requested");
        self.wake.notify_one();
        true
    }
}

/// Polls until `shutdown` resolves.
pub async fn run(
    client: Client,
    catalog: Arc<Catalog>,
    config: DiscoveryConfig,
    metrics: GatewayMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let mut instances: BTreeMap<String, Instance> = BTreeMap::new();
    let mut generation = 0u64;
    let mut last_table: Reported = None;
    let mut schemas = SchemaCache::default();
    let mut last_document: Option<Described> = None;
    let options = GatherOptions {
        total: config
            .interval
            .clamp(Duration::from_millis(200), Duration::from_secs(2)),
        ..GatherOptions::default()
    };
    // Until a first poll was heard, polls wait only a short stall after the last reply: the
    // gateway is not ready before it has a table, and on a live bus the replies come within
    // milliseconds, so the full stall would only delay the start. The poll after it follows
    // at once with the full stall and completes the table.
    let mut first = true;
    let mut retry = FIRST_RETRY.min(config.interval);
    tokio::pin!(shutdown);
    loop {
        let this_poll = if first {
            GatherOptions {
                stall: FIRST_POLL_STALL.min(options.stall),
                ..options
            }
        } else {
            options
        };
        // A failed poll changes nothing: the previous table (if any) stays, and until a first
        // poll succeeds there is no table, so readiness says so and requests get 503, not 404.
        let heard = poll(&client, &mut instances, &config, this_poll, &metrics).await;
        if heard {
            let infos: Vec<ServiceInfo> = instances.values().map(|i| i.info.clone()).collect();
            let table = RouteTable::build(&infos, &config.owners);
            report_changes(&table, &mut last_table);
            metrics.discovered(
                &table,
                instances.values().map(|i| i.info.name.as_str()),
                config.owners.services(),
            );
            let fetch_timeout = options.total.min(SCHEMA_TIMEOUT);
            schemas
                .refresh(&client, table.routes(), fetch_timeout)
                .await;
            let openapi = describe(table.routes(), &schemas, &mut last_document);
            catalog.publish(Snapshot {
                table,
                instances: instances.clone(),
                at: SystemTime::now(),
                generation,
                openapi,
            });
            generation += 1;
        }
        if heard && first {
            first = false;
            continue;
        }
        // Before a first table the gateway is not ready: a poll that heard nothing (the
        // connection still being made, a failed request) is tried again soon, backing off to
        // the interval, rather than one whole interval later.
        let wait = if first {
            let wait = retry;
            retry = (retry * 2).min(config.interval);
            wait
        } else {
            config.interval
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(wait) => {}
            () = catalog.wake.notified() => {}
        }
    }
    debug!("discovery stopped");
}

/// The stall of the polls before the first one heard (see [`run`]).
pub const FIRST_POLL_STALL: Duration = Duration::from_millis(25);

/// The wait after a poll that heard nothing before a first table, doubling up to the interval.
const FIRST_RETRY: Duration = Duration::from_millis(20);

/// The longest wait for one schema document; one that does not come is asked for next poll.
const SCHEMA_TIMEOUT: Duration = Duration::from_millis(500);

/// The routes and schema documents an OpenAPI document was built from, and the document.
type Described = (
    Vec<Route>,
    std::collections::BTreeSet<String>,
    Arc<ApiDocument>,
);

/// The OpenAPI document of `routes`: the previous one when neither the routes nor the schema
/// documents changed, else a new one.
fn describe(
    routes: &[Route],
    schemas: &SchemaCache,
    last: &mut Option<Described>,
) -> Arc<ApiDocument> {
    let hashes = schemas.hashes();
    if let Some((last_routes, last_hashes, document)) = last.as_ref()
        && last_routes.as_slice() == routes
        && *last_hashes == hashes
    {
        return document.clone();
    }
    let document = Arc::new(ApiDocument::build(routes, schemas));
    *last = Some((routes.to_vec(), hashes, document.clone()));
    document
}

/// One poll; returns whether it heard the network (an empty answer counts).
async fn poll(
    client: &Client,
    instances: &mut BTreeMap<String, Instance>,
    config: &DiscoveryConfig,
    options: GatherOptions,
    metrics: &GatewayMetrics,
) -> bool {
    if !runtime::connect::is_connected(client) {
        // Silence is not absence while we cannot hear: keep routing what we knew.
        metrics.discovery_run("disconnected");
        return false;
    }
    let asked = config.owners.services().map(|name| async move {
        let infos = discover::info(client, Some(name), options).await?;
        Ok::<_, discover::DiscoverError>(
            infos
                .into_iter()
                .filter(|info| {
                    let speaks_for_itself = info.name == name;
                    if !speaks_for_itself {
                        warn!(asked = name, answered = %info.name, id = %info.id,
                            "an instance answered discovery for another service; ignored");
                    }
                    speaks_for_itself
                })
                .collect::<Vec<_>>(),
        )
    });
    let infos = match futures::future::try_join_all(asked).await {
        Ok(infos) => infos.into_iter().flatten(),
        Err(e) => {
            warn!(error = %e, "discovery failed; keeping the previous table");
            metrics.discovery_run("error");
            return false;
        }
    };
    metrics.discovery_run("ok");
    let now = SystemTime::now();
    for instance in instances.values_mut() {
        instance.missed += 1;
    }
    for info in infos {
        if !instances.contains_key(&info.id) {
            info!(service = %info.name, version = %info.version, id = %info.id, "instance discovered");
        }
        instances.insert(
            info.id.clone(),
            Instance {
                info,
                last_seen: now,
                missed: 0,
            },
        );
    }
    instances.retain(|id, instance| {
        let keep = instance.missed < config.missed_polls;
        if !keep {
            info!(service = %instance.info.name, %id, missed = instance.missed, "instance gone; no longer routed");
        }
        keep
    });
    true
}

type Reported = Option<(
    Vec<Route>,
    Vec<crate::table::Conflict>,
    Vec<crate::table::Refused>,
)>;

/// Logs the table when it changed, and each conflict when the set of conflicts changed.
fn report_changes(table: &RouteTable, last: &mut Reported) {
    let changed = last.as_ref().is_none_or(|(routes, conflicts, refused)| {
        routes != table.routes() || conflicts != table.conflicts() || refused != table.refused()
    });
    if !changed {
        return;
    }
    let conflicts_changed = last
        .as_ref()
        .is_none_or(|(_, conflicts, _)| conflicts != table.conflicts());
    let refused_changed = last
        .as_ref()
        .is_none_or(|(_, _, refused)| refused != table.refused());
    info!(
        routes = table.routes().len(),
        services = table.services().len(),
        conflicts = table.conflicts().len(),
        refused = table.refused().len(),
        "routing table updated"
    );
    if conflicts_changed {
        for c in table.conflicts() {
            warn!(method = %c.method, path = %c.path, winner = %c.winner, losers = ?c.losers,
                "conflicting routes; the winner is served");
        }
    }
    if refused_changed {
        for r in table.refused() {
            warn!(service = %r.service, subject = %r.subject, method = %r.method, path = %r.path,
                reason = %r.reason, "route claim refused; not served");
        }
    }
    for bad in table.invalid() {
        warn!(service = %bad.service, subject = %bad.subject, reason = %bad.reason,
            "endpoint has invalid HTTP metadata; not routed");
    }
    *last = Some((
        table.routes().to_vec(),
        table.conflicts().to_vec(),
        table.refused().to_vec(),
    ));
}
