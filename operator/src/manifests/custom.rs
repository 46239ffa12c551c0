//! Typed objects of third-party kinds (prometheus-operator, CloudNativePG, the MongoDB
//! community operator), written for the fields the operator renders. Their CRDs are not in
//! k8s-openapi; implementing its `Resource` and `Metadata` traits gives these types kube's
//! `Api` like any built-in kind.

/// Declares a namespaced custom kind with `metadata` and a typed `spec` (and, with `status =
/// T`, the `status` it reads back); `apiVersion` and `kind` are written on serialization and
/// not stored, and `status` is never written (the owning operator writes it).
///
/// Arguments: docs, the type name, its spec type, its plural, and optionally `status = T`. The
/// group and version are the invoking module's `GROUP`, `VERSION` and `API_VERSION`, which
/// [`api_group!`] declares.
macro_rules! kind {
    ($(#[$doc:meta])* $name:ident, $spec:ty, $plural:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
        pub struct $name {
            /// Standard object metadata.
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            /// The desired state.
            pub spec: $spec,
        }

        $crate::manifests::custom::kind!(@traits $name, $plural);
    };
    ($(#[$doc:meta])* $name:ident, $spec:ty, $plural:literal, status = $status:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
        pub struct $name {
            /// Standard object metadata.
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            /// The desired state.
            pub spec: $spec,
            /// The observed state, as its operator reports it (read only).
            #[serde(default)]
            pub status: Option<$status>,
        }

        $crate::manifests::custom::kind!(@traits $name, $plural);
    };
    (@traits $name:ident, $plural:literal) => {
        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = API_VERSION;
            const GROUP: &'static str = GROUP;
            const KIND: &'static str = stringify!($name);
            const VERSION: &'static str = VERSION;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $name {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                let mut state = serializer.serialize_struct(stringify!($name), 4)?;
                state.serialize_field("apiVersion", API_VERSION)?;
                state.serialize_field("kind", stringify!($name))?;
                state.serialize_field("metadata", &self.metadata)?;
                state.serialize_field("spec", &self.spec)?;
                state.end()
            }
        }
    };
}

/// Declares an API group's constants in the invoking module, where [`kind!`] reads them:
/// `GROUP` (with the docs given), `VERSION`, and `API_VERSION` (`group/version`) spelled from
/// the two.
macro_rules! api_group {
    ($(#[$doc:meta])* $group:literal, $version:literal) => {
        $(#[$doc])*
        pub const GROUP: &str = $group;
        /// The version rendered.
        pub const VERSION: &str = $version;
        /// `group/version`, as discovery and `apiVersion` spell it.
        pub const API_VERSION: &str = concat!($group, "/", $version);
    };
}

pub(crate) use {api_group, kind};
