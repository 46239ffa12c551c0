//! What a service under test registered with the Services API: one instance, its endpoints
//! in queue group `q`, each with the HTTP mapping the gateway routes by and the hash of its
//! schema document, and the endpoint serving that document.

use contract::{EndpointMeta, Operation, metadata, schema};

use crate::Requester;
use crate::discover::{self, GatherOptions};

/// One registered endpoint: its name, subject and HTTP mapping.
pub type Endpoint = (String, String, EndpointMeta);

/// The endpoint operation `O` registers.
pub fn endpoint_of<O: Operation>() -> Endpoint {
    (O::NAME.to_owned(), O::subject(), O::meta())
}

/// Asserts that one instance of `service` at `version` answers `$SRV.INFO` with exactly the
/// endpoints `want` (in any order) besides its schema endpoint, each in queue group `q`, each
/// naming the schema document by its hash.
pub async fn assert_registered(
    requester: &Requester,
    service: &str,
    version: &str,
    mut want: Vec<Endpoint>,
) {
    let infos = discover::info(requester.client(), Some(service), GatherOptions::default())
        .await
        .unwrap();
    assert_eq!(infos.len(), 1, "one instance of {service}");
    let info = &infos[0];
    assert_eq!(info.version, version);
    let mut seen: Vec<Endpoint> = Vec::new();
    let mut schema_endpoints = 0;
    for e in &info.endpoints {
        assert_eq!(e.queue_group.as_deref(), Some("q"), "{e:?}");
        if e.metadata.get(metadata::KIND).map(String::as_str) == Some(metadata::KIND_SCHEMA) {
            assert_eq!(e.subject, schema::subject(service));
            schema_endpoints += 1;
            continue;
        }
        assert!(e.metadata.contains_key(metadata::SCHEMA_HASH), "{e:?}");
        let meta = EndpointMeta::from_metadata(&e.metadata).unwrap();
        seen.push((e.name.clone(), e.subject.clone(), meta));
    }
    assert_eq!(schema_endpoints, 1, "{service} serves its schema document");
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, want);
}
