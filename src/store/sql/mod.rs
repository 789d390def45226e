//! The `Store` implementation both backends share. SQLite and PostgreSQL accept the same
//! statements here (`$N` placeholders, `RETURNING`, `ON CONFLICT`, row values); what differs —
//! connecting, migrations, how a write transaction begins, how a workspace row is locked — is
//! each backend's: a `pool` and `max` field, `MIGRATOR`, `LOCK_WORKSPACE`, `LOCK_WORKSPACE_ROLE` and `CLAIM_OUTBOX` items, and inherent
//! `begin_write`, `begin_usage_write`, `run_migrations` and `upsert_hours` methods.

mod accounts;
mod invitations;
mod usage;
mod workspaces;

pub(crate) use accounts::impl_account_store;
pub(crate) use invitations::impl_invitation_store;
pub(crate) use usage::impl_usage_store;
pub(crate) use workspaces::impl_workspace_store;

/// A value bound to a dynamically built statement.
pub enum Arg {
    Uuid(uuid::Uuid),
    Text(String),
    Ts(super::ts::Ts),
    Bytes(Vec<u8>),
}

impl From<uuid::Uuid> for Arg {
    fn from(v: uuid::Uuid) -> Self {
        Arg::Uuid(v)
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}

impl From<super::ts::Ts> for Arg {
    fn from(v: super::ts::Ts) -> Self {
        Arg::Ts(v)
    }
}

/// Binds an `Arg` to a query of any shape.
#[macro_export]
#[doc(hidden)]
macro_rules! bind_arg {
    ($q:expr, $arg:expr) => {
        match $arg {
            $crate::store::sql::Arg::Uuid(v) => $q.bind(*v),
            $crate::store::sql::Arg::Text(v) => $q.bind(v.as_str()),
            $crate::store::sql::Arg::Ts(v) => $q.bind(*v),
            $crate::store::sql::Arg::Bytes(v) => $q.bind(v.as_slice()),
        }
    };
}

/// Implements every store trait for a backend type that has what the module documentation lists.
macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            /// Appends an audit event inside the caller's transaction.
            async fn record(
                tx: &mut sqlx::Transaction<'static, $db>,
                e: &$crate::domain::audit::NewEvent<'_>,
            ) -> sqlx::Result<()> {
                sqlx::query(
                    "INSERT INTO audit_events (id, workspace_id, actor_id, action, target_type, \
                     target_id, before, after, ip, user_agent, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(e.workspace_id)
                .bind(e.actor.user_id)
                .bind(e.action)
                .bind(e.target_type)
                .bind(&e.target_id)
                .bind(e.before.as_ref().map(|v| v.to_string()))
                .bind(e.after.as_ref().map(|v| v.to_string()))
                .bind(&e.actor.ip)
                .bind(&e.actor.user_agent)
                .bind($crate::store::ts::Ts(e.actor.at))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::StoreCore for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            fn pool_stats(&self) -> $crate::store::PoolStats {
                $crate::store::PoolStats {
                    size: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.max,
                }
            }

            async fn migrate(
                &self,
                candidate_key: $crate::domain::token::SigningKey,
            ) -> $crate::store::StoreResult<()> {
                self.run_migrations(candidate_key).await
            }

            async fn ready(&self) -> $crate::store::StoreResult<bool> {
                let applied: Vec<(i64,)> =
                    sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(MIGRATOR
                    .iter()
                    .all(|m| applied.iter().any(|(v,)| *v == m.version)))
            }

            async fn signing_keys(
                &self,
            ) -> $crate::store::StoreResult<Vec<$crate::domain::token::SigningKey>> {
                let rows: Vec<$crate::store::rows::SigningKeyRow> = sqlx::query_as(
                    "SELECT kid, private_der, public_raw, created_at FROM signing_keys",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }

        $crate::store::sql::impl_account_store!($store, $db);
        $crate::store::sql::impl_invitation_store!($store, $db);
        $crate::store::sql::impl_workspace_store!($store, $db);
        $crate::store::sql::impl_usage_store!($store, $db);
    };
}

pub(crate) use impl_store;
