//! Scatter-gather over the Services API discovery subjects (`$SRV.PING`, `$SRV.INFO`).
//!
//! Every service instance answers the discovery subjects, so one request yields one reply per
//! instance. async-nats has no `request_many`, so [`gather`] implements the ADR-47 rules:
//! collect replies until a total timeout, or until a stall gap passes after the last reply, or
//! until a maximum count; a "no responders" status means nobody is there; the temporary
//! subscription is always removed.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::{Client, Message, StatusCode};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{debug, warn};

/// Subject that every service instance answers with its info.
pub const INFO_SUBJECT: &str = "$SRV.INFO";
/// Subject that every service instance answers with a ping reply.
pub const PING_SUBJECT: &str = "$SRV.PING";

/// Limits of one scatter-gather.
#[derive(Debug, Clone, Copy)]
pub struct GatherOptions {
    /// Never wait longer than this in total.
    pub total: Duration,
    /// Stop when no reply arrived for this long after the last one.
    pub stall: Duration,
    /// Stop after this many replies.
    pub max: usize,
}

impl Default for GatherOptions {
    fn default() -> Self {
        Self {
            total: Duration::from_secs(2),
            stall: Duration::from_millis(250),
            max: 10_000,
        }
    }
}

/// Why discovery failed (an empty result is not a failure).
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The reply inbox could not be subscribed.
    #[error("discovery request failed: {0}")]
    Subscribe(#[source] async_nats::SubscribeError),
    /// The request could not be sent.
    #[error("discovery request failed: {0}")]
    Publish(#[source] async_nats::PublishError),
}

/// One endpoint as an instance describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Endpoint name.
    pub name: String,
    /// Subject it is served on.
    pub subject: String,
    /// Its queue group.
    #[serde(default)]
    pub queue_group: Option<String>,
    /// Its metadata (the HTTP mapping lives here).
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: HashMap<String, String>,
}

/// One service instance's `$SRV.INFO` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Service name (the kind; shared by all instances).
    pub name: String,
    /// Instance id (unique per running instance).
    pub id: String,
    /// Semver version.
    pub version: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Service metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: HashMap<String, String>,
    /// Endpoints.
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointInfo>,
}

/// One service instance's `$SRV.PING` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingInfo {
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Semver version.
    pub version: String,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Publishes an empty request on `subject` and collects every reply within `options`.
pub async fn gather(
    client: &Client,
    subject: &str,
    options: GatherOptions,
) -> Result<Vec<Message>, DiscoverError> {
    let inbox = client.new_inbox();
    let mut replies = client
        .subscribe(inbox.clone())
        .await
        .map_err(DiscoverError::Subscribe)?;
    client
        .publish_with_reply(subject.to_owned(), inbox, bytes::Bytes::new())
        .await
        .map_err(DiscoverError::Publish)?;

    let deadline = Instant::now() + options.total;
    let mut out = Vec::new();
    while out.len() < options.max {
        // Before the first reply only the total deadline applies; after it, the stall gap too.
        let wait_until = if out.is_empty() {
            deadline
        } else {
            deadline.min(Instant::now() + options.stall)
        };
        match tokio::time::timeout_at(wait_until, replies.next()).await {
            Ok(Some(message)) if message.status == Some(StatusCode::NO_RESPONDERS) => break,
            Ok(Some(message)) => out.push(message),
            Ok(None) | Err(_) => break,
        }
    }
    // Dropping the subscriber unsubscribes; say so explicitly to free the server side now.
    let _ = replies.unsubscribe().await;
    Ok(out)
}

fn decode_all<T: serde::de::DeserializeOwned>(subject: &str, messages: Vec<Message>) -> Vec<T> {
    messages
        .into_iter()
        .filter_map(|m| match serde_json::from_slice(&m.payload) {
            Ok(v) => Some(v),
            Err(e) => {
                warn!(subject, error = %e, "undecodable discovery reply ignored");
                None
            }
        })
        .collect()
}

/// Every instance's info, from `$SRV.INFO` (or `$SRV.INFO.<name>` when `name` is given).
pub async fn info(
    client: &Client,
    name: Option<&str>,
    options: GatherOptions,
) -> Result<Vec<ServiceInfo>, DiscoverError> {
    let infos = gather_decoded(client, INFO_SUBJECT, name, options).await?;
    debug!(service = name, instances = infos.len(), "discovered");
    Ok(infos)
}

/// Every instance's ping reply, from `$SRV.PING` (or `$SRV.PING.<name>`).
pub async fn ping(
    client: &Client,
    name: Option<&str>,
    options: GatherOptions,
) -> Result<Vec<PingInfo>, DiscoverError> {
    gather_decoded(client, PING_SUBJECT, name, options).await
}

/// The decodable replies to `verb` (`$SRV.INFO`, `$SRV.PING`), narrowed to service `name`
/// when given.
async fn gather_decoded<T: serde::de::DeserializeOwned>(
    client: &Client,
    verb: &str,
    name: Option<&str>,
    options: GatherOptions,
) -> Result<Vec<T>, DiscoverError> {
    let subject = name.map_or_else(|| verb.to_owned(), |n| format!("{verb}.{n}"));
    Ok(decode_all(
        &subject,
        gather(client, &subject, options).await?,
    ))
}
