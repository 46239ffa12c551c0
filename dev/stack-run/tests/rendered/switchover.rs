//! The switchover test: the production example (PostgreSQL as a CloudNativePG Cluster) under
//! read and write load through the gateway while the Cluster's replica is promoted and `-rw`
//! moves to it. The services must recover without a restart: no 500 (nor any answer but
//! success or 503 with `Retry-After`), writes refused with 503 for a bounded window only, and
//! every acknowledged write present afterwards. The window and the counts are printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use testbed::http::Api;
use tokio::sync::Mutex;

/// The longest the test accepts writes to be refused: generous, so a slow machine passes;
/// the measured window is printed.
const WINDOW_BOUND: Duration = Duration::from_secs(20);

/// Acknowledged writes each writer must see after the switchover before the load stops.
const WRITES_AFTER: usize = 20;

/// The pace of one write task and of one read task. All tasks share one caller (the admin),
/// whose quotas the gateway enforces (`write=50/s`, `read=200/s` by default): the load stays
/// under them, so every refusal counted is the database's, not the rate limiter's.
const WRITE_EVERY: Duration = Duration::from_millis(60);
const READ_EVERY: Duration = Duration::from_millis(30);

/// What one load task saw.
#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    /// Any other answer: `(status, body)`.
    wrong: Vec<(u16, String)>,
    /// When each 503 came.
    refused_at: Vec<Instant>,
    /// Acknowledged writes: the path that reads each back, and when it was acknowledged.
    acknowledged: Vec<(String, Instant)>,
}

impl Tally {
    fn record(&mut self, reply: Result<testbed::http::Reply, testbed::http::HttpError>) -> bool {
        match reply {
            Ok(r) if (200..300).contains(&r.status) => {
                self.ok += 1;
                true
            }
            Ok(r) if r.status == 503 && r.headers.contains_key("retry-after") => {
                self.unavailable += 1;
                self.refused_at.push(Instant::now());
                false
            }
            Ok(r) => {
                self.wrong.push((r.status, r.body.to_string()));
                false
            }
            Err(e) => {
                self.wrong.push((0, e.to_string()));
                false
            }
        }
    }
}

/// A ticker every `every` that never catches up in a burst after a slow request (a burst
/// could trip the gateway's rate limits).
fn paced(every: Duration) -> tokio::time::Interval {
    let mut pace = tokio::time::interval(every);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pace
}

/// One write task: creates products (`kind == "products"`) or customers until `stop`.
async fn write(
    api: Api,
    token: String,
    kind: &'static str,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
) {
    let mut n: u32 = 0;
    let mut pace = paced(WRITE_EVERY);
    while !stop.load(Ordering::Relaxed) {
        pace.tick().await;
        n += 1;
        let (path, body) = if kind == "products" {
            let name = format!("Switchover {}-{n}", std::process::id());
            (
                "/products",
                json!({"product_name": name, "category_id": 1, "unit_price": "1.00"}),
            )
        } else {
            let letter = |k: u32| char::from(b'A' + u8::try_from(k % 26).unwrap_or(0));
            let id = format!(
                "W{}{}{}{}",
                letter(n / 17_576),
                letter(n / 676),
                letter(n / 26),
                letter(n)
            );
            (
                "/customers",
                json!({"customer_id": id, "company_name": "Switchover Ltd", "country": "Norway"}),
            )
        };
        let reply = api.try_call("POST", path, Some(&token), Some(body)).await;
        let created = match &reply {
            Ok(r) if r.status == 201 => Some(if kind == "products" {
                format!("/products/{}", r.body["product_id"])
            } else {
                format!(
                    "/customers/{}",
                    r.body["customer_id"].as_str().unwrap_or_default()
                )
            }),
            _ => None,
        };
        let mut tally = tally.lock().await;
        tally.record(reply);
        if let Some(path) = created {
            tally.acknowledged.push((path, Instant::now()));
        }
    }
}

/// One read task: lists products and reads a customer until `stop`.
async fn read(api: Api, token: String, tally: Arc<Mutex<Tally>>, stop: Arc<AtomicBool>) {
    let paths = ["/products?limit=3", "/customers/ALFKI"];
    let mut i = 0;
    let mut pace = paced(READ_EVERY);
    while !stop.load(Ordering::Relaxed) {
        pace.tick().await;
        let reply = api.try_call("GET", paths[i % 2], Some(&token), None).await;
        tally.lock().await.record(reply);
        i += 1;
    }
}

