//! The `EVENTS` stream: created from the stack's settings, brought to new settings in place,
//! kept across a server restart, and de-duplicating a repeated publish by event id.

use async_nats::HeaderMap;
use async_nats::jetstream;
use contract::events::{STREAM, StreamSettings};
use runtime::events::stream;
use runtime::test_support::{NatsOptions, NatsServer};

#[tokio::test]
async fn the_stream_is_created_updated_kept_and_deduplicates() {
    let mut nats = NatsServer::start_with(NatsOptions {
        jetstream: true,
        ..NatsOptions::default()
    })
    .await
    .unwrap();
    let client = nats.client().await;
    let settings = StreamSettings {
        max_age_secs: 3600,
        max_bytes: 1 << 20,
        replicas: 1,
    };
    let info = stream::ensure(&client, &settings).await.unwrap();
    assert_eq!(info.config.name, STREAM);
    assert_eq!(info.config.subjects, ["events.>"]);
    assert_eq!(info.config.max_bytes, 1 << 20);

    let wider = StreamSettings {
        max_age_secs: 7200,
        ..settings
    };
    let info = stream::ensure(&client, &wider).await.unwrap();
    assert_eq!(info.config.max_age.as_secs(), 7200);

    // The same event id twice is stored once: a relay may repeat a publish whose
    // acknowledgement it lost.
    let js = jetstream::new(client.clone());
    for _ in 0..2 {
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, "event-1");
        let ack = js
            .publish_with_headers("events.products.created", headers, "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(ack.sequence, 1);
    }

    nats.restart().await.unwrap();
    let client = nats.client().await;
    let mut kept = jetstream::new(client).get_stream(STREAM).await.unwrap();
    let info = kept.info().await.unwrap();
    assert_eq!(info.state.messages, 1, "the stream outlives a restart");
    assert_eq!(info.config.max_age.as_secs(), 7200);
}

#[tokio::test]
async fn a_server_without_jetstream_is_a_clear_error() {
    let nats = NatsServer::start().await.unwrap();
    let err = stream::ensure(&nats.client().await, &StreamSettings::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EVENTS"), "{err}");
}
