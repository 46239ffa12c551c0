//! Shared pieces of every builder: names, labels, owner references, env helpers,
//! PodDisruptionBudgets, the config hash and Secret lookups. What every pod gets (security
//! contexts, probes, volumes, resources) is [`super::pods`]'s.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, ObjectFieldSelector, SecretKeySelector, TopologySpreadConstraint,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use contract::deploy;

use super::{SecretData, nats};
use crate::crd::{MicroserviceStack, MicroserviceStackSpec, OPERATOR_VERSION};
use crate::error::Error;

/// Server-side apply field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "natstack-operator";
/// Second field manager that co-owns an autoscaled Deployment's `spec.replicas` while it is
/// handed over to the autoscaler (see `crate::reconcile::handoff`).
pub const REPLICAS_FIELD_MANAGER: &str = "natstack-operator-replicas";
/// `app.kubernetes.io/managed-by` value of every child.
pub const MANAGED_BY: &str = "natstack-operator";
/// Label: the component a child belongs to (`nats`, `postgres`, `auth`, `gateway`, ...).
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// Label: the stack a child belongs to.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
/// Label: the operator.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Label: the system.
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
/// Label on created-once credential Secrets that pruning must keep (they guard data on volumes).
pub const LABEL_RETAIN: &str = "natstack.dev/retain";
/// Pod-template annotation whose change rolls the pods.
pub const CONFIG_HASH: &str = "natstack.dev/config-hash";

/// What every builder needs to know about the stack.
#[derive(Clone, Debug)]
pub struct Ctx<'a> {
    /// Stack name (prefix of every child name).
    pub name: String,
    /// Namespace of the stack and its children.
    pub namespace: String,
    /// The stack's spec.
    pub spec: &'a MicroserviceStackSpec,
    owner: OwnerReference,
}

impl<'a> Ctx<'a> {
    /// Reads name, namespace and uid off the stack.
    ///
    /// # Errors
    /// [`Error::MissingObjectKey`] when one of them is missing.
    pub fn new(stack: &'a MicroserviceStack) -> Result<Self, Error> {
        let owner = stack
            .controller_owner_ref(&())
            .map(|owner| OwnerReference {
                // A foreground delete of the stack waits for its children to go first.
                block_owner_deletion: Some(true),
                ..owner
            })
            .ok_or(Error::MissingObjectKey("metadata.uid"))?;
        Ok(Self {
            name: stack.name_any(),
            namespace: stack
                .namespace()
                .ok_or(Error::MissingObjectKey("metadata.namespace"))?,
            spec: &stack.spec,
            owner,
        })
    }

    /// The stack's uid (of its controller ownerReference).
    #[must_use]
    pub fn owner_uid(&self) -> &str {
        &self.owner.uid
    }

