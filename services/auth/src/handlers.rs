//! One handler per auth operation, and the state they share.
//!
//! Nothing secret is ever logged: passwords, hashes and tokens stay out of every log line
//! (the request DTOs redact them in `Debug` too); users appear by id, except in the login
//! lines, which name the attempted account (the normalised email) and the client address so
//! that guessing can be traced.

use std::sync::Arc;
use std::time::Duration;

use contract::auth::{
    DeleteUser, GetJwks, GetRevoked, Jwks, Login, Logout, Me, Refresh, RefreshRequest, Register,
    RevokedUser, RevokedUsers, TOKEN_TYPE, TokenPair, User,
};
use contract::caller::ROLE_USER;
use contract::{FieldErrors, RequestOf, ServiceError};
use mongodb::bson::DateTime;
use runtime::RequestContext;
use tracing::{error, info, warn};

use crate::metrics::{AuthMetrics, LoginFailure};
use crate::password::Passwords;
use crate::store::{Claim, RefreshDoc, Store, StoreError, UserDoc};
use crate::throttle::{Attempt, Refusal, Throttle};
use crate::tokens::{self, Issuer, Subject};
use crate::validate;

/// The one answer to a bad email or password.
pub const BAD_CREDENTIALS: &str = "invalid email or password";
/// The one answer to a refresh token that cannot be exchanged.
pub const BAD_REFRESH_TOKEN: &str = "invalid or expired refresh token";
/// The 409 of a registration whose email is taken.
pub const EMAIL_TAKEN: &str = "an account with this email already exists";
/// The 409 of a registration whose username is taken.
pub const USERNAME_TAKEN: &str = "this username is taken (usernames are unique regardless of case)";
/// How long a deleted account stays revoked beyond the access-token lifetime: more than the
/// gateway's clock leeway on `exp`.
const REVOCATION_MARGIN: Duration = Duration::from_secs(60);
/// Longest user id looked up (ids are UUIDs).
const MAX_USER_ID_LEN: usize = 64;
/// Longest client address accepted from the gateway header.
const MAX_CLIENT_ADDR_LEN: usize = 64;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

/// The parts of [`Auth`].
pub struct Inner {
    /// The database.
    pub store: Store,
    /// Password hashing.
    pub passwords: Passwords,
    /// Access-token signing.
    pub issuer: Issuer,
    /// Failed-login throttling.
    pub throttle: Throttle,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// Failed logins by reason.
    pub metrics: AuthMetrics,
    /// Wakes the events relay ([`crate::events`]) after a registration.
    pub events: Arc<tokio::sync::Notify>,
}

