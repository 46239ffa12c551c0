//! Offline rendering: a stack file in, every object the operator would apply out.
//!
//! `operator render -f STACK.yaml` and the rendered-stack harness both start here. The file may
//! hold, besides exactly one `MicroserviceStack`, the Secrets it references (an external
//! server's account, an admin password), as `kubectl apply -f` would create them. The
//! created-once Secrets the controller would generate get either clearly marked placeholders
//! (for reading and diffing) or real random values (to run the stack), and then the same pure
//! builders the controller uses produce the children, in apply order.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt as _;
use sha2::{Digest as _, Sha256};

use crate::crd::MicroserviceStack;
use crate::generate;
use crate::manifests::secrets::{self, Generator};
use crate::manifests::{self, Children, SecretData};
use crate::validate;

/// Namespace of a stack whose file names none and that is rendered without `--namespace`.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Prefix of every placeholder value, so that nobody mistakes one for a credential.
pub const PLACEHOLDER: &str = "PLACEHOLDER-generated-at-apply-time";

/// What can go wrong before anything is built.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The file is not YAML, or an object does not have the shape of its kind.
    #[error("cannot read the stack file: {0}")]
    Parse(String),
    /// The file holds no `MicroserviceStack`, or more than one.
    #[error("the file must hold exactly one MicroserviceStack, found {0}")]
    StackCount(usize),
    /// An object of a kind the operator does not take from a stack file.
    #[error(
        "unsupported object {kind}/{name}: a stack file holds one MicroserviceStack and the Secrets it references"
    )]
    Unsupported {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
    },
    /// The stack is invalid (what the controller would report as `Degraded`).
    #[error("invalid stack {name}: {problems}")]
    Invalid {
        /// The stack's name.
        name: String,
        /// Every problem, separated by `; `.
        problems: String,
    },
    /// The stack references a Secret the file does not hold.
    #[error("the stack references Secret {0}, which the file does not hold")]
    MissingSecret(String),
    /// The builders failed.
    #[error(transparent)]
    Build(#[from] crate::error::Error),
}

/// How the created-once Secrets are filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// Marked placeholders: deterministic output, nothing secret printed.
    Placeholders,
    /// Fresh random passwords and keys, as the controller makes them.
    Random,
}

/// A parsed stack file.
#[derive(Clone, Debug)]
pub struct Input {
    /// The stack, with namespace and uid set as the API server would.
    pub stack: MicroserviceStack,
    /// The Secrets of the file, in its namespace.
    pub secrets: Vec<Secret>,
}

/// Everything the operator would create for a stack.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The stack as stored (namespace, uid and defaults filled in).
    pub stack: MicroserviceStack,
    /// The Secrets of the file (created by the user, not the operator).
    pub user_secrets: Vec<Secret>,
    /// The created-once Secrets the controller would generate.
    pub generated: Vec<Secret>,
    /// The children, in apply order.
    pub children: Children,
}

impl Rendered {
    /// The stack's namespace (filled in by rendering).
    #[must_use]
    pub fn namespace(&self) -> String {
        self.stack.metadata.namespace.clone().unwrap_or_default()
    }

    /// The data of every Secret a pod of this stack may reference, by name.
    #[must_use]
    pub fn secret_data(&self) -> SecretData {
        let mut out = SecretData::new();
        for secret in self.user_secrets.iter().chain(&self.generated) {
            out.insert(secret.name_any(), generate::decode(secret));
        }
        for child in self.children.iter() {
            if let manifests::Child::Secret(secret) = child {
                out.insert(secret.name_any(), generate::decode(secret));
            }
        }
        out
    }
}

impl Rendered {
    /// The bootstrap admin's email and password, when the stack runs the auth service.
    #[must_use]
    pub fn admin_login(&self) -> Option<(String, String)> {
        let ctx = manifests::common::Ctx::new(&self.stack).ok()?;
        if !secrets::has_auth(&ctx) {
            return None;
        }
        let password = self
            .secret_data()
            .get(&secrets::admin_password_secret(&ctx))?
            .get("password")?
            .clone();
        Some((self.stack.spec.auth.admin_email.clone(), password))
    }
}

