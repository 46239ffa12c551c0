//! Domain events: what the services publish when their data changes, and where.
//!
//! Every committed change is published once, as a [CloudEvents 1.0] event in JSON structured
//! mode, on the JetStream stream [`STREAM`] under the subject `events.<type>` (for example
//! `events.products.updated`). A service publishes only under its own name
//! ([`publish_subjects`]), so a consumer can trust an event's source the same way the gateway
//! trusts a reply.
//!
//! An event carries, besides the CloudEvents core attributes, the acting user in the
//! `authtype`/`authid` attributes of the CloudEvents [Auth Context] extension, and in `data`
//! the entity after the change (before it, for a delete). Secrets never appear in an event:
//! a registered user is described by its public profile.
//!
//! The publisher sets the JetStream de-duplication header (`Nats-Msg-Id`) to the event's `id`,
//! so a publish repeated after a crash within [`DUPLICATE_WINDOW_SECS`] is stored once.
//!
//! [CloudEvents 1.0]: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
//! [Auth Context]: https://github.com/cloudevents/spec/blob/main/cloudevents/extensions/authcontext.md

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The JetStream stream holding every domain event.
pub const STREAM: &str = "EVENTS";
/// The first token of every event subject.
pub const SUBJECT_PREFIX: &str = "events";
/// The stream's subjects.
pub const STREAM_SUBJECTS: &str = "events.>";
/// The CloudEvents version of every event.
pub const SPEC_VERSION: &str = "1.0";
/// The content type of every event's `data`.
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// `authtype` of an event caused by a signed-in user's request.
pub const AUTH_TYPE_USER: &str = "user";
/// `authtype` of an event caused by a request with no signed-in user (e.g. a registration).
pub const AUTH_TYPE_UNAUTHENTICATED: &str = "unauthenticated";

/// How long the stream remembers an event id to drop a repeated publish: two minutes
/// (JetStream's default), far longer than a relay takes to retry after a lost acknowledgement.
pub const DUPLICATE_WINDOW_SECS: u64 = 120;
/// How long events are kept when the stack does not say: seven days.
pub const DEFAULT_MAX_AGE_SECS: u64 = 7 * 24 * 60 * 60;
/// How many bytes of events are kept when the stack does not say: 1 GiB.
pub const DEFAULT_MAX_BYTES: i64 = 1 << 30;

/// The kinds of domain event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A customer was created.
    CustomerCreated,
    /// A customer was changed.
    CustomerUpdated,
    /// A customer was deleted.
    CustomerDeleted,
    /// A product was created.
    ProductCreated,
    /// A product was changed.
    ProductUpdated,
    /// A product was deleted.
    ProductDeleted,
    /// A user account was registered.
    UserRegistered,
}

impl EventType {
    /// Every event type.
    pub const ALL: [Self; 7] = [
        Self::CustomerCreated,
        Self::CustomerUpdated,
        Self::CustomerDeleted,
        Self::ProductCreated,
        Self::ProductUpdated,
        Self::ProductDeleted,
        Self::UserRegistered,
    ];

    /// The CloudEvents `type`, e.g. `products.created`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CustomerCreated => "customers.created",
            Self::CustomerUpdated => "customers.updated",
            Self::CustomerDeleted => "customers.deleted",
            Self::ProductCreated => "products.created",
            Self::ProductUpdated => "products.updated",
            Self::ProductDeleted => "products.deleted",
            Self::UserRegistered => "auth.user.registered",
        }
    }

    /// The service that publishes it (the first token of its type).
    #[must_use]
    pub fn service(self) -> &'static str {
        let ty = self.as_str();
        ty.split_once('.').map_or(ty, |(service, _)| service)
    }

    /// The NATS subject it is published on, e.g. `events.products.created`.
    #[must_use]
    pub fn subject(self) -> String {
        format!("{SUBJECT_PREFIX}.{}", self.as_str())
    }

    /// The type named `s`, if any.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The subjects `service` may publish events on: `events.<service>.>`.
#[must_use]
pub fn publish_subjects(service: &str) -> String {
    format!("{SUBJECT_PREFIX}.{service}.>")
}

/// The CloudEvents `source` of the events of `service`: `/natstack/<service>`.
#[must_use]
pub fn source(service: &str) -> String {
    format!("/natstack/{service}")
}