/// Runs the load, switches `postgres` over once every writer has had writes acknowledged,
/// and stops the load once every writer has [`WRITES_AFTER`] more.
pub async fn run(cluster: &stack_run::Cluster, postgres: &str, token: &str) {
    let api = Api::new(&cluster.gateway_url().expect("gateway"));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<Arc<Mutex<Tally>>> = (0..2).map(|_| Arc::default()).collect();
    let readers: Vec<Arc<Mutex<Tally>>> = (0..2).map(|_| Arc::default()).collect();
    let mut tasks = Vec::new();
    for (tally, kind) in writers.iter().zip(["products", "customers"]) {
        tasks.push(tokio::spawn(write(
            api.clone(),
            token.to_owned(),
            kind,
            tally.clone(),
            stop.clone(),
        )));
    }
    for tally in &readers {
        tasks.push(tokio::spawn(read(
            api.clone(),
            token.to_owned(),
            tally.clone(),
            stop.clone(),
        )));
    }
    let acknowledged = |tallies: Vec<Arc<Mutex<Tally>>>, since: Option<Instant>| async move {
        let mut least = usize::MAX;
        for tally in &tallies {
            let tally = tally.lock().await;
            let n = tally
                .acknowledged
                .iter()
                .filter(|(_, at)| since.is_none_or(|s| *at > s))
                .count();
            least = least.min(n);
        }
        least
    };
    testbed::wait_until(
        "every writer has written before the switchover",
        Duration::from_secs(60),
        || {
            let least = acknowledged(writers.clone(), None);
            async move { least.await >= 10 }
        },
    )
    .await;
    let started = Instant::now();
    let switched = cluster.switchover(postgres).await.expect("switchover");
    let switched_at = Instant::now();
    testbed::wait_until(
        "every writer writes again after the switchover",
        Duration::from_secs(120),
        || {
            let least = acknowledged(writers.clone(), Some(switched_at));
            async move { least.await >= WRITES_AFTER }
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("load task");
    }

    let mut refused = Vec::new();
    let (mut writes, mut reads) = ((0, 0), (0, 0));
    let mut wrong = Vec::new();
    let mut paths = Vec::new();
    for tally in &writers {
        let tally = tally.lock().await;
        writes = (writes.0 + tally.ok, writes.1 + tally.unavailable);
        refused.extend(tally.refused_at.iter().copied());
        wrong.extend(tally.wrong.iter().cloned());
        paths.extend(tally.acknowledged.iter().map(|(p, _)| p.clone()));
    }
    for tally in &readers {
        let tally = tally.lock().await;
        reads = (reads.0 + tally.ok, reads.1 + tally.unavailable);
        wrong.extend(tally.wrong.iter().cloned());
    }
    // From the switchover's start to the last refused write (zero when none was refused).
    let window = refused.iter().max().map_or(Duration::ZERO, |last| {
        last.saturating_duration_since(started)
    });
    eprintln!(
        "[switchover] {} -> {}: -rw without a primary for {:?} (old primary rejoined as a \
         replica after {:?}); writes refused for {window:?}; writes ok {} / 503 {}; reads ok \
         {} / 503 {}",
        switched.from,
        switched.to,
        switched.without_primary,
        switched.total,
        writes.0,
        writes.1,
        reads.0,
        reads.1
    );
    let mut by_status: std::collections::BTreeMap<u16, (usize, String)> = Default::default();
    for (status, body) in wrong {
        by_status.entry(status).or_insert((0, body)).0 += 1;
    }
    assert!(
        by_status.is_empty(),
        "answers other than success or 503 with Retry-After (status: count, first body): \
         {by_status:?}"
    );
    assert!(window <= WINDOW_BOUND, "writes were refused for {window:?}");
    assert!(
        refused.iter().all(|at| *at >= started),
        "a write was refused before the switchover"
    );
    for path in &paths {
        let reply = api.call("GET", path, Some(token), None).await;
        assert_eq!(
            reply.status, 200,
            "acknowledged write {path} is missing: {}",
            reply.body
        );
    }
    eprintln!(
        "[switchover] all {} acknowledged writes read back",
        paths.len()
    );
    let postgres = cluster.postgres(postgres).expect("the Cluster");
    assert_eq!(postgres.primary().await, switched.to);
    assert_eq!(
        postgres.endpoints("ro").len(),
        1,
        "the old primary serves -ro again"
    );
}
