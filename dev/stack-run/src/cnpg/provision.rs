//! What CNPG's managed roles and `Database` objects make of the primary, done with the
//! superuser over the instance's Unix socket.

use operator::manifests::SecretData;

use super::instance::{Instance, STREAMING_REPLICA};
use super::plan::Plan;
use crate::HarnessError;

/// What CNPG's managed roles and Database objects make of the primary: each role exists,
/// can log in and has its Secret's password; each database exists with its owner. Also the
/// replication user.
pub(super) async fn provision(
    primary: &Instance,
    plan: &Plan,
    secrets: &SecretData,
) -> Result<(), HarnessError> {
    let mut sql = vec![ensure_role(STREAMING_REPLICA, "LOGIN REPLICATION")];
    for role in &plan.roles {
        let password = secrets
            .get(&role.password_secret)
            .and_then(|s| s.get("password"))
            .ok_or_else(|| {
                HarnessError::Reference(format!(
                    "Cluster {}: managed role {} names Secret {} with no `password`",
                    plan.name, role.name, role.password_secret
                ))
            })?;
        sql.push(ensure_role(
            &role.name,
            &format!("LOGIN PASSWORD {}", literal(password)),
        ));
    }
    primary.psql("postgres", &sql.join("\n")).await?;
    for database in &plan.databases {
        let exists = primary
            .psql(
                "postgres",
                &format!(
                    "SELECT count(*) FROM pg_database WHERE datname = {}",
                    literal(&database.name)
                ),
            )
            .await?;
        let (name, owner) = (ident(&database.name), ident(&database.owner));
        let statement = if exists == "0" {
            format!("CREATE DATABASE {name} OWNER {owner}")
        } else {
            format!("ALTER DATABASE {name} OWNER TO {owner}")
        };
        primary.psql("postgres", &statement).await?;
    }
    Ok(())
}

/// A statement that creates `role` with `options`, or gives an existing one those options.
fn ensure_role(role: &str, options: &str) -> String {
    format!(
        "DO $cnpg$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN \
         ALTER ROLE {id} {options}; ELSE CREATE ROLE {id} {options}; END IF; END $cnpg$;",
        name = literal(role),
        id = ident(role),
    )
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted SQL string literal (`standard_conforming_strings` is on).
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert!(ensure_role("r", "LOGIN").contains("CREATE ROLE \"r\" LOGIN"));
    }
}
