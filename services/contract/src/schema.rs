//! JSON Schemas of the operations, as a service publishes them over NATS.
//!
//! Every DTO in this crate derives [`schemars::JsonSchema`] with the constraints its service
//! enforces (lengths, bounds, patterns, enums, defaults), so the schema says what the service
//! accepts without a 4xx. A service collects the schemas of its operations into one
//! [`SchemaDocument`] with a [`SchemaSet`]:
//!
//! ```
//! use contract::schema::SchemaSet;
//! let mut set = SchemaSet::new();
//! set.add::<contract::customers::GetCustomer>();
//! let doc = set.finish();
//! let get = &doc.operations["get"];
//! assert_eq!(get.params["properties"]["id"]["pattern"], "^[A-Za-z]{5}$");
//! assert!(get.body.is_none());
//! assert_eq!(get.response.as_ref().unwrap()["$ref"], "#/$defs/Customer");
//! ```
//!
//! **How it travels.** Endpoint metadata comes back in every `$SRV.INFO` reply, so it must
//! stay small: instead of schemas it carries [`metadata::SCHEMA_HASH`](crate::metadata::SCHEMA_HASH),
//! a short content hash of the service's document ([`hash`]). The document itself is served
//! by one more endpoint of the service, [`SCHEMA_ENDPOINT`] (subject `<service>.schema`,
//! metadata `natstack.kind=schema` and no `http.*` keys, so it is never routed). A reader
//! fetches the document once per hash and caches it: the hash changes exactly when the
//! schemas do.
//!
//! **The document.** `operations` maps each endpoint name to its parts: `params` and `query`
//! are inline object schemas (one property per parameter), `body` and `response` are schemas
//! or absent (no body, no content). Named types live once in `$defs`, referenced as
//! `#/$defs/<Name>`; the keys are sorted, so equal schemas give equal bytes and equal hashes.

use std::any::TypeId;
use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Operation;

/// The endpoint name of a service's schema document: subject `<service>.schema`.
pub const SCHEMA_ENDPOINT: &str = "schema";

/// The subject of `service`'s schema document.
pub fn subject(service: &str) -> String {
    format!("{service}.{SCHEMA_ENDPOINT}")
}

/// The schemas of one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationSchemas {
    /// The path parameters: an object schema with one property per parameter.
    pub params: Value,
    /// The query parameters: an object schema with one property per parameter.
    pub query: Value,
    /// The JSON body, or `None` when the operation takes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The success body, or `None` when the operation answers with no content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// Every operation's schemas of one service, with the named types they share.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaDocument {
    /// The schemas of each endpoint, by endpoint name (`list`, `get`, …).
    pub operations: BTreeMap<String, OperationSchemas>,
    /// Named types, referenced as `#/$defs/<Name>`.
    #[serde(rename = "$defs", default)]
    pub defs: BTreeMap<String, Value>,
}

impl SchemaDocument {
    /// The document as JSON bytes (keys sorted, so the bytes are a function of the content).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a document of JSON values always serialises")
    }
}

/// The content hash of a schema document's bytes: the first 16 hex digits of its SHA-256,
/// short enough to ride in every endpoint's metadata.
pub fn hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Collects the schemas of a service's operations into one [`SchemaDocument`].
pub struct SchemaSet {
    generator: SchemaGenerator,
    operations: BTreeMap<String, OperationSchemas>,
}

impl Default for SchemaSet {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaSet {
    /// An empty set generating JSON Schema 2020-12 (the dialect of OpenAPI 3.1), describing
    /// what deserialises: the services' side of every request.
    pub fn new() -> Self {
        Self {
            generator: SchemaSettings::draft2020_12().into_generator(),
            operations: BTreeMap::new(),
        }
    }

    /// Adds the schemas of operation `O`, under its endpoint name.
    pub fn add<O: Operation>(&mut self) {
        let mut schemas = OperationSchemas {
            params: O::Params::json_schema(&mut self.generator).to_value(),
            query: O::Query::json_schema(&mut self.generator).to_value(),
            body: self.part::<O::Body>(),
            response: self.part::<O::Response>(),
        };
        for part in [&mut schemas.params, &mut schemas.query]
            .into_iter()
            .chain(schemas.body.as_mut())
            .chain(schemas.response.as_mut())
        {
            tidy(part);
        }
        self.operations.insert(O::NAME.to_owned(), schemas);
    }

    /// A body's schema; `()` stands for no body at all.
    fn part<T: JsonSchema + 'static>(&mut self) -> Option<Value> {
        (TypeId::of::<T>() != TypeId::of::<()>())
            .then(|| self.generator.subschema_for::<T>().to_value())
    }

    /// The document of every operation added.
    pub fn finish(mut self) -> SchemaDocument {
        let mut defs: BTreeMap<String, Value> =
            self.generator.take_definitions(true).into_iter().collect();
        defs.values_mut().for_each(tidy);
        SchemaDocument {
            operations: self.operations,
            defs,
        }
    }
}

