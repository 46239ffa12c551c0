//! The gateway's own `GET /events` in the document: a `text/event-stream` response whose
//! events' `data` is one of the CloudEvents the services publish ([`contract::events`]).
//!
//! The event schemas are inlined (no `$defs`), so they never collide with the component names
//! the services' documents bring.

use contract::events::{CustomerEvent, EventType, ProductEvent, UserRegisteredEvent};
use contract::schemars::JsonSchema;
use contract::schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::components::error_ref;

/// The path item of `GET /events`.
pub(super) fn path_item() -> Value {
    let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": error_ref() } },
        })
    };
    json!({
        "get": {
            "operationId": "gateway_events",
            "summary": "Stream domain events (Server-Sent Events)",
            "description": format!(
                "Each SSE event has `id` = the event's stream sequence, `event` = its type ({}) \
                 and `data` = the CloudEvent (JSON). Reconnect with `Last-Event-ID` (or \
                 `lastEventId`) to resume after the last event received, with nothing missed \
                 or repeated; without it the stream starts with new events. Idle streams get \
                 heartbeat comments. The stream ends when the token expires, or when the \
                 client reads too slowly.",
                types.join(", ")
            ),
            "tags": ["events"],
            "security": [{ "bearer": [] }],
            "parameters": [
                {
                    "name": "types",
                    "in": "query",
                    "required": false,
                    "description": "Comma-separated event types or patterns: `*` for one token, `>` last for the rest (e.g. `products.*,customers.>`). Every event when absent.",
                    "schema": { "type": "string", "example": "products.*" },
                },
                {
                    "name": "lastEventId",
                    "in": "query",
                    "required": false,
                    "description": "Resume after this event `id` (the `Last-Event-ID` header wins).",
                    "schema": { "type": "integer", "minimum": 0 },
                },
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": false,
                    "description": "Resume after this event `id` (sent by a reconnecting EventSource).",
                    "schema": { "type": "integer", "minimum": 0 },
                },
            ],
            "responses": {
                "200": {
                    "description": "The event stream; each event's `data` is one of these CloudEvents.",
                    "content": {
                        "text/event-stream": {
                            "schema": {
                                "oneOf": [
                                    schema::<CustomerEvent>("CustomerEvent"),
                                    schema::<ProductEvent>("ProductEvent"),
                                    schema::<UserRegisteredEvent>("UserRegisteredEvent"),
                                ]
                            }
                        }
                    },
                },
                "400": error("Malformed `types` or resume position"),
                "401": error("Missing, invalid or expired token"),
                "429": error("Too many streams open for this user (see `Retry-After`)"),
                "503": error("Too many streams open, or events unavailable (see `Retry-After`)"),
            }
        }
    })
}

/// `T`'s schema titled `title`, every subschema inlined. Each alternative gets its own title
/// (schemars titles them all `CloudEvent`), so client generators name them apart.
fn schema<T: JsonSchema>(title: &str) -> Value {
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    if let Some(map) = value.as_object_mut() {
        map.remove("$schema");
        map.insert("title".into(), title.into());
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_documented_as_an_event_stream_of_cloudevents() {
        let item = path_item();
        let schemas =
            &item["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]["oneOf"];
        assert_eq!(schemas.as_array().unwrap().len(), 3);
        let titles: Vec<&str> = schemas
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            ["CustomerEvent", "ProductEvent", "UserRegisteredEvent"]
        );
        for schema in schemas.as_array().unwrap() {
            assert!(schema["properties"]["specversion"].is_object(), "{schema}");
            assert!(schema["properties"]["data"].is_object(), "{schema}");
            assert!(!schema.to_string().contains("$ref"), "inlined: {schema}");
        }
        assert_eq!(item["get"]["security"], json!([{ "bearer": [] }]));
    }
}
