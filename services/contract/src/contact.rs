//! The contact columns that Northwind's customers and suppliers share: a person, an address
//! and telephone numbers. [`Customer`](crate::customers::Customer) and
//! [`Supplier`](crate::products::Supplier) carry them flattened, so on the wire they stand
//! beside the row's other fields.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A company's contact person, address and numbers; `null` where the row has none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Contact {
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact person's title.
    pub contact_title: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Region or state.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Fax number.
    pub fax: Option<String>,
}
