//! The mail outbox: queue a message inside the change's transaction, withdraw unsent mail whose
//! link died, claim due messages, record their outcome, and take over abandoned claims.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, StoreResult};
use crate::mail::Mail;

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: Uuid,
    attempts: i64,
    recipient: String,
    subject: String,
    text_body: Option<String>,
    html_body: Option<String>,
}

super::sqlite_read::read_row!(OutboxRow {
    id,
    attempts,
    recipient,
    subject,
    text_body,
    html_body
});

/// A claimed message, ready to send.
#[derive(Debug, Clone)]
pub struct OutboxMail {
    pub id: Uuid,
    pub attempts: i64,
    pub mail: Mail,
}

impl From<OutboxRow> for OutboxMail {
    fn from(r: OutboxRow) -> Self {
        OutboxMail {
            id: r.id,
            attempts: r.attempts,
            mail: Mail {
                to: r.recipient,
                subject: r.subject,
                text: r.text_body.unwrap_or_default(),
                html: r.html_body.unwrap_or_default(),
            },
        }
    }
}

impl Db<'_> {
    /// Queues a message (about an invitation, if any) for the worker.
    pub async fn queue_mail(
        &mut self,
        invitation_id: Option<Uuid>,
        mail: &Mail,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO outbox (id, invitation_id, recipient, subject, text_body, html_body, \
             status, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7)",
            &[
                Uuid::now_v7().into(),
                invitation_id.into(),
                (&mail.to).into(),
                (&mail.subject).into(),
                (&mail.text).into(),
                (&mail.html).into(),
                at.into(),
            ],
        )
        .await?;
        metrics::counter!("mail_queued_total").increment(1);
        Ok(())
    }

    /// Withdraws an invitation's queued (unsent) mail: its link no longer works.
    pub async fn withdraw_mail(&mut self, invitation_id: Uuid) -> StoreResult<()> {
        self.execute(
            "UPDATE outbox SET status = 'superseded', text_body = NULL, html_body = NULL \
             WHERE invitation_id = $1 AND status = 'queued'",
            &[invitation_id.into()],
        )
        .await?;
        Ok(())
    }

    /// Withdraws the queued mail of every invitation of a workspace.
    pub async fn withdraw_workspace_mail(&mut self, workspace_id: Uuid) -> StoreResult<()> {
        self.execute(
            "UPDATE outbox SET status = 'superseded', text_body = NULL, html_body = NULL \
             WHERE status = 'queued' AND invitation_id IN \
             (SELECT id FROM invitations WHERE workspace_id = $1)",
            &[workspace_id.into()],
        )
        .await?;
        Ok(())
    }

    /// Claims up to `batch` due messages, marking them as being sent.
    pub async fn claim_outbox(
        &mut self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<Vec<OutboxMail>> {
        let sql = self.backend.claim_outbox();
        let rows: Vec<OutboxRow> = self
            .all(sql, &[now.into(), i64::from(batch).into()])
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Marks a message sent and drops its body (which holds a secret link).
    pub async fn outbox_sent(&mut self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            "UPDATE outbox SET status = 'sent', sent_at = $2, text_body = NULL, \
             html_body = NULL, last_error = NULL WHERE id = $1",
            &[id.into(), at.into()],
        )
        .await?;
        Ok(())
    }

    /// Puts a failed message back in the queue until `retry_at`.
    pub async fn outbox_retry(
        &mut self,
        id: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE outbox SET status = 'queued', claimed_at = NULL, next_attempt_at = $2, \
             last_error = $3 WHERE id = $1 AND status = 'sending'",
            &[id.into(), retry_at.into(), error.into()],
        )
        .await?;
        Ok(())
    }

    /// Gives up on a failed message and drops its body.
    pub async fn outbox_give_up(&mut self, id: Uuid, error: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE outbox SET status = 'failed', text_body = NULL, html_body = NULL, \
             last_error = $2 WHERE id = $1 AND status = 'sending'",
            &[id.into(), error.into()],
        )
        .await?;
        Ok(())
    }

    /// Marks messages claimed before `before` and never marked (a sender died mid-delivery)
    /// superseded, never to be sent as they are; their invitations, if any.
    pub async fn take_stale_outbox(
        &mut self,
        before: DateTime<Utc>,
    ) -> StoreResult<Vec<Option<Uuid>>> {
        let rows: Vec<(Option<Uuid>,)> = self
            .all(
                "UPDATE outbox SET status = 'superseded', text_body = NULL, html_body = NULL, \
                 last_error = 'sender stopped mid-delivery; invitation reissued' \
                 WHERE status = 'sending' AND claimed_at < $1 RETURNING invitation_id",
                &[before.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Deletes up to `limit` messages sent before `before`.
    pub async fn delete_sent_outbox(
        &mut self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
             WHERE status = 'sent' AND sent_at < $1 LIMIT $2)",
            &[before.into(), i64::from(limit).into()],
        )
        .await
    }
}
