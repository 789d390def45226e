//! Invitations: create (one or many), list, read, extend, cancel, resend, and the invitee's
//! preview, accept (signed in, or creating the account) and decline. The secret token is 32
//! random bytes, only its SHA-256 stored, returned once; every change of state is a conditional
//! update, so a token works exactly once whatever races with it.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::{
    audit::{self, Actor},
    auth::Principal,
    custom_role::resolve_role,
    email::Email,
    member::{lock_actor, lock_with_role},
    paging::{Cursor, Page, PageRequest},
    password,
    permission::{Catalogue, Permission},
    policy::{self, Policy, RateLimit},
    role::{check_grant, Assignment, Role, RoleLabel, RoleName},
    secret,
    session::{RequestMeta, SignedIn},
    user::{insert_account, parse_name, NewAccount},
    workspace::Access,
    Core, Error, Result,
};
use crate::{
    mail,
    store::{Credentials, InvitationKey, NewInvitationRow, Tx},
};

/// The lifetime of an invitation unless the inviter chooses one, and the longest allowed.
pub const DEFAULT_LIFETIME_DAYS: u32 = 7;
pub const MAX_LIFETIME_DAYS: u32 = 90;
/// Prefix of invitation tokens.
pub const TOKEN_PREFIX: &str = "inv_";
/// The most rows of one bulk request.
pub const MAX_BULK: usize = 100;

/// Where an invitation stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Accepted,
            Status::Declined,
            Status::Revoked,
            Status::Expired,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// An invitation (never with its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    /// The built-in role, or the base of the custom role.
    pub role: Role,
    /// The custom role, with its permissions as stored.
    pub custom: Option<(RoleLabel, String)>,
    /// As stored; see [`Invitation::status_at`] for what it is now.
    pub stored_status: Status,
    pub inviter_id: Option<Uuid>,
    /// The inviter's email, while their account exists.
    pub inviter_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Invitation {
    /// The role the invitation grants.
    pub fn assignment(&self) -> Assignment {
        Assignment {
            base: self.role,
            custom: self.custom.clone(),
        }
    }

    /// The custom role it grants, if any.
    pub fn custom_role(&self) -> Option<RoleLabel> {
        self.custom.as_ref().map(|(l, _)| l.clone())
    }

    /// A pending invitation past its expiry is expired.
    pub fn status_at(&self, now: DateTime<Utc>) -> Status {
        if self.stored_status == Status::Pending && self.expires_at <= now {
            Status::Expired
        } else {
            self.stored_status
        }
    }
}

/// What the invitee sees before accepting.
#[derive(Debug, Clone)]
pub struct Preview {
    pub invitation: Invitation,
    pub workspace_name: String,
    pub inviter_name: Option<String>,
    /// Whether an account with the invited email exists (the page then asks to sign in).
    pub account_exists: bool,
}

/// What the inviter asks for.
#[derive(Debug, Clone)]
pub struct InviteRequest {
    pub email: String,
    pub role: RoleName,
    pub lifetime_days: Option<u32>,
    pub send_email: bool,
}

/// A created (or resent) invitation with its secret, returned this once.
#[derive(Debug, Clone)]
pub struct Issued {
    pub invitation: Invitation,
    pub token: String,
    pub invite_url: String,
}

/// Rate limits the domain enforces, from configuration (0 disables one).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub invites_per_hour: u32,
    pub resends_per_hour: u32,
    pub logins_per_minute: u32,
    /// Password-reset requests per client IP per hour.
    pub resets_per_hour_per_ip: u32,
    /// Verification emails sent on request per account and per address per hour.
    pub verifications_per_hour: u32,
}

/// How an invitee names the invitation they answer.
#[derive(Debug, Clone, Copy)]
pub enum InvitationRef<'a> {
    /// By its secret token (the link in the email).
    Token(&'a str),
    /// By its public id, signed in with the invited email.
    Id(Uuid),
}

