//! A typed name for one operation: its subject, its HTTP mapping, and its request and
//! response types.
//!
//! Services register handlers by operation type and callers call by operation type, so both
//! sides of a subject agree on its types at compile time:
//!
//! ```
//! use contract::{operation, Empty, Envelope};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
//! pub struct IdParams { pub id: String }
//!
//! operation! {
//!     /// Fetch one thing.
//!     pub GetThing: "things"."get", GET "/things/{id}", auth User, status 200,
//!         params IdParams, query Empty, body (), response serde_json::Value;
//!
//!     /// Remove one thing.
//!     pub DeleteThing: "things"."delete", DELETE "/things/{id}", auth Admin, status 204,
//!         params IdParams, query Empty, body (), response ();
//! }
//!
//! use contract::Operation;
//! assert_eq!(GetThing::subject(), "things.get");
//! assert_eq!(DeleteThing::SUCCESS_STATUS, 204);
//! assert_eq!(GetThing::meta().path_params(), ["id"]);
//! let schemas = GetThing::schemas();
//! assert_eq!(schemas.operations["get"].params["required"][0], "id");
//! ```

use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

use crate::envelope::Envelope;
use crate::metadata::{AuthLevel, EndpointMeta, HttpMethod};

/// One operation of one service. Its parts derive JSON Schema, which the service publishes
/// ([`crate::schema`]).
pub trait Operation: Send + Sync + 'static {
    /// The service's name (`customers`): the Services API name and the subject's first token.
    const SERVICE: &'static str;
    /// The endpoint's name within the service (`get`): unique per service.
    const NAME: &'static str;
    /// The HTTP method the gateway maps to it.
    const METHOD: HttpMethod;
    /// The HTTP path template the gateway maps to it.
    const PATH: &'static str;
    /// Who may call it through the gateway.
    const AUTH: AuthLevel;
    /// The HTTP status on success.
    const SUCCESS_STATUS: u16;
    /// A one-line summary for the OpenAPI document.
    const SUMMARY: &'static str;
    /// Internal: served over NATS only, registered without an HTTP mapping, so the gateway
    /// never routes to it (its method, path and status are then unused).
    const INTERNAL: bool = false;

    /// Path parameters.
    type Params: Serialize + DeserializeOwned + Default + JsonSchema + Send + Sync + 'static;
    /// Query parameters.
    type Query: Serialize + DeserializeOwned + Default + JsonSchema + Send + Sync + 'static;
    /// The body (`()` for none).
    type Body: Serialize + DeserializeOwned + Default + JsonSchema + Send + Sync + 'static;
    /// The successful reply.
    type Response: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static;

    /// The NATS subject: `<service>.<name>`.
    fn subject() -> String {
        format!("{}.{}", Self::SERVICE, Self::NAME)
    }

    /// This operation's schemas alone, as a one-operation document (a service publishes all of
    /// its operations in one, built with [`SchemaSet`](crate::schema::SchemaSet)).
    fn schemas() -> crate::schema::SchemaDocument
    where
        Self: Sized,
    {
        let mut set = crate::schema::SchemaSet::new();
        set.add::<Self>();
        set.finish()
    }

    /// The endpoint metadata that declares the HTTP mapping.
    fn meta() -> EndpointMeta {
        EndpointMeta {
            method: Self::METHOD,
            path: Self::PATH.to_owned(),
            auth: Self::AUTH,
            success_status: Self::SUCCESS_STATUS,
            summary: (!Self::SUMMARY.is_empty()).then(|| Self::SUMMARY.to_owned()),
        }
    }
}

/// The typed request envelope of an operation.
pub type RequestOf<O> =
    Envelope<<O as Operation>::Params, <O as Operation>::Query, <O as Operation>::Body>;

/// Declares unit structs implementing [`Operation`], one per declaration; declarations are
/// separated by `;`, so a service's operations read as one table. The doc comment becomes the
/// summary's documentation; the summary string is the first doc line. `internal` in place of
/// the HTTP mapping declares an [internal](Operation::INTERNAL) operation (public to its NATS
/// callers, whom NATS permissions choose).
#[macro_export]
macro_rules! operation {
    () => {};
    (
        $(#[doc = $doc:literal])*
        $vis:vis $name:ident : $service:literal . $op:literal, internal,
        params $params:ty, query $query:ty, body $body:ty, response $response:ty
        $(; $($rest:tt)*)?
    ) => {
        // An internal operation has no HTTP mapping: these placeholders are never routed.
        $crate::operation! {
            @define internal true, [$($doc)*] $vis $name : $service . $op, GET "", auth Public,
            status 200, params $params, query $query, body $body, response $response
        }
        $($crate::operation! { $($rest)* })?
    };
    (
        $(#[doc = $doc:literal])*
        $vis:vis $name:ident : $service:literal . $op:literal,
        $method:ident $path:literal, auth $auth:ident, status $status:literal,
        params $params:ty, query $query:ty, body $body:ty, response $response:ty
        $(; $($rest:tt)*)?
    ) => {
        $crate::operation! {
            @define internal false, [$($doc)*] $vis $name : $service . $op, $method $path,
            auth $auth, status $status, params $params, query $query, body $body,
            response $response
        }
        $($crate::operation! { $($rest)* })?
    };
    (
        @define internal $internal:literal, [$($doc:literal)*]
        $vis:vis $name:ident : $service:literal . $op:literal,
        $method:ident $path:literal, auth $auth:ident, status $status:literal,
        params $params:ty, query $query:ty, body $body:ty, response $response:ty
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        impl $crate::Operation for $name {
            const SERVICE: &'static str = $service;
            const NAME: &'static str = $op;
            const METHOD: $crate::HttpMethod = $crate::operation!(@method $method);
            const PATH: &'static str = $path;
            const AUTH: $crate::AuthLevel = $crate::AuthLevel::$auth;
            const SUCCESS_STATUS: u16 = $status;
            const SUMMARY: &'static str = $crate::operation!(@summary $($doc)*);
            const INTERNAL: bool = $internal;
            type Params = $params;
            type Query = $query;
            type Body = $body;
            type Response = $response;
        }
    };
    (@method GET) => { $crate::HttpMethod::Get };
    (@method POST) => { $crate::HttpMethod::Post };
    (@method PUT) => { $crate::HttpMethod::Put };
    (@method PATCH) => { $crate::HttpMethod::Patch };
    (@method DELETE) => { $crate::HttpMethod::Delete };
    (@summary) => { "" };
    (@summary $first:literal $($rest:literal)*) => { $crate::operation::__trim_doc($first) };
}

/// Trims the leading space rustdoc keeps in `#[doc]` strings. Not part of the API.
#[doc(hidden)]
pub const fn __trim_doc(doc: &'static str) -> &'static str {
    match doc.as_bytes() {
        [b' ', ..] => {
            let (_, rest) = doc.split_at(1);
            rest
        }
        _ => doc,
    }
}