/// One event in CloudEvents 1.0 JSON structured mode, with `data` of type `T`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CloudEvent<T> {
    /// Always [`SPEC_VERSION`].
    pub specversion: String,
    /// Unique per event (a UUID); also the JetStream `Nats-Msg-Id`.
    pub id: String,
    /// The publishing service ([`source`]).
    pub source: String,
    /// The event type ([`EventType::as_str`]).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The id of the entity that changed.
    pub subject: String,
    /// When the change was committed (RFC 3339).
    pub time: String,
    /// Always [`DATA_CONTENT_TYPE`].
    pub datacontenttype: String,
    /// Who caused the change: [`AUTH_TYPE_USER`] or [`AUTH_TYPE_UNAUTHENTICATED`].
    pub authtype: String,
    /// The acting user's id, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authid: Option<String>,
    /// The entity after the change; for a delete, before it.
    pub data: T,
}

impl<T> CloudEvent<T> {
    /// An event of `event_type` about entity `subject`, committed at `time`, caused by the
    /// user `actor` (`None`: no signed-in user).
    pub fn new(
        event_type: EventType,
        id: impl Into<String>,
        subject: impl Into<String>,
        time: impl Into<String>,
        actor: Option<String>,
        data: T,
    ) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: id.into(),
            source: source(event_type.service()),
            event_type: event_type.as_str().to_owned(),
            subject: subject.into(),
            time: time.into(),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            authtype: if actor.is_some() {
                AUTH_TYPE_USER
            } else {
                AUTH_TYPE_UNAUTHENTICATED
            }
            .to_owned(),
            authid: actor,
            data,
        }
    }
}

/// An event about a customer (`customers.*`).
pub type CustomerEvent = CloudEvent<crate::customers::Customer>;
/// An event about a product (`products.*`).
pub type ProductEvent = CloudEvent<crate::products::Product>;
/// A user registered (`auth.user.registered`): the public profile only.
pub type UserRegisteredEvent = CloudEvent<crate::auth::User>;

/// The retention of the [`STREAM`], as the stack sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSettings {
    /// Events older than this are removed, in seconds.
    pub max_age_secs: u64,
    /// The oldest events are removed beyond this many bytes.
    pub max_bytes: i64,
    /// Copies of the stream: 1, or 3 when NATS runs 3 or more servers.
    pub replicas: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_age_secs: DEFAULT_MAX_AGE_SECS,
            max_bytes: DEFAULT_MAX_BYTES,
            replicas: 1,
        }
    }
}

impl StreamSettings {
    /// The stream replicas for a NATS of `servers` servers: 3 when there are at least 3
    /// (a quorum survives one loss), else 1.
    #[must_use]
    pub fn replicas_for(servers: u32) -> usize {
        if servers >= 3 { 3 } else { 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_name_their_service_and_subject() {
        assert_eq!(EventType::ProductUpdated.service(), "products");
        assert_eq!(EventType::UserRegistered.service(), "auth");
        assert_eq!(
            EventType::UserRegistered.subject(),
            "events.auth.user.registered"
        );
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert!(t.subject().starts_with(
                &publish_subjects(t.service())[..publish_subjects(t.service()).len() - 1]
            ));
        }
        assert_eq!(EventType::parse("products.exploded"), None);
    }

    #[test]
    fn an_event_is_cloudevents_json() {
        let event = CloudEvent::new(
            EventType::ProductDeleted,
            "0193-id",
            "7",
            "2026-12-06T10:00:00Z",
            Some("u1".to_owned()),
            serde_json::json!({"productId": 7}),
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "products.deleted");
        assert_eq!(json["source"], "/natstack/products");
        assert_eq!(json["authtype"], "user");
        assert_eq!(json["authid"], "u1");
        let anonymous = CloudEvent::new(EventType::UserRegistered, "i", "u2", "t", None, 0);
        let json = serde_json::to_value(&anonymous).unwrap();
        assert_eq!(json["authtype"], "unauthenticated");
        assert!(json.get("authid").is_none());
    }

    #[test]
    fn three_servers_replicate_the_stream() {
        assert_eq!(StreamSettings::replicas_for(1), 1);
        assert_eq!(StreamSettings::replicas_for(3), 3);
        assert_eq!(StreamSettings::replicas_for(5), 3);
    }
}
