//! What a service under test registered with the Services API: one instance, its endpoints
//! in queue group `q`, each with the HTTP mapping the gateway routes by.

use contract::{EndpointMeta, Operation};

use crate::Requester;
use crate::discover::{self, GatherOptions};

/// One registered endpoint: its name, subject and HTTP mapping.
pub type Endpoint = (String, String, EndpointMeta);

/// The endpoint operation `O` registers.
pub fn endpoint_of<O: Operation>() -> Endpoint {
    (O::NAME.to_owned(), O::subject(), O::meta())
}

/// Asserts that one instance of `service` at `version` answers `$SRV.INFO` with exactly the
/// endpoints `want` (in any order), each in queue group `q`.
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
    let mut seen: Vec<Endpoint> = info
        .endpoints
        .iter()
        .map(|e| {
            assert_eq!(e.queue_group.as_deref(), Some("q"), "{e:?}");
            let meta = EndpointMeta::from_metadata(&e.metadata).unwrap();
            (e.name.clone(), e.subject.clone(), meta)
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, want);
}
