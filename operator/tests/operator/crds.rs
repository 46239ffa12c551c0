//! The committed CRD equals the one generated from the Rust types.
//!
//! Regenerate with `cargo run -p operator --bin crdgen -- crds/microservicestacks.yaml`
//! (from the repository root), or run this test with `UPDATE_CRDS=1`.

use std::path::Path;

#[test]
fn committed_crd_matches_generated() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds/microservicestacks.yaml");
    let generated = operator::crd_yaml();
    if std::env::var_os("UPDATE_CRDS").is_some() {
        std::fs::write(&path, &generated).expect("write CRD");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "crds/microservicestacks.yaml is stale: run `cargo run -p operator --bin crdgen -- crds/microservicestacks.yaml`"
    );
}

#[test]
fn crd_has_names_columns_and_status() {
    let crd: serde_json::Value = serde_saphyr::from_str(&operator::crd_yaml()).expect("yaml");
    let spec = &crd["spec"];
    assert_eq!(spec["group"], "natstack.dev");
    assert_eq!(spec["scope"], "Namespaced");
    assert_eq!(spec["names"]["kind"], "MicroserviceStack");
    assert_eq!(spec["names"]["plural"], "microservicestacks");
    assert_eq!(spec["names"]["shortNames"][0], "mss");
    let version = &spec["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(version["subresources"]["status"].is_object());
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Ready", "Components", "Gateway", "Age"]);
    let conditions =
        &version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    let text = serde_json::to_string(&crd).expect("json");
    for rule in [
        "service names must be unique",
        "nats replicas must be 1 or 3",
        "neither enabled nor external",
    ] {
        assert!(text.contains(rule), "missing CEL rule {rule}");
    }
}
