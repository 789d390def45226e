//! Invitations: insert, read (in a workspace, by token or public id, with what the invitee's
//! preview shows; pages by status), and the conditional updates that change their state (each
//! `WHERE status = 'pending'`, so exactly one of racing requests wins).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    db::{Arg, Db},
    members::RoleRow,
    ts::Ts,
    StoreResult,
};
use crate::domain::{
    invitation::{Invitation, Preview, Status},
    paging::PageRequest,
    role::Assignment,
};

/// Invitation columns, read through the alias `i` with the inviter as `inv`.
const INVITATION_COLUMNS: &str = "i.id, i.workspace_id, i.email, i.role, i.role_id, \
     r.key AS role_key, r.name AS role_name, r.permissions AS role_permissions, i.status, \
     i.inviter_id, inv.email AS inviter_email, i.created_at, i.expires_at, i.ended_at";

/// The invitations with their inviters and custom roles.
const INVITATIONS: &str = "invitations i LEFT JOIN users inv ON inv.id = i.inviter_id \
     LEFT JOIN roles r ON r.id = i.role_id";

/// What a preview adds (needs `PREVIEW_JOIN`).
const PREVIEW_COLUMNS: &str = "w.name AS workspace_name, inv.name AS inviter_name, \
     EXISTS (SELECT 1 FROM users x WHERE x.email_key = i.email_key) AS account_exists";

const PREVIEW_JOIN: &str = "JOIN workspaces w ON w.id = i.workspace_id";

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: Uuid,
    workspace_id: Uuid,
    email: String,
    #[sqlx(flatten)]
    role: RoleRow,
    status: String,
    inviter_id: Option<Uuid>,
    inviter_email: Option<String>,
    created_at: Ts,
    expires_at: Ts,
    ended_at: Option<Ts>,
}

super::sqlite_read::read_row!(InvitationRow {
    id,
    workspace_id,
    email,
    role: flatten,
    status,
    inviter_id,
    inviter_email,
    created_at,
    expires_at,
    ended_at
});

impl TryFrom<InvitationRow> for Invitation {
    type Error = anyhow::Error;
    fn try_from(r: InvitationRow) -> anyhow::Result<Self> {
        let held = Assignment::try_from(r.role)?;
        Ok(Invitation {
            id: r.id,
            workspace_id: r.workspace_id,
            email: r.email,
            role: held.base,
            custom: held.custom,
            stored_status: Status::parse(&r.status)
                .ok_or_else(|| anyhow::anyhow!("unknown invitation status {:?}", r.status))?,
            inviter_id: r.inviter_id,
            inviter_email: r.inviter_email,
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
            ended_at: r.ended_at.map(|t| t.0),
        })
    }
}

#[derive(sqlx::FromRow)]
struct PreviewRow {
    workspace_name: String,
    inviter_name: Option<String>,
    account_exists: bool,
    #[sqlx(flatten)]
    invitation: InvitationRow,
}

super::sqlite_read::read_row!(PreviewRow {
    workspace_name,
    inviter_name,
    account_exists,
    invitation: flatten
});

impl TryFrom<PreviewRow> for Preview {
    type Error = anyhow::Error;
    fn try_from(r: PreviewRow) -> anyhow::Result<Self> {
        Ok(Preview {
            invitation: r.invitation.try_into()?,
            workspace_name: r.workspace_name,
            inviter_name: r.inviter_name,
            account_exists: r.account_exists,
        })
    }
}

/// How an invitee names an invitation: by the token's hash, or by its public id.
#[derive(Debug, Clone, Copy)]
pub enum InvitationKey<'a> {
    Token(&'a [u8]),
    Id(Uuid),
}

impl<'a> InvitationKey<'a> {
    fn column(self) -> &'static str {
        match self {
            InvitationKey::Token(_) => "token_hash",
            InvitationKey::Id(_) => "id",
        }
    }

    fn arg(self) -> Arg<'a> {
        match self {
            InvitationKey::Token(hash) => hash.into(),
            InvitationKey::Id(id) => id.into(),
        }
    }
}

/// An invitation about to be stored.
pub struct NewInvitationRow<'a> {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: &'a str,
    pub email_key: &'a str,
    pub role: &'a Assignment,
    pub token_hash: &'a [u8],
    pub inviter_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The condition selecting a status at a time (`$2`): expiry is a matter of time, so a stored
