//! The outbox worker: delivers the mail that changes queued in their own transactions, and
//! applies the retention settings.
//! Failures are retried with exponential backoff, so an SMTP outage delays mail but loses none.
//! A message claimed by a sender that then died is never sent again as it was: its invitation
//! gets a fresh token and a fresh message, so no token is ever delivered twice.

use std::{sync::Arc, time::Duration};

use chrono::Utc;

use crate::{
    domain::{audit::Actor, session::RequestMeta, Core},
    mail::Mailer,
    store::InvitationKey,
};

/// Messages claimed per round.
const BATCH: u32 = 20;
/// Most audit events, and most sent messages, retention deletes per round.
pub const RETENTION_BATCH: u32 = 1000;
/// How often retention runs while it finds less than a batch to delete.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Attempts before a message is given up (spanning about a day with the backoff below).
pub const MAX_ATTEMPTS: i64 = 16;
/// A claim older than this without a result means the sender died.
pub const STALE_CLAIM: chrono::Duration = chrono::Duration::minutes(5);

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub failed: usize,
    pub reissued: usize,
    /// Audit events and sent messages deleted by retention.
    pub retired: u64,
}

/// Delivers outbox mail through a `Mailer`.
pub struct Worker {
    core: Arc<Core>,
    mailer: Arc<dyn Mailer>,
    /// When retention is next due (`None`: at the next round).
    retention_due: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The delay before retry `attempt` (1-based): 2, 4, 8 … seconds, at most 2 hours.
pub fn backoff(attempt: i64) -> chrono::Duration {
    let exp = u32::try_from(attempt.clamp(1, 13)).unwrap_or(13);
    chrono::Duration::seconds(2_i64.pow(exp)).min(chrono::Duration::hours(2))
}

impl Worker {
    pub fn new(core: Arc<Core>, mailer: Arc<dyn Mailer>) -> Worker {
        Worker {
            core,
            mailer,
            retention_due: std::sync::Mutex::new(None),
        }
    }

    /// One round: recover abandoned claims, then send what is due.
    pub async fn run_once(&self) -> anyhow::Result<Round> {
        let mut round = Round::default();
        let now = self.core.clock.now();
        let store = &self.core.store;
        // Rate-limit windows are at most an hour long; a day later nobody counts on them.
        let day_ago = (now - chrono::Duration::days(1)).timestamp();
        store.read().prune_rate_limits(day_ago).await?;
        // MFA tickets live minutes; an hour later they only take room.
        store
            .read()
            .prune_mfa_tickets(now - chrono::Duration::hours(1))
            .await?;
        // Emailed account links a week past their expiry: a late click is told the link is
        // not valid instead of expired, and the table stays the size of what is live.
        store
            .read()
            .prune_account_tokens(now - chrono::Duration::days(7))
            .await?;
        // Idempotency keys of usage batches answer retries for 24 hours.
        store
            .read()
            .prune_usage_batches(now - crate::domain::usage::IDEMPOTENCY_WINDOW)
            .await?;
        round.retired = self.retention(now).await?;
        let stale = {
            let mut tx = store.write().await?;
            let stale = tx.take_stale_outbox(now - STALE_CLAIM).await?;
            tx.commit().await?;
            stale
        };
        for id in stale.into_iter().flatten() {
            if self.reissue(id).await? {
                round.reissued += 1;
            }
        }
        let claimed = {
            let mut tx = store.write().await?;
            let claimed = tx.claim_outbox(now, BATCH).await?;
            tx.commit().await?;
            claimed
        };
        for item in claimed {
            match self.mailer.send(&item.mail).await {
                Ok(()) => {
                    store
                        .read()
                        .outbox_sent(item.id, self.core.clock.now())
                        .await?;
                    metrics::counter!("mail_sent_total").increment(1);
                    round.sent += 1;
                }
                Err(e) => {
                    let error: String = format!("{e:#}").chars().take(1000).collect();
                    let retry_at = (item.attempts < MAX_ATTEMPTS)
                        .then(|| self.core.clock.now() + backoff(item.attempts));
                    tracing::warn!(error = %e, attempts = item.attempts, retry_at = ?retry_at, "mail delivery failed");
                    let mut db = store.read();
                    match retry_at {
                        Some(at) => db.outbox_retry(item.id, &error, at).await?,
                        None => db.outbox_give_up(item.id, &error).await?,
                    }
                    metrics::counter!("mail_failed_total").increment(1);
                    round.failed += 1;
                }
            }
        }
        Ok(round)
    }

    /// Deletes up to a batch each of audit events and of sent mail older than their retention
    /// (none when kept forever): at most once a minute, or at every round while there is a
    /// backlog. Audit events go oldest first within each chain, and a chain's last event
    /// stays, so what remains of a chain still verifies (from its oldest event kept).
    async fn retention(&self, now: chrono::DateTime<Utc>) -> anyhow::Result<u64> {
        let keep = self.core.settings.retention;
        let started = std::time::Instant::now();
        {
            let due = self
                .retention_due
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?;
            if keep == crate::domain::Retention::default() || due.is_some_and(|d| started < d) {
                return Ok(0);
            }
        }
        let cutoff = |d: Duration| chrono::Duration::from_std(d).map(|d| now - d);
        let mut db = self.core.store.read();
        let (mut deleted, mut backlog) = (0, false);
        if let Some(d) = keep.audit_events {
            let before = cutoff(d)?;
            let chained = db
                .delete_old_chained_events(before, RETENTION_BATCH)
                .await?;
            let unchained = db
                .delete_old_unchained_events(before, RETENTION_BATCH)
                .await?;
            backlog |=
                chained == u64::from(RETENTION_BATCH) || unchained == u64::from(RETENTION_BATCH);
            deleted += chained + unchained;
        }
        if let Some(d) = keep.sent_mail {
            let sent = db.delete_sent_outbox(cutoff(d)?, RETENTION_BATCH).await?;
            backlog |= sent == u64::from(RETENTION_BATCH);
            deleted += sent;
        }
        let next = if backlog {
            started
        } else {
            started + RETENTION_EVERY
        };
        *self
            .retention_due
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))? = Some(next);
        Ok(deleted)
    }

    /// Gives a pending invitation whose mail was lost mid-delivery a new token and new mail.
    async fn reissue(&self, invitation_id: uuid::Uuid) -> anyhow::Result<bool> {
        let key = InvitationKey::Id(invitation_id);
        let Some(preview) = self.core.store.read().preview(key).await? else {
            return Ok(false);
        };
        let now = self.core.clock.now();
        if preview.invitation.status_at(now) != crate::domain::invitation::Status::Pending {
            return Ok(false);
        }
        let actor = Actor::new(
            None,
            &RequestMeta {
                ip: None,
                user_agent: Some("roster-outbox".into()),
            },
            now,
        );
        let inviter = preview
            .inviter_name
            .as_deref()
            .unwrap_or("A workspace admin");
        self.core
            .reissue(
                &preview.invitation,
                &preview.workspace_name,
                inviter,
                None,
                &actor,
            )
            .await
            .map_err(|e| anyhow::anyhow!("reissuing invitation {invitation_id}: {e}"))?;
        tracing::warn!(%invitation_id, "mail delivery was interrupted; invitation reissued with a new token");
        Ok(true)
    }

    /// Runs rounds every `interval` until `stop` resolves.
    pub async fn run(self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %format!("{e:#}"), at = %Utc::now(), "outbox round failed");
            }
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), chrono::Duration::seconds(2));
        assert_eq!(backoff(3), chrono::Duration::seconds(8));
        assert_eq!(backoff(40), chrono::Duration::hours(2));
    }
}
