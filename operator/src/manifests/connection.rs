//! Where a database server answers and how a service connects to it: the managed server's
//! Service, CloudNativePG's read-write Service, or an external server's Secret (host, port,
//! TLS settings, CA certificate); and the connection-URL Secret each service gets, derived on
//! every reconcile from the credentials [`super::secrets`] keeps.

use std::collections::BTreeMap;

use contract::deploy;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{KeyToPath, Secret, SecretVolumeSource, Volume, VolumeMount};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::common::{Ctx, secret_value};
use super::secrets::{database, service_db_secret, service_url_secret};
use super::{Child, SecretData};
use crate::crd::{DatabaseKind, ServiceSpec};
use crate::error::Error;

/// Where a database server's CA certificate ([`CA_KEY`] of the Secret the CA volume mounts)
/// is mounted in the pods that connect to it.
pub const DB_CA_DIR: &str = "/var/run/secrets/natstack/db-ca";
/// Key of the CA certificate to verify a database server with, in the Secret the CA volume
/// mounts: an external server's Secret, or CNPG's CA Secret (`<cluster>-ca`), which keeps the
/// certificate that signed its servers' under this key too.
pub const CA_KEY: &str = "ca.crt";
/// The PostgreSQL `sslmode` values an external server's Secret may give.
pub const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// Where a database server answers and how to talk to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name (for MongoDB with `srv`, the DNS seed-list name).
    pub host: String,
    /// Port.
    pub port: String,
    /// The external server's Secret; `None` for the stack's own server.
    pub secret: Option<String>,
    /// PostgreSQL `sslmode` (key `sslmode`), when given.
    pub sslmode: Option<String>,
    /// MongoDB: connect with TLS (key `tls`: `true`; implied by `srv`).
    pub tls: bool,
    /// MongoDB: a `mongodb+srv://` seed list (key `srv`: `true`); the port is not used.
    pub srv: bool,
    /// MongoDB: extra connection-string options (key `options`, e.g. `replicaSet=rs0`).
    pub options: Option<String>,
    /// The CA certificate (key `ca.crt`), mounted at [`DB_CA_DIR`] where it is used.
    pub ca: Option<String>,
    /// A Secret holding the CA certificate (key `ca.crt`) whose content the operator does not
    /// read: CNPG's `<cluster>-ca`, which exists only once CNPG has created the Cluster.
    /// Mounted at [`DB_CA_DIR`] like `ca`.
    pub ca_secret: Option<String>,
}

impl Endpoint {
    /// Path of the mounted CA certificate, when there is one.
    #[must_use]
    pub fn ca_file(&self) -> Option<String> {
        (self.ca.is_some() || self.ca_secret.is_some()).then(|| format!("{DB_CA_DIR}/{CA_KEY}"))
    }

    /// The Secret volume and mount of the CA certificate, when there is one.
    #[must_use]
    pub fn ca_volume(&self) -> Option<(Volume, VolumeMount)> {
        let secret = self
            .ca_secret
            .as_ref()
            .or_else(|| self.secret.as_ref().filter(|_| self.ca.is_some()))?;
        Some((
            Volume {
                name: "db-ca".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.clone()),
                    items: Some(vec![KeyToPath {
                        key: CA_KEY.into(),
                        path: CA_KEY.into(),
                        mode: None,
                    }]),
                    default_mode: Some(0o444),
                    optional: Some(false),
                }),
                ..Volume::default()
            },
            VolumeMount {
                name: "db-ca".into(),
                mount_path: DB_CA_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ))
    }

    /// MongoDB connection-string prefix and query options (without credentials or database):
    /// `(mongodb://host:port | mongodb+srv://host, [tls=true, tlsCAFile=..., options])`.
    #[must_use]
    pub fn mongodb_parts(&self) -> (String, Vec<String>) {
        let base = if self.srv {
            format!("mongodb+srv://{}", self.host)
        } else {
            format!("mongodb://{}:{}", self.host, self.port)
        };
        let mut query = Vec::new();
        if self.tls && !self.srv {
            query.push("tls=true".to_owned());
        }
        if let Some(ca) = self.ca_file() {
            query.push(format!("tlsCAFile={ca}"));
        }
        query.extend(self.options.iter().filter(|o| !o.is_empty()).cloned());
        (base, query)
    }
}

