//! Load while a fault happens: workers that send one kind of request in a loop and record
//! every answer, and the tally a scenario judges.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use testbed::http::Api;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What a worker sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /products?limit=5`: safe, retried by the gateway.
    Read,
    /// `POST /products`: not safe, never sent twice.
    Write,
}

/// One answer that was not a success.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    /// When it was sent, from the start of the load.
    pub sent_at: Duration,
    /// Its status (0: no HTTP answer at all).
    pub status: u16,
    /// How long the answer took.
    pub latency: Duration,
}

/// What the workers of one kind saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests sent.
    pub sent: u64,
    /// The failures, in no particular order.
    pub failures: Vec<Failure>,
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.sent += other.sent;
        self.failures.extend(other.failures);
    }

    /// Failures by status.
    pub fn by_status(&self) -> BTreeMap<u16, u64> {
        let mut out = BTreeMap::new();
        for f in &self.failures {
            *out.entry(f.status).or_default() += 1;
        }
        out
    }

    /// From `fault` to the end of the last failed request: how long the system took to
    /// answer every request again (zero when nothing failed).
    pub fn recovery(&self, fault: Duration) -> Duration {
        self.failures
            .iter()
            .map(|f| (f.sent_at + f.latency).saturating_sub(fault))
            .max()
            .unwrap_or_default()
    }
}

/// Load of one kind, running until [`Load::finish`].
pub struct Load {
    tasks: JoinSet<Tally>,
}

impl Load {
    /// `workers` workers sending `kind` requests as `token` from `start` until `until`.
    pub fn start(
        api: &Api,
        token: &str,
        kind: Kind,
        workers: usize,
        start: Instant,
        until: Instant,
    ) -> Self {
        let mut tasks = JoinSet::new();
        for worker in 0..workers {
            let (api, token) = (api.clone(), token.to_owned());
            tasks.spawn(async move { work(api, token, kind, worker, start, until).await });
        }
        Self { tasks }
    }

    /// Waits for every worker and adds up what they saw.
    pub async fn finish(mut self) -> Tally {
        let mut total = Tally::default();
        while let Some(tally) = self.tasks.join_next().await {
            total.merge(tally.unwrap_or_default());
        }
        total
    }
}

async fn work(
    api: Api,
    token: String,
    kind: Kind,
    worker: usize,
    start: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let sent = Instant::now();
        let (status, ok) = match kind {
            Kind::Read => {
                let reply = api
                    .try_call("GET", "/products?limit=5", Some(&token), None)
                    .await;
                let status = reply.map_or(0, |r| r.status);
                (status, status == 200)
            }
            Kind::Write => {
                let body = json!({ "product_name": format!("chaos-{worker}-{n}") });
                let reply = api
                    .try_call("POST", "/products", Some(&token), Some(body))
                    .await;
                let status = reply.map_or(0, |r| r.status);
                (status, status == 201)
            }
        };
        tally.sent += 1;
        if !ok {
            tally.failures.push(Failure {
                sent_at: sent - start,
                status,
                latency: sent.elapsed(),
            });
        }
    }
    tally
}
