//! The services' schema documents, fetched over NATS once per content hash and kept while a
//! route names them.
//!
//! Every routed endpoint of a service built on `runtime` carries `schema.hash` in its metadata;
//! the document it names is served on `<service>.schema` (see [`contract::schema`]). Discovery
//! calls [`SchemaCache::refresh`] after each poll: hashes already held cost nothing, a new
//! hash costs one request. What arrives is stored under the hash of the bytes received, so
//! the instance that answered (any one of the queue group, perhaps of another version during
//! a rollout) can never put a document under the wrong name; a hash still missing is asked
//! for again on the next poll. A service that publishes no schema, or whose document cannot
//! be fetched, is still routed: its operations are then documented without schemas.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::Client;
use contract::schema::{self, SchemaDocument};
use tracing::{debug, warn};

use crate::table::Route;

/// Schema documents by content hash.
#[derive(Debug, Default, Clone)]
pub struct SchemaCache {
    docs: BTreeMap<String, Arc<SchemaDocument>>,
}

impl SchemaCache {
    /// The document with content hash `hash`, if held.
    pub fn get(&self, hash: &str) -> Option<&SchemaDocument> {
        self.docs.get(hash).map(AsRef::as_ref)
    }

    /// The hashes held, for telling whether anything changed.
    pub fn hashes(&self) -> BTreeSet<String> {
        self.docs.keys().cloned().collect()
    }

    /// Stores a document received as `bytes`; returns its hash, or `None` when the bytes are
    /// not a schema document.
    pub fn insert(&mut self, bytes: &[u8]) -> Option<String> {
        let doc: SchemaDocument = serde_json::from_slice(bytes).ok()?;
        let hash = schema::hash(bytes);
        self.docs.insert(hash.clone(), Arc::new(doc));
        Some(hash)
    }

    /// Fetches the documents `routes` name and does not hold yet (each request bounded by
    /// `timeout`), and forgets those no route names any more.
    pub async fn refresh(&mut self, client: &Client, routes: &[Route], timeout: Duration) {
        let wanted: BTreeMap<&str, &str> = routes
            .iter()
            .filter_map(|r| Some((r.schema_hash.as_deref()?, r.service.as_str())))
            .collect();
        self.docs
            .retain(|hash, _| wanted.contains_key(hash.as_str()));
        let mut asked = BTreeSet::new();
        for (hash, service) in wanted {
            // One request per service and poll: another answer would come from the same
            // queue group, and a missing hash is simply asked for again next time.
            if self.docs.contains_key(hash) || !asked.insert(service) {
                continue;
            }
            let subject = schema::subject(service);
            match tokio::time::timeout(timeout, client.request(subject.clone(), "".into())).await {
                Ok(Ok(reply)) => match self.insert(&reply.payload) {
                    Some(got) if got == hash => debug!(service, hash, "schema document fetched"),
                    Some(got) => debug!(
                        service,
                        want = hash,
                        got,
                        "another version's schema answered"
                    ),
                    None => warn!(service, "the schema document could not be decoded"),
                },
                Ok(Err(e)) => debug!(service, error = %e, "schema document not available"),
                Err(_) => debug!(service, "schema request timed out"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_stored_under_the_hash_of_their_bytes() {
        let mut set = schema::SchemaSet::new();
        set.add::<contract::customers::GetCustomer>();
        let bytes = set.finish().to_bytes();
        let mut cache = SchemaCache::default();
        let hash = cache.insert(&bytes).unwrap();
        assert_eq!(hash, schema::hash(&bytes));
        assert!(cache.get(&hash).unwrap().operations.contains_key("get"));
        assert_eq!(cache.insert(b"{\"operations\":7}"), None);
        assert_eq!(cache.hashes().len(), 1);
    }
}
