//! The customers service's operations and DTOs (Northwind `customers`).
//!
//! | Operation | Subject | HTTP | Auth |
//! |---|---|---|---|
//! | [`ListCustomers`] | `customers.list` | `GET /customers` | user |
//! | [`GetCustomer`] | `customers.get` | `GET /customers/{id}` | user |
//! | [`CreateCustomer`] | `customers.create` | `POST /customers` (201) | user |
//! | [`UpdateCustomer`] | `customers.update` | `PATCH /customers/{id}` | user |
//! | [`DeleteCustomer`] | `customers.delete` | `DELETE /customers/{id}` (204) | admin |
//!
//! Customer ids are five letters (`ALFKI`); the service upper-cases them, so `alfki` names the
//! same customer. Text fields are stored exactly as sent (no trimming), and each is limited to
//! its column's length in characters (see [`limits`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::contact::Contact;
use crate::operation;
use crate::page::{MAX_FILTER_CHARS, Page, SortKey, list_query};
use crate::schema::{NOT_BLANK, sort_schema};

/// The column lengths of the `customers` table, in characters; longer values are refused
/// with 422.
pub mod limits {
    /// `customer_id`: exactly this many letters.
    pub const CUSTOMER_ID: usize = 5;
    /// `company_name`.
    pub const COMPANY_NAME: usize = 40;
    /// `contact_name`.
    pub const CONTACT_NAME: usize = 30;
    /// `contact_title`.
    pub const CONTACT_TITLE: usize = 30;
    /// `address`.
    pub const ADDRESS: usize = 60;
    /// `city`.
    pub const CITY: usize = 15;
    /// `region`.
    pub const REGION: usize = 15;
    /// `postal_code`.
    pub const POSTAL_CODE: usize = 10;
    /// `country`.
    pub const COUNTRY: usize = 15;
    /// `phone`.
    pub const PHONE: usize = 24;
    /// `fax`.
    pub const FAX: usize = 24;
}

/// A customer: every Northwind column; `null` where the row has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Customer {
    /// Five upper-case letters, e.g. `ALFKI`.
    pub customer_id: String,
    /// Company name (always present).
    pub company_name: String,
    /// Contact person, address and numbers.
    #[serde(flatten)]
    pub contact: Contact,
}

/// What a customer id looks like: five ASCII letters, in either case.
pub const ID_PATTERN: &str = "^[A-Za-z]{5}$";

/// The `{id}` path parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIdParams {
    /// The customer id (case-insensitive); anything but five letters names no customer (404).
    #[schemars(regex(pattern = ID_PATTERN))]
    pub id: String,
}

impl CustomerIdParams {
    /// Parameters naming customer `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// The sortable columns of [`ListCustomers`]; the primary key breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    /// `customer_id` (the default).
    CustomerId,
    /// `company_name`.
    CompanyName,
    /// `contact_name`.
    ContactName,
    /// `city`.
    City,
    /// `country`.
    Country,
}

impl SortKey for CustomerSort {
    const ALL: &'static [Self] = &[
        Self::CustomerId,
        Self::CompanyName,
        Self::ContactName,
        Self::City,
        Self::Country,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::CustomerId => "customer_id",
            Self::CompanyName => "company_name",
            Self::ContactName => "contact_name",
            Self::City => "city",
            Self::Country => "country",
        }
    }
}

list_query! {
    /// Query of [`ListCustomers`]. Every filter is optional and they combine with AND.
    #[serde_with::skip_serializing_none]
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ListCustomersQuery {
        /// Case-insensitive substring of the company or contact name (`%` and `_` match
        /// literally).
        #[serde(default)]
        #[schemars(length(max = MAX_FILTER_CHARS))]
        pub q: Option<String>,
        /// Exact country, case-insensitive.
        #[serde(default)]
        #[schemars(length(max = MAX_FILTER_CHARS))]
        pub country: Option<String>,
        /// Exact city, case-insensitive.
        #[serde(default)]
        #[schemars(length(max = MAX_FILTER_CHARS))]
        pub city: Option<String>,
        /// A [`CustomerSort`] name, `-` prefixed for descending (default `customer_id`).
        #[serde(default)]
        #[schemars(schema_with = "sort_schema::<CustomerSort>")]
        pub sort: Option<String>,
    }
}