/// Parses a stack file: one `MicroserviceStack` and any number of Secrets, `---`-separated.
///
/// `namespace` overrides the file's; without either the stack lands in [`DEFAULT_NAMESPACE`].
/// A stack without a uid gets a stable one derived from its namespace and name.
///
/// # Errors
/// [`RenderError::Parse`], [`RenderError::StackCount`] or [`RenderError::Unsupported`].
pub fn parse(yaml: &str, namespace: Option<&str>) -> Result<Input, RenderError> {
    let mut stacks = Vec::new();
    let mut secrets = Vec::new();
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(yaml).map_err(|e| RenderError::Parse(e.to_string()))?;
    for value in documents {
        if value.is_null() {
            continue;
        }
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match kind.as_str() {
            "MicroserviceStack" => stacks.push(
                serde_json::from_value::<MicroserviceStack>(value)
                    .map_err(|e| RenderError::Parse(format!("MicroserviceStack {name}: {e}")))?,
            ),
            "Secret" => secrets.push(
                serde_json::from_value::<Secret>(value)
                    .map_err(|e| RenderError::Parse(format!("Secret {name}: {e}")))?,
            ),
            _ => return Err(RenderError::Unsupported { kind, name }),
        }
    }
    if stacks.len() != 1 {
        return Err(RenderError::StackCount(stacks.len()));
    }
    let mut stack = stacks.remove(0);
    let namespace = namespace
        .map(str::to_owned)
        .or_else(|| stack.metadata.namespace.clone())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    stack.metadata.namespace = Some(namespace.clone());
    if stack.metadata.uid.is_none() {
        stack.metadata.uid = Some(stable_uid(&namespace, &stack.name_any()));
    }
    for secret in &mut secrets {
        secret.metadata.namespace = Some(namespace.clone());
    }
    Ok(Input { stack, secrets })
}

/// Builds every object of `input`, filling created-once Secrets as `values` says.
///
/// # Errors
/// [`RenderError::Invalid`] for a stack the controller would refuse,
/// [`RenderError::MissingSecret`] when a referenced Secret is not in the file, and
/// [`RenderError::Build`] when a builder fails (e.g. a Secret lacks a key).
pub fn render(input: &Input, values: Values) -> Result<Rendered, RenderError> {
    render_keeping(input, values, &SecretData::new())
}

/// Like [`render`], but a created-once Secret already in `existing` keeps its values, as the
/// controller keeps a Secret it finds (so a stack run again finds its data readable).
///
/// # Errors
/// As [`render`].
pub fn render_keeping(
    input: &Input,
    values: Values,
    existing: &SecretData,
) -> Result<Rendered, RenderError> {
    let stack = &input.stack;
    let problems = validate::problems(stack);
    if !problems.is_empty() {
        return Err(RenderError::Invalid {
            name: stack.name_any(),
            problems: problems.join("; "),
        });
    }
    let mut data = SecretData::new();
    for name in secrets::referenced(&stack.spec) {
        let secret = input
            .secrets
            .iter()
            .find(|s| s.name_any() == name)
            .ok_or_else(|| RenderError::MissingSecret(name.clone()))?;
        data.insert(name, generate::decode(secret));
    }
    let ctx = manifests::common::Ctx::new(stack)?;
    let mut generated = Vec::new();
    for spec in secrets::generated(&ctx) {
        let (secret, values) = match (existing.get(spec.name()), values) {
            (Some(kept), _) => (stored(&spec, kept), kept.clone()),
            (None, Values::Random) => generate::secret(&spec)?,
            (None, Values::Placeholders) => placeholder(&spec),
        };
        data.insert(spec.name().to_owned(), values);
        generated.push(secret);
    }
    let children = manifests::build(stack, &data)?;
    Ok(Rendered {
        stack: stack.clone(),
        user_secrets: input.secrets.clone(),
        generated,
        children,
    })
}

/// Every object as a YAML stream: generated Secrets first (as `stringData`) (the controller creates them before
/// anything else), then the children in apply order.
///
/// # Errors
/// [`RenderError::Parse`] if an object cannot be serialized (never for built objects).
pub fn to_yaml(rendered: &Rendered) -> Result<String, RenderError> {
    // Generated Secrets as `stringData`, so their placeholders read as such.
    let mut values: Vec<serde_json::Value> = rendered
        .generated
        .iter()
        .map(|s| {
            let readable = Secret {
                data: None,
                string_data: Some(generate::decode(s)),
                ..s.clone()
            };
            serde_json::to_value(readable).unwrap_or_default()
        })
        .collect();
    values.extend(rendered.children.iter().map(manifests::Child::to_value));
    let mut out = String::new();
    for value in values {
        out.push_str("---\n");
        out.push_str(
            &serde_saphyr::to_string(&value).map_err(|e| RenderError::Parse(e.to_string()))?,
        );
    }
    Ok(out)
}

