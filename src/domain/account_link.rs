//! Emailed account links: verifying an address (at sign-up, on request, before a change of
//! address takes effect) and resetting a forgotten password. A link is `ev_`/`pr_` + 32 random
//! bytes; only its SHA-256 is stored. It works once (a conditional update spends it), until it
//! expires, and a newer link of its kind supersedes it (the database keeps one live per user).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::{
    audit,
    email::Email,
    password,
    policy::{self, AttemptLimits, Quota, RateLimit},
    secret,
    session::RequestMeta,
    user::User,
    Core, Error, LinkFault, Result,
};
use crate::{
    mail,
    store::{AccountTokenRow, Constraint, NewAccountToken, StoreError, Tx},
};

/// Prefix of email-verification tokens.
pub const VERIFY_PREFIX: &str = "ev_";
/// Prefix of password-reset tokens.
pub const RESET_PREFIX: &str = "pr_";

/// How long a verification link works.
pub const VERIFY_TTL_HOURS: i64 = 24;
/// How long a reset link works.
pub const RESET_TTL_HOURS: i64 = 1;

/// The least time a forgot-password request takes, whatever happens inside: the work done
/// for an existing account (a link, a message, an audit event) stays well below it, so the
/// answer's timing says nothing about whether the account exists.
pub const FORGOT_PASSWORD_FLOOR: StdDuration = StdDuration::from_millis(100);

/// What a link is for, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ChangeEmail,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ChangeEmail => "change_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

/// What a link page may show before it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPreview {
    pub user_id: Uuid,
    /// The address the link was sent to, masked (`a***@example.com`).
    pub masked_email: String,
    pub expires_at: DateTime<Utc>,
    /// A verification link that changes the account's address once used.
    pub change_of_email: bool,
}

/// A verified address.
#[derive(Debug, Clone)]
pub struct Verified {
    pub user: User,
    /// The address the account had before, when the link changed it.
    pub previous_email: Option<String>,
}

/// An address with the first character of its local part kept.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// The stored hash of a token that has the shape of one with `prefix` (43 base64url
/// characters after it); anything else is `Invalid` without a lookup.
fn token_hash(token: &str, prefix: &str) -> Result<Vec<u8>> {
    let token = token.trim();
    let well_formed = token.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if well_formed {
        Ok(secret::hash(token))
    } else {
        Err(Error::LinkRefused(LinkFault::Invalid))
    }
}

/// Why a stored link no longer works at `now`, if it does not.
fn fault(row: &AccountTokenRow, now: DateTime<Utc>) -> Option<LinkFault> {
    if row.used_at.is_some() {
        Some(LinkFault::Used)
    } else if row.superseded_at.is_some() {
        Some(LinkFault::Superseded)
    } else if row.expires_at.0 <= now {
        Some(LinkFault::Expired)
    } else {
        None
    }
}

fn check_live(row: &AccountTokenRow, now: DateTime<Utc>) -> Result<()> {
    fault(row, now).map_or(Ok(()), |f| Err(Error::LinkRefused(f)))
}