/// Body of [`CreateCustomer`]. `customer_id` and `company_name` are required (422 when
/// missing); the rest may be omitted or `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Five letters (ASCII); stored upper-cased.
    #[schemars(required, with = "String", regex(pattern = ID_PATTERN))]
    pub customer_id: Option<String>,
    /// Company name: not blank, at most [`limits::COMPANY_NAME`] characters.
    #[schemars(required, with = "String", length(min = 1, max = limits::COMPANY_NAME), regex(pattern = NOT_BLANK))]
    pub company_name: Option<String>,
    /// Contact person.
    #[serde(default)]
    #[schemars(length(max = limits::CONTACT_NAME))]
    pub contact_name: Option<String>,
    /// Contact person's title.
    #[serde(default)]
    #[schemars(length(max = limits::CONTACT_TITLE))]
    pub contact_title: Option<String>,
    /// Street address.
    #[serde(default)]
    #[schemars(length(max = limits::ADDRESS))]
    pub address: Option<String>,
    /// City.
    #[serde(default)]
    #[schemars(length(max = limits::CITY))]
    pub city: Option<String>,
    /// Region or state.
    #[serde(default)]
    #[schemars(length(max = limits::REGION))]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default)]
    #[schemars(length(max = limits::POSTAL_CODE))]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default)]
    #[schemars(length(max = limits::COUNTRY))]
    pub country: Option<String>,
    /// Phone number.
    #[serde(default)]
    #[schemars(length(max = limits::PHONE))]
    pub phone: Option<String>,
    /// Fax number.
    #[serde(default)]
    #[schemars(length(max = limits::FAX))]
    pub fax: Option<String>,
}

/// Body of [`UpdateCustomer`]: only the fields present change. A field set to `null` becomes
/// NULL, except `company_name`, which cannot be null (422). The id cannot change (an unknown
/// field, 400). An empty object changes nothing and returns the customer.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// New company name.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "String", length(min = 1, max = limits::COMPANY_NAME), regex(pattern = NOT_BLANK))]
    pub company_name: Option<Option<String>>,
    /// New contact person.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::CONTACT_NAME))]
    pub contact_name: Option<Option<String>>,
    /// New contact title.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::CONTACT_TITLE))]
    pub contact_title: Option<Option<String>>,
    /// New address.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::ADDRESS))]
    pub address: Option<Option<String>>,
    /// New city.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::CITY))]
    pub city: Option<Option<String>>,
    /// New region.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::REGION))]
    pub region: Option<Option<String>>,
    /// New postal code.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::POSTAL_CODE))]
    pub postal_code: Option<Option<String>>,
    /// New country.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::COUNTRY))]
    pub country: Option<Option<String>>,
    /// New phone number.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::PHONE))]
    pub phone: Option<Option<String>>,
    /// New fax number.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schemars(with = "Option<String>", length(max = limits::FAX))]
    pub fax: Option<Option<String>>,
}

operation! {
    /// List customers (paginated, searchable, filterable, sortable)
    pub ListCustomers: "customers"."list", GET "/customers", auth User, status 200,
        params crate::Empty, query ListCustomersQuery, body (), response Page<Customer>;

    /// Get one customer by id
    pub GetCustomer: "customers"."get", GET "/customers/{id}", auth User, status 200,
        params CustomerIdParams, query crate::Empty, body (), response Customer;

    /// Create a customer
    pub CreateCustomer: "customers"."create", POST "/customers", auth User, status 201,
        params crate::Empty, query crate::Empty, body NewCustomer, response Customer;

    /// Update some fields of a customer and return it
    pub UpdateCustomer: "customers"."update", PATCH "/customers/{id}", auth User, status 200,
        params CustomerIdParams, query crate::Empty, body CustomerPatch, response Customer;

    /// Delete a customer
    pub DeleteCustomer: "customers"."delete", DELETE "/customers/{id}", auth Admin, status 204,
        params CustomerIdParams, query crate::Empty, body (), response ()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_absent_from_null() {
        let patch: CustomerPatch =
            serde_json::from_str(r#"{"city":null,"country":"Norway"}"#).unwrap();
        assert_eq!(patch.city, Some(None));
        assert_eq!(patch.country, Some(Some("Norway".to_owned())));
        assert_eq!(patch.fax, None);
        let back = serde_json::to_value(&patch).unwrap();
        assert_eq!(back, serde_json::json!({"city": null, "country": "Norway"}));
        assert!(serde_json::from_str::<CustomerPatch>(r#"{"customer_id":"X"}"#).is_err());
    }

    #[test]
    fn list_query_takes_gateway_strings() {
        let q: ListCustomersQuery =
            serde_json::from_str(r#"{"page":"2","limit":"10","country":"UK"}"#).unwrap();
        assert_eq!((q.page, q.limit), (Some(2), Some(10)));
        assert!(serde_json::from_str::<ListCustomersQuery>(r#"{"contry":"UK"}"#).is_err());
    }
}
