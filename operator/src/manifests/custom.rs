//! Typed objects of third-party kinds (prometheus-operator, CloudNativePG, the MongoDB
//! community operator), written for the fields the operator renders. Their CRDs are not in
//! k8s-openapi; implementing its `Resource` and `Metadata` traits gives these types kube's
//! `Api` like any built-in kind.

/// Declares a namespaced custom kind with `metadata` and a typed `spec` (and, with `status =
/// T`, the `status` it reads back); `apiVersion` and `kind` are written on serialization and
/// not stored, and `status` is never written (the owning operator writes it).
///
/// Arguments: docs, the type name, its spec type, its plural, then the `group`, `version` and
/// `group/version` constants of its API group, and optionally `status = T`.
macro_rules! kind {
    ($(#[$doc:meta])* $name:ident, $spec:ty, $plural:literal, $group:expr, $version:expr, $api_version:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
        pub struct $name {
            /// Standard object metadata.
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            /// The desired state.
            pub spec: $spec,
        }

        $crate::manifests::custom::kind!(@traits $name, $plural, $group, $version, $api_version);
    };
    ($(#[$doc:meta])* $name:ident, $spec:ty, $plural:literal, $group:expr, $version:expr, $api_version:expr, status = $status:ty) => {
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

        $crate::manifests::custom::kind!(@traits $name, $plural, $group, $version, $api_version);
    };
    (@traits $name:ident, $plural:literal, $group:expr, $version:expr, $api_version:expr) => {
        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = $api_version;
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($name);
            const VERSION: &'static str = $version;
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
                state.serialize_field("apiVersion", $api_version)?;
                state.serialize_field("kind", stringify!($name))?;
                state.serialize_field("metadata", &self.metadata)?;
                state.serialize_field("spec", &self.spec)?;
                state.end()
            }
        }
    };
}

pub(crate) use kind;
