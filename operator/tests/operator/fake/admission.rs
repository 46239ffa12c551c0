//! Admission: the validation the API server runs on every create and update.
//!
//! - Immutable fields (422 `Invalid`, messages as the API server words them):
//!   a StatefulSet's spec may change only in `replicas`, `ordinals`, `template`,
//!   `updateStrategy`, `persistentVolumeClaimRetentionPolicy` and `minReadySeconds`
//!   (`volumeClaimTemplates`, `selector`, `serviceName`, ... are fixed); a Deployment's
//!   `selector`; a Job's `selector` and `template`; a Service's `clusterIP` once set; the data
//!   of a Secret or ConfigMap marked `immutable: true`, and the mark itself.
//! - Volume expansion ([`resize`]): a PersistentVolumeClaim's storage request may shrink never
//!   (422) and grow only when its StorageClass (named, or the default class) sets
//!   `allowVolumeExpansion: true` (403 otherwise, as the `PersistentVolumeClaimResize`
//!   admission plugin words it).
//! - The `MicroserviceStack` CRD's CEL rules (`x-kubernetes-validations` of the generated
//!   CRD), on create and on update with `oldSelf`; a transition rule is skipped where the old
//!   value is absent, as the API server does. The root rules on `metadata.name` run too: the
//!   API server knows `metadata.name`'s schema although the CRD does not spell it out.

use std::sync::OnceLock;

use kube::CustomResourceExt as _;
use serde_json::{Value, json};

use super::http::{ApiError, qualified_kind, resource};
use super::store::State;

/// Where StorageClasses are stored (cluster-scoped).
pub const STORAGE_CLASSES: &str = "/apis/storage.k8s.io/v1/storageclasses";

/// Spec fields of a StatefulSet an update may change.
const STATEFUL_SET_MUTABLE: [&str; 6] = [
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn without(spec: &Value, fields: &[&str]) -> Value {
    let mut spec = spec.clone();
    if let Some(o) = spec.as_object_mut() {
        for field in fields {
            o.remove(*field);
        }
    }
    spec
}

fn immutable(path: &str, value: &Value) -> String {
    format!("{path}: Invalid value: {value}: field is immutable")
}

/// The causes for which the update of `old` to `new` is refused.
fn immutable_fields(collection: &str, old: &Value, new: &Value) -> Vec<String> {
    let mut causes = Vec::new();
    let changed = |pointer: &str| old.pointer(pointer) != new.pointer(pointer);
    match resource(collection) {
        "statefulsets"
            if without(&old["spec"], &STATEFUL_SET_MUTABLE)
                != without(&new["spec"], &STATEFUL_SET_MUTABLE) =>
        {
            causes.push(
                "spec: Forbidden: updates to statefulset spec for fields other than \
                 'replicas', 'ordinals', 'template', 'updateStrategy', \
                 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
                    .to_owned(),
            );
        }
        "deployments" if changed("/spec/selector") => {
            causes.push(immutable("spec.selector", &new["spec"]["selector"]));
        }
        "jobs" => {
            for field in ["selector", "template"] {
                if changed(&format!("/spec/{field}")) {
                    causes.push(immutable(&format!("spec.{field}"), &new["spec"][field]));
                }
            }
        }
        "services" if old["spec"]["clusterIP"].is_string() && changed("/spec/clusterIP") => {
            causes.push(format!(
                "spec.clusterIPs[0]: Invalid value: {}: may not change once set",
                new["spec"]["clusterIP"]
            ));
        }
        "secrets" | "configmaps" if old["immutable"] == true => {
            if new["immutable"] != true {
                causes.push(
                    "immutable: Forbidden: field is immutable when `immutable` is set".into(),
                );
            }
            if ["data", "stringData", "binaryData"]
                .iter()
                .any(|f| old.get(*f) != new.get(*f))
            {
                causes.push("data: Forbidden: field is immutable when `immutable` is set".into());
            }
        }
        _ => {}
    }
    causes
}

/// The CRD's schema, with `metadata.name` as the API server supplies it.
fn stack_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let crd = serde_json::to_value(operator::crd::MicroserviceStack::crd()).expect("crd");
        let mut schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
        schema["properties"]["metadata"] =
            json!({"type": "object", "properties": {"name": {"type": "string"}}});
        schema
    })
}

/// The CEL verdict on a stack (`old` on update).
fn cel(new: &Value, old: Option<&Value>) -> Vec<String> {
    // Only what the schema describes is validated (the rest of metadata is the server's).
    let trim = |v: &Value| {
        let mut v = v.clone();
        v["metadata"] = json!({"name": v["metadata"]["name"]});
        if let Some(o) = v.as_object_mut() {
            o.remove("status");
        }
        v
    };
    let old = old.map(trim);
    match kube::core::cel::Validator::new().validate(stack_schema(), &trim(new), old.as_ref()) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| format!("{}: Invalid value: \"object\": {}", e.field_path, e.message))
            .collect(),
    }
}

/// Admits a create (`old` absent) or an update of `new`.
///
/// # Errors
/// 422 `Invalid` naming every refused field.
pub(super) fn admit(collection: &str, old: Option<&Value>, new: &Value) -> Result<(), ApiError> {
    let mut causes = match old {
        Some(old) => immutable_fields(collection, old, new),
        None => Vec::new(),
    };
    if resource(collection) == "microservicestacks" {
        causes.extend(cel(new, old));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &qualified_kind(collection, new),
            new["metadata"]["name"].as_str().unwrap_or_default(),
            &causes,
        ))
    }
}

/// Admits a change of a PersistentVolumeClaim's storage request (see the module doc).
///
/// # Errors
/// 422 on a shrink, 403 on a growth its StorageClass does not allow.
pub(super) fn resize(
    state: &State,
    collection: &str,
    old: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    const REQUEST: &str = "/spec/resources/requests/storage";
    if resource(collection) != "persistentvolumeclaims"
        || old.pointer(REQUEST) == new.pointer(REQUEST)
    {
        return Ok(());
    }
    let bytes = |v: &Value| {
        v.pointer(REQUEST).and_then(Value::as_str).and_then(|q| {
            operator::manifests::pods::memory_bytes(
                &k8s_openapi::apimachinery::pkg::api::resource::Quantity(q.to_owned()),
            )
        })
    };
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    if bytes(new) < bytes(old) {
        return Err(ApiError::invalid(
            "PersistentVolumeClaim",
            name,
            &["spec.resources.requests.storage: Forbidden: field can not be less than status.capacity".to_owned()],
        ));
    }
    let class_name = new["spec"]["storageClassName"].as_str();
    let class = state
        .objects
        .iter()
        .filter(|((c, _), _)| c == STORAGE_CLASSES)
        .map(|(_, sc)| sc)
        .find(|sc| match class_name {
            Some(wanted) => sc["metadata"]["name"] == wanted,
            None => {
                sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
                    == "true"
            }
        });
    if class.is_some_and(|sc| sc["allowVolumeExpansion"] == true) {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "persistentvolumeclaims \"{name}\" is forbidden: only dynamically provisioned pvc \
                 can be resized and the storageclass that provisions the pvc must support resize"
            ),
        ))
    }
}
