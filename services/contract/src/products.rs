//! The products service's operations and DTOs (Northwind `products`, `categories`,
//! `suppliers`).
//!
//! | Operation | Subject | HTTP | Auth |
//! |---|---|---|---|
//! | [`ListProducts`] | `products.list` | `GET /products` | user |
//! | [`GetProduct`] | `products.get` | `GET /products/{id}` | user |
//! | [`CreateProduct`] | `products.create` | `POST /products` (201) | user |
//! | [`UpdateProduct`] | `products.update` | `PATCH /products/{id}` | user |
//! | [`DeleteProduct`] | `products.delete` | `DELETE /products/{id}` (204) | admin |
//! | [`ListCategories`] | `products.categories` | `GET /categories` | user |
//! | [`ListSuppliers`] | `products.suppliers` | `GET /suppliers` | user |
//!
//! Money is exact: see [`Price`].

use std::fmt;
use std::str::FromStr;

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::contact::Contact;
use crate::operation;
use crate::page::{MAX_FILTER_CHARS, Page, PageQuery, SortKey, list_query};
use crate::schema::{NOT_BLANK, sort_schema};

/// Limits of the `products` columns; values outside them are refused with 422.
pub mod limits {
    /// `product_name`, in characters.
    pub const PRODUCT_NAME: usize = 40;
    /// `quantity_per_unit`, in characters.
    pub const QUANTITY_PER_UNIT: usize = 20;
    /// The largest stock figure, category or supplier id (`smallint`).
    pub const SMALLINT_MAX: i64 = i16::MAX as i64;
    /// The largest price: `numeric(10,2)`.
    pub const PRICE_MAX: &str = "99999999.99";
    /// Decimal places a price may have.
    pub const PRICE_SCALE: u32 = 2;
    /// The prices accepted without a 422, and the form of every price answered: up to eight
    /// digits, then optionally up to two decimals.
    pub const PRICE_PATTERN: &str = r"^[0-9]{1,8}(\.[0-9]{1,2})?$";
}

/// An exact decimal amount of money.
///
/// **On the wire a price is a JSON string** holding a plain decimal, e.g. `"18.00"`: JSON
/// numbers are binary floats in most clients, and Northwind's own `real` column turned 0.15
/// into 0.15000000596. The service stores `numeric(10,2)` and always answers with two
/// decimals. On input a JSON number (`18` or `18.5`) is accepted too and read as the decimal
/// it spells. A value that is not a plain decimal is malformed (400); one with more than two
/// decimals, negative, or over 99999999.99 is invalid (422).
///
/// ```
/// use contract::products::Price;
/// let p: Price = serde_json::from_str("\"18.00\"").unwrap();
/// assert_eq!(p.as_str(), "18.00");
/// let p: Price = serde_json::from_str("18.5").unwrap();
/// assert_eq!(p.as_str(), "18.5");
/// assert_eq!(serde_json::to_string(&p).unwrap(), "\"18.5\"");
/// assert!(serde_json::from_str::<Price>("\"1e3\"").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Price(String);

/// Why a string is not a plain decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a decimal amount like 18.00")]
pub struct PriceError(String);

impl Price {
    /// The decimal text, e.g. `18.00`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Price {
    type Err = PriceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = match digits.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (digits, None),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        // 40 characters bound the work and are far beyond any numeric(10,2).
        if s.len() <= 40 && all_digits(int) && frac.is_none_or(all_digits) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PriceError(s.chars().take(40).collect()))
        }
    }
}

impl JsonSchema for Price {
    fn schema_name() -> Cow<'static, str> {
        "Price".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // A JSON number is accepted on input too, but the string is the form to send.
        json_schema!({
            "type": "string",
            "pattern": limits::PRICE_PATTERN,
            "description": "An exact decimal amount, e.g. \"18.00\".",
            "examples": ["18.00"],
        })
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(serde_json::Number),
        }
        let text = match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("expected a decimal string like \"18.00\""))?
        {
            Raw::Text(text) => text,
            // Display of a float is its shortest exact round-trip form (18.5, never
            // 18.499999), so the decimal the client wrote survives.
            Raw::Number(number) => number.to_string(),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A product, with the names of its category and supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Product {
    /// Server-assigned id.
    pub product_id: i64,
    /// Name.
    pub product_name: String,
    /// Supplier id, if any.
    pub supplier_id: Option<i16>,
    /// The supplier's company name (read-only).
    pub supplier_name: Option<String>,
    /// Category id, if any.
    pub category_id: Option<i16>,
    /// The category's name (read-only).
    pub category_name: Option<String>,
    /// Packaging, e.g. `10 boxes x 20 bags`.
    pub quantity_per_unit: Option<String>,
    /// Unit price, exact, always with two decimals (`"18.00"`).
    pub unit_price: Option<Price>,
    /// Units in stock.
    pub units_in_stock: Option<i16>,
    /// Units on order.
    pub units_on_order: Option<i16>,
    /// Stock level that triggers a reorder.
    pub reorder_level: Option<i16>,
    /// Whether the product is no longer sold.
    pub discontinued: bool,
}

/// A product category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Category {
    /// Id.
    pub category_id: i16,
    /// Name.
    pub category_name: String,
    /// Description.
    pub description: Option<String>,
}