/// Where an invitation's expiry moves to.
#[derive(Debug, Clone, Copy)]
pub enum NewExpiry {
    /// This many days from now (the default lifetime when `None`).
    InDays(Option<u32>),
    /// This time.
    At(DateTime<Utc>),
}

/// How an invitee answers.
pub enum Acceptance {
    /// Signed in: the account's email must be the invited one.
    SignedIn(Principal),
    /// Not signed in, and no account exists for the invited email: create it.
    NewAccount {
        name: String,
        password: SecretString,
    },
    /// Not signed in, but the account exists: its password (the accept page's form).
    Password(SecretString),
    /// Not signed in, without a password: the token alone proves the mailbox. Creates the
    /// account with no password, or accepts for an existing account that has none; an account
    /// with a password must use it.
    Passwordless { name: String },
}

/// What a batch resend did: per row, the reissued invitation or why it was skipped.
pub struct BatchResend {
    pub results: Vec<(Uuid, Result<Issued>)>,
    /// Set when the page of pending invitations was capped.
    pub next_cursor: Option<Cursor>,
    /// Pending invitations after this page.
    pub remaining: u64,
}

/// What accepting yields.
pub struct Accepted {
    pub workspace_id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub custom_role: Option<RoleLabel>,
    /// The new session, when the account was created by accepting.
    pub signed_in: Option<SignedIn>,
}

fn lifetime(days: Option<u32>) -> Result<Duration> {
    let days = days.unwrap_or(DEFAULT_LIFETIME_DAYS);
    if days == 0 || days > MAX_LIFETIME_DAYS {
        return Err(Error::invalid(
            "expires_in_days",
            "out_of_range",
            format!("an invitation lives 1 to {MAX_LIFETIME_DAYS} days"),
        ));
    }
    Ok(Duration::days(i64::from(days)))
}

fn hour_window(bucket: String, limit: u32) -> RateLimit {
    RateLimit {
        bucket,
        window_secs: 3600,
        limit,
    }
}