/// A silent per-address budget was exceeded: `Ok(true)`; any other error stays one.
fn over_budget(charged: Result<()>) -> Result<bool> {
    match charged {
        Ok(()) => Ok(false),
        Err(Error::RateLimited { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}

/// The per-address budget of mail a request by address may cause, exceeded silently: one a
/// minute, three an hour.
fn address_budget(kind: &str, email_key: &str) -> Vec<RateLimit> {
    let mut limits = AttemptLimits {
        per_ip: None,
        per_subject: Some(Quota::per_minute(1)),
    }
    .counters(&format!("{kind}_cooldown"), None, email_key);
    limits.extend(
        AttemptLimits {
            per_ip: None,
            per_subject: Some(Quota::per_hour(3)),
        }
        .counters(kind, None, email_key),
    );
    limits
}

fn email_taken() -> Error {
    Error::conflict("email_taken", "an account with this email already exists")
}

fn concurrent() -> Error {
    Error::conflict(
        "concurrent_request",
        "another request for this link is in progress; retry",
    )
}

impl Core {
    fn page_url(&self, page: &str, token: &str) -> String {
        format!(
            "{}/{page}/{token}",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    /// Issues a link of `purpose` for `email` inside `tx`, superseding the user's live one of
    /// that purpose; the token. `Conflict(LiveAccountToken)` is `concurrent_request`.
    async fn issue_link(
        &self,
        tx: &mut Tx<'_>,
        user_id: Uuid,
        purpose: Purpose,
        email: &Email,
        at: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>)> {
        let (prefix, hours) = match purpose {
            Purpose::ResetPassword => (RESET_PREFIX, RESET_TTL_HOURS),
            Purpose::VerifyEmail | Purpose::ChangeEmail => (VERIFY_PREFIX, VERIFY_TTL_HOURS),
        };
        tx.supersede_account_tokens(user_id, Some(purpose.as_str()), at)
            .await?;
        let s = secret::generate(prefix);
        let expires_at = at + Duration::hours(hours);
        let row = NewAccountToken {
            id: Uuid::now_v7(),
            user_id,
            purpose: purpose.as_str(),
            token_hash: &s.hash,
            email: email.as_str(),
            email_key: email.key(),
            created_at: at,
            expires_at,
        };
        match tx.insert_account_token(&row).await {
            Err(StoreError::Conflict(Constraint::LiveAccountToken)) => return Err(concurrent()),
            other => other?,
        }
        Ok((s.text, expires_at))
    }

    /// Queues, inside `tx`, the link that verifies `email` for the user (`change`: the link
    /// that makes it their address), superseding the previous one.
    pub(super) async fn queue_verification(
        &self,
        tx: &mut Tx<'_>,
        user_id: Uuid,
        name: &str,
        email: &Email,
        change: bool,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let purpose = if change {
            Purpose::ChangeEmail
        } else {
            Purpose::VerifyEmail
        };
        let (token, expires_at) = self.issue_link(tx, user_id, purpose, email, at).await?;
        let url = self.page_url("verify-email", &token);
        let message = mail::verify_email(email.as_str(), name, &url, expires_at, change);
        tx.queue_mail(None, &message, at).await?;
        Ok(())
    }

    /// The budgets of verification mail sent on request: per account and per address.
    fn verification_budget(&self, user_id: Uuid, email_key: &str) -> Vec<RateLimit> {
        let quota = Quota::per_hour(self.settings.limits.verifications_per_hour);
        vec![
            quota.limit(format!("verify_user:{user_id}")),
            quota.limit(format!("verify_address:{}", policy::subject_key(email_key))),
        ]
    }

    /// Sends the caller a new verification link (the previous one stops working), under the
    /// per-account and per-address budgets. `already_verified` (409) when it is.
    pub async fn resend_verification(&self, user_id: Uuid, meta: &RequestMeta) -> Result<()> {
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let user = tx.user(user_id).await?.ok_or(Error::Unauthenticated)?;
        if user.email_verified {
            return Err(Error::conflict(
                "already_verified",
                "your email address is already verified",
            ));
        }
        let email = Email::parse(&user.email)?;
        policy::charge(
            &mut tx,
            &self.verification_budget(user_id, email.key()),
            actor.at,
        )
        .await?;
        self.queue_verification(&mut tx, user_id, &user.name, &email, false, actor.at)
            .await?;
        audit::record(
            &mut tx,
            &audit::email_verification_sent(&actor, user_id, &user.email),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends a new verification link to `email` if it names an unverified account; answers the
    /// same whatever the account (a silent per-address budget, a per-IP one that may refuse).
    pub async fn resend_verification_to(&self, email: &str, meta: &RequestMeta) -> Result<()> {
        let email = Email::parse(email)?;
        let now = self.clock.now();
        let per_ip = AttemptLimits {
            per_ip: Some(Quota::per_hour(
                self.settings
                    .limits
                    .verifications_per_hour
                    .saturating_mul(4),
            )),
            per_subject: None,
        }
        .counters("verify_resend", meta.ip.as_deref(), "");
        let mut tx = self.store.write().await?;
        policy::charge(&mut tx, &per_ip, now).await?;
        let quiet = over_budget(
            policy::charge(&mut tx, &address_budget("verify_resend", email.key()), now).await,
        )?;
        let found = tx.credentials(email.key()).await?;
        let Some(account) = found.filter(|a| !quiet && !a.email_verified) else {
            tx.commit().await?;
            return Ok(());
        };
        let user = tx.user(account.user_id).await?.ok_or(Error::NotFound)?;
        let actor = self.actor(Some(user.id), meta);
        let address = Email::parse(&user.email)?;
        match self
            .queue_verification(&mut tx, user.id, &user.name, &address, false, now)
            .await
        {
            Err(Error::Conflict { .. }) => return Ok(()),
            other => other?,
        }
        audit::record(
            &mut tx,
            &audit::email_verification_sent(&actor, user.id, &user.email),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a verification link works, and for whom; `LinkRefused` when it does not.
    pub async fn verification_preview(&self, token: &str) -> Result<LinkPreview> {
        let hash = token_hash(token, VERIFY_PREFIX)?;
        let purposes = (Purpose::VerifyEmail.as_str(), Purpose::ChangeEmail.as_str());
        self.preview_link(&hash, purposes).await
    }

    /// Whether a password-reset link works, and for whom; `LinkRefused` when it does not.
    pub async fn reset_preview(&self, token: &str) -> Result<LinkPreview> {
        let hash = token_hash(token, RESET_PREFIX)?;
        let purpose = Purpose::ResetPassword.as_str();
        self.preview_link(&hash, (purpose, purpose)).await
    }

    async fn preview_link(&self, hash: &[u8], purposes: (&str, &str)) -> Result<LinkPreview> {
        let row = self
            .store
            .read()
            .account_token(hash, purposes)
            .await?
            .ok_or(Error::LinkRefused(LinkFault::Invalid))?;
        check_live(&row, self.clock.now())?;
        Ok(LinkPreview {
            user_id: row.user_id,
            masked_email: mask_email(&row.email),
            expires_at: row.expires_at.0,
            change_of_email: row.purpose == Purpose::ChangeEmail.as_str(),
        })
    }

    /// Spends a link read inside `tx`: exactly one of racing callers wins; the others learn
    /// why the link no longer works.
    async fn spend(
        &self,
        tx: &mut Tx<'_>,
        hash: &[u8],
        purposes: (&str, &str),
        at: DateTime<Utc>,
    ) -> Result<AccountTokenRow> {
        let row = tx
            .account_token(hash, purposes)
            .await?
            .ok_or(Error::LinkRefused(LinkFault::Invalid))?;
        check_live(&row, at)?;
        if !tx.spend_account_token(row.id, at).await? {
            return Err(Error::LinkRefused(LinkFault::Used));
        }
        Ok(row)
    }

    /// Uses a verification link: the address is verified, or, for a change of address, it
    /// becomes the account's (`email_taken` when another account took it meanwhile; nothing
    /// changes then). Every other live link of the user is superseded by a change.
    pub async fn verify_email(&self, token: &str, meta: &RequestMeta) -> Result<Verified> {
        let hash = token_hash(token, VERIFY_PREFIX)?;
        let purposes = (Purpose::VerifyEmail.as_str(), Purpose::ChangeEmail.as_str());
        let now = self.clock.now();
        let mut tx = self.store.write().await?;
        let row = self.spend(&mut tx, &hash, purposes, now).await?;
        let actor = self.actor(Some(row.user_id), meta);
        let before = tx.user(row.user_id).await?.ok_or(Error::NotFound)?;
        let verified = if row.purpose == Purpose::ChangeEmail.as_str() {
            let after = match tx
                .change_email(row.user_id, &row.email, &row.email_key, now)
                .await
            {
                Err(StoreError::Conflict(Constraint::UserEmail)) => return Err(email_taken()),
                other => other?.ok_or(Error::NotFound)?,
            };
            tx.supersede_account_tokens(row.user_id, None, now).await?;
            audit::record(
                &mut tx,
                &audit::email_changed(&actor, row.user_id, &before.email, &after.email),
            )
            .await?;
            Verified {
                user: after,
                previous_email: Some(before.email),
            }
        } else {
            if !tx
                .mark_email_verified(row.user_id, &row.email_key, now)
                .await?
            {
                // The account's address changed since this link was sent.
                return Err(Error::LinkRefused(LinkFault::Superseded));
            }
            audit::record(
                &mut tx,
                &audit::email_verified(&actor, row.user_id, &row.email),
            )
            .await?;
            let user = tx.user(row.user_id).await?.ok_or(Error::NotFound)?;
            Verified {
                user,
                previous_email: None,
            }
        };
        tx.commit().await?;
        Ok(verified)
    }

    /// The operator marks an account's address verified (audited; the actor is the operator).
    pub async fn mark_verified_by_operator(&self, email: &str, meta: &RequestMeta) -> Result<User> {
        let email = Email::parse(email)?;
        let actor = self.actor(None, meta);
        let mut tx = self.store.write().await?;
        let account = tx.credentials(email.key()).await?.ok_or(Error::NotFound)?;
        tx.mark_email_verified(account.user_id, email.key(), actor.at)
            .await?;
        tx.supersede_account_tokens(
            account.user_id,
            Some(Purpose::VerifyEmail.as_str()),
            actor.at,
        )
        .await?;
        let user = tx.user(account.user_id).await?.ok_or(Error::NotFound)?;
        audit::record(
            &mut tx,
            &audit::email_verified(&actor, user.id, &user.email),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The user asks to change their address: the current password is checked like a sign-in
    /// (and counted against the sign-in limit); a link goes to the new address (the account
    /// keeps the old one until it is used) and a notice to the old one, under the
    /// verification budgets. The user, unchanged.
    pub async fn request_email_change(
        &self,
        user_id: Uuid,
        new_email: &str,
        current_password: SecretString,
        meta: &RequestMeta,
    ) -> Result<User> {
        let email = Email::parse(new_email)?;
        let me = self.me(user_id).await?;
        if me.email.to_lowercase() == email.key() {
            return Err(Error::invalid(
                "email",
                "unchanged",
                "this already is your address",
            ));
        }
        if self.check_password(&me.email, current_password).await? != user_id {
            return Err(Error::InvalidCredentials);
        }
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        if tx.credentials(email.key()).await?.is_some() {
            return Err(email_taken());
        }
        policy::charge(
            &mut tx,
            &self.verification_budget(user_id, email.key()),
            actor.at,
        )
        .await?;
        self.queue_verification(&mut tx, user_id, &me.name, &email, true, actor.at)
            .await?;
        let notice = mail::email_change_notice(&me.email, &me.name, email.as_str());
        tx.queue_mail(None, &notice, actor.at).await?;
        audit::record(
            &mut tx,
            &audit::email_change_requested(&actor, user_id, &me.email, email.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(me)
    }

    /// The new address a change of the user's email waits on, if any.
    pub async fn pending_email(&self, user_id: Uuid) -> Result<Option<String>> {
        Ok(self
            .store
            .read()
            .pending_email(user_id, self.clock.now())
            .await?)
    }

    /// Someone forgot the password of `email`. Always the same answer, in at least
    /// [`FORGOT_PASSWORD_FLOOR`]: when the address has an account, a reset link (1 h, the
    /// previous one superseded) is queued. Per client IP the requests are limited (429, for
    /// any address alike); per address a link goes out at most once a minute and three times an
    /// hour, and further requests quietly queue nothing.
    pub async fn forgot_password(&self, email: &str, meta: &RequestMeta) -> Result<()> {
        let started = tokio::time::Instant::now();
        let outcome = self.forgot_password_now(email, meta).await;
        tokio::time::sleep_until(started + FORGOT_PASSWORD_FLOOR).await;
        outcome
    }

    async fn forgot_password_now(&self, email: &str, meta: &RequestMeta) -> Result<()> {
        let email = Email::parse(email)?;
        let now = self.clock.now();
        let per_ip = AttemptLimits {
            per_ip: Some(Quota::per_hour(self.settings.limits.resets_per_hour_per_ip)),
            per_subject: None,
        }
        .counters("reset", meta.ip.as_deref(), "");
        let mut tx = self.store.write().await?;
        policy::charge(&mut tx, &per_ip, now).await?;
        let quiet =
            over_budget(policy::charge(&mut tx, &address_budget("reset", email.key()), now).await)?;
        // The same statements so far whether or not the account exists.
        let found = tx.credentials(email.key()).await?;
        let Some(account) = found.filter(|_| !quiet) else {
            tx.commit().await?;
            return Ok(());
        };
        let user = tx.user(account.user_id).await?.ok_or(Error::NotFound)?;
        let actor = self.actor(Some(user.id), meta);
        // The link proves the account's address as stored, whatever case was typed.
        let address = Email::parse(&user.email)?;
        let (token, expires_at) = match self
            .issue_link(&mut tx, user.id, Purpose::ResetPassword, &address, now)
            .await
        {
            // A concurrent request for the same account is sending its link.
            Err(Error::Conflict { .. }) => return Ok(()),
            other => other?,
        };
        let url = self.page_url("reset-password", &token);
        let message = mail::password_reset(&user.email, &user.name, &url, expires_at);
        tx.queue_mail(None, &message, now).await?;
        audit::record(&mut tx, &audit::password_reset_requested(&actor, user.id)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses a reset link: the new password is validated (like sign-up's) and set, and in the
    /// same transaction every session and refresh token of the user ends, the address the link
    /// was sent to is marked verified (if it still is the account's) and the link is spent
    /// (exactly one of racing uses wins). The number of sessions ended.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: SecretString,
        meta: &RequestMeta,
    ) -> Result<u64> {
        password::validate("password", &new_password)?;
        let hash = token_hash(token, RESET_PREFIX)?;
        let purpose = Purpose::ResetPassword.as_str();
        // Refuse a dead link before spending a password hash on it.
        self.preview_link(&hash, (purpose, purpose)).await?;
        let password_hash = self.passwords.hash(new_password).await?;
        let now = self.clock.now();
        let mut tx = self.store.write().await?;
        let row = self.spend(&mut tx, &hash, (purpose, purpose), now).await?;
        let actor = self.actor(Some(row.user_id), meta);
        if !tx.set_password_of(row.user_id, &password_hash, now).await? {
            return Err(Error::LinkRefused(LinkFault::Invalid));
        }
        let ended = tx
            .end_sessions_of_user(row.user_id, Uuid::nil(), "password_reset", now)
            .await?;
        tx.mark_email_verified(row.user_id, &row.email_key, now)
            .await?;
        audit::record(
            &mut tx,
            &audit::user_password_reset(&actor, row.user_id, ended),
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_of_the_right_shape_are_looked_up() {
        let good = secret::generate(RESET_PREFIX).text;
        assert!(token_hash(&good, RESET_PREFIX).is_ok());
        assert!(token_hash(&good, VERIFY_PREFIX).is_err());
        assert!(token_hash(&good[..good.len() - 1], RESET_PREFIX).is_err());
        assert!(token_hash(&format!("{good}\0"), RESET_PREFIX).is_err());
        assert!(token_hash("pr_ünïcødé", RESET_PREFIX).is_err());
        assert!(token_hash("", RESET_PREFIX).is_err());
    }

    #[test]
    fn a_masked_address_keeps_its_first_letter_and_domain() {
        assert_eq!(mask_email("ada@example.com"), "a***@example.com");
        assert_eq!(mask_email("nobody"), "***");
    }
}
