//! Shared SQL for users, sessions and API keys (`AccountStore`).

/// Implements `AccountStore` for a backend (see the parent module for what it needs).
macro_rules! impl_account_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Inserts a key and its `api_key.created` event inside the caller's transaction;
            /// `replaces` names the key it succeeds when rotating.
            async fn insert_key(
                tx: &mut sqlx::Transaction<'static, $db>,
                k: &$crate::store::NewApiKey,
                replaces: Option<uuid::Uuid>,
                actor: &$crate::domain::audit::Actor,
            ) -> sqlx::Result<$crate::domain::api_key::ApiKey> {
                use $crate::store::{rows, ts::Ts};
                let row: rows::ApiKeyRow = sqlx::query_as(&format!(
                    "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, read_only, \
                     created_at, expires_at, description) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {}",
                    rows::API_KEY_COLUMNS
                ))
                .bind(k.id)
                .bind(k.user_id)
                .bind(&k.name)
                .bind(&k.prefix)
                .bind(&k.secret_hash)
                .bind(k.read_only)
                .bind(Ts(k.now))
                .bind(k.expires_at.map(Ts))
                .bind(&k.description)
                .fetch_one(&mut **tx)
                .await?;
                let mut after = serde_json::json!({
                    "name": k.name, "prefix": k.prefix, "read_only": k.read_only,
                    "description": k.description, "expires_at": k.expires_at,
                });
                if let Some(old) = replaces {
                    after["replaces"] = serde_json::json!(old);
                }
                Self::key_event(
                    tx,
                    actor,
                    $crate::domain::audit::actions::API_KEY_CREATED,
                    k.id,
                    None,
                    Some(after),
                )
                .await?;
                Ok(row.into())
            }

            /// Appends an audit event about one of a user's API keys (no workspace) inside the
            /// caller's transaction.
            async fn key_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                actor: &$crate::domain::audit::Actor,
                action: &'static str,
                id: uuid::Uuid,
                before: Option<serde_json::Value>,
                after: Option<serde_json::Value>,
            ) -> sqlx::Result<()> {
                Self::record(
                    tx,
                    &$crate::domain::audit::NewEvent {
                        workspace_id: None,
                        actor,
                        action,
                        target_type: "api_key",
                        target_id: Some(id.to_string()),
                        before,
                        after,
                    },
                )
                .await
            }

            /// Inserts a user with their personal workspace and owner membership, and the
            /// audit events, inside the caller's transaction.
            async fn insert_account(
                tx: &mut sqlx::Transaction<'static, $db>,
                a: &$crate::store::NewAccount,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::user::User> {
                use $crate::domain::audit::{actions, NewEvent};
                use $crate::store::{rows, ts::Ts};
                let now = Ts(a.now);
                sqlx::query(
                    "INSERT INTO users (id, email, email_key, name, name_key, password_hash, \
                     email_verified, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(a.user_id)
                .bind(&a.email)
                .bind(&a.email_key)
                .bind(&a.name)
                .bind(a.name.to_lowercase())
                .bind(&a.password_hash)
                .bind(a.email_verified)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO workspaces (id, slug, name, is_personal, created_by, \
                     member_count, created_at, updated_at) VALUES ($1, $2, $3, TRUE, $4, 1, $5, $5)",
                )
                .bind(a.workspace_id)
                .bind(&a.workspace_slug)
                .bind(&a.workspace_name)
                .bind(a.user_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at, \
                     updated_at) VALUES ($1, $2, 'owner', $3, $3)",
                )
                .bind(a.workspace_id)
                .bind(a.user_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                let row: rows::UserRow = sqlx::query_as(&format!(
                    "UPDATE users SET personal_workspace_id = $2, primary_workspace_id = $2 \
                     WHERE id = $1 RETURNING {}",
                    rows::USER_COLUMNS
                ))
                .bind(a.user_id)
                .bind(a.workspace_id)
                .fetch_one(&mut **tx)
                .await?;
                let events = [
                    NewEvent {
                        workspace_id: None,
                        actor,
                        action: actions::USER_SIGNED_UP,
                        target_type: "user",
                        target_id: Some(a.user_id.to_string()),
                        before: None,
                        after: Some(serde_json::json!({"email": a.email, "name": a.name})),
                    },
                    NewEvent {
                        workspace_id: Some(a.workspace_id),
                        actor,
                        action: actions::WORKSPACE_CREATED,
                        target_type: "workspace",
                        target_id: Some(a.workspace_id.to_string()),
                        before: None,
                        after: Some(serde_json::json!({
                            "name": a.workspace_name, "slug": a.workspace_slug, "personal": true,
                        })),
                    },
                    NewEvent {
                        workspace_id: Some(a.workspace_id),
                        actor,
                        action: actions::MEMBER_ADDED,
                        target_type: "user",
                        target_id: Some(a.user_id.to_string()),
                        before: None,
                        after: Some(serde_json::json!({"role": "owner"})),
                    },
                ];
                for e in &events {
                    Self::record(tx, e).await?;
                }
                Ok(row.into())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AccountStore for $store {
            async fn create_account(
                &self,
                a: &$crate::store::NewAccount,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::user::User> {
                let (mut tx, _writer) = self.begin_write().await?;
                let user = Self::insert_account(&mut tx, a, actor).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn user(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::domain::user::User>> {
                use $crate::store::rows;
                let row: Option<rows::UserRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM users WHERE id = $1",
                    rows::USER_COLUMNS
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn credentials_by_email(
                &self,
                email_key: &str,
            ) -> $crate::store::StoreResult<Option<(uuid::Uuid, Option<String>)>> {
                Ok(
                    sqlx::query_as("SELECT id, password_hash FROM users WHERE email_key = $1")
                        .bind(email_key)
                        .fetch_optional(&self.pool)
                        .await?,
                )
            }

            async fn update_user(
                &self,
                id: uuid::Uuid,
                change: &$crate::store::UserChange<'_>,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<Option<$crate::domain::user::User>> {
                use $crate::domain::audit::{actions, NewEvent};
                use $crate::store::{rows, ts::Ts};
                let (mut tx, _writer) = self.begin_write().await?;
                let before: Option<rows::UserRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM users WHERE id = $1",
                    rows::USER_COLUMNS
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(before) = before else {
                    return Ok(None);
                };
                let before: $crate::domain::user::User = before.into();
                let row: rows::UserRow = sqlx::query_as(&format!(
                    "UPDATE users SET name = COALESCE($2, name), name_key = COALESCE($3, name_key), \
                     photo_url = CASE WHEN $4 THEN $5 ELSE photo_url END, \
                     onboarded_at = CASE WHEN $6 IS NULL THEN onboarded_at \
                       WHEN $6 THEN COALESCE(onboarded_at, $8) ELSE NULL END, \
                     product_updates_subscribed = COALESCE($7, product_updates_subscribed), \
                     updated_at = $8 WHERE id = $1 RETURNING {}",
                    rows::USER_COLUMNS
                ))
                .bind(id)
                .bind(change.name)
                .bind(change.name.map(str::to_lowercase))
                .bind(change.photo_url.is_some())
                .bind(change.photo_url.flatten())
                .bind(change.onboarded)
                .bind(change.product_updates_subscribed)
                .bind(Ts(actor.at))
                .fetch_one(&mut *tx)
                .await?;
                let user: $crate::domain::user::User = row.into();
                let profile = |u: &$crate::domain::user::User| {
                    serde_json::json!({
                        "name": u.name, "photo_url": u.photo_url, "onboarded_at": u.onboarded_at,
                        "product_updates_subscribed": u.product_updates_subscribed,
                    })
                };
                let (old, new) = $crate::domain::workspace::diff(&profile(&before), &profile(&user));
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: None,
                        actor,
                        action: actions::USER_UPDATED,
                        target_type: "user",
                        target_id: Some(id.to_string()),
                        before: Some(old),
                        after: Some(new),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(Some(user))
            }

            async fn set_password(
                &self,
                email_key: &str,
                hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE email_key = $1",
                )
                .bind(email_key)
                .bind(hash)
                .bind($crate::store::ts::Ts(now))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_session(
                &self,
                s: &$crate::store::NewSession,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                use $crate::domain::audit::{actions, NewEvent};
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, workspace_id, created_at, last_used_at, \
                     expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
                )
                .bind(s.id)
                .bind(s.user_id)
                .bind(s.workspace_id)
                .bind(Ts(s.now))
                .bind(Ts(s.expires_at))
                .bind(&s.ip)
                .bind(&s.user_agent)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, session_id, created_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(&s.refresh_hash)
                .bind(s.id)
                .bind(Ts(s.now))
                .execute(&mut *tx)
                .await?;
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: s.workspace_id,
                        actor,
                        action: actions::SESSION_STARTED,
                        target_type: "session",
                        target_id: Some(s.id.to_string()),
                        before: None,
                        after: None,
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rotate_refresh_token(
                &self,
                presented: &[u8],
                next: &[u8],
                expires_at: chrono::DateTime<chrono::Utc>,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::store::Rotation> {
                use $crate::domain::audit::{actions, NewEvent};
                use $crate::store::{ts::Ts, Rotation};
                let now = actor.at;
                let (mut tx, _writer) = self.begin_write().await?;
                let found: Option<(
                    uuid::Uuid,
                    Option<Ts>,
                    uuid::Uuid,
                    Option<uuid::Uuid>,
                    Option<Ts>,
                    Ts,
                )> = sqlx::query_as(
                    "SELECT rt.session_id, rt.spent_at, s.user_id, s.workspace_id, \
                     s.ended_at, s.expires_at FROM refresh_tokens rt \
                     JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1",
                )
                .bind(presented)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((session_id, spent_at, user_id, workspace_id, ended_at, session_expiry)) =
                    found
                else {
                    return Ok(Rotation::Invalid);
                };
                if ended_at.is_some() || session_expiry.0 <= now {
                    return Ok(Rotation::Invalid);
                }
                // Spend the token only if nobody else has: a concurrent presenter loses here.
                let spent = spent_at.is_none()
                    && sqlx::query(
                        "UPDATE refresh_tokens SET spent_at = $2 \
                         WHERE token_hash = $1 AND spent_at IS NULL",
                    )
                    .bind(presented)
                    .bind(Ts(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                if !spent {
                    sqlx::query(
                        "UPDATE sessions SET ended_at = $2, end_reason = 'refresh_token_reused' \
                         WHERE id = $1 AND ended_at IS NULL",
                    )
                    .bind(session_id)
                    .bind(Ts(now))
                    .execute(&mut *tx)
                    .await?;
                    Self::record(
                        &mut tx,
                        &NewEvent {
                            workspace_id,
                            actor: &$crate::domain::audit::Actor {
                                user_id: Some(user_id),
                                ..actor.clone()
                            },
                            action: actions::SESSION_REUSE_DETECTED,
                            target_type: "session",
                            target_id: Some(session_id.to_string()),
                            before: None,
                            after: Some(serde_json::json!({"ended": true})),
                        },
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Rotation::Reused { session_id });
                }
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, session_id, created_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(next)
                .bind(session_id)
                .bind(Ts(now))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1",
                )
                .bind(session_id)
                .bind(Ts(now))
                .bind(Ts(expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Rotation::Rotated {
                    session_id,
                    user_id,
                    workspace_id,
                })
            }

            async fn end_session(
                &self,
                user_id: uuid::Uuid,
                session_id: uuid::Uuid,
                reason: &str,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<bool> {
                use $crate::domain::audit::{actions, NewEvent};
                let (mut tx, _writer) = self.begin_write().await?;
                let ended: Option<(Option<uuid::Uuid>,)> = sqlx::query_as(
                    "UPDATE sessions SET ended_at = $3, end_reason = $4 \
                     WHERE id = $1 AND user_id = $2 AND ended_at IS NULL RETURNING workspace_id",
                )
                .bind(session_id)
                .bind(user_id)
                .bind($crate::store::ts::Ts(actor.at))
                .bind(reason)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((workspace_id,)) = ended else {
                    return Ok(false);
                };
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id,
                        actor,
                        action: actions::SESSION_ENDED,
                        target_type: "session",
                        target_id: Some(session_id.to_string()),
                        before: None,
                        after: Some(serde_json::json!({"reason": reason})),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn active_sessions(
                &self,
                user_id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::domain::session::Session>> {
                use $crate::store::{rows, ts::Ts};
                let found: Vec<rows::SessionRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM sessions WHERE user_id = $1 AND ended_at IS NULL \
                     AND expires_at > $2 ORDER BY created_at DESC, id DESC",
                    rows::SESSION_COLUMNS
                ))
                .bind(user_id)
                .bind(Ts(now))
                .fetch_all(&self.pool)
                .await?;
                Ok(found.into_iter().map(Into::into).collect())
            }

            async fn session_auth(
                &self,
                session_id: uuid::Uuid,
                user_id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::ActiveSession>> {
                let found: Option<(Option<uuid::Uuid>,)> = sqlx::query_as(
                    "SELECT workspace_id FROM sessions WHERE id = $1 AND user_id = $2 \
                     AND ended_at IS NULL AND expires_at > $3",
                )
                .bind(session_id)
                .bind(user_id)
                .bind($crate::store::ts::Ts(now))
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.map(|(workspace_id,)| $crate::store::ActiveSession { workspace_id }))
            }

            async fn create_api_key(
                &self,
                k: &$crate::store::NewApiKey,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::api_key::ApiKey> {
                let (mut tx, _writer) = self.begin_write().await?;
                let key = Self::insert_key(&mut tx, k, None, actor).await?;
                tx.commit().await?;
                Ok(key)
            }

            async fn update_api_key(
                &self,
                user_id: uuid::Uuid,
                id: uuid::Uuid,
                patch: &$crate::domain::api_key::ApiKeyPatch,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<Option<$crate::domain::api_key::ApiKey>> {
                use $crate::domain::audit::actions;
                use $crate::store::{rows, ts::Ts};
                let (mut tx, _writer) = self.begin_write().await?;
                // A no-op write takes the row lock (PostgreSQL), so `before` is what we change.
                let found: Option<rows::ApiKeyRow> = sqlx::query_as(&format!(
                    "UPDATE api_keys SET revoked_at = revoked_at \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING {}",
                    rows::API_KEY_COLUMNS
                ))
                .bind(id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(before) = found else {
                    return Ok(None);
                };
                let before: $crate::domain::api_key::ApiKey = before.into();
                let name = patch.name.clone().unwrap_or_else(|| before.name.clone());
                let description = patch
                    .description
                    .clone()
                    .unwrap_or_else(|| before.description.clone());
                let read_only = patch.read_only.unwrap_or(before.read_only);
                let expires_at = patch.expires_at.unwrap_or(before.expires_at);
                let revoked_at = (patch.active == Some(false)).then_some(actor.at);
                let row: rows::ApiKeyRow = sqlx::query_as(&format!(
                    "UPDATE api_keys SET name = $3, description = $4, read_only = $5, \
                     expires_at = $6, revoked_at = $7 WHERE id = $1 AND user_id = $2 \
                     RETURNING {}",
                    rows::API_KEY_COLUMNS
                ))
                .bind(id)
                .bind(user_id)
                .bind(&name)
                .bind(&description)
                .bind(read_only)
                .bind(expires_at.map(Ts))
                .bind(revoked_at.map(Ts))
                .fetch_one(&mut *tx)
                .await?;
                let after: $crate::domain::api_key::ApiKey = row.into();
                let mut old = serde_json::Map::new();
                let mut new = serde_json::Map::new();
                let mut diff = |field: &str, a: serde_json::Value, b: serde_json::Value| {
                    if a != b {
                        old.insert(field.to_owned(), a);
                        new.insert(field.to_owned(), b);
                    }
                };
                diff("name", serde_json::json!(before.name), serde_json::json!(after.name));
                diff(
                    "description",
                    serde_json::json!(before.description),
                    serde_json::json!(after.description),
                );
                diff(
                    "read_only",
                    serde_json::json!(before.read_only),
                    serde_json::json!(after.read_only),
                );
                diff(
                    "expires_at",
                    serde_json::json!(before.expires_at),
                    serde_json::json!(after.expires_at),
                );
                if !new.is_empty() {
                    Self::key_event(
                        &mut tx,
                        actor,
                        actions::API_KEY_UPDATED,
                        id,
                        Some(old.into()),
                        Some(new.into()),
                    )
                    .await?;
                }
                if patch.active == Some(false) {
                    Self::key_event(&mut tx, actor, actions::API_KEY_REVOKED, id, None, None)
                    .await?;
                }
                tx.commit().await?;
                Ok(Some(after))
            }

            async fn regenerate_api_key(
                &self,
                user_id: uuid::Uuid,
                id: uuid::Uuid,
                prefix: &str,
                secret_hash: &[u8],
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<Option<$crate::domain::api_key::ApiKey>> {
                use $crate::domain::audit::actions;
                use $crate::store::{rows, ts::Ts};
                let (mut tx, _writer) = self.begin_write().await?;
                let found: Option<rows::ApiKeyRow> = sqlx::query_as(&format!(
                    "UPDATE api_keys SET prefix = $3, secret_hash = $4 \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
                     AND (expires_at IS NULL OR expires_at > $5) RETURNING {}",
                    rows::API_KEY_COLUMNS
                ))
                .bind(id)
                .bind(user_id)
                .bind(prefix)
                .bind(secret_hash)
                .bind(Ts(actor.at))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = found else {
                    return Ok(None);
                };
                Self::key_event(
                    &mut tx,
                    actor,
                    actions::API_KEY_REGENERATED,
                    id,
                    None,
                    Some(serde_json::json!({ "prefix": prefix })),
                )
                .await?;
                tx.commit().await?;
                Ok(Some(row.into()))
            }

            async fn rotate_api_key(
                &self,
                user_id: uuid::Uuid,
                id: uuid::Uuid,
                next: &$crate::store::NewApiKey,
                old_until: chrono::DateTime<chrono::Utc>,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<Option<$crate::domain::api_key::ApiKey>> {
                use $crate::domain::audit::actions;
                use $crate::store::{rows, ts::Ts};
                let (mut tx, _writer) = self.begin_write().await?;
                // The conditional update is the claim: of two concurrent rotations one finds
                // `replaced_by` set and gets nothing.
                let found: Option<rows::ApiKeyRow> = sqlx::query_as(&format!(
                    "UPDATE api_keys SET replaced_by = $3, expires_at = CASE \
                     WHEN expires_at IS NOT NULL AND expires_at < $4 THEN expires_at ELSE $4 END \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
                     AND replaced_by IS NULL AND (expires_at IS NULL OR expires_at > $5) \
                     RETURNING {}",
                    rows::API_KEY_COLUMNS
                ))
                .bind(id)
                .bind(user_id)
                .bind(next.id)
                .bind(Ts(old_until))
                .bind(Ts(actor.at))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(old) = found else {
                    return Ok(None);
                };
                let old: $crate::domain::api_key::ApiKey = old.into();
                Self::key_event(
                    &mut tx,
                    actor,
                    actions::API_KEY_ROTATED,
                    id,
                    None,
                    Some(serde_json::json!({
                        "replaced_by": next.id, "expires_at": old.expires_at,
                    })),
                )
                .await?;
                let successor = $crate::store::NewApiKey {
                    name: old.name.clone(),
                    read_only: old.read_only,
                    description: old.description.clone(),
                    ..next.clone()
                };
                let key = Self::insert_key(&mut tx, &successor, Some(id), actor).await?;
                tx.commit().await?;
                Ok(Some(key))
            }

            async fn api_keys(
                &self,
                user_id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Vec<$crate::domain::api_key::ApiKey>> {
                use $crate::store::rows;
                let found: Vec<rows::ApiKeyRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL \
                     ORDER BY created_at DESC, id DESC",
                    rows::API_KEY_COLUMNS
                ))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(found.into_iter().map(Into::into).collect())
            }

            async fn api_key(
                &self,
                user_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::domain::api_key::ApiKey>> {
                use $crate::store::rows;
                let found: Option<rows::ApiKeyRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM api_keys WHERE id = $1 AND user_id = $2 \
                     AND revoked_at IS NULL",
                    rows::API_KEY_COLUMNS
                ))
                .bind(id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.map(Into::into))
            }

            async fn revoke_api_key(
                &self,
                user_id: uuid::Uuid,
                id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<bool> {
                use $crate::domain::audit::actions;
                let (mut tx, _writer) = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $3 \
                     WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(user_id)
                .bind($crate::store::ts::Ts(actor.at))
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::key_event(&mut tx, actor, actions::API_KEY_REVOKED, id, None, None)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn api_key_auth(
                &self,
                secret_hash: &[u8],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::ApiKeyAuth>> {
                use $crate::store::ts::Ts;
                let found: Option<(uuid::Uuid, uuid::Uuid, bool, Option<Ts>)> = sqlx::query_as(
                    "SELECT id, user_id, read_only, last_used_at FROM api_keys \
                     WHERE secret_hash = $1 AND revoked_at IS NULL \
                     AND (expires_at IS NULL OR expires_at > $2)",
                )
                .bind(secret_hash)
                .bind(Ts(now))
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.map(
                    |(id, user_id, read_only, last_used_at)| $crate::store::ApiKeyAuth {
                        id,
                        user_id,
                        read_only,
                        last_used_at: last_used_at.map(|t| t.0),
                    },
                ))
            }

            async fn delete_account(
                &self,
                user_id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    role::{last_owner, Role},
                };
                let (mut tx, _writer) = self.begin_write().await?;
                let mut memberships: Vec<(uuid::Uuid, String)> = sqlx::query_as(
                    "SELECT workspace_id, role FROM memberships WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
                // Lock in one order everywhere, so two deletions cannot deadlock.
                memberships.sort();
                for (workspace_id, role) in &memberships {
                    let _: Option<(uuid::Uuid,)> = sqlx::query_as(LOCK_WORKSPACE)
                        .bind(workspace_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let members: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1",
                    )
                    .bind(workspace_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if members == 1 {
                        sqlx::query("DELETE FROM workspaces WHERE id = $1")
                            .bind(workspace_id)
                            .execute(&mut *tx)
                            .await?;
                        Self::record(
                            &mut tx,
                            &NewEvent {
                                workspace_id: Some(*workspace_id),
                                actor,
                                action: actions::WORKSPACE_DELETED,
                                target_type: "workspace",
                                target_id: Some(workspace_id.to_string()),
                                before: None,
                                after: Some(serde_json::json!({"reason": "last member deleted their account"})),
                            },
                        )
                        .await?;
                        continue;
                    }
                    if role.as_str() == Role::Owner.as_str()
                        && Self::owner_count(&mut tx, *workspace_id).await? <= 1
                    {
                        return Err(last_owner().into());
                    }
                    sqlx::query(
                        "UPDATE workspaces SET member_count = member_count - 1 WHERE id = $1",
                    )
                    .bind(workspace_id)
                    .execute(&mut *tx)
                    .await?;
                    Self::record(
                        &mut tx,
                        &NewEvent {
                            workspace_id: Some(*workspace_id),
                            actor,
                            action: actions::MEMBER_LEFT,
                            target_type: "user",
                            target_id: Some(user_id.to_string()),
                            before: Some(serde_json::json!({"role": role})),
                            after: Some(serde_json::json!({"reason": "account deleted"})),
                        },
                    )
                    .await?;
                }
                Self::record(
                    &mut tx,
                    &NewEvent {
                        workspace_id: None,
                        actor,
                        action: actions::USER_DELETED,
                        target_type: "user",
                        target_id: Some(user_id.to_string()),
                        before: None,
                        after: None,
                    },
                )
                .await?;
                // Sessions, keys and memberships go with the user (cascade).
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn touch_api_key(
                &self,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind($crate::store::ts::Ts(now))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_account_store;
