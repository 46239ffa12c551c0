//! The OpenAPI 3.1 document, assembled from the discovered routes and the schema documents the
//! services publish.
//!
//! Routes give the paths, methods, path parameters, summaries, auth levels and success
//! statuses (endpoint metadata); each service's schema document ([`contract::schema`],
//! fetched by [`crate::schemas`]) gives the parameters' and bodies' schemas. Per operation:
//!
//! - `operationId` `<service>_<endpoint>`, the summary, one tag per service;
//! - path and query parameters with their schemas (types, enums, bounds, defaults);
//! - the request body, required, with its schema, when the operation takes one;
//! - the success status with its body (none for 204 or an operation without a response);
//! - each error status the route can answer (`operation.rs`), with the shared error schema;
//! - bearer (JWT) security on `user` and `admin` routes only.
//!
//! The gateway's own `GET /events` is listed too (`events.rs`).
//!
//! Every service's `$defs` are hoisted into `components/schemas` and their `$ref`s rewritten;
//! a name two services define differently is kept apart by prefixing the service's name
//! (`components.rs`). An operation whose service publishes no schema is still listed, with its
//! bodies unspecified (`{}`).
//!
//! Discovery builds an [`ApiDocument`] when the routes or the schema documents change and
//! stores it in the snapshot, so `/openapi.json` is served from memory with a strong `ETag`.
//! It also keeps which operations are published as taking no body, for the proxy to refuse a
//! body there unread ([`ApiDocument::takes_no_body`]).

mod components;
mod events;
mod operation;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use contract::HttpMethod;
use contract::schema::OperationSchemas;
use serde_json::{Map, Value, json};

use crate::schemas::SchemaCache;
use crate::table::Route;

use components::Components;

/// The serialised document and its entity tag.
#[derive(Debug, Clone)]
pub struct ApiDocument {
    /// The JSON bytes served.
    pub bytes: Bytes,
    /// A strong entity tag: a content hash of `bytes`, quoted.
    pub etag: String,
    /// The routes (method and path template) whose service publishes that they take no body.
    bodiless: HashSet<(HttpMethod, Arc<str>)>,
}

impl ApiDocument {
    /// Builds and serialises the document of `routes`.
    pub fn build(routes: &[Route], schemas: &SchemaCache) -> Self {
        let bytes = serde_json::to_vec(&document(routes, schemas))
            .expect("a document of JSON values always serialises");
        let bodiless = routes
            .iter()
            .filter(|route| published(route, schemas).is_some_and(|op| op.body.is_none()))
            .map(|route| (route.method, route.path.clone()))
            .collect();
        Self {
            etag: format!("\"{}\"", contract::schema::hash(&bytes)),
            bytes: bytes.into(),
            bodiless,
        }
    }

    /// Whether `route`'s service publishes that it takes no body (one that publishes no
    /// schema may take one).
    pub fn takes_no_body(&self, route: &Route) -> bool {
        self.bodiless.contains(&(route.method, route.path.clone()))
    }
}

/// The schemas `route`'s service publishes for it, if any.
fn published<'a>(route: &Route, schemas: &'a SchemaCache) -> Option<&'a OperationSchemas> {
    let doc = schemas.get(route.schema_hash.as_deref()?)?;
    doc.operations.get(&route.endpoint)
}

/// The document for `routes`, with the schemas `schemas` holds.
pub fn document(routes: &[Route], schemas: &SchemaCache) -> Value {
    let mut components = Components::new();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for route in routes {
        let published = route.schema_hash.as_deref().and_then(|hash| {
            let doc = schemas.get(hash)?;
            let op = doc.operations.get(&route.endpoint)?;
            Some((op, components.hoist(&route.service, hash, doc)))
        });
        let method = route.method.as_str().to_ascii_lowercase();
        paths
            .entry(&*route.path)
            .or_default()
            .insert(method, operation::operation(route, published));
    }
    let events = events::path_item();
    paths.insert(
        crate::events::PATH,
        events.as_object().cloned().unwrap_or_default(),
    );
    let mut tags: BTreeSet<&str> = routes.iter().map(|r| r.service.as_str()).collect();
    tags.insert("events");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "natstack API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Assembled by the gateway from the endpoints and schemas its services publish.",
        },
        "tags": tags.into_iter().map(|name| json!({ "name": name })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
            },
            "schemas": components.into_schemas(),
        }
    })
}

#[cfg(test)]
mod tests;