/// Turns rustdoc links in descriptions (``[`Name`]``) into plain code spans: the schemas'
/// readers have no rustdoc to follow them to.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(text) if key == "description" => {
                        *text = text.replace("[`", "`").replace("`]", "`");
                    }
                    _ => tidy(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// The schema of a `sort` parameter over keys `K`: each key name, ascending or with a `-`
/// prefix for descending.
pub fn sort_schema<K: crate::page::SortKey>(_: &mut SchemaGenerator) -> schemars::Schema {
    let names: Vec<String> = K::ALL
        .iter()
        .flat_map(|k| [k.name().to_owned(), format!("-{}", k.name())])
        .collect();
    schemars::json_schema!({
        "type": "string",
        "enum": names,
        "description": "The sort column; a `-` prefix sorts descending.",
    })
}

/// Regex of a text that is not blank: at least one character that is not whitespace, as
/// the services' `str::trim` sees it. A schema's `pattern` is an ECMA-262 regex, whose `\s`
/// lacks one character Rust counts as whitespace (U+0085, NEXT LINE): without it, a text of
/// only that would pass the schema and still be refused as blank.
pub const NOT_BLANK: &str = r"[^\s\u0085]";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth, customers, products};

    /// What ECMA-262's `\s` matches: WhiteSpace (TAB, VT, FF, ZWNBSP and the Zs category)
    /// and LineTerminator (LF, CR, LS, PS).
    fn ecma_space(c: char) -> bool {
        ('\u{2000}'..='\u{200a}').contains(&c)
            || "\t\u{b}\u{c}\u{feff} \u{a0}\u{1680}\u{202f}\u{205f}\u{3000}\n\r\u{2028}\u{2029}"
                .contains(c)
    }

    #[test]
    fn not_blank_excludes_every_character_trim_removes() {
        assert_eq!(NOT_BLANK, r"[^\s\u0085]");
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            if c.is_whitespace() {
                assert!(ecma_space(c) || c == '\u{85}', "{:#x}", u32::from(c));
            }
        }
    }

    fn customers() -> SchemaDocument {
        let mut set = SchemaSet::new();
        set.add::<customers::ListCustomers>();
        set.add::<customers::CreateCustomer>();
        set.add::<customers::UpdateCustomer>();
        set.add::<customers::DeleteCustomer>();
        set.add::<auth::Register>();
        set.finish()
    }

    fn products() -> SchemaDocument {
        let mut set = SchemaSet::new();
        set.add::<products::ListProducts>();
        set.add::<products::GetProduct>();
        set.finish()
    }

    #[test]
    fn list_queries_carry_types_bounds_defaults_and_sort_keys() {
        let doc = customers();
        let query = &doc.operations["list"].query;
        let props = &query["properties"];
        assert_eq!(props["limit"]["maximum"], 100);
        assert_eq!(props["limit"]["minimum"], 1);
        assert_eq!(props["limit"]["default"], 20);
        assert_eq!(props["page"]["default"], 1);
        assert_eq!(props["q"]["maxLength"], 100);
        let sorts = props["sort"]["enum"].as_array().unwrap();
        assert!(sorts.contains(&"-company_name".into()), "{sorts:?}");
        assert_eq!(query["additionalProperties"], false);
        assert_eq!(props["limit"]["description"], "Rows per page.");
    }

    #[test]
    fn bodies_carry_required_fields_and_limits() {
        let doc = customers();
        let create = doc.operations["create"].body.as_ref().unwrap();
        assert_eq!(create["$ref"], "#/$defs/NewCustomer");
        let new = &doc.defs["NewCustomer"];
        assert_eq!(
            new["required"],
            serde_json::json!(["customer_id", "company_name"])
        );
        assert_eq!(new["properties"]["company_name"]["maxLength"], 40);
        assert_eq!(new["properties"]["city"]["maxLength"], 15);
        let patch = &doc.defs["CustomerPatch"];
        assert!(patch.get("required").is_none(), "{patch}");
        assert_eq!(patch["properties"]["company_name"]["type"], "string");
        let register = &doc.defs["RegisterRequest"]["properties"];
        assert_eq!(register["password"]["minLength"], 8);
        assert_eq!(register["username"]["maxLength"], 32);
        let delete = &doc.operations["delete"];
        assert!(delete.body.is_none() && delete.response.is_none());
    }

    #[test]
    fn products_use_numbers_booleans_and_exact_prices() {
        let doc = products();
        let props = &doc.operations["list"].query["properties"];
        assert!(
            props["discontinued"]["type"]
                .to_string()
                .contains("boolean")
        );
        assert_eq!(props["min_price"]["anyOf"][0]["$ref"], "#/$defs/Price");
        assert_eq!(doc.defs["Price"]["type"], "string");
        let id = &doc.operations["get"].params["properties"]["id"];
        assert_eq!(id["type"], "integer");
        let page = &doc.defs["Page_Product"];
        assert_eq!(
            page["required"],
            serde_json::json!(["data", "page", "limit", "total", "pages"])
        );
    }

    #[test]
    fn the_hash_follows_the_content() {
        let bytes = customers().to_bytes();
        assert_eq!(hash(&bytes), hash(&customers().to_bytes()));
        assert_eq!(hash(&bytes).len(), 16);
        let mut other = customers();
        other.operations.remove("delete");
        assert_ne!(hash(&bytes), hash(&other.to_bytes()));
        let back: SchemaDocument = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, customers());
    }
}
