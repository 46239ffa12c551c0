//! Assembly of the document from routes and schema documents, without NATS.

use contract::schema::SchemaSet;
use contract::{Operation, customers, products};
use serde_json::json;

use super::*;

fn route<O: Operation>(hash: Option<&str>) -> Route {
    let meta = O::meta();
    Route {
        method: meta.method,
        path: meta.path.into(),
        auth: meta.auth,
        success_status: meta.success_status,
        summary: meta.summary,
        subject: O::subject(),
        service: O::SERVICE.to_owned(),
        version: "1.0.0".to_owned(),
        endpoint: O::NAME.to_owned(),
        schema_hash: hash.map(str::to_owned),
    }
}

/// The customers and products routes, with their services' documents in the cache.
fn world() -> (Vec<Route>, SchemaCache) {
    let mut cache = SchemaCache::default();
    let mut set = SchemaSet::new();
    set.add::<customers::ListCustomers>();
    set.add::<customers::GetCustomer>();
    set.add::<customers::CreateCustomer>();
    set.add::<customers::DeleteCustomer>();
    let c = cache.insert(&set.finish().to_bytes()).unwrap();
    let mut set = SchemaSet::new();
    set.add::<products::ListProducts>();
    set.add::<products::UpdateProduct>();
    let p = cache.insert(&set.finish().to_bytes()).unwrap();
    let routes = vec![
        route::<customers::ListCustomers>(Some(&c)),
        route::<customers::GetCustomer>(Some(&c)),
        route::<customers::CreateCustomer>(Some(&c)),
        route::<customers::DeleteCustomer>(Some(&c)),
        route::<products::ListProducts>(Some(&p)),
        route::<products::UpdateProduct>(Some(&p)),
    ];
    (routes, cache)
}

fn param<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no parameter {name} in {op}"))
}

#[test]
fn query_parameters_carry_types_bounds_defaults_and_enums() {
    let (routes, cache) = world();
    let doc = document(&routes, &cache);
    let list = &doc["paths"]["/customers"]["get"];
    assert_eq!(list["operationId"], "customers_list");
    assert_eq!(list["tags"], json!(["customers"]));
    let limit = param(list, "limit");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["required"], false);
    assert_eq!(
        limit["schema"],
        json!({"type": "integer", "format": "uint32", "minimum": 1, "maximum": 100, "default": 20})
    );
    assert!(limit["description"].is_string());
    let sort = &param(list, "sort")["schema"];
    assert!(sort["enum"].as_array().unwrap().contains(&json!("-city")));
    let products = &doc["paths"]["/products"]["get"];
    assert_eq!(param(products, "discontinued")["schema"]["type"], "boolean");
    assert_eq!(
        param(products, "min_price")["schema"]["$ref"],
        "#/components/schemas/Price"
    );
    let page = &list["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(page["$ref"], "#/components/schemas/Page_Customer");
    assert!(list["responses"]["422"].is_object());
    assert!(
        list["responses"]["404"].is_null(),
        "no resource in the path"
    );
}

