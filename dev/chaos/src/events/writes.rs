//! The write load of the events scenario: workers that each create an entity (a product or a
//! customer), rename it and delete it, one after the other, recording every write and whether
//! it was acknowledged. One worker owns an entity, so the order of its writes is the order its
//! events must arrive in.

use std::collections::BTreeMap;

use contract::events::EventType;
use serde_json::json;
use testbed::http::Api;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Which service's entities a worker writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// `POST/PATCH/DELETE /products`.
    Product,
    /// `POST/PATCH/DELETE /customers`.
    Customer,
}

/// One write sent.
#[derive(Debug, Clone)]
pub struct Write {
    /// The event it must publish once acknowledged.
    pub ty: EventType,
    /// Whether it was answered with success (its change is committed).
    pub acked: bool,
}

/// What the workers sent: per entity (its event subject), its writes in order; and the
/// answers that were not a success, by status (0: no HTTP answer).
#[derive(Debug, Default)]
pub struct Sent {
    /// Writes per (service, entity id).
    pub entities: BTreeMap<(&'static str, String), Vec<Write>>,
    /// Creates that got no success: their entity id is unknown (for products), so an event
    /// for them is told apart only as an entity nobody acknowledged.
    pub unknown_creates: u64,
    /// Requests sent.
    pub sent: u64,
    /// Failures by status.
    pub failed: BTreeMap<u16, u64>,
}

impl Sent {
    fn merge(&mut self, other: Self) {
        self.entities.extend(other.entities);
        self.unknown_creates += other.unknown_creates;
        self.sent += other.sent;
        for (status, n) in other.failed {
            *self.failed.entry(status).or_default() += n;
        }
    }

    /// Writes acknowledged.
    pub fn acked(&self) -> usize {
        self.entities.values().flatten().filter(|w| w.acked).count()
    }
}

/// Starts `workers` workers per entity kind, writing as `token` until `until`.
pub fn start(api: &Api, token: &str, workers: usize, until: Instant) -> JoinSet<Sent> {
    let mut tasks = JoinSet::new();
    for worker in 0..workers {
        for entity in [Entity::Product, Entity::Customer] {
            let (api, token) = (api.clone(), token.to_owned());
            tasks.spawn(async move { work(api, token, entity, worker, until).await });
        }
    }
    tasks
}

/// Waits for every worker and adds up what they sent.
pub async fn finish(mut tasks: JoinSet<Sent>) -> Sent {
    let mut total = Sent::default();
    while let Some(sent) = tasks.join_next().await {
        total.merge(sent.unwrap_or_default());
    }
    total
}

async fn work(api: Api, token: String, entity: Entity, worker: usize, until: Instant) -> Sent {
    let mut sent = Sent::default();
    let mut n = 0_usize;
    while Instant::now() < until {
        n += 1;
        let (service, base, create, rename) = match entity {
            Entity::Product => (
                contract::deploy::PRODUCTS,
                "/products",
                json!({ "product_name": format!("events-{worker}-{n}") }),
                json!({ "product_name": format!("events-{worker}-{n}-renamed") }),
            ),
            Entity::Customer => (
                contract::deploy::CUSTOMERS,
                "/customers",
                json!({ "customer_id": customer_id(worker, n), "company_name": "Events" }),
                json!({ "company_name": "Events renamed" }),
            ),
        };
        let types = match entity {
            Entity::Product => [
                EventType::ProductCreated,
                EventType::ProductUpdated,
                EventType::ProductDeleted,
            ],
            Entity::Customer => [
                EventType::CustomerCreated,
                EventType::CustomerUpdated,
                EventType::CustomerDeleted,
            ],
        };
        let reply = call(&api, &token, "POST", base, Some(create), 201, &mut sent).await;
        let id = reply.and_then(|body| match entity {
            Entity::Product => body.get("product_id")?.as_i64().map(|id| id.to_string()),
            Entity::Customer => body.get("customer_id")?.as_str().map(str::to_owned),
        });
        let Some(id) = id else {
            sent.unknown_creates += 1;
            continue;
        };
        let path = format!("{base}/{id}");
        let renamed = call(&api, &token, "PATCH", &path, Some(rename), 200, &mut sent)
            .await
            .is_some();
        let deleted = call(&api, &token, "DELETE", &path, None, 204, &mut sent)
            .await
            .is_some();
        let writes = [true, renamed, deleted]
            .into_iter()
            .zip(types)
            .map(|(acked, ty)| Write { ty, acked })
            .collect();
        sent.entities.insert((service, id), writes);
    }
    sent
}

/// Sends one write; its JSON body when answered `expect`, `None` (and a failure counted)
/// otherwise.
async fn call(
    api: &Api,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    expect: u16,
    sent: &mut Sent,
) -> Option<serde_json::Value> {
    sent.sent += 1;
    let status = match api.try_call(method, path, Some(token), body).await {
        Ok(reply) if reply.status == expect => return Some(reply.body),
        Ok(reply) => reply.status,
        Err(_) => 0,
    };
    *sent.failed.entry(status).or_default() += 1;
    None
}

/// A customer id of five letters, unique per (worker, n): `X` (no seeded customer starts with
/// it) then the worker and the counter in base 26.
fn customer_id(worker: usize, n: usize) -> String {
    let mut value = worker * 26_usize.pow(3) + n;
    let mut letters = [b'A'; 4];
    for letter in letters.iter_mut().rev() {
        *letter = b'A' + u8::try_from(value % 26).unwrap_or(0);
        value /= 26;
    }
    format!("X{}", String::from_utf8_lossy(&letters))
}
