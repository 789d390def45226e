//! The JWT signing keys every replica shares.

use super::{db::Db, ts::Ts, StoreResult};
use crate::domain::token::SigningKey;

/// Stores a signing key if there is none yet (run by each backend's migration, under its lock).
pub(super) const INSERT_FIRST_SIGNING_KEY: &str =
    "INSERT INTO signing_keys (kid, private_der, public_raw, created_at) \
     SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)";

#[derive(sqlx::FromRow)]
struct SigningKeyRow {
    kid: String,
    private_der: Vec<u8>,
    public_raw: Vec<u8>,
    created_at: Ts,
}

impl From<SigningKeyRow> for SigningKey {
    fn from(r: SigningKeyRow) -> Self {
        SigningKey {
            kid: r.kid,
            private_der: r.private_der,
            public_raw: r.public_raw,
            created_at: r.created_at.0,
        }
    }
}

impl Db<'_> {
    pub async fn signing_keys(&mut self) -> StoreResult<Vec<SigningKey>> {
        let rows: Vec<SigningKeyRow> = self
            .all(
                "SELECT kid, private_der, public_raw, created_at FROM signing_keys",
                &[],
            )
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
