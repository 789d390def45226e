//! Account links (email verification, change of email, password reset): insert, read by hash,
//! supersede the live ones, spend one with a conditional update, the address a change waits on.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, ts::Ts, StoreResult};

/// A stored account link.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub purpose: String,
    pub email: String,
    pub email_key: String,
    pub created_at: Ts,
    pub expires_at: Ts,
    pub used_at: Option<Ts>,
    pub superseded_at: Option<Ts>,
}

super::sqlite_read::read_row!(AccountTokenRow {
    id,
    user_id,
    purpose,
    email,
    email_key,
    created_at,
    expires_at,
    used_at,
    superseded_at
});

/// A link about to be stored.
pub struct NewAccountToken<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub purpose: &'a str,
    pub token_hash: &'a [u8],
    pub email: &'a str,
    pub email_key: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, user_id, purpose, email, email_key, created_at, expires_at, used_at, superseded_at";

impl Db<'_> {
    /// Stores a link (`Conflict(LiveAccountToken)` while the user has a live one of the
    /// purpose).
    pub async fn insert_account_token(&mut self, t: &NewAccountToken<'_>) -> StoreResult<()> {
        self.execute(
            "INSERT INTO account_tokens (id, user_id, purpose, token_hash, email, email_key, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                t.id.into(),
                t.user_id.into(),
                t.purpose.into(),
                t.token_hash.into(),
                t.email.into(),
                t.email_key.into(),
                t.created_at.into(),
                t.expires_at.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// The link with this hash, of one of `purposes`.
    pub async fn account_token(
        &mut self,
        token_hash: &[u8],
        purposes: (&str, &str),
    ) -> StoreResult<Option<AccountTokenRow>> {
        self.optional(
            &format!(
                "SELECT {COLUMNS} FROM account_tokens \
                 WHERE token_hash = $1 AND purpose IN ($2, $3)"
            ),
            &[token_hash.into(), purposes.0.into(), purposes.1.into()],
        )
        .await
    }

    /// Supersedes the user's live links of `purpose` (every purpose when `None`); how many.
    pub async fn supersede_account_tokens(
        &mut self,
        user_id: Uuid,
        purpose: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.execute(
            "UPDATE account_tokens SET superseded_at = $3 WHERE user_id = $1 \
             AND ($2 IS NULL OR purpose = $2) AND used_at IS NULL AND superseded_at IS NULL",
            &[user_id.into(), purpose.into(), at.into()],
        )
        .await
    }

    /// Spends a link if it is live and not expired at `at`: true for exactly one of racing
    /// callers.
    pub async fn spend_account_token(&mut self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE account_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
                 AND superseded_at IS NULL AND expires_at > $2",
                &[id.into(), at.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// The new address a user's live, unexpired change of email waits on.
    pub async fn pending_email(
        &mut self,
        user_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = self
            .optional(
                "SELECT email FROM account_tokens WHERE user_id = $1 AND purpose = 'change_email' \
                 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > $2",
                &[user_id.into(), at.into()],
            )
            .await?;
        Ok(row.map(|(e,)| e))
    }

    /// Deletes links that expired before `before` (used, superseded or not); how many.
    pub async fn prune_account_tokens(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM account_tokens WHERE expires_at < $1",
            &[before.into()],
        )
        .await
    }
}
