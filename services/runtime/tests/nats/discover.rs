//! Discovery: every instance of every service, with its endpoint metadata.

use std::time::Duration;

use contract::schema::{SCHEMA_ENDPOINT, SchemaDocument};
use contract::{EndpointMeta, Operation, metadata};
use runtime::discover::{self, GatherOptions};
use runtime::test_support::NatsServer;

use super::ops::{self, Echo, State};

#[tokio::test]
async fn finds_every_instance_of_every_service() {
    let nats = NatsServer::start().await.unwrap();
    let (c1, c2, c3) = (
        nats.client().await,
        nats.client().await,
        nats.client().await,
    );
    let a1 = ops::start(&c1, State::new("a1")).await;
    let a2 = ops::start(&c2, State::new("a2")).await;
    let other = runtime::ServiceBuilder::new("other", "0.1.0", "another service", ())
        .start(&c3)
        .await
        .unwrap();
    let other_id = other.id().to_owned();
    let other = tokio::spawn(other.run(std::future::pending()));

    let client = nats.client().await;
    let infos = discover::info(&client, None, GatherOptions::default())
        .await
        .unwrap();
    let mut ids: Vec<_> = infos
        .iter()
        .map(|i| (i.name.as_str(), i.id.as_str()))
        .collect();
    ids.sort_unstable();
    let mut want = vec![
        ("test", a1.id.as_str()),
        ("test", a2.id.as_str()),
        ("other", other_id.as_str()),
    ];
    want.sort_unstable();
    assert_eq!(ids, want);

    let test = infos.iter().find(|i| i.name == "test").unwrap();
    assert_eq!(test.version, "1.2.3");
    let echo = test.endpoints.iter().find(|e| e.name == "echo").unwrap();
    assert_eq!(echo.subject, Echo::subject());
    assert_eq!(echo.queue_group.as_deref(), Some("q"));
    assert_eq!(
        EndpointMeta::from_metadata(&echo.metadata).unwrap(),
        Echo::meta()
    );

    // Narrowed to one service, and PING too.
    let only = discover::info(&client, Some("test"), GatherOptions::default())
        .await
        .unwrap();
    assert_eq!(only.len(), 2);
    let pings = discover::ping(&client, None, GatherOptions::default())
        .await
        .unwrap();
    assert_eq!(pings.len(), 3);

    // A stopped instance no longer answers.
    a2.stop().await;
    let after = discover::info(&client, Some("test"), GatherOptions::default())
        .await
        .unwrap();
    assert_eq!(
        after.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        [a1.id.as_str()]
    );
    a1.stop().await;
    other.abort();
}

#[tokio::test]
async fn gathering_ends_on_stall_or_at_once_when_nobody_is_there() {
    let nats = NatsServer::start().await.unwrap();
    let client = nats.client().await;
    let options = GatherOptions {
        total: Duration::from_secs(30),
        stall: Duration::from_millis(100),
        max: 100,
    };
    // Nobody there: the server's no-responders status ends it without waiting 30 s.
    let started = std::time::Instant::now();
    assert!(
        discover::info(&client, None, options)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    // With one instance, the stall gap after its reply ends it long before the total.
    let running = ops::start(&nats.client().await, State::new("a")).await;
    let started = std::time::Instant::now();
    assert_eq!(
        discover::info(&client, None, options).await.unwrap().len(),
        1
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    // The maximum count ends it too.
    let one = GatherOptions { max: 1, ..options };
    assert_eq!(discover::ping(&client, None, one).await.unwrap().len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn the_schema_endpoint_serves_the_document_its_hash_names() {
    let nats = NatsServer::start().await.unwrap();
    let service = ops::start(&nats.client().await, State::new("s1")).await;
    let client = nats.client().await;
    let infos = discover::info(&client, Some("test"), GatherOptions::default())
        .await
        .unwrap();
    let endpoints = &infos[0].endpoints;
    let schema = endpoints
        .iter()
        .find(|e| e.metadata.get(metadata::KIND).map(String::as_str) == Some("schema"))
        .expect("a schema endpoint");
    assert_eq!(schema.subject, "test.schema");
    assert!(
        !schema.metadata.contains_key(metadata::HTTP_PATH),
        "never routed"
    );
    let hashes: Vec<&str> = endpoints
        .iter()
        .filter(|e| e.name != SCHEMA_ENDPOINT)
        .map(|e| e.metadata[metadata::SCHEMA_HASH].as_str())
        .collect();
    assert!(hashes.iter().all(|h| *h == hashes[0]), "{hashes:?}");

    let reply = client
        .request(schema.subject.clone(), "".into())
        .await
        .unwrap();
    assert_eq!(contract::schema::hash(&reply.payload), hashes[0]);
    let doc: SchemaDocument = serde_json::from_slice(&reply.payload).unwrap();
    let echo = &doc.operations[Echo::NAME];
    assert_eq!(echo.body, Some(serde_json::json!(true)), "any JSON value");
    assert!(doc.operations["admin"].response.is_none());
    service.stop().await;
}