impl Core {
    fn invite_url(&self, token: &str) -> String {
        format!(
            "{}/invite/{token}",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    fn issue_token(&self) -> (String, Vec<u8>) {
        let s = secret::generate(TOKEN_PREFIX);
        (s.text, s.hash)
    }

    /// Invites one person. Owner and admin only; an admin cannot invite as owner; not oneself,
    /// not a member; an existing pending invitation for the same email is revoked and
    /// replaced. The authority and the inviter's rate limit are judged in the transaction.
    pub async fn invite(
        &self,
        access: &Access,
        request: InviteRequest,
        meta: &RequestMeta,
    ) -> Result<Issued> {
        access.require(Permission::InvitationsManage)?;
        let email = Email::parse(&request.email)?;
        let actor = self.actor(access.actor_id(), meta);
        let expires_at = actor.at + lifetime(request.lifetime_days)?;
        let (token, token_hash) = self.issue_token();
        let invite_url = self.invite_url(&token);
        let ws = access.workspace.id;
        let id = Uuid::now_v7();
        let limit = hour_window(
            format!("invite:{}", access.user_id()),
            self.settings.limits.invites_per_hour,
        );
        access.require_person()?;
        let inviter = self.me(access.user_id()).await?;
        let mut tx = self.store.write_workspace(ws).await?;
        let catalogue = &self.settings.permissions;
        let actor_held = lock_actor(&mut tx, catalogue, access, actor.at).await?;
        actor_held.grants.require(Permission::InvitationsManage)?;
        let (role, held) = resolve_role(&mut tx, catalogue, ws, &request.role).await?;
        check_grant(&actor_held, &held)?;
        policy::charge(&mut tx, &[limit], actor.at).await?;
        if inviter.email.to_lowercase() == email.key() {
            return Err(Error::conflict(
                "cannot_invite_self",
                "you cannot invite yourself",
            ));
        }
        if tx.is_member_email(ws, email.key()).await? {
            return Err(Error::conflict(
                "already_member",
                "someone with this email is already a member",
            ));
        }
        for old in tx
            .revoke_pending_invitations_for(ws, email.key(), actor.at)
            .await?
        {
            tx.withdraw_mail(old).await?;
            let replaced = tx.invitation(ws, old).await?.ok_or(Error::NotFound)?;
            audit::record(
                &mut tx,
                &audit::invitation_revoked(&actor, &replaced, Some(id)),
            )
            .await?;
        }
        let mut invitation = tx
            .insert_invitation(&NewInvitationRow {
                id,
                workspace_id: ws,
                email: email.as_str(),
                email_key: email.key(),
                role: &role,
                token_hash: &token_hash,
                inviter_id: Some(inviter.id),
                created_at: actor.at,
                expires_at,
            })
            .await?;
        if request.send_email {
            let mail = mail::invitation(
                email.as_str(),
                &access.workspace.name,
                &inviter.name,
                role.base,
                &invite_url,
                expires_at,
            );
            tx.queue_mail(Some(id), &mail, actor.at).await?;
        }
        invitation.inviter_email = Some(inviter.email);
        audit::record(
            &mut tx,
            &audit::invitation_created(&actor, &invitation, request.send_email),
        )
        .await?;
        tx.commit().await?;
        Ok(Issued {
            invitation,
            token,
            invite_url,
        })
    }

    /// Invites many, each on its own: the answer has one result per row.
    pub async fn invite_many(
        &self,
        access: &Access,
        requests: Vec<InviteRequest>,
        meta: &RequestMeta,
    ) -> Result<Vec<Result<Issued>>> {
        access.require(Permission::InvitationsManage)?;
        if requests.is_empty() || requests.len() > MAX_BULK {
            return Err(Error::invalid(
                "invitations",
                "out_of_range",
                format!("send 1 to {MAX_BULK} invitations at once"),
            ));
        }
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            results.push(self.invite(access, request, meta).await);
        }
        Ok(results)
    }

    /// A page of the workspace's invitations with one status (pending by default).
    pub async fn invitations(
        &self,
        access: &Access,
        status: Option<Status>,
        page: &PageRequest,
    ) -> Result<Page<Invitation>> {
        access.require(Permission::InvitationsManage)?;
        let (ws, status, now) = (
            access.workspace.id,
            status.unwrap_or(Status::Pending),
            self.clock.now(),
        );
        let mut db = self.store.read();
        let found = db.invitations(ws, status, now, page).await?;
        let total = db.count_invitations(ws, status, now).await?;
        Ok(Page::from_rows(found, page.limit, total, |i| Cursor {
            at: i.created_at,
            id: i.id,
        }))
    }

    /// One invitation of the workspace.
    pub async fn invitation(&self, access: &Access, id: Uuid) -> Result<Invitation> {
        let found = self
            .store
            .read()
            .invitation(access.workspace.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        access.require(Permission::InvitationsManage)?;
        Ok(found)
    }

    /// Moves a pending invitation's expiry: to some days from now, or to a time in the future
    /// at most `MAX_LIFETIME_DAYS` away. The token stays the same and no mail is sent.
    pub async fn extend_invitation(
        &self,
        access: &Access,
        id: Uuid,
        expiry: NewExpiry,
        meta: &RequestMeta,
    ) -> Result<Invitation> {
        let now = self.clock.now();
        let expires_at = match expiry {
            NewExpiry::InDays(days) => now + lifetime(days)?,
            NewExpiry::At(at) if at <= now => {
                return Err(Error::invalid(
                    "expires_at",
                    "in_past",
                    "the new expiry must be in the future",
                ))
            }
            NewExpiry::At(at) if at > now + Duration::days(i64::from(MAX_LIFETIME_DAYS)) => {
                return Err(Error::invalid(
                    "expires_at",
                    "out_of_range",
                    format!("an invitation lives at most {MAX_LIFETIME_DAYS} days from now"),
                ))
            }
            NewExpiry::At(at) => at,
        };
        self.move_expiry(access, id, expires_at, meta).await
    }

    async fn move_expiry(
        &self,
        access: &Access,
        id: Uuid,
        expires_at: DateTime<Utc>,
        meta: &RequestMeta,
    ) -> Result<Invitation> {
        let ws = access.workspace.id;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let current =
            locked_invitation(&mut tx, &self.settings.permissions, access, id, actor.at).await?;
        check_open(&current, actor.at)?;
        tx.set_invitation_expiry(id, expires_at).await?;
        let moved = tx.invitation(ws, id).await?.ok_or(Error::NotFound)?;
        audit::record(
            &mut tx,
            &audit::invitation_expiry_moved(&actor, &moved, current.expires_at, false),
        )
        .await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// Cancels a pending (or expired) invitation: its token stops working at once.
    pub async fn cancel_invitation(
        &self,
        access: &Access,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<()> {
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(access.workspace.id).await?;
        let current =
            locked_invitation(&mut tx, &self.settings.permissions, access, id, actor.at).await?;
        // An expired invitation may still be cancelled; anything else must be pending.
        if current.stored_status != Status::Pending {
            check_open(&current, actor.at)?;
        }
        if !tx.revoke_invitation(id, actor.at).await? {
            return Err(not_pending());
        }
        tx.withdraw_mail(id).await?;
        audit::record(&mut tx, &audit::invitation_revoked(&actor, &current, None)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues a new token and expiry and sends a new email; the old token dies. A surface may
    /// refuse an expired invitation (invite again instead) rather than reissue it.
    pub async fn resend_invitation(
        &self,
        access: &Access,
        id: Uuid,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<Issued> {
        let current = self.invitation(access, id).await?;
        let now = self.clock.now();
        if policy.resend.refuse_expired && current.status_at(now) == Status::Expired {
            return Err(check_open(&current, now).err().unwrap_or(Error::NotFound));
        }
        let actor = self.actor(access.actor_id(), meta);
        let limit = hour_window(
            format!("resend:{}", access.user_id()),
            self.settings.limits.resends_per_hour,
        );
        access.require_person()?;
        let inviter = self.me(access.user_id()).await?;
        self.reissue(
            &current,
            &access.workspace.name,
            &inviter.name,
            Some(&limit),
            &actor,
        )
        .await
    }

    /// New token, new expiry (the default lifetime), new mail, for a pending invitation. With
    /// `limit`, a person is resending: their authority is judged in the transaction, then
    /// their rate limit; without, the outbox worker is replacing mail lost mid-delivery.
    pub(crate) async fn reissue(
        &self,
        current: &Invitation,
        workspace_name: &str,
        inviter_name: &str,
        limit: Option<&RateLimit>,
        actor: &Actor,
    ) -> Result<Issued> {
        let (ws, id) = (current.workspace_id, current.id);
        let expires_at = actor.at + lifetime(None)?;
        let (token, token_hash) = self.issue_token();
        let invite_url = self.invite_url(&token);
        let mail = mail::invitation(
            &current.email,
            workspace_name,
            inviter_name,
            current.role,
            &invite_url,
            expires_at,
        );
        let mut tx = self.store.write_workspace(ws).await?;
        let before = tx.invitation(ws, id).await?.ok_or(Error::NotFound)?;
        if let Some(limit) = limit {
            let resender = actor.user_id.ok_or(Error::NotFound)?;
            let catalogue = &self.settings.permissions;
            let held = lock_with_role(&mut tx, catalogue, ws, resender).await?;
            held.grants.require(Permission::InvitationsManage)?;
            check_grant(&held, &catalogue.held(&before.assignment()))?;
            policy::charge(&mut tx, std::slice::from_ref(limit), actor.at).await?;
        }
        if !tx.reissue_invitation(id, &token_hash, expires_at).await? {
            return Err(Error::conflict(
                "invitation_not_pending",
                "only a pending (or expired) invitation can be resent",
            ));
        }
        tx.withdraw_mail(id).await?;
        tx.queue_mail(Some(id), &mail, actor.at).await?;
        let invitation = tx.invitation(ws, id).await?.ok_or(Error::NotFound)?;
        audit::record(
            &mut tx,
            &audit::invitation_expiry_moved(actor, &invitation, before.expires_at, true),
        )
        .await?;
        tx.commit().await?;
        Ok(Issued {
            invitation,
            token,
            invite_url,
        })
    }

    /// Reissues many invitations, each as a resend would: the ones named, or else the next
    /// page of pending ones, newest first, after `before`. A row the caller may not touch or that
    /// is no longer pending is skipped, not fatal. The batch budget is charged once, and only
    /// when at least one row can be reissued.
    pub async fn resend_many(
        &self,
        access: &Access,
        ids: Option<Vec<Uuid>>,
        before: Option<Cursor>,
        policy: &Policy,
        meta: &RequestMeta,
    ) -> Result<BatchResend> {
        let policy = policy.batch_resend;
        access.require(Permission::InvitationsManage)?;
        let now = self.clock.now();
        let max = policy.max_rows;
        let mut rows: Vec<(Uuid, Result<Invitation>)> = Vec::new();
        let (mut next_cursor, mut remaining) = (None, 0);
        match ids {
            Some(ids) => {
                if ids.len() > max as usize {
                    return Err(Error::invalid(
                        "invitation_ids",
                        "too_many",
                        format!("at most {max} invitations per call"),
                    ));
                }
                let mut db = self.store.read();
                for id in ids {
                    let found = db.invitation(access.workspace.id, id).await?;
                    rows.push((id, found.ok_or(Error::NotFound)));
                }
            }
            None => {
                let page = PageRequest {
                    after: before,
                    newest_first: true,
                    ..PageRequest::first(max)
                };
                let found = self
                    .invitations(access, Some(Status::Pending), &page)
                    .await?;
                next_cursor = found.next_cursor;
                rows = found.data.into_iter().map(|i| (i.id, Ok(i))).collect();
                let mut after = found.next_cursor;
                while let Some(c) = after {
                    let rest = PageRequest {
                        after: Some(c),
                        newest_first: true,
                        ..PageRequest::first(super::paging::MAX_LIMIT)
                    };
                    let more = self
                        .invitations(access, Some(Status::Pending), &rest)
                        .await?;
                    remaining += more.data.len() as u64;
                    after = more.next_cursor;
                }
            }
        }
        let judged: Vec<(Uuid, Result<Invitation>)> = rows
            .into_iter()
            .map(|(id, found)| {
                let open = found.and_then(|inv| {
                    if policy.resend.refuse_expired || inv.status_at(now) != Status::Expired {
                        check_open(&inv, now)?;
                    }
                    check_grant(
                        &access.held(),
                        &self.settings.permissions.held(&inv.assignment()),
                    )?;
                    Ok(inv)
                });
                (id, open)
            })
            .collect();
        if let Some(quota) = policy.quota {
            if judged.iter().any(|(_, r)| r.is_ok()) {
                let limit = quota.limit(format!("resend_batch:{}", access.user_id()));
                policy::charge_alone(&self.store, &[limit], now).await?;
            }
        }
        access.require_person()?;
        let inviter = self.me(access.user_id()).await?;
        let actor = Actor::new(access.actor_id(), meta, now);
        // The batch has its own budget: each row re-checks authority without the single-resend
        // counter.
        let unmetered = hour_window(String::new(), 0);
        let mut results = Vec::with_capacity(judged.len());
        for (id, judged) in judged {
            let outcome = match judged {
                Ok(inv) => {
                    self.reissue(
                        &inv,
                        &access.workspace.name,
                        &inviter.name,
                        Some(&unmetered),
                        &actor,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            results.push((id, outcome));
        }
        Ok(BatchResend {
            results,
            next_cursor,
            remaining,
        })
    }

    /// The pending invitations addressed to the caller's email.
    pub async fn my_invitations(&self, principal: &Principal) -> Result<Vec<Preview>> {
        let me = self.me(principal.user_id).await?;
        Ok(self
            .store
            .read()
            .previews_for_email(&me.email.to_lowercase(), self.clock.now())
            .await?)
    }

    /// What a token's holder may see of its invitation. Unknown tokens are `NotFound`.
    pub async fn preview(&self, token: &str) -> Result<Preview> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 100 {
            return Err(Error::NotFound);
        }
        let hash = secret::hash(token);
        self.store
            .read()
            .preview(InvitationKey::Token(&hash))
            .await?
            .ok_or(Error::NotFound)
    }

    /// Accepts an invitation, named by its token or (signed in with the invited email, which
    /// stands in for the token) by its public id. The role, the workspace and the inviter's
    /// authority are checked again, and the invitation is spent, in one transaction.
    pub async fn accept(
        &self,
        invitation: InvitationRef<'_>,
        how: Acceptance,
        meta: &RequestMeta,
    ) -> Result<Accepted> {
        let (preview, hash) = match invitation {
            InvitationRef::Token(token) => (self.preview(token).await?, Some(secret::hash(token))),
            InvitationRef::Id(id) => {
                let Acceptance::SignedIn(principal) = &how else {
                    return Err(Error::Unauthenticated);
                };
                (self.my_invitation(principal, id).await?, None)
            }
        };
        let key = match &hash {
            Some(hash) => InvitationKey::Token(hash),
            None => InvitationKey::Id(preview.invitation.id),
        };
        check_open(&preview.invitation, self.clock.now())?;
        let user_id = match how {
            Acceptance::SignedIn(principal) => principal.user_id,
            Acceptance::Password(password) => {
                self.check_password(&preview.invitation.email, password)
                    .await?
            }
            Acceptance::NewAccount { name, password } => {
                return self
                    .accept_with_new_account(&preview, key, name, Some(password), meta)
                    .await
            }
            Acceptance::Passwordless { name } => {
                let email = Email::parse(&preview.invitation.email)?;
                match self.store.read().credentials(email.key()).await? {
                    None => {
                        return self
                            .accept_with_new_account(&preview, key, name, None, meta)
                            .await
                    }
                    Some(Credentials {
                        user_id,
                        password_hash: None,
                        ..
                    }) => user_id,
                    Some(_) => {
                        return Err(Error::conflict(
                            "account_has_password",
                            "this account has a password; accept the invitation with it",
                        ))
                    }
                }
            }
        };
        let actor = self.actor(Some(user_id), meta);
        self.accept_as(key, user_id, &actor).await
    }

    /// Accepts for an existing user, in one transaction.
    async fn accept_as(
        &self,
        key: InvitationKey<'_>,
        user_id: Uuid,
        actor: &Actor,
    ) -> Result<Accepted> {
        let mut tx = self.store.write().await?;
        let inv = accept_in(&mut tx, &self.settings.permissions, key, user_id, actor).await?;
        tx.commit().await?;
        Ok(Accepted {
            workspace_id: inv.workspace_id,
            user_id,
            role: inv.role,
            custom_role: inv.custom_role(),
            signed_in: None,
        })
    }

    /// Creates the invited email's account (verified: the token proves the mailbox) and
    /// accepts, in one transaction, then signs the new user in.
    async fn accept_with_new_account(
        &self,
        preview: &Preview,
        key: InvitationKey<'_>,
        name: String,
        password: Option<SecretString>,
        meta: &RequestMeta,
    ) -> Result<Accepted> {
        if preview.account_exists {
            return Err(account_exists());
        }
        let name = parse_name("name", &name)?;
        let password_hash = match password {
            Some(password) => {
                password::validate("password", &password)?;
                Some(self.passwords.hash(password).await?)
            }
            None => None,
        };
        let account = NewAccount {
            user_id: Uuid::now_v7(),
            email: Email::parse(&preview.invitation.email)?,
            name,
            password_hash,
            email_verified: true,
        };
        let actor = self.actor(Some(account.user_id), meta);
        let mut tx = self.store.write().await?;
        match insert_account(&mut tx, &account, &actor).await {
            Err(Error::Conflict {
                code: "email_taken",
                ..
            }) => return Err(account_exists()),
            other => other?,
        };
        let inv = accept_in(
            &mut tx,
            &self.settings.permissions,
            key,
            account.user_id,
            &actor,
        )
        .await?;
        tx.commit().await?;
        let signed_in = self.start_session(account.user_id, None, meta).await?;
        Ok(Accepted {
            workspace_id: inv.workspace_id,
            user_id: account.user_id,
            role: inv.role,
            custom_role: inv.custom_role(),
            signed_in: Some(signed_in),
        })
    }

    /// The invitee declines: named by the token (which proves they are the invitee), or by its
    /// public id, signed in with the invited email.
    pub async fn decline(
        &self,
        invitation: InvitationRef<'_>,
        by: Option<&Principal>,
        meta: &RequestMeta,
    ) -> Result<()> {
        match invitation {
            InvitationRef::Token(token) => {
                let preview = self.preview(token).await?;
                check_open(&preview.invitation, self.clock.now())?;
                let hash = secret::hash(token);
                let actor = self.actor(None, meta);
                self.decline_as(InvitationKey::Token(&hash), None, &actor)
                    .await
            }
            InvitationRef::Id(id) => {
                let principal = by.ok_or(Error::Unauthenticated)?;
                let preview = self.my_invitation(principal, id).await?;
                check_open(&preview.invitation, self.clock.now())?;
                let actor = self.actor(Some(principal.user_id), meta);
                let email_key = preview.invitation.email.to_lowercase();
                self.decline_as(InvitationKey::Id(id), Some(&email_key), &actor)
                    .await
            }
        }
    }

    /// Declines the pending invitation a key names (addressed to `email_key`, when given).
    async fn decline_as(
        &self,
        key: InvitationKey<'_>,
        email_key: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.store.write().await?;
        let id = tx
            .decline_invitation(key, email_key, actor.at)
            .await?
            .ok_or_else(not_pending)?;
        let inv = tx
            .invitation_by(InvitationKey::Id(id))
            .await?
            .ok_or(Error::NotFound)?;
        tx.withdraw_mail(id).await?;
        audit::record(&mut tx, &audit::invitation_declined(actor, &inv)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An invitation addressed to the caller's email, by its public id, whatever its status.
    /// One addressed to anyone else is `NotFound`: its id proves nothing about the caller.
    pub async fn my_invitation(&self, principal: &Principal, id: Uuid) -> Result<Preview> {
        let me = self.me(principal.user_id).await?;
        let found = self
            .store
            .read()
            .preview(InvitationKey::Id(id))
            .await?
            .ok_or(Error::NotFound)?;
        if found.invitation.email.to_lowercase() != me.email.to_lowercase() {
            return Err(Error::NotFound);
        }
        Ok(found)
    }
}

/// An invitation of the workspace, read with the workspace locked, for a change by someone who
/// manages invitations there (their role re-read under the lock). An id outside the workspace
/// is `NotFound` whatever the role.
async fn locked_invitation(
    tx: &mut Tx<'_>,
    catalogue: &Catalogue,
    access: &Access,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Invitation> {
    let ws = access.workspace.id;
    let held = lock_actor(tx, catalogue, access, now).await?;
    let current = tx.invitation(ws, id).await?.ok_or(Error::NotFound)?;
    held.grants.require(Permission::InvitationsManage)?;
    Ok(current)
}

/// Accepting, inside the caller's transaction: the invitation is pending and unexpired, the
/// user's email is the invited one, the inviter still may grant the role (judged with the
/// workspace locked), the user is not yet a member; then the token is spent, the membership
/// added, the email marked verified (accepting proves the mailbox) and the workspace made the
/// user's primary one.
async fn accept_in(
    tx: &mut Tx<'_>,
    catalogue: &Catalogue,
    key: InvitationKey<'_>,
    user_id: Uuid,
    actor: &Actor,
) -> Result<Invitation> {
    let inv = tx.invitation_by(key).await?.ok_or(Error::NotFound)?;
    check_open(&inv, actor.at)?;
    let user = tx.user(user_id).await?.ok_or(Error::Unauthenticated)?;
    if user.email.to_lowercase() != inv.email.to_lowercase() {
        return Err(Error::conflict(
            "invitation_email_mismatch",
            "this invitation is addressed to another email; sign in with that one",
        ));
    }
    let ws = inv.workspace_id;
    let inviter_role = tx
        .lock_workspace(ws, inv.inviter_id)
        .await?
        .ok_or(Error::NotFound)?;
    let role = inv.assignment();
    let may_grant = |r: &Assignment| {
        let inviter = catalogue.held(r);
        inviter.grants.has(Permission::InvitationsManage)
            && check_grant(&inviter, &catalogue.held(&role)).is_ok()
    };
    if !inviter_role.as_ref().is_some_and(may_grant) {
        return Err(Error::conflict(
            "inviter_lost_authority",
            "whoever sent this invitation may no longer grant this role",
        ));
    }
    if tx.role_of(ws, user_id).await?.is_some() {
        return Err(Error::conflict(
            "already_member",
            "you are already a member of this workspace",
        ));
    }
    if !tx.accept_invitation(inv.id, user_id, actor.at).await? {
        return Err(Error::conflict(
            "invitation_accepted",
            "this invitation has already been used",
        ));
    }
    tx.insert_member(ws, user_id, &role, actor.at).await?;
    tx.adjust_member_count(ws, 1).await?;
    tx.verify_email_and_set_primary(user_id, ws).await?;
    audit::record(tx, &audit::invitation_accepted(actor, &inv, user_id)).await?;
    audit::record(
        tx,
        &audit::member_added(actor, ws, user_id, &role, Some(inv.id)),
    )
    .await?;
    Ok(inv)
}

fn not_pending() -> Error {
    Error::conflict(
        "invitation_not_pending",
        "this invitation is no longer pending",
    )
}

fn account_exists() -> Error {
    Error::conflict(
        "account_exists",
        "an account with this email exists; sign in, then accept",
    )
}

/// Refuses an invitation that is no longer pending, with a code per reason.
pub fn check_open(inv: &Invitation, now: DateTime<Utc>) -> Result<()> {
    match inv.status_at(now) {
        Status::Pending => Ok(()),
        Status::Expired => Err(Error::conflict(
            "invitation_expired",
            "this invitation has expired",
        )),
        Status::Accepted => Err(Error::conflict(
            "invitation_accepted",
            "this invitation has already been accepted",
        )),
        Status::Declined => Err(Error::conflict(
            "invitation_declined",
            "this invitation was declined",
        )),
        Status::Revoked => Err(Error::conflict(
            "invitation_revoked",
            "this invitation was cancelled or replaced",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_one_to_ninety_days() {
        assert_eq!(lifetime(None).expect("default"), Duration::days(7));
        assert!(lifetime(Some(0)).is_err());
        assert!(lifetime(Some(91)).is_err());
        assert_eq!(lifetime(Some(90)).expect("max"), Duration::days(90));
    }
}