/// `pending` past its expiry is `expired`.
fn status_condition(status: Status) -> &'static str {
    match status {
        Status::Pending => "i.status = 'pending' AND i.expires_at > $2",
        Status::Expired => {
            "(i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= $2))"
        }
        Status::Accepted => "i.status = 'accepted' AND $2 = $2",
        Status::Declined => "i.status = 'declined' AND $2 = $2",
        Status::Revoked => "i.status = 'revoked' AND $2 = $2",
    }
}

impl Db<'_> {
    /// Inserts a pending invitation (`Conflict(PendingInvitation)` when one is pending for the
    /// same workspace and email); the row as stored, without the inviter's email.
    pub async fn insert_invitation(&mut self, i: &NewInvitationRow<'_>) -> StoreResult<Invitation> {
        let row: InvitationRow = self
            .one(
                "INSERT INTO invitations (id, workspace_id, email, email_key, role, role_id, \
             status, token_hash, inviter_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $10, 'pending', $6, $7, $8, $9) \
             RETURNING id, workspace_id, email, role, role_id, CAST(NULL AS TEXT) AS role_key, \
             CAST(NULL AS TEXT) AS role_name, CAST(NULL AS TEXT) AS role_permissions, status, \
             inviter_id, CAST(NULL AS TEXT) AS inviter_email, created_at, expires_at, ended_at",
                &[
                    i.id.into(),
                    i.workspace_id.into(),
                    i.email.into(),
                    i.email_key.into(),
                    i.role.base.as_str().into(),
                    i.token_hash.into(),
                    i.inviter_id.into(),
                    i.created_at.into(),
                    i.expires_at.into(),
                    i.role.custom_id().into(),
                ],
            )
            .await?;
        let mut stored: Invitation = row.try_into()?;
        stored.custom = i.role.custom.clone();
        Ok(stored)
    }

    /// An invitation of a workspace.
    pub async fn invitation(
        &mut self,
        workspace_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Invitation>> {
        let row: Option<InvitationRow> = self
            .optional(
                &format!(
                    "SELECT {INVITATION_COLUMNS} FROM {INVITATIONS} \
                     WHERE i.id = $1 AND i.workspace_id = $2"
                ),
                &[id.into(), workspace_id.into()],
            )
            .await?;
        Ok(row.map(TryInto::try_into).transpose()?)
    }

    /// The invitation a token or public id names, in whatever workspace.
    pub async fn invitation_by(
        &mut self,
        key: InvitationKey<'_>,
    ) -> StoreResult<Option<Invitation>> {
        let row: Option<InvitationRow> = self
            .optional(
                &format!(
                    "SELECT {INVITATION_COLUMNS} FROM {INVITATIONS} WHERE i.{} = $1",
                    key.column()
                ),
                &[key.arg()],
            )
            .await?;
        Ok(row.map(TryInto::try_into).transpose()?)
    }

    /// An invitation with what its preview shows.
    pub async fn preview(&mut self, key: InvitationKey<'_>) -> StoreResult<Option<Preview>> {
        let row: Option<PreviewRow> = self
            .optional(
                &format!(
                    "SELECT {INVITATION_COLUMNS}, {PREVIEW_COLUMNS} FROM {INVITATIONS} \
                     {PREVIEW_JOIN} WHERE i.{} = $1",
                    key.column()
                ),
                &[key.arg()],
            )
            .await?;
        Ok(row.map(TryInto::try_into).transpose()?)
    }

    /// Pending, unexpired invitations addressed to an email key, oldest first.
    pub async fn previews_for_email(
        &mut self,
        email_key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Preview>> {
        let rows: Vec<PreviewRow> = self
            .all(
                &format!(
                    "SELECT {INVITATION_COLUMNS}, {PREVIEW_COLUMNS} FROM {INVITATIONS} \
                     {PREVIEW_JOIN} WHERE i.email_key = $1 AND i.status = 'pending' \
                     AND i.expires_at > $2 ORDER BY i.created_at, i.id"
                ),
                &[email_key.into(), now.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<anyhow::Result<_>>()?)
    }

    /// Up to `page.limit + 1` of a workspace's invitations with a status at `now`, in the
    /// page's order, after its cursor and offset.
    pub async fn invitations(
        &mut self,
        workspace_id: Uuid,
        status: Status,
        now: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Vec<Invitation>> {
        let (after, order) = match (page.after.is_some(), page.newest_first) {
            (false, false) => ("", "i.created_at, i.id"),
            (false, true) => ("", "i.created_at DESC, i.id DESC"),
            (true, false) => ("AND (i.created_at, i.id) > ($3, $4)", "i.created_at, i.id"),
            (true, true) => (
                "AND (i.created_at, i.id) < ($3, $4)",
                "i.created_at DESC, i.id DESC",
            ),
        };
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM {INVITATIONS} WHERE i.workspace_id = $1 \
             AND {} {after} ORDER BY {order} LIMIT {} OFFSET {}",
            status_condition(status),
            page.limit + 1,
            page.offset
        );
        let mut args: Vec<Arg> = vec![workspace_id.into(), now.into()];
        if let Some(c) = page.after {
            args.extend([c.at.into(), c.id.into()]);
        }
        let rows: Vec<InvitationRow> = self.all(&sql, &args).await?;
        Ok(rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<anyhow::Result<_>>()?)
    }

    /// The number of a workspace's invitations with a status at `now`.
    pub async fn count_invitations(
        &mut self,
        workspace_id: Uuid,
        status: Status,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let (n,): (i64,) = self
            .one(
                &format!(
                    "SELECT COUNT(*) FROM invitations i WHERE i.workspace_id = $1 AND {}",
                    status_condition(status)
                ),
                &[workspace_id.into(), now.into()],
            )
            .await?;
        Ok(n.unsigned_abs())
    }

    /// Revokes the pending invitations for an email in a workspace; their ids.
    pub async fn revoke_pending_invitations_for(
        &mut self,
        workspace_id: Uuid,
        email_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<Uuid>> {
        let rows: Vec<(Uuid,)> = self
            .all(
                "UPDATE invitations SET status = 'revoked', ended_at = $3 \
                 WHERE workspace_id = $1 AND email_key = $2 AND status = 'pending' RETURNING id",
                &[workspace_id.into(), email_key.into(), at.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Moves a pending invitation's expiry; false when it is not pending.
    pub async fn set_invitation_expiry(
        &mut self,
        id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = self
            .execute(
                "UPDATE invitations SET expires_at = $2 WHERE id = $1 AND status = 'pending'",
                &[id.into(), expires_at.into()],
            )
            .await?;
        Ok(done == 1)
    }

    /// Revokes a pending invitation; false when it is not pending.
    pub async fn revoke_invitation(&mut self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = self
            .execute(
                "UPDATE invitations SET status = 'revoked', ended_at = $2 \
                 WHERE id = $1 AND status = 'pending'",
                &[id.into(), at.into()],
            )
            .await?;
        Ok(done == 1)
    }

    /// Gives a pending invitation a new token and expiry; false when it is not pending.
    pub async fn reissue_invitation(
        &mut self,
        id: Uuid,
        token_hash: &[u8],
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = self
            .execute(
                "UPDATE invitations SET token_hash = $2, expires_at = $3 \
                 WHERE id = $1 AND status = 'pending'",
                &[id.into(), token_hash.into(), expires_at.into()],
            )
            .await?;
        Ok(done == 1)
    }

    /// Spends a pending, unexpired invitation for `user_id`; false when someone else did first
    /// (or it is no longer pending).
    pub async fn accept_invitation(
        &mut self,
        id: Uuid,
        user_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = self
            .execute(
                "UPDATE invitations SET status = 'accepted', ended_at = $2, accepted_by = $3 \
                 WHERE id = $1 AND status = 'pending' AND expires_at > $2",
                &[id.into(), at.into(), user_id.into()],
            )
            .await?;
        Ok(done == 1)
    }

    /// Declines the pending, unexpired invitation a key names (and, when given, addressed to
    /// `email_key`); its id, or `None` when there is no such invitation.
    pub async fn decline_invitation(
        &mut self,
        key: InvitationKey<'_>,
        email_key: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        let addressed = if email_key.is_some() {
            " AND email_key = $3"
        } else {
            ""
        };
        let mut args: Vec<Arg> = vec![key.arg(), at.into()];
        args.extend(email_key.map(Arg::from));
        let row: Option<(Uuid,)> = self
            .optional(
                &format!(
                    "UPDATE invitations SET status = 'declined', ended_at = $2 \
                     WHERE {} = $1{addressed} AND status = 'pending' AND expires_at > $2 \
                     RETURNING id",
                    key.column()
                ),
                &args,
            )
            .await?;
        Ok(row.map(|(id,)| id))
    }
}