    /// `<stack>-<suffix>`.
    #[must_use]
    pub fn child(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    /// Labels of every child of `component`.
    #[must_use]
    pub fn labels(&self, component: &str) -> BTreeMap<String, String> {
        let mut labels = self.selector(component);
        labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
        labels.insert(LABEL_PART_OF.into(), "natstack".into());
        labels
    }

    /// Metadata of `component`'s pods: its labels, and the hash of the configuration they run
    /// with (a changed hash rolls them).
    #[must_use]
    pub fn pod_metadata(&self, component: &str, config_hash: String) -> ObjectMeta {
        ObjectMeta {
            labels: Some(self.labels(component)),
            annotations: Some(BTreeMap::from([(CONFIG_HASH.to_owned(), config_hash)])),
            ..ObjectMeta::default()
        }
    }

    /// The stable labels that select `component`'s pods (never change across spec edits).
    #[must_use]
    pub fn selector(&self, component: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_NAME.to_owned(), component.to_owned()),
            (LABEL_INSTANCE.to_owned(), self.name.clone()),
        ])
    }

    /// Label selector string matching every child of this stack.
    #[must_use]
    pub fn stack_selector(&self) -> String {
        format!(
            "{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_INSTANCE}={}",
            self.name
        )
    }

    /// Metadata of a child named `name` belonging to `component`, with the controller ownerReference.
    #[must_use]
    pub fn meta(&self, name: &str, component: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels(component)),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }

    /// In-cluster DNS name of a Service of this stack.
    #[must_use]
    pub fn dns(&self, service: &str) -> String {
        format!("{service}.{}.svc", self.namespace)
    }

    /// `component`'s image: `own` when the spec sets one, else the built-in
    /// `<registry>/<component>:<version>`, where an unset version is the operator's own.
    #[must_use]
    pub fn image(&self, component: &str, own: Option<&String>) -> String {
        own.cloned().unwrap_or_else(|| {
            let version = self.spec.version.as_deref().unwrap_or(OPERATOR_VERSION);
            format!("{}/{component}:{version}", self.spec.registry)
        })
    }

    /// The NATS client URL (`tls://` when TLS is on).
    #[must_use]
    pub fn nats_url(&self) -> String {
        nats::client_url(self)
    }

    /// `JWT_ISSUER` and `JWT_AUDIENCE`, rendered identically for auth (which issues tokens)
    /// and the gateway (which requires them): one place, so the two can never disagree.
    #[must_use]
    pub fn token_env(&self) -> [EnvVar; 2] {
        [
            env(deploy::env::JWT_ISSUER, &self.spec.auth.issuer),
            env(deploy::env::JWT_AUDIENCE, &self.spec.auth.audience),
        ]
    }

    /// Env vars every natstack binary reads: NATS, logging, tracing, health address.
    #[must_use]
    pub fn shared_env(&self, component: &str) -> Vec<EnvVar> {
        let mut vars = vec![
            env(deploy::env::NATS_URL, &self.nats_url()),
            env(deploy::env::RUST_LOG, &self.spec.log_level),
            env(deploy::env::LOG_FORMAT, self.spec.log_format.as_str()),
            env(deploy::env::HEALTH_ADDR, deploy::DEFAULT_HEALTH_ADDR),
            env(nats::NATS_INBOX_PREFIX, &nats::inbox_prefix(component)),
        ];
        if let Some(ca) = nats::client_ca_file(self) {
            vars.push(env(nats::NATS_CA_FILE, &ca));
        }
        if self.spec.nats.auth {
            vars.push(env(deploy::env::NATS_USER, component));
            vars.push(env_secret(
                deploy::env::NATS_PASSWORD,
                &self.nats_user_secret(component),
                "password",
            ));
        }
        vars.extend(self.telemetry_env(component));
        vars
    }

    /// Trace export settings, when the stack sets an OTLP endpoint: the endpoint, a
    /// parent-based ratio sampler, and the resource attributes naming the pod (its name and
    /// namespace from the downward API, declared first so that `$(...)` expands them).
    #[must_use]
    pub fn telemetry_env(&self, component: &str) -> Vec<EnvVar> {
        let telemetry = &self.spec.telemetry;
        let Some(endpoint) = &telemetry.otlp_endpoint else {
            return Vec::new();
        };
        let attributes = format!(
            "service.name={component},k8s.namespace.name=$({namespace}),k8s.pod.name=$({pod})",
            namespace = deploy::env::operator::POD_NAMESPACE,
            pod = deploy::env::operator::POD_NAME,
        );
        vec![
            env(deploy::env::OTEL_EXPORTER_OTLP_ENDPOINT, endpoint),
            env(deploy::env::OTEL_TRACES_SAMPLER, deploy::TRACE_SAMPLER),
            env(
                deploy::env::OTEL_TRACES_SAMPLER_ARG,
                &telemetry.sampling.to_string(),
            ),
            env_field(deploy::env::operator::POD_NAME, "metadata.name"),
            env_field(deploy::env::operator::POD_NAMESPACE, "metadata.namespace"),
            env(deploy::env::OTEL_RESOURCE_ATTRIBUTES, &attributes),
        ]
    }

    /// Name of the created-once Secret holding `component`'s NATS password.
    #[must_use]
    pub fn nats_user_secret(&self, component: &str) -> String {
        self.child(&format!("nats-{component}"))
    }

    /// A soft constraint spreading `component`'s pods over nodes (`kubernetes.io/hostname`),
    /// so replicas do not share one node when others have room. Rendered whatever the replica
    /// count: with one replica it is a no-op, and scaling then leaves the pod template (and the
    /// running pods) alone.
    #[must_use]
    pub fn spread(&self, component: &str) -> TopologySpreadConstraint {
        TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            label_selector: Some(LabelSelector {
                match_labels: Some(self.selector(component)),
                match_expressions: None,
            }),
            // Count only pods of the same rollout revision, so an update does not skew.
            match_label_keys: Some(vec!["pod-template-hash".into()]),
            ..TopologySpreadConstraint::default()
        }
    }

    /// A PodDisruptionBudget (at most one pod down) when `replicas > 1`.
    ///
    /// An autoscaled component passes its `maxReplicas`: whenever more than one pod may run.
    /// With `maxUnavailable: 1` the budget never blocks the eviction of a lone healthy pod,
    /// so it costs nothing while the autoscaler runs one, and protects the pods it adds
    /// (deciding on `minReplicas` would leave a scaled-up component without a budget).
    #[must_use]
    pub fn pdb(&self, component: &str, replicas: i32) -> Option<PodDisruptionBudget> {
        (replicas > 1).then(|| PodDisruptionBudget {
            metadata: self.meta(&self.child(component), component),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(1)),
                selector: Some(LabelSelector {
                    match_labels: Some(self.selector(component)),
                    match_expressions: None,
                }),
                // A pod that is not ready (crash-looping, say) protects nothing: evicting it
                // must not block a node drain.
                unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
                ..PodDisruptionBudgetSpec::default()
            }),
            status: None,
        })
    }
}

/// A literal env var.
#[must_use]
pub fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

/// An env var read from the pod's own object (`metadata.name`, ...) through the downward API.
#[must_use]
pub fn env_field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: path.to_owned(),
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// An env var read from a Secret key.
#[must_use]
pub fn env_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// A short, stable hash over named parts (a rendered config, the data of a Secret, ...).
#[must_use]
pub fn config_hash<'p>(parts: impl IntoIterator<Item = (&'p str, &'p str)>) -> String {
    let mut digest = Sha256::new();
    for (name, value) in parts {
        digest.update(name.as_bytes());
        digest.update([0]);
        digest.update(value.as_bytes());
        digest.update([0]);
    }
    digest
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every key and value of the named Secrets, as hash parts.
#[must_use]
pub fn secret_parts<'s>(secrets: &'s SecretData, names: &[String]) -> Vec<(&'s str, &'s str)> {
    names
        .iter()
        .filter_map(|n| secrets.get_key_value(n))
        .flat_map(|(n, data)| {
            std::iter::once((n.as_str(), ""))
                .chain(data.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        })
        .collect()
}

/// One key of a resolved Secret.
///
/// # Errors
/// [`Error::MissingSecretKey`] when the Secret or key is absent.
pub fn secret_value<'s>(secrets: &'s SecretData, name: &str, key: &str) -> Result<&'s str, Error> {
    secrets
        .get(name)
        .and_then(|d| d.get(key))
        .map(String::as_str)
        .ok_or_else(|| Error::MissingSecretKey {
            secret: name.to_owned(),
            key: key.to_owned(),
        })
}
