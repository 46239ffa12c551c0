//! The NATS users of a system: one per component, each allowed only the subjects its job
//! needs. The operator renders them into a cluster's `users.conf`, and `make run` into its
//! local nats-server's config, from these same definitions.
//!
//! The gateway may call every service, discovery (`$SRV.>`), `auth.jwks` and `auth.revoked`,
//! and read its own inbox; a service may serve `<name>.>` and its own Services API subjects
//! and only answer the requests it receives, so it can neither read nor write anyone else's
//! replies, no one but the gateway can publish `products.delete` claiming the admin role, and
//! only the `products` user can answer the gateway's `$SRV.INFO.products`: a service cannot
//! speak for another in discovery (the gateway's route ownership rests on this).
//!
//! Domain events ([`crate::events`]): a service may publish its own events,
//! `events.<name>.>` (JetStream answers the publish with an acknowledgement in the service's
//! inbox), and nothing of the JetStream API, so it can neither create, change nor delete a
//! stream or consumer, nor speak for another service's events. The gateway, which streams
//! events to clients, may only create or update the `EVENTS` stream, read its info, and
//! create, read, pull from and delete consumers on it ([`gateway_jetstream_api`]): not
//! `$JS.API.>`, and no event subject, so it cannot forge an event.

use std::fmt::Write as _;

/// Subjects a component may publish to and subscribe on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permissions {
    /// Allowed publish subjects.
    pub publish: Vec<String>,
    /// Allowed subscribe subjects.
    pub subscribe: Vec<String>,
    /// May reply (once) to the reply subject of a request it received, and publish nothing else.
    pub allow_responses: bool,
}

/// The prefix of `user`'s reply inboxes: `_INBOX_<user>`, subscribable by that user alone
/// (the value of [`NATS_INBOX_PREFIX`](crate::deploy::env::NATS_INBOX_PREFIX)).
#[must_use]
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// The JetStream API subjects the gateway may publish to: create or update the `EVENTS`
/// stream and read its info, and create, read, pull from and delete its ordered consumers on
/// that stream (named, so their create subject is `CONSUMER.CREATE.EVENTS.<name>[.<filter>]`).
#[must_use]
pub fn gateway_jetstream_api() -> Vec<String> {
    let stream = crate::events::STREAM;
    vec![
        format!("$JS.API.STREAM.CREATE.{stream}"),
        format!("$JS.API.STREAM.UPDATE.{stream}"),
        format!("$JS.API.STREAM.INFO.{stream}"),
        format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
        format!("$JS.API.CONSUMER.INFO.{stream}.*"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.*"),
        format!("$JS.API.CONSUMER.DELETE.{stream}.*"),
    ]
}

/// The permissions of `user` (the gateway, or a service's name) in a system whose services
/// are `services`.
#[must_use]
pub fn permissions<S: AsRef<str>>(user: &str, services: &[S]) -> Permissions {
    let inbox = format!("{}.>", inbox_prefix(user));
    if user == crate::deploy::GATEWAY {
        // `auth.jwks` and `auth.revoked` even without an auth service: the gateway then
        // hears "no responders" at once instead of a permission error and a timeout.
        let mut publish = vec![
            "$SRV.>".to_owned(),
            "auth.jwks".to_owned(),
            "auth.revoked".to_owned(),
        ];
        publish.extend(services.iter().map(|s| format!("{}.>", s.as_ref())));
        publish.extend(gateway_jetstream_api());
        Permissions {
            publish,
            subscribe: vec![inbox],
            allow_responses: false,
        }
    } else {
        Permissions {
            // Its own events only; JetStream's acknowledgement arrives in its inbox.
            publish: vec![crate::events::publish_subjects(user)],
            subscribe: vec![
                format!("{user}.>"),
                // `$SRV.<verb>`, `$SRV.<verb>.<name>` and `$SRV.<verb>.<name>.<id>` (ADR-32).
                // The bare verbs are spelled out: nats-server matches a subscription's
                // subject against the allow list token by token, so an allowed `$SRV.*`
                // would admit a `$SRV.>` subscription, and with it every other service's
                // discovery traffic. The gateway asks each service by name
                // (`$SRV.INFO.<name>`), which only that service's user may subscribe.
                "$SRV.PING".into(),
                "$SRV.INFO".into(),
                "$SRV.STATS".into(),
                format!("$SRV.*.{user}"),
                format!("$SRV.*.{user}.*"),
                inbox,
            ],
            allow_responses: true,
        }
    }
}

/// nats-server's `authorization` block for `users` (name, password, permissions): the whole
/// of a `users.conf`.
#[must_use]
pub fn authorization<'a>(
    users: impl IntoIterator<Item = (&'a str, &'a str, Permissions)>,
) -> String {
    let mut conf = String::from("authorization {\n  users: [\n");
    for (user, password, p) in users {
        let mut rules = Vec::new();
        if !p.publish.is_empty() {
            rules.push(format!("publish: {{ allow: {} }}", list(&p.publish)));
        }
        rules.push(format!("subscribe: {{ allow: {} }}", list(&p.subscribe)));
        if p.allow_responses {
            rules.push("allow_responses: true".to_owned());
        }
        let _ = writeln!(
            conf,
            "    {{ user: {}, password: {}, permissions: {{ {} }} }}",
            quote(user),
            quote(password),
            rules.join(", "),
        );
    }
    conf.push_str("  ]\n}\n");
    conf
}

/// A double-quoted config string (JSON escaping, which nats-server's parser reads).
#[must_use]
pub fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_calls_services_and_services_only_answer() {
        let gateway = permissions("gateway", &["auth", "products"]);
        assert_eq!(
            gateway.publish,
            [
                "$SRV.>",
                "auth.jwks",
                "auth.revoked",
                "auth.>",
                "products.>",
                "$JS.API.STREAM.CREATE.EVENTS",
                "$JS.API.STREAM.UPDATE.EVENTS",
                "$JS.API.STREAM.INFO.EVENTS",
                "$JS.API.CONSUMER.CREATE.EVENTS.>",
                "$JS.API.CONSUMER.INFO.EVENTS.*",
                "$JS.API.CONSUMER.MSG.NEXT.EVENTS.*",
                "$JS.API.CONSUMER.DELETE.EVENTS.*",
            ]
        );
        assert_eq!(gateway.subscribe, ["_INBOX_gateway.>"]);
        let products = permissions("products", &["auth", "products"]);
        assert_eq!(products.publish, ["events.products.>"]);
        assert!(products.allow_responses);
        assert!(products.subscribe.contains(&"products.>".to_owned()));
        let conf = authorization([("products", "p\"w", products)]);
        assert!(conf.contains(r#"{ user: "products", password: "p\"w", permissions: { publish: { allow: ["events.products.>"] }, subscribe: { allow: ["products.>""#), "{conf}");
        assert!(
            conf.ends_with("allow_responses: true } }\n  ]\n}\n"),
            "{conf}"
        );
    }
}