impl Auth {
    /// State from its parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for Auth {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Logs a store failure and turns it into a client-safe error.
fn store_error(e: StoreError) -> ServiceError {
    if e.is_unavailable() {
        error!(error = %e, "database unavailable");
        ServiceError::unavailable("database unavailable")
    } else {
        error!(error = %e, "database error");
        ServiceError::internal()
    }
}

fn later(ttl: Duration) -> DateTime {
    let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    DateTime::from_millis(DateTime::now().timestamp_millis().saturating_add(ms))
}

/// `auth.register`: creates an account with the `user` role.
pub async fn register(
    state: Auth,
    _: RequestContext,
    req: RequestOf<Register>,
) -> Result<User, ServiceError> {
    let body = req.body;
    FieldErrors(validate::check_registration(&body)).finish()?;
    let password_hash = state.passwords.hash(body.password).await.map_err(|e| {
        error!(error = %e, "password hashing failed");
        ServiceError::internal()
    })?;
    let mut user = UserDoc {
        id: uuid::Uuid::now_v7().to_string(),
        username_key: Some(validate::username_key(&body.username)),
        username: body.username,
        email: validate::normalize_email(&body.email),
        password_hash,
        roles: vec![ROLE_USER.to_owned()],
        created_at: DateTime::now(),
        pending_event: None,
    };
    // The event goes into the account's own document: see `crate::events`.
    user.pending_event = Some(crate::events::registered(&user).map_err(|e| {
        error!(error = %e, "the registration event could not be encoded");
        ServiceError::internal()
    })?);
    match state.store.insert_user(&user).await {
        Ok(()) => {
            info!(user_id = %user.id, "account registered");
            state.events.notify_one();
            Ok(user.profile())
        }
        Err(StoreError::Duplicate) => Err(duplicate(&state, &user).await),
        Err(e) => Err(store_error(e)),
    }
}

/// The 409 for a registration a unique index refused: which of the two names is taken. The
/// index decided; this lookup only words the answer.
async fn duplicate(state: &Auth, user: &UserDoc) -> ServiceError {
    let key = user.username_key.as_deref().unwrap_or_default();
    match state.store.username_taken(key).await {
        Ok(true) => ServiceError::conflict(USERNAME_TAKEN),
        Ok(false) => ServiceError::conflict(EMAIL_TAKEN),
        Err(e) => store_error(e),
    }
}

/// `auth.login`: checks the password (or a dummy one) and issues a token pair.
pub async fn login(
    state: Auth,
    ctx: RequestContext,
    req: RequestOf<Login>,
) -> Result<TokenPair, ServiceError> {
    FieldErrors(validate::check_login(&req.body)).finish()?;
    let email = validate::normalize_email(&req.body.email);
    let password = req.body.password;

    let addr = ctx
        .headers
        .get(contract::auth::CLIENT_ADDR_HEADER)
        .map(|v| v.as_str().trim())
        .filter(|a| !a.is_empty() && a.len() <= MAX_CLIENT_ADDR_LEN);
    // Logged with `?` (escaped): both come from callers and must not forge log lines.
    let client = addr.unwrap_or("-");
    let attempt = Attempt::new(&email, addr);
    // Nothing waits here: a delayed or crowded attempt is answered at once, so a flood holds
    // no request slot and no hashing slot (see `throttle`).
    let checking = match state.throttle.admit(&attempt) {
        Ok(checking) => checking,
        Err(refusal) => {
            let retry_after = refusal.retry_after();
            let reason = match refusal {
                Refusal::Locked(_) => {
                    warn!(account = ?email, client = ?client, retry_after, "login throttled");
                    LoginFailure::Locked
                }
                Refusal::Delayed(_) => {
                    info!(account = ?email, client = ?client, retry_after, "login delayed");
                    LoginFailure::Delayed
                }
                Refusal::Busy(_) => {
                    info!(account = ?email, client = ?client, retry_after, "login busy");
                    LoginFailure::Busy
                }
            };
            state.metrics.login_failed(reason);
            return Err(ServiceError::rate_limited(refusal.message(), retry_after));
        }
    };

    let user = match state.store.user_by_email(&email).await {
        Ok(user) => user,
        Err(e) => {
            checking.abandoned();
            return Err(store_error(e));
        }
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matched = state.passwords.verify(password, stored).await;
    let Some(user) = user.filter(|_| matched) else {
        checking.failed();
        state.metrics.login_failed(LoginFailure::BadCredentials);
        info!(account = ?email, client = ?client, "login failed");
        return Err(ServiceError::unauthenticated(BAD_CREDENTIALS));
    };
    checking.succeeded();
    let pair = issue(&state, &user, uuid::Uuid::new_v4().to_string()).await?;
    info!(user_id = %user.id, "logged in");
    Ok(pair)
}

/// Signs an access token and stores a new refresh token in `family`.
async fn issue(state: &Auth, user: &UserDoc, family: String) -> Result<TokenPair, ServiceError> {
    let access_token = state
        .issuer
        .access_token(&Subject {
            id: &user.id,
            email: &user.email,
            roles: &user.roles,
        })
        .map_err(|e| {
            error!(error = %e, "access token could not be signed");
            ServiceError::internal()
        })?;
    let refresh_token = tokens::new_refresh_token();
    let now = DateTime::now();
    state
        .store
        .insert_refresh(&RefreshDoc {
            hash: tokens::hash_refresh_token(&refresh_token),
            family,
            user_id: user.id.clone(),
            expires_at: later(state.refresh_ttl),
            created_at: now,
            used_at: None,
        })
        .await
        .map_err(store_error)?;
    Ok(TokenPair {
        access_token,
        token_type: TOKEN_TYPE.to_owned(),
        expires_in: state.issuer.ttl.as_secs(),
        refresh_token,
    })
}

/// The refresh token of a request, or why it is refused outright.
fn presented(body: &RefreshRequest) -> Result<&str, ServiceError> {
    if let Some(field) = validate::check_refresh_token(body) {
        return Err(ServiceError::validation(vec![field]));
    }
    let token = body.refresh_token.trim();
    if !tokens::is_well_formed(token) {
        return Err(ServiceError::unauthenticated(BAD_REFRESH_TOKEN));
    }
    Ok(token)
}

/// `auth.refresh`: exchanges an unused refresh token for a new pair in the same family; a
/// token presented twice revokes its whole family.
pub async fn refresh(
    state: Auth,
    _: RequestContext,
    req: RequestOf<Refresh>,
) -> Result<TokenPair, ServiceError> {
    let token = presented(&req.body)?;
    let hash = tokens::hash_refresh_token(token);
    let doc = match state
        .store
        .claim_refresh(&hash)
        .await
        .map_err(store_error)?
    {
        Claim::Fresh(doc) => doc,
        Claim::Reused(doc) => {
            warn!(user_id = %doc.user_id, family = %doc.family, "refresh token reused; revoking its family");
            state
                .store
                .revoke_family(&doc.family, later(state.refresh_ttl))
                .await
                .map_err(store_error)?;
            return Err(ServiceError::unauthenticated(BAD_REFRESH_TOKEN));
        }
        Claim::Unknown => return Err(ServiceError::unauthenticated(BAD_REFRESH_TOKEN)),
    };
    // The TTL index may not have reclaimed it yet: expiry is decided here.
    if doc.expires_at <= DateTime::now() {
        return Err(ServiceError::unauthenticated(BAD_REFRESH_TOKEN));
    }
    if state
        .store
        .family_revoked(&doc.family)
        .await
        .map_err(store_error)?
    {
        return Err(ServiceError::unauthenticated(BAD_REFRESH_TOKEN));
    }
    let Some(user) = state
        .store
        .user_by_id(&doc.user_id)
        .await
        .map_err(store_error)?
    else {
        return Err(ServiceError::unauthenticated(BAD_REFRESH_TOKEN));
    };
    let pair = issue(&state, &user, doc.family).await?;
    info!(user_id = %user.id, "tokens refreshed");
    Ok(pair)
}

/// `auth.logout`: revokes the presented refresh token and its session (family). Idempotent:
/// an unknown or already revoked token still answers 204.
pub async fn logout(
    state: Auth,
    _: RequestContext,
    req: RequestOf<Logout>,
) -> Result<(), ServiceError> {
    let token = presented(&req.body)?;
    let hash = tokens::hash_refresh_token(token);
    if let Some(doc) = state
        .store
        .refresh_by_hash(&hash)
        .await
        .map_err(store_error)?
    {
        state
            .store
            .revoke_family(&doc.family, later(state.refresh_ttl))
            .await
            .map_err(store_error)?;
        info!(user_id = %doc.user_id, "logged out");
    }
    Ok(())
}

/// `auth.me`: the caller's profile, from the identity the gateway verified.
pub async fn me(state: Auth, ctx: RequestContext, _: RequestOf<Me>) -> Result<User, ServiceError> {
    let caller = ctx.require_caller()?;
    state
        .store
        .user_by_id(&caller.user_id)
        .await
        .map_err(store_error)?
        .map(|u| u.profile())
        .ok_or_else(|| ServiceError::not_found("user not found"))
}

/// `auth.jwks`: the published public keys.
pub async fn jwks(
    state: Auth,
    _: RequestContext,
    _: RequestOf<GetJwks>,
) -> Result<Jwks, ServiceError> {
    Ok(state.issuer.keys.jwks().clone())
}

/// The 403 an administrator gets for deleting their own account.
pub const DELETING_SELF: &str = "you cannot delete your own account; another administrator can";

/// `auth.delete_user` (admin): deletes an account and its refresh tokens, and lists it as
/// revoked for one access-token lifetime so the gateway refuses its access tokens.
///
/// An administrator's own account is refused ([`DELETING_SELF`]): the token that asked would
/// be revoked with it, and the last administrator would leave nobody able to administer, short
/// of a restart with `ADMIN_EMAIL`. Another administrator can delete it.
pub async fn delete_user(
    state: Auth,
    ctx: RequestContext,
    req: RequestOf<DeleteUser>,
) -> Result<(), ServiceError> {
    let caller = ctx.require_caller()?;
    let id = req.params.id.as_str();
    if id == caller.user_id {
        return Err(ServiceError::forbidden(DELETING_SELF));
    }
    let not_found = || ServiceError::not_found("user not found");
    if id.len() > MAX_USER_ID_LEN {
        return Err(not_found());
    }
    if state
        .store
        .user_by_id(id)
        .await
        .map_err(store_error)?
        .is_none()
    {
        return Err(not_found());
    }
    // Revoked first: once the account is gone, nothing else remembers its tokens' subject.
    state
        .store
        .revoke_user(id, later(state.issuer.ttl + REVOCATION_MARGIN))
        .await
        .map_err(store_error)?;
    if !state.store.delete_user(id).await.map_err(store_error)? {
        // Deleted concurrently by another request: its outcome is the same.
        return Err(not_found());
    }
    info!(user_id = %id, by = %caller.user_id, "account deleted");
    Ok(())
}

/// `auth.revoked` (internal): the users whose access tokens the gateway must refuse.
pub async fn revoked(
    state: Auth,
    _: RequestContext,
    _: RequestOf<GetRevoked>,
) -> Result<RevokedUsers, ServiceError> {
    let docs = state.store.revoked_users().await.map_err(store_error)?;
    let users = docs
        .into_iter()
        .map(|r| RevokedUser {
            sub: r.user_id,
            until: r.expires_at.timestamp_millis().div_euclid(1000),
        })
        .collect();
    Ok(RevokedUsers { users })
}
