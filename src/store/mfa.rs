//! The second factor: a user's TOTP factor (enrol, confirm, spend a step, remove), their
//! recovery codes (replace, spend one, count), the sign-in tickets awaiting a second factor,
//! and the users listing the operator sees.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, ts::Ts, StoreResult};

/// A user's TOTP factor as stored (the secret possibly sealed).
#[derive(Debug, sqlx::FromRow)]
pub struct TotpFactorRow {
    pub secret: Vec<u8>,
    pub sealed: bool,
    pub created_at: Ts,
    pub confirmed_at: Option<Ts>,
    pub last_used_step: i64,
}

super::sqlite_read::read_row!(TotpFactorRow {
    secret,
    sealed,
    created_at,
    confirmed_at,
    last_used_step
});

/// A sign-in ticket awaiting its second factor.
#[derive(Debug, sqlx::FromRow)]
pub struct MfaTicketRow {
    pub user_id: Uuid,
    pub expires_at: Ts,
    pub failures: i64,
    pub used_at: Option<Ts>,
}

super::sqlite_read::read_row!(MfaTicketRow {
    user_id,
    expires_at,
    failures,
    used_at
});

/// One line of the operator's user list.
#[derive(Debug, sqlx::FromRow)]
pub struct UserListRow {
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub mfa_confirmed_at: Option<Ts>,
    pub created_at: Ts,
}

super::sqlite_read::read_row!(UserListRow {
    email,
    name,
    email_verified,
    mfa_confirmed_at,
    created_at
});

impl Db<'_> {
    /// The user's TOTP factor, pending or confirmed.
    pub async fn totp_factor(&mut self, user_id: Uuid) -> StoreResult<Option<TotpFactorRow>> {
        self.optional(
            "SELECT secret, sealed, created_at, confirmed_at, last_used_step FROM totp_factors \
             WHERE user_id = $1",
            &[user_id.into()],
        )
        .await
    }

    /// Stores a pending factor, replacing a pending one; false (nothing written) when the user
    /// already has a confirmed factor.
    pub async fn put_pending_totp(
        &mut self,
        user_id: Uuid,
        secret: &[u8],
        sealed: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let written = self
            .execute(
                "INSERT INTO totp_factors (user_id, secret, sealed, created_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id) DO UPDATE SET secret = $2, sealed = $3, created_at = $4, \
                 last_used_step = 0 WHERE totp_factors.confirmed_at IS NULL",
                &[user_id.into(), secret.into(), sealed.into(), now.into()],
            )
            .await?;
        Ok(written == 1)
    }

    /// Confirms a pending factor, spending `step`; false when there is no pending factor.
    pub async fn confirm_totp(
        &mut self,
        user_id: Uuid,
        step: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE totp_factors SET confirmed_at = $3, last_used_step = $2 \
                 WHERE user_id = $1 AND confirmed_at IS NULL AND last_used_step < $2",
                &[user_id.into(), step.into(), now.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Spends the 30 s step a code belongs to: false when that step or a later one was already
    /// spent (a replayed code), so a code works once even when presented concurrently.
    pub async fn spend_totp_step(&mut self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE totp_factors SET last_used_step = $2 \
                 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_used_step < $2",
                &[user_id.into(), step.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Removes the user's TOTP factor; false when there was none.
    pub async fn delete_totp(&mut self, user_id: Uuid) -> StoreResult<bool> {
        let deleted = self
            .execute(
                "DELETE FROM totp_factors WHERE user_id = $1",
                &[user_id.into()],
            )
            .await?;
        Ok(deleted == 1)
    }

    /// Removes every recovery code of the user; how many.
    pub async fn delete_recovery_codes(&mut self, user_id: Uuid) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM recovery_codes WHERE user_id = $1",
            &[user_id.into()],
        )
        .await
    }

    /// Stores one recovery code by its hash.
    pub async fn insert_recovery_code(
        &mut self,
        user_id: Uuid,
        code_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)",
            &[code_hash.into(), user_id.into(), now.into()],
        )
        .await?;
        Ok(())
    }

    /// Spends one of the user's unused recovery codes: false when it is not theirs or already
    /// used (one of racing uses wins).
    pub async fn spend_recovery_code(
        &mut self,
        user_id: Uuid,
        code_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE recovery_codes SET used_at = $3 \
                 WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL",
                &[code_hash.into(), user_id.into(), now.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// How many of the user's recovery codes are unused.
    pub async fn recovery_codes_left(&mut self, user_id: Uuid) -> StoreResult<u64> {
        let (n,): (i64,) = self
            .one(
                "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                &[user_id.into()],
            )
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Stores a sign-in ticket by its hash.
    pub async fn insert_mfa_ticket(
        &mut self,
        ticket_hash: &[u8],
        user_id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO mfa_tickets (ticket_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            &[
                ticket_hash.into(),
                user_id.into(),
                now.into(),
                expires_at.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// A ticket by its hash, whatever its state.
    pub async fn mfa_ticket(&mut self, ticket_hash: &[u8]) -> StoreResult<Option<MfaTicketRow>> {
        self.optional(
            "SELECT user_id, expires_at, failures, used_at FROM mfa_tickets WHERE ticket_hash = $1",
            &[ticket_hash.into()],
        )
        .await
    }

    /// Counts a wrong code against a ticket; the failures so far.
    pub async fn fail_mfa_ticket(&mut self, ticket_hash: &[u8]) -> StoreResult<i64> {
        let (n,): (i64,) = self
            .one(
                "UPDATE mfa_tickets SET failures = failures + 1 WHERE ticket_hash = $1 \
                 RETURNING failures",
                &[ticket_hash.into()],
            )
            .await?;
        Ok(n)
    }

    /// Spends a ticket that is unused, unexpired and under `max_failures`: false when another
    /// request spent it first or it is no longer usable.
    pub async fn spend_mfa_ticket(
        &mut self,
        ticket_hash: &[u8],
        max_failures: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE mfa_tickets SET used_at = $2 WHERE ticket_hash = $1 AND used_at IS NULL \
                 AND expires_at > $2 AND failures < $3",
                &[ticket_hash.into(), now.into(), max_failures.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Drops tickets that expired before `before`; how many.
    pub async fn prune_mfa_tickets(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM mfa_tickets WHERE expires_at < $1",
            &[before.into()],
        )
        .await
    }

    /// Every user, oldest first, with whether they use a second factor.
    pub async fn user_list(&mut self) -> StoreResult<Vec<UserListRow>> {
        self.all(
            "SELECT u.email, u.name, u.email_verified, f.confirmed_at AS mfa_confirmed_at, \
             u.created_at FROM users u LEFT JOIN totp_factors f ON f.user_id = u.id \
             ORDER BY u.created_at, u.id",
            &[],
        )
        .await
    }
}
