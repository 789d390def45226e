//! Ownership transfers: insert, the pending one of a workspace, and the conditional update
//! that ends a pending one (`WHERE status = 'pending'`, so exactly one of racing answers wins).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, ts::Ts, StoreResult};
use crate::domain::ownership::{Transfer, TransferStatus};

const TRANSFER_COLUMNS: &str = "id, workspace_id, from_user_id, to_user_id, keep_ownership, \
     status, created_at, expires_at, decided_at";

#[derive(sqlx::FromRow)]
struct TransferRow {
    id: Uuid,
    workspace_id: Uuid,
    from_user_id: Uuid,
    to_user_id: Uuid,
    keep_ownership: bool,
    status: String,
    created_at: Ts,
    expires_at: Ts,
    decided_at: Option<Ts>,
}

super::sqlite_read::read_row!(TransferRow {
    id,
    workspace_id,
    from_user_id,
    to_user_id,
    keep_ownership,
    status,
    created_at,
    expires_at,
    decided_at
});

impl TryFrom<TransferRow> for Transfer {
    type Error = anyhow::Error;
    fn try_from(r: TransferRow) -> anyhow::Result<Self> {
        Ok(Transfer {
            id: r.id,
            workspace_id: r.workspace_id,
            from_user_id: r.from_user_id,
            to_user_id: r.to_user_id,
            keep_ownership: r.keep_ownership,
            status: TransferStatus::parse(&r.status)
                .ok_or_else(|| anyhow::anyhow!("unknown transfer status {:?}", r.status))?,
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
            decided_at: r.decided_at.map(|t| t.0),
        })
    }
}

impl Db<'_> {
    /// Inserts a pending transfer (`Conflict(PendingOwnershipTransfer)` when the workspace
    /// has one); the row as stored.
    pub async fn insert_transfer(&mut self, t: &Transfer) -> StoreResult<Transfer> {
        let row: TransferRow = self
            .one(
                &format!(
                    "INSERT INTO ownership_transfers ({TRANSFER_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, NULL) \
                     RETURNING {TRANSFER_COLUMNS}"
                ),
                &[
                    t.id.into(),
                    t.workspace_id.into(),
                    t.from_user_id.into(),
                    t.to_user_id.into(),
                    t.keep_ownership.into(),
                    t.created_at.into(),
                    t.expires_at.into(),
                ],
            )
            .await?;
        Ok(row.try_into()?)
    }

    /// The workspace's pending transfer, expired or not.
    pub async fn pending_transfer(&mut self, workspace_id: Uuid) -> StoreResult<Option<Transfer>> {
        let row: Option<TransferRow> = self
            .optional(
                &format!(
                    "SELECT {TRANSFER_COLUMNS} FROM ownership_transfers \
                     WHERE workspace_id = $1 AND status = 'pending'"
                ),
                &[workspace_id.into()],
            )
            .await?;
        Ok(row.map(TryInto::try_into).transpose()?)
    }

    /// Ends a pending transfer with `status`; the row as it now is, or `None` when it was no
    /// longer pending.
    pub async fn end_transfer(
        &mut self,
        id: Uuid,
        status: TransferStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Transfer>> {
        let row: Option<TransferRow> = self
            .optional(
                &format!(
                    "UPDATE ownership_transfers SET status = $2, decided_at = $3 \
                     WHERE id = $1 AND status = 'pending' RETURNING {TRANSFER_COLUMNS}"
                ),
                &[id.into(), status.as_str().into(), at.into()],
            )
            .await?;
        Ok(row.map(TryInto::try_into).transpose()?)
    }
}
