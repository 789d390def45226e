//! Accounts: sign-up (with the personal workspace), sign-in, the profile.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::{
    audit::Actor, email::Email, password, policy::AttemptLimits, session::RequestMeta,
    session::TokenPair, workspace, Core, Error, Result,
};
use crate::store::{NewAccount, RateLimit, StoreError, UserChange};

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

impl Core {
    /// Creates an account and its personal workspace (the user as owner), and signs in.
    pub async fn signup(&self, input: Signup, meta: &RequestMeta) -> Result<(User, TokenPair)> {
        self.signup_with(input, &AttemptLimits::NONE, meta).await
    }

    /// `signup` under extra budgets per client IP and per email, charged once the input is
    /// well-formed and before any hashing or writing (a refused attempt writes nothing).
    pub async fn signup_with(
        &self,
        input: Signup,
        limits: &AttemptLimits,
        meta: &RequestMeta,
    ) -> Result<(User, TokenPair)> {
        let (email, name) = collect(Email::parse(&input.email), parse_name("name", &input.name))?;
        password::validate("password", &input.password)?;
        let counters = limits.counters("signup", meta.ip.as_deref(), email.key());
        self.store
            .hit_rate_limits(&counters, self.clock.now())
            .await?;
        let password_hash = self.passwords.hash(input.password).await?;
        let user = self
            .create_account(email, name, Some(password_hash), false, meta)
            .await?;
        let tokens = self.start_session(user.id, None, meta).await?;
        Ok((user, tokens))
    }

    /// Creates a user and their personal workspace; used by sign-up and the operator CLI.
    pub async fn create_account(
        &self,
        email: Email,
        name: String,
        password_hash: Option<String>,
        email_verified: bool,
        meta: &RequestMeta,
    ) -> Result<User> {
        let now = self.clock.now();
        let account = NewAccount {
            user_id: Uuid::now_v7(),
            workspace_id: Uuid::now_v7(),
            workspace_slug: workspace::personal_slug(&name),
            workspace_name: format!("{name}'s workspace"),
            email: email.as_str().to_owned(),
            email_key: email.key().to_owned(),
            name,
            password_hash,
            email_verified,
            now,
        };
        let actor = Actor::new(Some(account.user_id), meta, now);
        match self.store.create_account(&account, &actor).await {
            Ok(user) => Ok(user),
            Err(StoreError::UniqueViolation(c)) if c.contains("email") => Err(Error::conflict(
                "email_taken",
                "an account with this email already exists",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Signs in with email and password. An unknown email and a wrong password answer alike.
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        meta: &RequestMeta,
    ) -> Result<TokenPair> {
        let user_id = self.check_password(email, password).await?;
        self.start_session(user_id, None, meta).await
    }

    /// Signs in with a session bound to the user's primary workspace (for clients that see
    /// one workspace at a time: a removal or downgrade there ends the session), under extra
    /// budgets per client IP and per email, counted with the per-email sign-in limit.
    pub async fn login_to_primary_workspace(
        &self,
        email: &str,
        password: SecretString,
        limits: &AttemptLimits,
        meta: &RequestMeta,
    ) -> Result<TokenPair> {
        let extra = limits.counters("login", meta.ip.as_deref(), &email_bucket(email));
        let user_id = self.check_password_charged(email, password, extra).await?;
        let primary = self.me(user_id).await?.primary_workspace_id;
        self.start_session(user_id, primary, meta).await
    }

    /// The user whose email and password these are; rate limited per email. An unknown email
    /// and a wrong password answer alike, in about the same time.
    pub async fn check_password(&self, email: &str, password: SecretString) -> Result<Uuid> {
        self.check_password_charged(email, password, Vec::new())
            .await
    }

    /// `check_password`, also charging the attempt to `extra` counters (all or none).
    async fn check_password_charged(
        &self,
        email: &str,
        password: SecretString,
        mut extra: Vec<RateLimit>,
    ) -> Result<Uuid> {
        // Attempts are counted per email before any check, across replicas and restarts.
        extra.push(RateLimit {
            bucket: format!("login:{}", email_bucket(email)),
            window_secs: 60,
            limit: self.settings.limits.logins_per_minute,
        });
        self.store.hit_rate_limits(&extra, self.clock.now()).await?;
        let Ok(email) = Email::parse(email) else {
            // Still spend the hashing time, so a malformed address is not distinguishable.
            self.passwords.verify(password, None).await?;
            return Err(Error::InvalidCredentials);
        };
        let found = self.store.credentials_by_email(email.key()).await?;
        let (user_id, stored) = match found {
            Some((id, hash)) => (Some(id), hash),
            None => (None, None),
        };
        if !self.passwords.verify(password, stored).await? {
            return Err(Error::InvalidCredentials);
        }
        user_id.ok_or(Error::InvalidCredentials)
    }

    /// The user's own account.
    pub async fn me(&self, user_id: Uuid) -> Result<User> {
        self.store
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
        self.store
            .update_user(
                user_id,
                &change,
                &Actor::new(Some(user_id), meta, self.clock.now()),
            )
            .await?
            .ok_or(Error::Unauthenticated)
    }

    /// Deletes the caller's account: every session and key ends; workspaces where they were
    /// the only member are deleted; refused while they are the last owner of a workspace that
    /// has other members (`last_owner`).
    pub async fn delete_account(&self, user_id: Uuid, meta: &RequestMeta) -> Result<()> {
        let actor = Actor::new(Some(user_id), meta, self.clock.now());
        Ok(self.store.delete_account(user_id, &actor).await?)
    }

    /// Sets a user's password (operator command).
    pub async fn set_password(&self, email: &str, password: SecretString) -> Result<()> {
        let email = Email::parse(email)?;
        password::validate("password", &password)?;
        let hash = self.passwords.hash(password).await?;
        if self
            .store
            .set_password(email.key(), &hash, self.clock.now())
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
    email.trim().to_lowercase().chars().take(300).collect()
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
