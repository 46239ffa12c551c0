//! Admin bootstrap: `ADMIN_EMAIL` + `ADMIN_PASSWORD` ensure an account with the `admin` role at
//! start-up. Idempotent and safe with several replicas starting at once: an existing account
//! (or one a concurrent replica just created) only gains the role; its password is never
//! overwritten, so rotating `ADMIN_PASSWORD` does not silently reset a changed password.

use contract::caller::{ROLE_ADMIN, ROLE_USER};
use mongodb::bson::DateTime;
use runtime::config::ExposeSecret;
use tracing::info;

use crate::config::Config;
use crate::password::{self, PasswordError, Passwords};
use crate::store::{Store, StoreError, UserDoc};
use crate::validate;

/// The username given to a bootstrapped admin.
pub const ADMIN_USERNAME: &str = "admin";

/// Why the admin account could not be ensured.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Only one of `ADMIN_EMAIL` and `ADMIN_PASSWORD` is set.
    #[error("ADMIN_EMAIL and ADMIN_PASSWORD must be set together")]
    Partial,
    /// The email or password breaks the account rules.
    #[error("invalid admin account: {0}")]
    Invalid(String),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Ensures the configured admin account exists with the admin role; does nothing when no admin
/// is configured.
pub async fn ensure_admin(
    config: &Config,
    store: &Store,
    passwords: &Passwords,
) -> Result<(), BootstrapError> {
    let (email, admin_password) = match (&config.admin_email, &config.admin_password) {
        (None, None) => return Ok(()),
        (Some(email), Some(password)) => {
            (validate::normalize_email(email), password.expose_secret())
        }
        _ => return Err(BootstrapError::Partial),
    };
    if let Some(e) = validate::check_email(&email)
        .or_else(|| password::check_policy(admin_password, contract::deploy::env::ADMIN_PASSWORD))
    {
        return Err(BootstrapError::Invalid(format!(
            "{}: {}",
            e.field, e.message
        )));
    }
    if store.add_role(&email, ROLE_ADMIN).await? {
        info!("admin account present; admin role ensured");
        return Ok(());
    }
    let id = uuid::Uuid::now_v7().to_string();
    let password_hash = passwords.hash(admin_password.to_owned()).await?;
    // `admin`, unless someone registered that name first: then one of its own.
    let names = [
        ADMIN_USERNAME.to_owned(),
        format!("{ADMIN_USERNAME}-{}", &id[id.len() - 8..]),
    ];
    for username in names {
        let user = UserDoc {
            id: id.clone(),
            username_key: Some(validate::username_key(&username)),
            username,
            email: email.clone(),
            password_hash: password_hash.clone(),
            roles: vec![ROLE_USER.to_owned(), ROLE_ADMIN.to_owned()],
            created_at: DateTime::now(),
            pending_event: None,
        };
        match store.insert_user(&user).await {
            Ok(()) => {
                info!(user_id = %user.id, username = %user.username, "admin account created");
                return Ok(());
            }
            // Another replica won the race: make sure the role is there.
            Err(StoreError::Duplicate) if store.add_role(&email, ROLE_ADMIN).await? => {
                info!("admin account present; admin role ensured");
                return Ok(());
            }
            Err(StoreError::Duplicate) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(BootstrapError::Invalid(
        "no free username for the admin account".to_owned(),
    ))
}
