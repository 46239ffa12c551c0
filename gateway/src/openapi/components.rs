//! `components/schemas`: the shared error schema, and every service's `$defs` hoisted with
//! their `$ref`s rewritten.
//!
//! Services compile against one contract, so they mostly define a name identically (`Price`,
//! `Page_Customer`), and an identical definition is shared. A name two documents define
//! differently (two versions during a rollout, or an unrelated service) is kept apart: the
//! later one is renamed `<service>_<name>`, then `<service>_<hash>_<name>`.

use std::collections::BTreeMap;

use contract::ServiceError;
use contract::schema::SchemaDocument;
use contract::schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// Where a service's definition names went: name in its document → component name.
pub(super) type Renames = BTreeMap<String, String>;

/// The prefix of a reference into `components/schemas`.
const COMPONENTS: &str = "#/components/schemas/";
/// The prefix of a reference into a service document's `$defs`.
const DEFS: &str = "#/$defs/";

/// The schemas collected so far.
pub(super) struct Components {
    schemas: Map<String, Value>,
    by_hash: BTreeMap<String, Renames>,
}

impl Components {
    /// The error body's schema (`Error`, and the `ErrorCode` it uses), as the gateway and the
    /// services send it.
    pub(super) fn new() -> Self {
        let mut generator = SchemaSettings::draft2020_12()
            .for_serialize()
            .with(|s| s.definitions_path = COMPONENTS.into())
            .into_generator();
        generator.subschema_for::<ServiceError>();
        Self {
            schemas: generator.take_definitions(true),
            by_hash: BTreeMap::new(),
        }
    }

    /// Hoists the definitions of `service`'s document (content hash `hash`) once, and says
    /// where each went.
    pub(super) fn hoist(&mut self, service: &str, hash: &str, doc: &SchemaDocument) -> Renames {
        if let Some(renames) = self.by_hash.get(hash) {
            return renames.clone();
        }
        let identity: Renames = doc.defs.keys().map(|k| (k.clone(), k.clone())).collect();
        let mut renames = Renames::new();
        for (name, def) in &doc.defs {
            let as_is = rewrite(def, &identity);
            let candidates = [
                name.clone(),
                format!("{service}_{name}"),
                format!("{service}_{hash}_{name}"),
            ];
            let target = candidates
                .iter()
                .find(|c| {
                    self.schemas
                        .get(*c)
                        .is_none_or(|existing| *existing == as_is)
                })
                .unwrap_or(&candidates[2]);
            renames.insert(name.clone(), target.clone());
        }
        for (name, def) in &doc.defs {
            self.schemas
                .insert(renames[name].clone(), rewrite(def, &renames));
        }
        self.by_hash.insert(hash.to_owned(), renames.clone());
        renames
    }

    /// Every schema, by component name.
    pub(super) fn into_schemas(self) -> Map<String, Value> {
        self.schemas
    }
}

/// The component reference of the error body.
pub(super) fn error_ref() -> Value {
    serde_json::json!({ "$ref": format!("{COMPONENTS}Error") })
}

/// `value` with every `#/$defs/<name>` reference pointing at `components/schemas`, renamed.
pub(super) fn rewrite(value: &Value, renames: &Renames) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                let value = match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => match target.strip_prefix(DEFS) {
                        Some(name) => Value::String(format!(
                            "{COMPONENTS}{}",
                            renames.get(name).map_or(name, String::as_str)
                        )),
                        None => value.clone(),
                    },
                    _ => rewrite(value, renames),
                };
                (key.clone(), value)
            })
            .collect(),
        Value::Array(items) => items.iter().map(|v| rewrite(v, renames)).collect(),
        other => other.clone(),
    }
}
