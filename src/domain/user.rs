//! Accounts: sign-up (with the personal workspace), sign-in, the profile.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::{
    audit::{self, Actor},
    email::Email,
    member::ensure_an_owner_remains,
    password,
    policy::{self, Policy, RateLimit},
    session::{RequestMeta, SignedIn},
    workspace, Core, Error, Result,
};
use crate::store::{Constraint, Credentials, NewUser, StoreError, Tx, UserChange};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub personal_workspace_id: Option<Uuid>,
    pub primary_workspace_id: Option<Uuid>,
    pub photo_url: Option<String>,
    /// When the user finished onboarding (set by the client).
    pub onboarded_at: Option<DateTime<Utc>>,
    pub product_updates_subscribed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The longest picture URL.
pub const MAX_PHOTO_URL_LEN: usize = 2048;

/// The longest display name, in characters.
pub const MAX_NAME_LEN: usize = 200;

/// Checks and trims a display name; reported under `field`.
pub fn parse_name(field: &str, raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid(field, "required", "a name is required"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(Error::invalid(
            field,
            "too_long",
            format!("a name has at most {MAX_NAME_LEN} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "invalid",
            "a name has no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// What sign-up needs.
pub struct Signup {
    pub email: String,
    pub password: SecretString,
    pub name: String,
}

/// Changes a user may make to their own profile.
#[derive(Debug, Default)]
pub struct ProfilePatch {
    pub name: Option<String>,
    /// `Some(None)` removes the picture.
    pub photo_url: Option<Option<String>>,
    /// `true` records now as the onboarding time (once); `false` clears it.
    pub onboarded: Option<bool>,
    pub product_updates_subscribed: Option<bool>,
}

/// An account about to be created, with its personal workspace.
pub(super) struct NewAccount {
    pub user_id: Uuid,
    pub email: Email,
    pub name: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
}

/// Stores a user with their personal workspace (owner) and the audit events, inside the
/// caller's transaction. `email_taken` when the email has an account.
pub(super) async fn insert_account(
    tx: &mut Tx<'_>,
    account: &NewAccount,
    actor: &Actor,
) -> Result<User> {
    let new = NewUser {
        id: account.user_id,
        email: account.email.as_str(),
        email_key: account.email.key(),
        name: &account.name,
        password_hash: account.password_hash.as_deref(),
        email_verified: account.email_verified,
        now: actor.at,
    };
    match tx.insert_user(&new).await {
        Err(StoreError::Conflict(Constraint::UserEmail)) => return Err(email_taken()),
        other => other?,
    }
    let personal = workspace::personal(account.user_id, &account.name, actor.at);
    let signed_up = User {
        id: account.user_id,
        email: account.email.as_str().to_owned(),
        name: account.name.clone(),
        email_verified: account.email_verified,
        personal_workspace_id: None,
        primary_workspace_id: None,
        photo_url: None,
        onboarded_at: None,
        product_updates_subscribed: false,
        created_at: actor.at,
        updated_at: actor.at,
    };
    audit::record(tx, &audit::user_signed_up(actor, &signed_up)).await?;
    workspace::insert_with_owner(tx, &personal, account.user_id, actor).await?;
    Ok(tx
        .set_personal_workspace(account.user_id, personal.id)
        .await?)
}

/// An unverified account refused sign-in under `require_verified_email`.
pub(super) fn email_not_verified() -> Error {
    Error::forbidden(
        "email_not_verified",
        "verify your email address first: follow the link sent to it",
    )
}

fn email_taken() -> Error {
    Error::conflict("email_taken", "an account with this email already exists")
}

impl Core {
    /// Creates an account and its personal workspace (the user as owner), and signs in, under
    /// the surface's budgets per client IP and per email, charged once the input is well-formed
    /// and before any hashing or writing (a refused attempt writes nothing).
    pub async fn signup(
        &self,
        input: Signup,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<SignedIn> {
        let (email, name) = collect(Email::parse(&input.email), parse_name("name", &input.name))?;
        password::validate("password", &input.password)?;
        let counters = policy
            .signup
            .counters("signup", meta.ip.as_deref(), email.key());
        policy::charge_alone(&self.store, &counters, self.clock.now()).await?;
        let password_hash = self.passwords.hash(input.password).await?;
        let user = self
            .create_account(email, name, Some(password_hash), false, meta)
            .await?;
        self.start_session(user.id, None, meta).await
    }

    /// Creates a user and their personal workspace; used by sign-up and the operator CLI. An
    /// unverified address is sent its verification link in the same transaction.
    pub async fn create_account(
        &self,
        email: Email,
        name: String,
        password_hash: Option<String>,
        email_verified: bool,
        meta: &RequestMeta,
    ) -> Result<User> {
        let account = NewAccount {
            user_id: Uuid::now_v7(),
            email,
            name,
            password_hash,
            email_verified,
        };
        let actor = self.actor(Some(account.user_id), meta);
        let mut tx = self.store.write().await?;
        let user = insert_account(&mut tx, &account, &actor).await?;
        if !email_verified {
            self.queue_verification(
                &mut tx,
                user.id,
                &user.name,
                &account.email,
                false,
                actor.at,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    /// Signs in with email and password, under the surface's budgets per client IP and per
    /// email (counted with the per-email sign-in limit). An unknown email and a wrong password
    /// answer alike. The surface may bind the session to the user's primary workspace.
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<SignedIn> {
        let extra = policy
            .login
            .counters("login", meta.ip.as_deref(), &email_bucket(email));
        let account = self.check_password_charged(email, password, extra).await?;
        if self.settings.require_verified_email && !account.email_verified {
            return Err(email_not_verified());
        }
        let bound = if policy.bind_login_to_primary {
            account.primary_workspace_id
        } else {
            None
        };
        self.start_session(account.user_id, bound, meta).await
    }

    /// The user whose email and password these are; rate limited per email. An unknown email
    /// and a wrong password answer alike, in about the same time.
    pub async fn check_password(&self, email: &str, password: SecretString) -> Result<Uuid> {
        Ok(self
            .check_password_charged(email, password, Vec::new())
            .await?
            .user_id)
    }

    /// `check_password`, also charging the attempt to `extra` counters (all or none).
    async fn check_password_charged(
        &self,
        email: &str,
        password: SecretString,
        mut extra: Vec<RateLimit>,
    ) -> Result<Credentials> {
        // Attempts are counted per email before any check, across replicas and restarts.
        extra.push(RateLimit {
            bucket: format!("login:{}", email_bucket(email)),
            window_secs: 60,
            limit: self.settings.limits.logins_per_minute,
        });
        policy::charge_alone(&self.store, &extra, self.clock.now()).await?;
        let Ok(email) = Email::parse(email) else {
            // Still spend the hashing time, so a malformed address is not distinguishable.
            self.passwords.verify(password, None).await?;
            return Err(Error::InvalidCredentials);
        };
        let found = self.store.read().credentials(email.key()).await?;
        let stored = found.as_ref().and_then(|c| c.password_hash.clone());
        if !self.passwords.verify(password, stored).await? {
            return Err(Error::InvalidCredentials);
        }
        found.ok_or(Error::InvalidCredentials)
    }

    /// The user's own account.
    pub async fn me(&self, user_id: Uuid) -> Result<User> {
        self.store
            .read()
            .user(user_id)
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Updates the caller's profile.
    pub async fn update_me(
        &self,
        user_id: Uuid,
        patch: ProfilePatch,
        meta: &RequestMeta,
    ) -> Result<User> {
        let name = patch
            .name
            .as_deref()
            .map(|n| parse_name("name", n))
            .transpose()?;
        let photo_url = match &patch.photo_url {
            Some(Some(url)) => {
                let url = url.trim();
                if url.chars().count() > MAX_PHOTO_URL_LEN
                    || !(url.starts_with("https://") || url.starts_with("http://"))
                {
                    return Err(Error::invalid(
                        "photo_url",
                        "invalid",
                        format!("an http(s) URL of at most {MAX_PHOTO_URL_LEN} characters"),
                    ));
                }
                Some(Some(url))
            }
            Some(None) => Some(None),
            None => None,
        };
        let change = UserChange {
            name: name.as_deref(),
            photo_url,
            onboarded: patch.onboarded,
            product_updates_subscribed: patch.product_updates_subscribed,
        };
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let before = tx.user(user_id).await?.ok_or(Error::Unauthenticated)?;
        let after = tx
            .update_user(user_id, &change, actor.at)
            .await?
            .ok_or(Error::Unauthenticated)?;
        audit::record(&mut tx, &audit::user_updated(&actor, &before, &after)).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the caller's account: every session and key ends; workspaces where they were
    /// the only member are deleted; refused while they are the last owner of a workspace that
    /// has other members (`last_owner`). Every workspace they belong to is locked, in id order,
    /// so two deletions cannot deadlock.
    pub async fn delete_account(&self, user_id: Uuid, meta: &RequestMeta) -> Result<()> {
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        for (ws, role) in tx.memberships_of(user_id).await? {
            tx.lock_workspace(ws, None).await?;
            if tx.member_count(ws).await? == 1 {
                tx.delete_workspace(ws).await?;
                audit::record(
                    &mut tx,
                    &audit::workspace_deleted_with_last_member(&actor, ws),
                )
                .await?;
                continue;
            }
            tx.delete_member(ws, user_id).await?;
            ensure_an_owner_remains(&mut tx, ws, role).await?;
            tx.adjust_member_count(ws, -1).await?;
            audit::record(
                &mut tx,
                &audit::member_left_with_account(&actor, ws, user_id, role),
            )
            .await?;
        }
        audit::record(&mut tx, &audit::user_deleted(&actor, user_id)).await?;
        // Sessions and keys go with the user (cascade).
        tx.delete_user(user_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user changes their own password: the current one is checked like a sign-in (and
    /// counted against the sign-in limit; a wrong one is `InvalidCredentials`), the new one
    /// validated; then, in one transaction, the password is set and every other session of the
    /// user ends (`keep`, the caller's session, stays). The number of sessions ended.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        current: SecretString,
        new: SecretString,
        meta: &RequestMeta,
    ) -> Result<u64> {
        password::validate("new_password", &new)?;
        let me = self.me(user_id).await?;
        let account = self
            .check_password_charged(&me.email, current, Vec::new())
            .await?;
        if account.user_id != user_id {
            return Err(Error::InvalidCredentials);
        }
        let hash = self.passwords.hash(new).await?;
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        if !tx.set_password_of(user_id, &hash, actor.at).await? {
            return Err(Error::NotFound);
        }
        let ended = tx
            .end_sessions_of_user(
                user_id,
                keep.unwrap_or(Uuid::nil()),
                "password_changed",
                actor.at,
            )
            .await?;
        audit::record(
            &mut tx,
            &audit::user_password_changed(&actor, user_id, ended),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Sets a user's password (operator command).
    pub async fn set_password(&self, email: &str, password: SecretString) -> Result<()> {
        let email = Email::parse(email)?;
        password::validate("password", &password)?;
        let hash = self.passwords.hash(password).await?;
        let now = self.clock.now();
        if self
            .store
            .read()
            .set_password(email.key(), &hash, now)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

/// The key sign-in attempts for `email` are counted under (also when it is malformed).
fn email_bucket(email: &str) -> String {
    policy::subject_key(email)
}

/// Runs two validations and reports the field errors of both.
fn collect<A, B>(a: Result<A>, b: Result<B>) -> Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(Error::Validation(mut x)), Err(Error::Validation(y))) => {
            x.extend(y);
            Err(Error::Validation(x))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}
