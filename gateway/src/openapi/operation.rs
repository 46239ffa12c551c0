//! One operation object: parameters, request body, responses and security of one route.

use std::collections::BTreeSet;

use contract::schema::OperationSchemas;
use contract::{AuthLevel, ErrorCode, HttpMethod};
use serde_json::{Map, Value, json};

use super::components::{Renames, error_ref, rewrite};
use crate::table::Route;

/// What a route's service published about it: its schemas and where their names went.
pub(super) type Published<'a> = Option<(&'a OperationSchemas, Renames)>;

/// The operation object of `route`.
pub(super) fn operation(route: &Route, published: Published<'_>) -> Value {
    let published = published.as_ref().map(|(op, renames)| (*op, renames));
    let mut op = json!({
        "operationId": format!("{}_{}", route.service, route.endpoint),
        "tags": [route.service],
        "parameters": parameters(route, published),
        "responses": responses(route, published),
        "security": if route.auth == AuthLevel::Public { json!([]) } else { json!([{ "bearer": [] }]) },
        "x-natstack-auth": route.auth.as_str(),
        "x-natstack-subject": route.subject,
    });
    if let Some(summary) = &route.summary {
        op["summary"] = json!(summary);
    }
    match published {
        Some((schemas, renames)) => {
            if let Some(body) = &schemas.body {
                op["requestBody"] = json!({
                    "required": true,
                    "content": { "application/json": { "schema": rewrite(body, renames) } }
                });
            }
        }
        None if takes_body_unpublished(route.method) => {
            op["requestBody"] = json!({
                "required": false,
                "description": "Unspecified: the service publishes no schema.",
                "content": { "application/json": { "schema": {} } }
            });
        }
        None => {}
    }
    op
}

fn takes_body_unpublished(method: HttpMethod) -> bool {
    matches!(
        method,
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
    )
}

/// The path parameters (strings unless the schema says otherwise), then the query
/// parameters the schema declares.
fn parameters(route: &Route, published: Option<(&OperationSchemas, &Renames)>) -> Vec<Value> {
    let no_renames = Renames::new();
    let (params, query, renames) = match published {
        Some((op, renames)) => (Some(&op.params), Some(&op.query), renames),
        None => (None, None, &no_renames),
    };
    let mut out: Vec<Value> = route
        .path_params()
        .into_iter()
        .map(|name| {
            let schema = params
                .and_then(|p| p["properties"].get(name))
                .map_or_else(|| json!({ "type": "string" }), |s| rewrite(s, renames));
            parameter(name, "path", true, schema)
        })
        .collect();
    if let Some(query) = query {
        let required = required(query);
        for (name, schema) in properties(query) {
            let schema = rewrite(schema, renames);
            out.push(parameter(
                name,
                "query",
                required.contains(name.as_str()),
                schema,
            ));
        }
    }
    if crate::idempotency::takes_key(route) {
        out.push(idempotency_key());
    }
    out
}

/// The optional `Idempotency-Key` header of a POST that needs a token.
fn idempotency_key() -> Value {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Names this write, so that sending it again returns the first result \
            (with `Idempotent-Replayed: true`) instead of writing twice, for 24 hours, per user; \
            honoured by services that store keys (customers and products creates). The same key \
            with a different body is a 422; while the first request runs, a 409 with Retry-After.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": contract::idempotency::MAX_KEY_LEN,
            "pattern": "^[!-~]+$",
        },
    })
}

fn properties(object: &Value) -> impl Iterator<Item = (&String, &Value)> {
    object["properties"]
        .as_object()
        .into_iter()
        .flat_map(Map::iter)
}

fn required(object: &Value) -> BTreeSet<&str> {
    object["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// A parameter object; a parameter is absent rather than `null`, so `null` leaves its schema.
fn parameter(name: &str, location: &str, required: bool, schema: Value) -> Value {
    let mut schema = match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let description = schema.remove("description");
    drop_null(&mut schema);
    let mut param = json!({ "name": name, "in": location, "required": required, "schema": schema });
    if let Some(description) = description {
        param["description"] = description;
    }
    param
}

/// Removes `null` from a schema: from a `type` list, from an `anyOf`, and as a default.
fn drop_null(schema: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(any)) = schema.remove("anyOf") {
        let null = json!({ "type": "null" });
        let mut rest: Vec<Value> = any.into_iter().filter(|s| *s != null).collect();
        match (rest.len(), rest.pop()) {
            (1, Some(Value::Object(only))) => {
                for (key, value) in only {
                    schema.entry(key).or_insert(value);
                }
            }
            (_, Some(last)) => {
                rest.push(last);
                schema.insert("anyOf".into(), Value::Array(rest));
            }
            (_, None) => {}
        }
    }
    if schema.get("default") == Some(&Value::Null) {
        schema.remove("default");
    }
}

/// The success response and every error status the route can answer.
fn responses(route: &Route, published: Option<(&OperationSchemas, &Renames)>) -> Value {
    let mut responses = Map::new();
    let body = match published {
        Some((op, renames)) => op.response.as_ref().map(|s| rewrite(s, renames)),
        None => Some(json!({})),
    };
    let success = match body {
        _ if route.success_status == 204 => json!({ "description": "Success, no content" }),
        // `()` answered with a status other than 204 is a JSON `null`.
        None => success_with(json!({ "type": "null" })),
        Some(schema) => success_with(schema),
    };
    responses.insert(route.success_status.to_string(), success);
    for status in error_statuses(route, published.map(|(op, _)| op)) {
        responses.insert(
            status.to_string(),
            json!({
                "description": ErrorCode::from_status(status).as_str(),
                "content": { "application/json": { "schema": error_ref() } }
            }),
        );
    }
    Value::Object(responses)
}

fn success_with(schema: Value) -> Value {
    json!({ "description": "Success", "content": { "application/json": { "schema": schema } } })
}

/// The error statuses `route` can answer:
///
/// - always 400 (malformed request), 429 (rate limits), 503 (service or bus unavailable) and
///   504 (no answer in time);
/// - 401 where a token is needed, and on public routes with a body (login, refresh);
///   403 where the admin role is;
/// - 404 where the path names a resource;
/// - 409 on creates (POST, PUT);
/// - with a body: 408 (body too slow), 413 (too large), 415 (not JSON);
/// - 422 where the service validates a body or query parameters.
///
/// Without published schemas, whether there is a body follows the method, and 422 is assumed.
pub(super) fn error_statuses(route: &Route, published: Option<&OperationSchemas>) -> Vec<u16> {
    let takes_body = published.map_or(takes_body_unpublished(route.method), |op| op.body.is_some());
    let validates = published.is_none_or(|op| takes_body || properties(&op.query).next().is_some());
    let mut statuses = BTreeSet::from([400, 429, 503, 504]);
    if route.auth != AuthLevel::Public || takes_body {
        statuses.insert(401);
    }
    if route.auth == AuthLevel::Admin {
        statuses.insert(403);
    }
    if !route.path_params().is_empty() {
        statuses.insert(404);
    }
    if matches!(route.method, HttpMethod::Post | HttpMethod::Put) {
        statuses.insert(409);
    }
    if takes_body {
        statuses.extend([408, 413, 415]);
    }
    if validates {
        statuses.insert(422);
    }
    statuses.into_iter().collect()
}