#[test]
fn path_parameters_bodies_and_statuses_follow_the_schemas() {
    let (routes, cache) = world();
    let doc = document(&routes, &cache);
    let get = &doc["paths"]["/customers/{id}"]["get"];
    let id = param(get, "id");
    assert_eq!(
        (id["in"].as_str(), id["required"].as_bool()),
        (Some("path"), Some(true))
    );
    assert_eq!(id["schema"]["pattern"], "^[A-Za-z]{5}$");
    assert!(get.get("requestBody").is_none());
    let product_id = param(&doc["paths"]["/products/{id}"]["patch"], "id");
    assert_eq!(product_id["schema"]["type"], "integer");

    let create = &doc["paths"]["/customers"]["post"];
    assert_eq!(create["requestBody"]["required"], true);
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/NewCustomer"
    );
    let created = &create["responses"]["201"]["content"]["application/json"]["schema"];
    assert_eq!(created["$ref"], "#/components/schemas/Customer");
    for status in [
        "400", "401", "409", "413", "415", "422", "429", "503", "504",
    ] {
        assert_eq!(
            create["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "{status}"
        );
    }
    assert!(create["responses"]["403"].is_null());
    assert!(create["responses"]["500"].is_null());
    let key = param(create, "Idempotency-Key");
    assert_eq!(
        (key["in"].as_str(), key["required"].as_bool()),
        (Some("header"), Some(false))
    );
    assert_eq!(key["schema"]["maxLength"], 255);
    let no_key = |op: &Value| {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "Idempotency-Key")
    };
    assert!(no_key(get), "only POSTs take a key");
    assert!(no_key(&doc["paths"]["/products/{id}"]["patch"]));

    let delete = &doc["paths"]["/customers/{id}"]["delete"];
    assert!(delete["responses"]["204"]["content"].is_null());
    assert!(delete["responses"]["403"].is_object());
    assert!(delete["responses"]["422"].is_null(), "nothing to validate");
    assert_eq!(delete["security"], json!([{ "bearer": [] }]));

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "NewCustomer",
        "Customer",
        "Page_Customer",
        "ProductPatch",
        "Price",
        "Error",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
    let text = doc.to_string();
    assert!(!text.contains("#/$defs/"), "every $ref is rewritten");
}

#[test]
fn an_operation_without_a_published_schema_is_listed_with_unspecified_bodies() {
    let routes = vec![
        route::<customers::CreateCustomer>(None),
        route::<customers::GetCustomer>(Some("0000000000000000")),
    ];
    let doc = document(&routes, &SchemaCache::default());
    let create = &doc["paths"]["/customers"]["post"];
    assert_eq!(create["requestBody"]["required"], false);
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"],
        json!({})
    );
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"],
        json!({})
    );
    let get = &doc["paths"]["/customers/{id}"]["get"];
    assert_eq!(param(get, "id")["schema"], json!({ "type": "string" }));
}

#[test]
fn a_name_defined_differently_by_two_services_is_kept_apart() {
    let mut cache = SchemaCache::default();
    let mut set = SchemaSet::new();
    set.add::<customers::GetCustomer>();
    let a = cache.insert(&set.finish().to_bytes()).unwrap();
    let mut other: contract::schema::SchemaDocument = serde_json::from_slice(
        &{
            let mut set = SchemaSet::new();
            set.add::<customers::GetCustomer>();
            set.finish()
        }
        .to_bytes(),
    )
    .unwrap();
    other
        .defs
        .insert("Customer".into(), json!({ "type": "string" }));
    let b = cache.insert(&other.to_bytes()).unwrap();
    let mut routes = vec![route::<customers::GetCustomer>(Some(&a))];
    let mut second = route::<customers::GetCustomer>(Some(&b));
    second.service = "crm".into();
    second.path = "/crm/{id}".into();
    routes.push(second);
    let doc = document(&routes, &cache);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Customer"]["type"], "object");
    assert_eq!(schemas["crm_Customer"]["type"], "string");
    let ok = |path: &str| {
        doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"]
            .clone()
    };
    assert_eq!(ok("/customers/{id}"), "#/components/schemas/Customer");
    assert_eq!(ok("/crm/{id}"), "#/components/schemas/crm_Customer");
}

#[test]
fn the_etag_follows_the_content() {
    let (routes, cache) = world();
    let one = ApiDocument::build(&routes, &cache);
    assert_eq!(one.etag, ApiDocument::build(&routes, &cache).etag);
    assert!(one.etag.starts_with('"') && one.etag.ends_with('"'));
    let fewer = ApiDocument::build(&routes[1..], &cache);
    assert_ne!(one.etag, fewer.etag);
    let parsed: Value = serde_json::from_slice(&one.bytes).unwrap();
    assert_eq!(parsed["openapi"], "3.1.0");
}