/// A supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Supplier {
    /// Id.
    pub supplier_id: i16,
    /// Company name.
    pub company_name: String,
    /// Contact person, address and numbers.
    #[serde(flatten)]
    pub contact: Contact,
    /// Home page (Northwind's `#text#URL#` hyperlink notation).
    pub homepage: Option<String>,
}

/// The `{id}` path parameter. A non-number is malformed (400); a number no product has is 404.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIdParams {
    /// The product id.
    #[serde(default, deserialize_with = "crate::de::opt_from_str")]
    #[schemars(required, with = "i64")]
    pub id: Option<i64>,
}

impl ProductIdParams {
    /// Parameters naming product `id`.
    pub fn new(id: i64) -> Self {
        Self { id: Some(id) }
    }
}

/// The sortable columns of [`ListProducts`]; the primary key breaks ties, and NULLs sort
/// last ascending and first descending (PostgreSQL's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductSort {
    /// `product_id` (the default).
    ProductId,
    /// `product_name`.
    ProductName,
    /// `unit_price`.
    UnitPrice,
    /// `units_in_stock`.
    UnitsInStock,
    /// `category_id`.
    CategoryId,
    /// `supplier_id`.
    SupplierId,
}

impl SortKey for ProductSort {
    const ALL: &'static [Self] = &[
        Self::ProductId,
        Self::ProductName,
        Self::UnitPrice,
        Self::UnitsInStock,
        Self::CategoryId,
        Self::SupplierId,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::ProductId => "product_id",
            Self::ProductName => "product_name",
            Self::UnitPrice => "unit_price",
            Self::UnitsInStock => "units_in_stock",
            Self::CategoryId => "category_id",
            Self::SupplierId => "supplier_id",
        }
    }
}

list_query! {
    /// Query of [`ListProducts`]. Every filter is optional and they combine with AND. Numbers and
    /// booleans may arrive as strings (`"true"`), as the gateway sends them.
    #[serde_with::skip_serializing_none]
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ListProductsQuery {
        /// Case-insensitive substring of the product name (`%` and `_` match literally).
        #[serde(default)]
        #[schemars(length(max = MAX_FILTER_CHARS))]
        pub q: Option<String>,
        /// Only this category.
        #[serde(default, deserialize_with = "crate::de::opt_from_str")]
        pub category_id: Option<i64>,
        /// Only this supplier.
        #[serde(default, deserialize_with = "crate::de::opt_from_str")]
        pub supplier_id: Option<i64>,
        /// Only discontinued (`true`) or only current (`false`) products.
        #[serde(default, deserialize_with = "crate::de::opt_from_str")]
        pub discontinued: Option<bool>,
        /// Unit price at least this (inclusive).
        #[serde(default, deserialize_with = "crate::de::opt_from_str")]
        pub min_price: Option<Price>,
        /// Unit price at most this (inclusive).
        #[serde(default, deserialize_with = "crate::de::opt_from_str")]
        pub max_price: Option<Price>,
        /// Only products with stock (`true`: `units_in_stock > 0`) or without (`false`: zero or
        /// unknown).
        #[serde(default, deserialize_with = "crate::de::opt_from_str")]
        pub in_stock: Option<bool>,
        /// A [`ProductSort`] name, `-` prefixed for descending (default `product_id`).
        #[serde(default)]
        #[schemars(schema_with = "sort_schema::<ProductSort>")]
        pub sort: Option<String>,
    }
}

