//! Ownership transfers: an owner proposes that a member become owner; the member accepts or
//! declines, the proposer or any owner cancels, and an unanswered proposal expires after seven
//! days. Every step is judged in one transaction with the workspace locked, and a pending
//! transfer ends with a conditional update, so exactly one of racing answers wins.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    audit::{self, Actor},
    member::{ensure_an_owner_remains, lock_with_role},
    permission::Catalogue,
    role::{Assignment, Role},
    session::RequestMeta,
    workspace::Access,
    Core, Error, Result,
};
use crate::{
    mail,
    store::{Constraint, StoreError, Tx},
};

/// How long a proposal waits for its answer.
pub const LIFETIME_DAYS: i64 = 7;

/// Where a transfer stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
    Expired,
}

impl TransferStatus {
    const ALL: [TransferStatus; 5] = [
        TransferStatus::Pending,
        TransferStatus::Accepted,
        TransferStatus::Declined,
        TransferStatus::Cancelled,
        TransferStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Pending => "pending",
            TransferStatus::Accepted => "accepted",
            TransferStatus::Declined => "declined",
            TransferStatus::Cancelled => "cancelled",
            TransferStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<TransferStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A proposal that `to_user_id` become an owner of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub from_user_id: Uuid,
    pub to_user_id: Uuid,
    /// The proposer stays an owner; otherwise they become admin on acceptance.
    pub keep_ownership: bool,
    pub status: TransferStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// How a pending transfer ends without a change of owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    Declined,
    Cancelled,
    /// Its proposer is no longer an owner, or its target no longer a member below owner.
    Stale,
    Expired,
}

impl Closing {
    pub fn status(self) -> TransferStatus {
        match self {
            Closing::Declined => TransferStatus::Declined,
            Closing::Cancelled | Closing::Stale => TransferStatus::Cancelled,
            Closing::Expired => TransferStatus::Expired,
        }
    }
}

/// Why a pending transfer can no longer be accepted at `now`, given the proposer's and the
/// target's roles then; `None` while it can.
pub fn fault(
    t: &Transfer,
    now: DateTime<Utc>,
    proposer: Option<Role>,
    target: Option<Role>,
) -> Option<Closing> {
    if t.expires_at <= now {
        Some(Closing::Expired)
    } else if proposer != Some(Role::Owner) || target.is_none_or(|r| r == Role::Owner) {
        Some(Closing::Stale)
    } else {
        None
    }
}

fn owner_only() -> Error {
    Error::forbidden(
        "owner_only",
        "only an owner of the workspace may do this with its ownership",
    )
}

fn no_pending() -> Error {
    Error::missing(
        "no_pending_transfer",
        "this workspace has no pending ownership transfer for you",
    )
}

fn transfer_pending() -> Error {
    Error::conflict(
        "transfer_pending",
        "an ownership transfer is already pending; cancel it first",
    )
}

fn refusal(how: Closing) -> Error {
    match how {
        Closing::Expired => Error::gone("transfer_expired", "this ownership transfer has expired"),
        _ => Error::conflict(
            "transfer_stale",
            "this ownership transfer no longer applies: its proposer is no longer an owner, or \
             you are no longer a member below owner",
        ),
    }
}

/// Whether the caller may see a transfer at all: owners, its proposer and its target. Anyone
/// else is told there is none, as when there is none.
fn visible(t: &Transfer, user_id: Uuid, role: Role) -> Result<()> {
    if role == Role::Owner || t.from_user_id == user_id || t.to_user_id == user_id {
        Ok(())
    } else {
        Err(no_pending())
    }
}

/// The workspace's pending transfer, read with the workspace locked, with the caller's role
/// there (re-read under the lock).
async fn locked_pending(
    tx: &mut Tx<'_>,
    catalogue: &Catalogue,
    access: &Access,
) -> Result<(Transfer, Role)> {
    access.require_person()?;
    let (ws, me) = (access.workspace.id, access.user_id());
    let role = lock_with_role(tx, catalogue, ws, me).await?.base;
    let t = tx.pending_transfer(ws).await?.ok_or_else(no_pending)?;
    visible(&t, me, role)?;
    Ok((t, role))
}

/// The reason a pending transfer can no longer be accepted, judged inside the transaction.
async fn judge(tx: &mut Tx<'_>, t: &Transfer, now: DateTime<Utc>) -> Result<Option<Closing>> {
    let proposer = tx
        .role_of(t.workspace_id, t.from_user_id)
        .await?
        .map(|r| r.base);
    let target = tx
        .role_of(t.workspace_id, t.to_user_id)
        .await?
        .map(|r| r.base);
    Ok(fault(t, now, proposer, target))
}

/// Ends a pending transfer without a change of owner, with its audit event.
async fn close(tx: &mut Tx<'_>, t: &Transfer, how: Closing, actor: &Actor) -> Result<Transfer> {
    let ended = tx
        .end_transfer(t.id, how.status(), actor.at)
        .await?
        .ok_or_else(no_pending)?;
    audit::record(tx, &audit::ownership_transfer_closed(actor, &ended, how)).await?;
    Ok(ended)
}

impl Core {
    /// Proposes that a member become owner (owners only). The target must be a member below
    /// owner, not the proposer; a pending transfer that can still be accepted refuses a second
    /// one, while an expired or stale one is closed to make room. The target is emailed
    /// through the outbox, in the same transaction.
    pub async fn propose_transfer(
        &self,
        access: &Access,
        to_user_id: Uuid,
        keep_ownership: bool,
        meta: &RequestMeta,
    ) -> Result<Transfer> {
        access.require_person()?;
        let (ws, me) = (access.workspace.id, access.user_id());
        if access.role != Role::Owner {
            return Err(owner_only());
        }
        if to_user_id == me {
            return Err(Error::invalid(
                "user_id",
                "cannot_transfer_to_self",
                "propose the transfer to another member",
            ));
        }
        let actor = self.actor(Some(me), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        if lock_with_role(&mut tx, &self.settings.permissions, ws, me)
            .await?
            .base
            != Role::Owner
        {
            return Err(owner_only());
        }
        let target = tx.member(ws, to_user_id).await?.ok_or_else(|| {
            Error::invalid(
                "user_id",
                "not_a_member",
                "ownership can only be transferred to a member of the workspace",
            )
        })?;
        if target.role == Role::Owner {
            return Err(Error::conflict(
                "already_owner",
                "this member is already an owner",
            ));
        }
        if let Some(current) = tx.pending_transfer(ws).await? {
            match judge(&mut tx, &current, actor.at).await? {
                None => return Err(transfer_pending()),
                Some(how) => close(&mut tx, &current, how, &actor).await?,
            };
        }
        let proposer = tx.member(ws, me).await?.ok_or(Error::NotFound)?;
        let proposal = Transfer {
            id: Uuid::now_v7(),
            workspace_id: ws,
            from_user_id: me,
            to_user_id,
            keep_ownership,
            status: TransferStatus::Pending,
            created_at: actor.at,
            expires_at: actor.at + Duration::days(LIFETIME_DAYS),
            decided_at: None,
        };
        let t = match tx.insert_transfer(&proposal).await {
            Err(StoreError::Conflict(Constraint::PendingOwnershipTransfer)) => {
                return Err(transfer_pending())
            }
            other => other?,
        };
        let mail = mail::ownership_transfer_proposed(
            &target.email,
            &target.name,
            &proposer.name,
            &access.workspace.name,
            keep_ownership,
            t.expires_at,
        );
        tx.queue_mail(None, &mail, actor.at).await?;
        audit::record(&mut tx, &audit::ownership_transfer_proposed(&actor, &t)).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// The workspace's pending, unexpired transfer, for its owners, its proposer and its
    /// target.
    pub async fn pending_transfer(&self, access: &Access) -> Result<Transfer> {
        access.require_person()?;
        let now = self.clock.now();
        let t = self
            .store
            .read()
            .pending_transfer(access.workspace.id)
            .await?
            .filter(|t| t.expires_at > now)
            .ok_or_else(no_pending)?;
        visible(&t, access.user_id(), access.role)?;
        Ok(t)
    }

    /// The target accepts: judged again with the workspace locked (unexpired, the proposer
    /// still an owner, the target still a member below owner), then the target becomes owner
    /// and, unless the proposer keeps ownership, the proposer becomes admin (their sessions
    /// bound to the workspace end, as with any lowered role). One audit event and a notice to
    /// both, in the same transaction. An expired or stale transfer is closed, and refused.
    pub async fn accept_transfer(&self, access: &Access, meta: &RequestMeta) -> Result<Transfer> {
        access.require_person()?;
        let (ws, me) = (access.workspace.id, access.user_id());
        let actor = self.actor(Some(me), meta);
        let mut tx = self.store.write_workspace(ws).await?;
        let (t, my_role) = locked_pending(&mut tx, &self.settings.permissions, access).await?;
        if t.to_user_id != me {
            return Err(not_target());
        }
        let proposer_role = tx.role_of(ws, t.from_user_id).await?.map(|r| r.base);
        if let Some(how) = fault(&t, actor.at, proposer_role, Some(my_role)) {
            close(&mut tx, &t, how, &actor).await?;
            tx.commit().await?;
            return Err(refusal(how));
        }
        let accepted = tx
            .end_transfer(t.id, TransferStatus::Accepted, actor.at)
            .await?
            .ok_or_else(no_pending)?;
        tx.set_role(ws, me, &Assignment::builtin(Role::Owner), actor.at)
            .await?;
        let proposer_now = if t.keep_ownership {
            Role::Owner
        } else {
            tx.set_role(
                ws,
                t.from_user_id,
                &Assignment::builtin(Role::Admin),
                actor.at,
            )
            .await?;
            ensure_an_owner_remains(&mut tx, ws, Role::Owner).await?;
            tx.end_sessions_bound_to(ws, t.from_user_id, "role_lowered", actor.at)
                .await?;
            Role::Admin
        };
        audit::record(
            &mut tx,
            &audit::ownership_transferred(&actor, &accepted, my_role, proposer_now),
        )
        .await?;
        let proposer = tx
            .member(ws, t.from_user_id)
            .await?
            .ok_or(Error::NotFound)?;
        let new_owner = tx.member(ws, me).await?.ok_or(Error::NotFound)?;
        let name = &access.workspace.name;
        for mail in [
            mail::ownership_transferred(
                &proposer.email,
                &proposer.name,
                name,
                &new_owner.name,
                false,
                proposer_now,
            ),
            mail::ownership_transferred(
                &new_owner.email,
                &new_owner.name,
                name,
                &new_owner.name,
                true,
                Role::Owner,
            ),
        ] {
            tx.queue_mail(None, &mail, actor.at).await?;
        }
        tx.commit().await?;
        Ok(accepted)
    }

    /// The target declines; nothing else changes.
    pub async fn decline_transfer(&self, access: &Access, meta: &RequestMeta) -> Result<Transfer> {
        access.require_person()?;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(access.workspace.id).await?;
        let (t, _) = locked_pending(&mut tx, &self.settings.permissions, access).await?;
        if t.to_user_id != access.user_id() {
            return Err(not_target());
        }
        self.end_answered(tx, &t, Closing::Declined, &actor).await
    }

    /// The proposer (whatever their role now) or any owner withdraws the proposal.
    pub async fn cancel_transfer(&self, access: &Access, meta: &RequestMeta) -> Result<Transfer> {
        access.require_person()?;
        let actor = self.actor(access.actor_id(), meta);
        let mut tx = self.store.write_workspace(access.workspace.id).await?;
        let (t, role) = locked_pending(&mut tx, &self.settings.permissions, access).await?;
        if role != Role::Owner && t.from_user_id != access.user_id() {
            return Err(owner_only());
        }
        self.end_answered(tx, &t, Closing::Cancelled, &actor).await
    }

    /// Ends a pending transfer as `how` and commits; an expired one ends as expired instead,
    /// and the answer is refused.
    async fn end_answered(
        &self,
        mut tx: Tx<'_>,
        t: &Transfer,
        how: Closing,
        actor: &Actor,
    ) -> Result<Transfer> {
        let expired = t.expires_at <= actor.at;
        let how = if expired { Closing::Expired } else { how };
        let ended = close(&mut tx, t, how, actor).await?;
        tx.commit().await?;
        if expired {
            return Err(refusal(Closing::Expired));
        }
        Ok(ended)
    }
}

fn not_target() -> Error {
    Error::forbidden(
        "not_transfer_target",
        "only the member the transfer is proposed to may answer it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(now: DateTime<Utc>) -> Transfer {
        Transfer {
            id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            from_user_id: Uuid::from_u128(1),
            to_user_id: Uuid::from_u128(2),
            keep_ownership: false,
            status: TransferStatus::Pending,
            created_at: now,
            expires_at: now + Duration::days(LIFETIME_DAYS),
            decided_at: None,
        }
    }

    #[test]
    fn a_transfer_is_acceptable_only_while_unexpired_from_an_owner_to_a_member_below_owner() {
        let now = Utc::now();
        let t = transfer(now);
        let owner = Some(Role::Owner);
        assert_eq!(fault(&t, now, owner, Some(Role::Editor)), None);
        assert_eq!(fault(&t, now, owner, Some(Role::Admin)), None);
        let later = t.expires_at;
        assert_eq!(
            fault(&t, later, owner, Some(Role::Editor)),
            Some(Closing::Expired)
        );
        for proposer in [None, Some(Role::Admin), Some(Role::Viewer)] {
            assert_eq!(
                fault(&t, now, proposer, Some(Role::Editor)),
                Some(Closing::Stale)
            );
        }
        for target in [None, Some(Role::Owner)] {
            assert_eq!(fault(&t, now, owner, target), Some(Closing::Stale));
        }
    }

    #[test]
    fn statuses_read_back_as_written() {
        for s in TransferStatus::ALL {
            assert_eq!(TransferStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(Closing::Stale.status(), TransferStatus::Cancelled);
    }
}