/// Where a database kind's server answers: the managed server's Service, or the external
/// server's Secret (`host`, optional `port`, and the TLS keys `sslmode`, `tls`, `srv`,
/// `options`, `ca.crt`).
///
/// # Errors
/// [`Error::MissingSecretKey`] when an external server's Secret lacks `host`;
/// [`Error::Invalid`] when its `sslmode`, `tls` or `srv` holds an unknown value.
pub fn endpoint(
    ctx: &Ctx<'_>,
    kind: DatabaseKind,
    secrets: &SecretData,
) -> Result<Endpoint, Error> {
    let (spec, component) = database(ctx, kind);
    if kind == DatabaseKind::Postgres && super::cnpg::enabled(ctx) {
        return Ok(Endpoint {
            host: ctx.dns(&super::cnpg::rw_service(ctx)),
            port: default_port(kind).to_string(),
            sslmode: Some(super::cnpg::SSL_MODE.to_owned()),
            ca_secret: Some(super::cnpg::ca_secret(ctx)),
            ..Endpoint::default()
        });
    }
    let Some(name) = &spec.existing_secret else {
        return Ok(Endpoint {
            host: ctx.dns(&ctx.child(component)),
            port: default_port(kind).to_string(),
            ..Endpoint::default()
        });
    };
    let optional = |key: &str| {
        secrets
            .get(name)
            .and_then(|d| d.get(key))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let flag = |key: &str| -> Result<bool, Error> {
        match optional(key).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(Error::Invalid(format!(
                "secret {name}: {key} must be true or false, not {other:?}"
            ))),
        }
    };
    let mut server = Endpoint {
        host: secret_value(secrets, name, "host")?.to_owned(),
        port: optional("port").unwrap_or_else(|| default_port(kind).to_string()),
        secret: Some(name.clone()),
        ca: secrets.get(name).and_then(|d| d.get(CA_KEY)).cloned(),
        ..Endpoint::default()
    };
    match kind {
        DatabaseKind::Mongodb => {
            server.srv = flag("srv")?;
            server.tls = flag("tls")? || server.srv;
            server.options = optional("options");
        }
        DatabaseKind::Postgres | DatabaseKind::None => {
            let mode = optional("sslmode");
            if let Some(mode) = &mode
                && !SSL_MODES.contains(&mode.as_str())
            {
                return Err(Error::Invalid(format!(
                    "secret {name}: sslmode must be one of {}, not {mode:?}",
                    SSL_MODES.join(", ")
                )));
            }
            server.sslmode = mode;
        }
    }
    Ok(server)
}

fn default_port(kind: DatabaseKind) -> i32 {
    if kind == DatabaseKind::Mongodb {
        deploy::MONGODB_PORT.into()
    } else {
        deploy::POSTGRES_PORT.into()
    }
}

/// The connection URL a service gets for its own database.
///
/// PostgreSQL: `postgres://user:password@host:port/db`, plus `sslmode` and `sslrootcert` (the
/// mounted CA) when the server's Secret gives them. MongoDB: `mongodb://` (or `mongodb+srv://`)
/// with `authSource` set to the service's database, plus `tls`, `tlsCAFile` and `options`.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential is missing; [`Error::Invalid`] when the
/// server's Secret holds an unknown TLS setting.
pub fn service_url(
    ctx: &Ctx<'_>,
    service: &ServiceSpec,
    secrets: &SecretData,
) -> Result<String, Error> {
    let creds = service_db_secret(ctx, &service.name);
    let user = encode(secret_value(secrets, &creds, "username")?);
    let password = encode(secret_value(secrets, &creds, "password")?);
    let db = secret_value(secrets, &creds, "database")?;
    let server = endpoint(ctx, service.database, secrets)?;
    Ok(match service.database {
        DatabaseKind::Mongodb => {
            let (base, options) = server.mongodb_parts();
            let base = base.replacen("://", &format!("://{user}:{password}@"), 1);
            let mut query = vec![format!("authSource={}", encode(db))];
            query.extend(options);
            format!("{base}/{}?{}", encode(db), query.join("&"))
        }
        _ => {
            let Endpoint { host, port, .. } = &server;
            let mut query = Vec::new();
            if let Some(mode) = &server.sslmode {
                query.push(format!("sslmode={mode}"));
            }
            if let Some(ca) = server.ca_file() {
                query.push(format!("sslrootcert={ca}"));
            }
            let url = format!("postgres://{user}:{password}@{host}:{port}/{}", encode(db));
            if query.is_empty() {
                url
            } else {
                format!("{url}?{}", query.join("&"))
            }
        }
    })
}

/// Secrets derived from resolved credentials: one database URL per service that has a
/// database, except where the MongoDB operator publishes the connection string itself.
///
/// # Errors
/// [`Error::MissingSecretKey`] when a credential is missing.
pub fn derived(ctx: &Ctx<'_>, secrets: &SecretData) -> Result<Vec<Child>, Error> {
    ctx.spec
        .services
        .iter()
        .filter(|s| s.database != DatabaseKind::None)
        .filter(|s| {
            !(s.database == DatabaseKind::Mongodb && super::mongodb_community::enabled(ctx))
        })
        .map(|service| {
            let url = service_url(ctx, service, secrets)?;
            Ok(Child::Secret(Secret {
                metadata: ctx.meta(&service_url_secret(ctx, &service.name), &service.name),
                // `data`, not `stringData`: the latter is write-only and fights server-side apply.
                data: Some(BTreeMap::from([(
                    "url".to_owned(),
                    ByteString(url.into_bytes()),
                )])),
                type_: Some("Opaque".into()),
                ..Secret::default()
            }))
        })
        .collect()
}

/// Everything but RFC 3986's unreserved characters, which are safe in any URL component.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a URL userinfo, path or query component.
pub(crate) fn encode(raw: &str) -> String {
    utf8_percent_encode(raw, COMPONENT).to_string()
}