/// Body of [`CreateProduct`]. `product_name` is required (422 when missing); the id is
/// assigned by the server. Integers are checked against `smallint` and must not be negative
/// (422), and `category_id`/`supplier_id` must name existing rows (422).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    /// Name: not blank, at most [`limits::PRODUCT_NAME`] characters.
    #[schemars(required, with = "String", length(min = 1, max = limits::PRODUCT_NAME), regex(pattern = NOT_BLANK))]
    pub product_name: Option<String>,
    /// Supplier id.
    #[serde(default)]
    #[schemars(range(min = 1, max = limits::SMALLINT_MAX))]
    pub supplier_id: Option<i64>,
    /// Category id.
    #[serde(default)]
    #[schemars(range(min = 1, max = limits::SMALLINT_MAX))]
    pub category_id: Option<i64>,
    /// Packaging.
    #[serde(default)]
    #[schemars(length(max = limits::QUANTITY_PER_UNIT))]
    pub quantity_per_unit: Option<String>,
    /// Unit price.
    #[serde(default)]
    pub unit_price: Option<Price>,
    /// Units in stock.
    #[serde(default)]
    #[schemars(range(min = 0, max = limits::SMALLINT_MAX))]
    pub units_in_stock: Option<i64>,
    /// Units on order.
    #[serde(default)]
    #[schemars(range(min = 0, max = limits::SMALLINT_MAX))]
    pub units_on_order: Option<i64>,
    /// Reorder level.
    #[serde(default)]
    #[schemars(range(min = 0, max = limits::SMALLINT_MAX))]
    pub reorder_level: Option<i64>,
    /// Discontinued (default `false`).
    #[serde(default)]
    pub discontinued: Option<bool>,
}

/// Body of [`UpdateProduct`]: only the fields present change; `null` sets a nullable column
/// to NULL. `product_name` and `discontinued` cannot be null (422). The same rules as
/// [`NewProduct`] apply to each value.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// New name.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "String", length(min = 1, max = limits::PRODUCT_NAME), regex(pattern = NOT_BLANK))]
    pub product_name: Option<Option<String>>,
    /// New supplier id.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<i64>", range(min = 1, max = limits::SMALLINT_MAX))]
    pub supplier_id: Option<Option<i64>>,
    /// New category id.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<i64>", range(min = 1, max = limits::SMALLINT_MAX))]
    pub category_id: Option<Option<i64>>,
    /// New packaging.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::QUANTITY_PER_UNIT))]
    pub quantity_per_unit: Option<Option<String>>,
    /// New unit price.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<Price>")]
    pub unit_price: Option<Option<Price>>,
    /// New units in stock.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<i64>", range(min = 0, max = limits::SMALLINT_MAX))]
    pub units_in_stock: Option<Option<i64>>,
    /// New units on order.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<i64>", range(min = 0, max = limits::SMALLINT_MAX))]
    pub units_on_order: Option<Option<i64>>,
    /// New reorder level.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<i64>", range(min = 0, max = limits::SMALLINT_MAX))]
    pub reorder_level: Option<Option<i64>>,
    /// New discontinued flag.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "bool")]
    pub discontinued: Option<Option<bool>>,
}

operation! {
    /// List products (paginated, searchable, filterable, sortable)
    pub ListProducts: "products"."list", GET "/products", auth User, status 200,
        params crate::Empty, query ListProductsQuery, body (), response Page<Product>;

    /// Get one product by id, with its category and supplier names
    pub GetProduct: "products"."get", GET "/products/{id}", auth User, status 200,
        params ProductIdParams, query crate::Empty, body (), response Product;

    /// Create a product (the id is assigned by the server)
    pub CreateProduct: "products"."create", POST "/products", auth User, status 201,
        params crate::Empty, query crate::Empty, body NewProduct, response Product;

    /// Update some fields of a product and return it
    pub UpdateProduct: "products"."update", PATCH "/products/{id}", auth User, status 200,
        params ProductIdParams, query crate::Empty, body ProductPatch, response Product;

    /// Delete a product
    pub DeleteProduct: "products"."delete", DELETE "/products/{id}", auth Admin, status 204,
        params ProductIdParams, query crate::Empty, body (), response ();

    /// List product categories (paginated)
    pub ListCategories: "products"."categories", GET "/categories", auth User, status 200,
        params crate::Empty, query PageQuery, body (), response Page<Category>;

    /// List suppliers (paginated)
    pub ListSuppliers: "products"."suppliers", GET "/suppliers", auth User, status 200,
        params crate::Empty, query PageQuery, body (), response Page<Supplier>
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_accepts_plain_decimals_only() {
        for ok in ["0", "18", "18.00", "0.5", "-1.25", "99999999.99"] {
            assert_eq!(ok.parse::<Price>().unwrap().as_str(), ok);
        }
        for bad in [
            "", "-", ".5", "5.", "1e3", "NaN", "1,5", " 1", "0x10", "1.2.3",
        ] {
            assert!(bad.parse::<Price>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Price>("true").is_err());
        let q: ListProductsQuery =
            serde_json::from_str(r#"{"min_price":"10.5","discontinued":"true"}"#).unwrap();
        assert_eq!(q.min_price.unwrap().as_str(), "10.5");
        assert_eq!(q.discontinued, Some(true));
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let patch: ProductPatch =
            serde_json::from_str(r#"{"unit_price":null,"units_in_stock":3}"#).unwrap();
        assert_eq!(patch.unit_price, Some(None));
        assert_eq!(patch.units_in_stock, Some(Some(3)));
        assert_eq!(patch.product_name, None);
    }
}
