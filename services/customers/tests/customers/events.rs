//! Domain events through the transactional outbox: each committed change is on the `EVENTS`
//! stream once, as a CloudEvent, in order per customer; nothing is published for a write that
//! was rolled back or replayed; events survive a service killed before publishing them and a
//! NATS restart.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use contract::customers::{
    CreateCustomer, Customer, CustomerIdParams, CustomerPatch, DeleteCustomer, GetCustomer,
    NewCustomer, UpdateCustomer,
};
use contract::deploy::env;
use contract::{Envelope, RequestOf, headers};
use runtime::test_support::events::{Published, published};
use runtime::test_support::metrics::{Outbox, outbox};
use runtime::test_support::{PgStack, ServiceApp, free_port, http_get, wait_until};
use runtime::{CallOptions, Requester};

use crate::support::{assert_status, create_stream, start_with_events};

fn new_customer(id: &str) -> RequestOf<CreateCustomer> {
    Envelope::body(NewCustomer {
        customer_id: Some(id.into()),
        company_name: Some("Company".into()),
        ..NewCustomer::default()
    })
}

fn rename(id: &str, name: &str) -> RequestOf<UpdateCustomer> {
    let patch = CustomerPatch {
        company_name: Some(Some(name.into())),
        ..CustomerPatch::default()
    };
    Envelope::new(CustomerIdParams::new(id), contract::Empty {}, patch)
}

fn remove(id: &str) -> RequestOf<DeleteCustomer> {
    Envelope::params(CustomerIdParams::new(id))
}

/// Call options of a signed-in admin (`user-1`, as [`ServiceApp::admin`]).
fn as_admin(timeout: Duration) -> CallOptions {
    CallOptions::timeout(timeout)
        .header(headers::USER_ID, "user-1")
        .header(headers::ROLES, "user,admin")
}

