//! The JWT signing keys every replica shares (current, and retiring until their tokens have
//! expired), and the values fixed once for the whole deployment (`service_settings`).

use chrono::{DateTime, Utc};

use super::{db::Db, ts::Ts, StoreResult};
use crate::domain::token::SigningKey;

/// Stores a signing key if there is none yet (run by each backend's migration, under its lock).
pub(super) const INSERT_FIRST_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (kid, private_der, public_raw, created_at, sealed) \
     SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)";

#[derive(sqlx::FromRow)]
struct SigningKeyRow {
    kid: String,
    private_der: Vec<u8>,
    public_raw: Vec<u8>,
    created_at: Ts,
    retires_at: Option<Ts>,
    sealed: bool,
}

super::sqlite_read::read_row!(SigningKeyRow {
    kid,
    private_der,
    public_raw,
    created_at,
    retires_at,
    sealed
});

impl From<SigningKeyRow> for SigningKey {
    fn from(r: SigningKeyRow) -> Self {
        SigningKey {
            kid: r.kid,
            private_der: r.private_der,
            public_raw: r.public_raw,
            created_at: r.created_at.0,
            retires_at: r.retires_at.map(|t| t.0),
            sealed: r.sealed,
        }
    }
}

impl Db<'_> {
    /// Every stored key, oldest first.
    pub async fn signing_keys(&mut self) -> StoreResult<Vec<SigningKey>> {
        let rows: Vec<SigningKeyRow> = self
            .all(
                "SELECT kid, private_der, public_raw, created_at, retires_at, sealed \
                 FROM signing_keys ORDER BY created_at, kid",
                &[],
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn insert_signing_key(&mut self, key: &SigningKey) -> StoreResult<()> {
        self.execute(
            "INSERT INTO signing_keys (kid, private_der, public_raw, created_at, retires_at, sealed) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                key.kid.as_str().into(),
                key.private_der.as_slice().into(),
                key.public_raw.as_slice().into(),
                Ts(key.created_at).into(),
                key.retires_at.into(),
                key.sealed.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Sets `retires_at` on every key that has none yet; the number changed.
    pub async fn retire_signing_keys(&mut self, retires_at: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "UPDATE signing_keys SET retires_at = $1 WHERE retires_at IS NULL",
            &[retires_at.into()],
        )
        .await
    }

    /// Replaces a plaintext private key with its sealed form.
    pub async fn seal_signing_key(&mut self, kid: &str, sealed_der: &[u8]) -> StoreResult<u64> {
        self.execute(
            "UPDATE signing_keys SET private_der = $2, sealed = $3 WHERE kid = $1 AND sealed = $4",
            &[kid.into(), sealed_der.into(), true.into(), false.into()],
        )
        .await
    }

    /// Deletes the keys retired at or before `now`; the number deleted.
    pub async fn prune_signing_keys(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM signing_keys WHERE retires_at <= $1",
            &[now.into()],
        )
        .await
    }

    /// A deployment-wide value, if set.
    pub async fn service_setting(&mut self, name: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = self
            .optional(
                "SELECT value FROM service_settings WHERE name = $1",
                &[name.into()],
            )
            .await?;
        Ok(row.map(|(v,)| v))
    }

    /// Sets a deployment-wide value, replacing the one set before.
    pub async fn set_service_setting(&mut self, name: &str, value: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO service_settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[name.into(), value.into()],
        )
        .await?;
        Ok(())
    }

    /// Sets a deployment-wide value unless one is already set (the first writer wins).
    pub async fn set_service_setting_once(&mut self, name: &str, value: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO service_settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
            &[name.into(), value.into()],
        )
        .await?;
        Ok(())
    }
}
