//! The OpenAPI 3.1 document, assembled from the discovered routes.
//!
//! Everything the metadata declares is there: paths, methods, path parameters, summary, the
//! security requirement, the success status and the error responses the gateway and the
//! services may answer, all with the shared error schema. Request and response bodies are
//! described as JSON objects: the metadata carries no schemas.

use std::collections::BTreeMap;

use contract::{AuthLevel, HttpMethod};
use serde_json::{Value, json};

use crate::table::Route;

/// The document for `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    for route in routes {
        let method = route.method.as_str().to_ascii_lowercase();
        paths
            .entry(route.path.as_str())
            .or_default()
            .insert(method, operation(route));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "natstack API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Assembled by the gateway from the endpoints its services declare.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "enum": contract::ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>() },
                        "message": { "type": "string" },
                        "details": {},
                        "request_id": { "type": "string" }
                    }
                }
            }
        }
    })
}

fn operation(route: &Route) -> Value {
    let parameters: Vec<Value> = route
        .path_params()
        .into_iter()
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    let mut responses = serde_json::Map::new();
    let success = route.success_status.to_string();
    responses.insert(
        success,
        if route.success_status == 204 {
            json!({ "description": "Success, no content" })
        } else {
            json!({ "description": "Success", "content": { "application/json": { "schema": {} } } })
        },
    );
    let mut errors = vec![400, 404, 413, 415, 422, 429, 500, 502, 503, 504];
    match route.auth {
        AuthLevel::Public => {}
        AuthLevel::User => errors.push(401),
        AuthLevel::Admin => errors.extend([401, 403]),
    }
    if matches!(
        route.method,
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
    ) {
        errors.push(409);
    }
    errors.sort_unstable();
    for status in errors {
        responses.insert(
            status.to_string(),
            json!({
                "description": contract::ErrorCode::from_status(status).as_str(),
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }),
        );
    }
    let mut op = json!({
        "operationId": route.subject,
        "tags": [route.service],
        "parameters": parameters,
        "responses": responses,
        "security": if route.auth == AuthLevel::Public { json!([]) } else { json!([{ "bearer": [] }]) },
        "x-natstack-auth": route.auth.as_str(),
        "x-natstack-subject": route.subject,
    });
    if let Some(summary) = &route.summary {
        op["summary"] = json!(summary);
    }
    if matches!(
        route.method,
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
    ) {
        op["requestBody"] = json!({
            "required": false,
            "content": { "application/json": { "schema": {} } }
        });
    }
    op
}