/// The events' `type`s, in stream order.
fn types(events: &[Published]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.event["type"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn every_change_is_published_once_as_a_cloudevent() {
    let (stack, env) = start_with_events().await;
    let created = env
        .admin::<CreateCustomer>(new_customer("EVTAA"))
        .await
        .unwrap();
    let updated = env
        .admin::<UpdateCustomer>(rename("EVTAA", "Renamed"))
        .await
        .unwrap();
    env.admin::<DeleteCustomer>(remove("EVTAA")).await.unwrap();
    // A patch that changes nothing is no change.
    let params = CustomerIdParams::new("ALFKI");
    env.admin::<UpdateCustomer>(Envelope::new(
        params,
        contract::Empty {},
        CustomerPatch::default(),
    ))
    .await
    .unwrap();
    stack.wait_outbox_drained().await;

    let events = published(&stack.nats.client().await).await;
    assert_eq!(
        types(&events),
        [
            "customers.created",
            "customers.updated",
            "customers.deleted"
        ]
    );
    let mut ids = HashSet::new();
    for e in &events {
        let ty = e.event["type"].as_str().unwrap();
        assert_eq!(e.subject, format!("events.{ty}"));
        assert_eq!(e.event["specversion"], "1.0");
        assert_eq!(e.event["source"], "/natstack/customers");
        assert_eq!(e.event["subject"], "EVTAA");
        assert_eq!(e.event["datacontenttype"], "application/json");
        assert_eq!(e.event["authtype"], "user");
        assert_eq!(e.event["authid"], "user-1");
        let id = e.event["id"].as_str().unwrap();
        assert_eq!(e.msg_id.as_deref(), Some(id), "Nats-Msg-Id is the event id");
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "7", "a UUID v7: {id}");
        assert!(ids.insert(id.to_owned()), "ids are unique");
        let time = e.event["time"].as_str().unwrap();
        assert!(
            time.len() == 27 && &time[10..11] == "T" && time.ends_with('Z'),
            "RFC 3339 UTC: {time}"
        );
    }
    let data =
        |i: usize| -> Customer { serde_json::from_value(events[i].event["data"].clone()).unwrap() };
    assert_eq!(data(0), created, "created: the new customer");
    assert_eq!(data(1), updated, "updated: the customer after the change");
    assert_eq!(data(2), updated, "deleted: the customer before the delete");

    wait_until(
        "the metrics show the published events",
        Duration::from_secs(10),
        || async {
            let settled = Outbox {
                published: Some(3.0),
                pending: Some(0.0),
                failures: Some(0.0),
            };
            outbox(&env.metrics().await) == settled
        },
    )
    .await;
}

#[tokio::test]
async fn a_rolled_back_or_replayed_write_publishes_nothing() {
    let (stack, env) = start_with_events().await;
    // A unique violation inside the create's transaction, and writes to a missing customer.
    assert_status(
        env.admin::<CreateCustomer>(new_customer("ALFKI")).await,
        409,
    );
    assert_status(env.admin::<UpdateCustomer>(rename("NONEX", "x")).await, 404);
    assert_status(env.admin::<DeleteCustomer>(remove("NONEX")).await, 404);
    // The same keyed create twice: one write, one event.
    let request = new_customer("EVTBB");
    let (first, replayed) = env.call_keyed::<CreateCustomer>("u7", "k1", &request).await;
    first.unwrap();
    assert!(!replayed);
    let (_, replayed) = env.call_keyed::<CreateCustomer>("u7", "k1", &request).await;
    assert!(replayed);
    stack.wait_outbox_drained().await;

    let events = published(&stack.nats.client().await).await;
    assert_eq!(types(&events), ["customers.created"], "{events:?}");
    assert_eq!(events[0].event["subject"], "EVTBB");
    assert_eq!(events[0].event["authid"], "u7");
}

/// The service as a process of its own, to be killed with SIGKILL.
struct Process {
    child: tokio::process::Child,
    health: SocketAddr,
}

impl Process {
    async fn start(stack: &PgStack) -> Self {
        let health = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_customers"))
            .env(env::NATS_URL, stack.nats.url())
            .env(env::DATABASE_URL, &stack.database_url)
            .env(env::HEALTH_ADDR, health.to_string())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the customers binary starts");
        let process = Self { child, health };
        let requester = Requester::new(stack.nats.client().await).await.unwrap();
        let alfki = Envelope::params(CustomerIdParams::new("ALFKI"));
        wait_until("the process answers", Duration::from_secs(60), || async {
            http_get(process.health, "/readyz").await.0 == 200
                && requester
                    .call::<GetCustomer>(&alfki, as_admin(Duration::from_secs(2)))
                    .await
                    .is_ok()
        })
        .await;
        process
    }

    /// What its outbox relay reports on `/metrics`.
    async fn outbox(&self) -> Outbox {
        outbox(&http_get(self.health, "/metrics").await.1)
    }

    async fn kill_9(mut self) {
        self.child.start_kill().expect("SIGKILL is sent");
        self.child.wait().await.expect("the process ends");
    }
}

/// Killed after its commit and before any publish (the stream does not exist yet, so the
/// event stays in the outbox), then as if killed after a publish and before the delete (the
/// event is already in the stream): after a restart the event is in the stream once.
#[tokio::test]
async fn an_event_committed_before_a_kill_9_is_published_once_after_restart() {
    let stack = PgStack::start_with_jetstream("customers").await;
    let first = Process::start(&stack).await;
    let requester = Requester::new(stack.nats.client().await).await.unwrap();
    requester
        .call::<CreateCustomer>(&new_customer("EVTKK"), as_admin(Duration::from_secs(30)))
        .await
        .expect("the create is committed");
    wait_until(
        "the relay has tried and failed",
        Duration::from_secs(30),
        || async { first.outbox().await.failures >= Some(1.0) },
    )
    .await;
    assert_eq!(stack.outbox_pending().await, 1, "the event is kept");
    first.kill_9().await;

    create_stream(&stack).await;
    let row = stack
        .pg
        .psql(
            "customers",
            "SELECT event_id || ' ' || payload::text FROM outbox",
        )
        .await
        .unwrap();
    let (id, payload) = row.split_once(' ').expect("one pending row");
    let mut msg_id = async_nats::HeaderMap::new();
    msg_id.insert(async_nats::header::NATS_MESSAGE_ID, id);
    async_nats::jetstream::new(stack.nats.client().await)
        .publish_with_headers(
            "events.customers.created",
            msg_id,
            payload.to_owned().into(),
        )
        .await
        .unwrap()
        .await
        .expect("published as a relay would have before dying");

    let second = Process::start(&stack).await;
    stack.wait_outbox_drained().await;
    let events = published(&stack.nats.client().await).await;
    assert_eq!(types(&events), ["customers.created"], "{events:?}");
    assert_eq!(events[0].msg_id.as_deref(), Some(id));
    assert_eq!(events[0].event["subject"], "EVTKK");
    wait_until(
        "the restarted relay published it",
        Duration::from_secs(10),
        || async { second.outbox().await.published == Some(1.0) },
    )
    .await;
    second.kill_9().await;
}

/// Two service processes (two relays) on one outbox, each customer changed by a sequence of
/// writes that either process may serve: every event once, and each customer's in the order
/// written.
#[tokio::test]
async fn two_relays_publish_every_event_once_in_order_per_customer() {
    const CUSTOMERS: u8 = 6;
    const UPDATES: usize = 8;
    let stack = PgStack::start_with_jetstream("customers").await;
    create_stream(&stack).await;
    let (a, b) = tokio::join!(Process::start(&stack), Process::start(&stack));
    let requester = Arc::new(Requester::new(stack.nats.client().await).await.unwrap());
    let writers = (0..CUSTOMERS).map(|c| {
        let requester = requester.clone();
        async move {
            let id = format!("ORDQ{}", char::from(b'A' + c));
            let options = || as_admin(Duration::from_secs(30));
            requester
                .call::<CreateCustomer>(&new_customer(&id), options())
                .await
                .unwrap();
            for i in 0..UPDATES {
                requester
                    .call::<UpdateCustomer>(&rename(&id, &format!("v{i}")), options())
                    .await
                    .unwrap();
            }
        }
    });
    futures::future::join_all(writers).await;
    stack.wait_outbox_drained().await;

    let events = published(&stack.nats.client().await).await;
    let total = usize::from(CUSTOMERS) * (1 + UPDATES);
    assert_eq!(events.len(), total);
    let ids: HashSet<_> = events.iter().map(|e| e.msg_id.clone()).collect();
    assert_eq!(ids.len(), total, "every event once");
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    for e in &events {
        let subject = e.event["subject"].as_str().unwrap().to_owned();
        let name = e.event["data"]["company_name"].as_str().unwrap().to_owned();
        names.entry(subject).or_default().push(name);
    }
    let expected: Vec<String> = std::iter::once("Company".to_owned())
        .chain((0..UPDATES).map(|i| format!("v{i}")))
        .collect();
    assert_eq!(names.len(), usize::from(CUSTOMERS));
    for (id, seen) in &names {
        assert_eq!(seen, &expected, "the events of {id} in order");
    }
    // No relay published an event the other had published (the stream would hide it).
    wait_until(
        "the relays counted every event once",
        Duration::from_secs(10),
        || async {
            let published = |relay: Outbox| relay.published.unwrap_or(0.0);
            published(a.outbox().await) + published(b.outbox().await) == total as f64
        },
    )
    .await;
    tokio::join!(a.kill_9(), b.kill_9());
}

/// nats-server restarted (its JetStream store kept) while writes go on: every committed
/// customer has its event in the stream once.
#[tokio::test]
async fn no_event_is_lost_when_nats_restarts_under_writes() {
    const WRITES: u8 = 40;
    let (mut stack, env) = start_with_events().await;
    let env = Arc::new(env);
    let writer = tokio::spawn({
        let env: Arc<ServiceApp> = env.clone();
        async move {
            for i in 0..WRITES {
                let id = format!(
                    "NRQ{}{}",
                    char::from(b'A' + i / 26),
                    char::from(b'A' + i % 26)
                );
                // A write cut off by the restart may or may not be committed; the database
                // says which, below.
                let _ = env
                    .requester
                    .call::<CreateCustomer>(&new_customer(&id), as_admin(Duration::from_secs(5)))
                    .await;
            }
        }
    });
    let committed = || async {
        stack
            .pg
            .psql(
                "customers",
                "SELECT count(*) FROM customers WHERE customer_id LIKE 'NRQ%'",
            )
            .await
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    wait_until(
        "some writes are committed",
        Duration::from_secs(30),
        || async { committed().await >= 5 },
    )
    .await;
    stack.nats.restart().await.expect("nats-server restarts");
    writer.await.unwrap();
    stack.wait_outbox_drained().await;

    let rows = stack
        .pg
        .psql(
            "customers",
            "SELECT string_agg(customer_id, ',' ORDER BY customer_id) FROM customers \
             WHERE customer_id LIKE 'NRQ%'",
        )
        .await
        .unwrap();
    let rows: HashSet<&str> = rows.split(',').collect();
    assert!(rows.len() > 5, "writes went on: {rows:?}");
    let events = published(&stack.nats.client().await).await;
    let subjects: Vec<&str> = events
        .iter()
        .map(|e| e.event["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), rows.len(), "one event per committed write");
    assert_eq!(subjects.into_iter().collect::<HashSet<_>>(), rows);
}
