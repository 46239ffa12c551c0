//! The load: a steady mix of logins and reads on several routes, and the two abuses the
//! alerts are for, bad logins and a flood of reads that the gateway's rate limit refuses.
//! Each runs as tasks until stopped and counts its answers by status.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use testbed::http::Api;
use tokio::task::JoinSet;

/// Reads of the steady mix, one route each (a bad id gives `/customers/{id}` its 404s).
const READS: [&str; 6] = [
    "/products",
    "/customers",
    "/categories",
    "/suppliers",
    "/auth/me",
    "/customers/00000000-0000-0000-0000-000000000000",
];

/// Running load; [`Load::stop`] ends it and returns the answers by status.
#[derive(Debug)]
pub struct Load {
    running: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    answers: Arc<Mutex<BTreeMap<u16, u64>>>,
}

impl Load {
    fn new() -> Self {
        Self {
            running: Arc::new(AtomicBool::new(true)),
            tasks: JoinSet::new(),
            answers: Arc::default(),
        }
    }

    /// Runs `step` in a loop every `every` until stopped, counting the status it returns
    /// (0 when nothing answered).
    fn spawn<F, Fut>(&mut self, every: Duration, mut step: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = u16> + Send,
    {
        let running = self.running.clone();
        let answers = self.answers.clone();
        self.tasks.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while running.load(Ordering::Relaxed) {
                tick.tick().await;
                let status = step().await;
                if let Ok(mut answers) = answers.lock() {
                    *answers.entry(status).or_default() += 1;
                }
            }
        });
    }

    /// Stops the load and returns its answers by status.
    pub async fn stop(mut self) -> BTreeMap<u16, u64> {
        self.running.store(false, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        self.answers.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// The status of `method path`, 0 when nothing answered.
async fn status(
    api: &Api,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> u16 {
    api.try_call(method, path, token, body)
        .await
        .map_or(0, |r| r.status)
}

/// The steady mix: a login every second, and a read of each of [`READS`] twice a second.
pub fn steady(api: &Api, token: &str, email: &str, password: &str) -> Load {
    let mut load = Load::new();
    let login = json!({ "email": email, "password": password });
    let client = api.clone();
    load.spawn(Duration::from_secs(1), move || {
        let (api, body) = (client.clone(), login.clone());
        async move { status(&api, "POST", "/auth/login", None, Some(body)).await }
    });
    for path in READS {
        let (client, token) = (api.clone(), token.to_owned());
        load.spawn(Duration::from_millis(500), move || {
            let (api, token) = (client.clone(), token.clone());
            async move { status(&api, "GET", path, Some(&token), None).await }
        });
    }
    load
}

/// Logins with a wrong password, ten a second, each for another unknown account (as a
/// password-spraying client sends them).
pub fn bad_logins(api: &Api) -> Load {
    let mut load = Load::new();
    let client = api.clone();
    let mut n = 0u64;
    load.spawn(Duration::from_millis(100), move || {
        n += 1;
        let api = client.clone();
        let body =
            json!({ "email": format!("nobody-{n}@example.com"), "password": "not-the-password" });
        async move { status(&api, "POST", "/auth/login", None, Some(body)).await }
    });
    load
}

/// Reads of `/products` from `clients` clients, each every 20 ms: far over the read rate
/// limit the test sets, so most are refused with 429.
pub fn flood(api: &Api, token: &str, clients: usize) -> Load {
    let mut load = Load::new();
    for _ in 0..clients {
        let (client, token) = (api.clone(), token.to_owned());
        load.spawn(Duration::from_millis(20), move || {
            let (api, token) = (client.clone(), token.clone());
            async move { status(&api, "GET", "/products", Some(&token), None).await }
        });
    }
    load
}