fn placeholder(spec: &secrets::GeneratedSecret) -> (Secret, BTreeMap<String, String>) {
    let values: BTreeMap<String, String> = spec
        .keys
        .iter()
        .map(|(key, generator)| {
            let value = match generator {
                Generator::Literal(v) => v.clone(),
                Generator::Password | Generator::Ed25519Pem => {
                    format!("{PLACEHOLDER}-{}-{key}", spec.name())
                }
            };
            (key.clone(), value)
        })
        .collect();
    (stored(spec, &values), values)
}

fn stored(spec: &secrets::GeneratedSecret, values: &BTreeMap<String, String>) -> Secret {
    Secret {
        metadata: spec.metadata.clone(),
        data: Some(
            values
                .iter()
                .map(|(k, v)| (k.clone(), k8s_openapi::ByteString(v.clone().into_bytes())))
                .collect(),
        ),
        type_: Some(spec.type_.into()),
        ..Secret::default()
    }
}

/// A version-4-shaped uid that depends only on namespace and name, so renders are repeatable.
fn stable_uid(namespace: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{namespace}/{name}"));
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "apiVersion: natstack.dev/v1alpha1\nkind: MicroserviceStack\nmetadata:\n  name: demo\nspec: {}\n";

    #[test]
    fn a_bare_stack_renders_with_placeholders() {
        let input = parse(STACK, Some("shop")).unwrap();
        assert_eq!(input.stack.metadata.namespace.as_deref(), Some("shop"));
        let rendered = render(&input, Values::Placeholders).unwrap();
        let yaml = to_yaml(&rendered).unwrap();
        assert!(yaml.contains("kind: Deployment") && yaml.contains("name: demo-gateway"));
        assert!(yaml.contains(PLACEHOLDER));
        assert_eq!(
            yaml,
            to_yaml(&render(&input, Values::Placeholders).unwrap()).unwrap()
        );
        let random = render(&input, Values::Random).unwrap();
        assert!(!to_yaml(&random).unwrap().contains(PLACEHOLDER));
    }

    /// kubectl reads YAML 1.1, where a bare `on`, `yes` or `no` is a boolean: such strings
    /// must come out quoted, or `render | kubectl apply` turns an env value into `true`.
    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let stack = STACK.replace(
            "spec: {}",
            "spec:\n  services:\n    - name: customers\n      database: postgres\n      env:\n        A: \"on\"\n        B: \"no\"\n        C: \"y\"\n",
        );
        let yaml =
            to_yaml(&render(&parse(&stack, None).unwrap(), Values::Placeholders).unwrap()).unwrap();
        for spelling in ["on", "no", "y"] {
            assert!(
                yaml.contains(&format!("value: \"{spelling}\"")),
                "{spelling} is not quoted"
            );
        }
    }

    #[test]
    fn bad_files_get_clear_errors() {
        assert!(matches!(parse("", None), Err(RenderError::StackCount(0))));
        assert!(matches!(
            parse(&format!("{STACK}---\n{STACK}"), None),
            Err(RenderError::StackCount(2))
        ));
        let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
        assert!(matches!(
            parse(other, None),
            Err(RenderError::Unsupported { .. })
        ));
        assert!(matches!(parse("a: [", None), Err(RenderError::Parse(_))));
        let external = STACK.replace("spec: {}", "spec:\n  postgres:\n    existingSecret: pg\n");
        let input = parse(&external, None).unwrap();
        assert!(matches!(
            render(&input, Values::Placeholders),
            Err(RenderError::MissingSecret(name)) if name == "pg"
        ));
        let invalid = STACK.replace("spec: {}", "spec:\n  nats:\n    replicas: 2\n");
        let input = parse(&invalid, None).unwrap();
        assert!(matches!(
            render(&input, Values::Placeholders),
            Err(RenderError::Invalid { .. })
        ));
    }
}
