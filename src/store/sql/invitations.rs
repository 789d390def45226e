//! Shared SQL for invitations, the outbox and rate limits (`InvitationStore`). Changes lock the
//! workspace row and re-check the actor's role, like member changes; token use is a conditional
//! update on `status = 'pending'`, so exactly one of any racing requests wins.

/// Implements `InvitationStore` for a backend (see the parent module for what it needs).
macro_rules! impl_invitation_store {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Counts a hit against a limit inside the caller's transaction; over the limit it
            /// refuses, and the rollback uncounts the hit.
            async fn rate_hit(
                tx: &mut sqlx::Transaction<'static, $db>,
                limit: &$crate::store::RateLimit,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                if limit.limit == 0 {
                    return Ok(());
                }
                let t = now.timestamp();
                let window = t - t.rem_euclid(limit.window_secs);
                let hits: i64 = sqlx::query_scalar(
                    "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) \
                     ON CONFLICT (bucket, window_start) \
                     DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits",
                )
                .bind(&limit.bucket)
                .bind(window)
                .fetch_one(&mut **tx)
                .await?;
                if hits > i64::from(limit.limit) {
                    let retry_after = (window + limit.window_secs - t).max(1).unsigned_abs();
                    return Err($crate::domain::Error::RateLimited { retry_after }.into());
                }
                Ok(())
            }

            async fn queue_mail(
                tx: &mut sqlx::Transaction<'static, $db>,
                invitation_id: uuid::Uuid,
                mail: &$crate::mail::Mail,
                now: chrono::DateTime<chrono::Utc>,
            ) -> sqlx::Result<()> {
                let now = $crate::store::ts::Ts(now);
                sqlx::query(
                    "INSERT INTO outbox (id, invitation_id, recipient, subject, text_body, \
                     html_body, status, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7)",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(invitation_id)
                .bind(&mail.to)
                .bind(&mail.subject)
                .bind(&mail.text)
                .bind(&mail.html)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                metrics::counter!("mail_queued_total").increment(1);
                Ok(())
            }

            /// Withdraws queued (unsent) mail of an invitation: its link no longer works.
            async fn withdraw_mail(
                tx: &mut sqlx::Transaction<'static, $db>,
                invitation_id: uuid::Uuid,
            ) -> sqlx::Result<()> {
                sqlx::query(
                    "UPDATE outbox SET status = 'superseded', text_body = NULL, html_body = NULL \
                     WHERE invitation_id = $1 AND status = 'queued'",
                )
                .bind(invitation_id)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn read_invitation(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::domain::invitation::Invitation> {
                let row: $crate::store::rows::InvitationRow = sqlx::query_as(&format!(
                    "SELECT {} FROM invitations i WHERE i.id = $1",
                    $crate::store::rows::INVITATION_COLUMNS
                ))
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
                Ok(row.try_into()?)
            }

            /// The invitation of a workspace, read inside the caller's transaction.
            async fn find_invitation(
                tx: &mut sqlx::Transaction<'static, $db>,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<$crate::domain::invitation::Invitation> {
                let found: Option<$crate::store::rows::InvitationRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM invitations i WHERE i.id = $1 AND i.workspace_id = $2",
                    $crate::store::rows::INVITATION_COLUMNS
                ))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(&mut **tx)
                .await?;
                Ok(found.ok_or($crate::domain::Error::NotFound)?.try_into()?)
            }

            /// An invitation with what its preview shows, by one column (`i.id`, `i.token_hash`).
            async fn preview_where(
                &self,
                column: &str,
                value: $crate::store::sql::Arg,
            ) -> $crate::store::StoreResult<Option<$crate::domain::invitation::Preview>> {
                use $crate::store::rows;
                let sql = format!(
                    "SELECT {}, {} FROM invitations i {} WHERE {column} = $1",
                    rows::INVITATION_COLUMNS,
                    rows::PREVIEW_COLUMNS,
                    rows::PREVIEW_JOINS
                );
                let q = sqlx::query_as::<_, rows::PreviewRow>(&sql);
                let found = $crate::bind_arg!(q, &value).fetch_optional(&self.pool).await?;
                Ok(found.map(TryInto::try_into).transpose()?)
            }

            /// The event of an invitation change.
            fn invitation_event<'a>(
                inv: &$crate::domain::invitation::Invitation,
                actor: &'a $crate::domain::audit::Actor,
                action: &'static str,
                before: Option<serde_json::Value>,
                after: Option<serde_json::Value>,
            ) -> $crate::domain::audit::NewEvent<'a> {
                $crate::domain::audit::NewEvent {
                    workspace_id: Some(inv.workspace_id),
                    actor,
                    action,
                    target_type: "invitation",
                    target_id: Some(inv.id.to_string()),
                    before,
                    after,
                }
            }

            /// Declines the pending, unexpired invitation `filter` selects (`$1` is `key`, `$3`
            /// the invitee's email key when given).
            async fn decline_where(
                &self,
                filter: &str,
                key: &$crate::store::sql::Arg,
                email_key: Option<&str>,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                use $crate::domain::{audit::actions, Error};
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                let sql = format!(
                    "UPDATE invitations SET status = 'declined', ended_at = $2 \
                     WHERE {filter} AND status = 'pending' AND expires_at > $2 RETURNING id"
                );
                let q = sqlx::query_as::<_, (uuid::Uuid,)>(&sql);
                let q = $crate::bind_arg!(q, key).bind(Ts(actor.at));
                let q = match email_key {
                    Some(e) => q.bind(e),
                    None => q,
                };
                let declined = q.fetch_optional(&mut *tx).await?;
                let (id,) = declined.ok_or_else(|| {
                    Error::conflict("invitation_not_pending", "this invitation is no longer pending")
                })?;
                let inv = Self::read_invitation(&mut tx, id).await?;
                Self::withdraw_mail(&mut tx, inv.id).await?;
                let e = Self::invitation_event(
                    &inv,
                    actor,
                    actions::INVITATION_DECLINED,
                    Some(serde_json::json!({"status": "pending"})),
                    Some(serde_json::json!({"status": "declined"})),
                );
                Self::record(&mut tx, &e).await?;
                tx.commit().await?;
                Ok(())
            }

            /// Accepting, inside the caller's transaction: the token is pending and unexpired,
            /// the email matches, the inviter still may grant the role, the user is not yet a
            /// member; then the token is spent and the membership added.
            /// `column` names the invitation (`i.token_hash` or `i.id`), `key` its value.
            async fn accept_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                column: &str,
                key: &$crate::store::sql::Arg,
                user_id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::role::Role> {
                use $crate::domain::{
                    audit::{actions, NewEvent},
                    invitation::{check_open, Invitation},
                    role::check_grant,
                    Error,
                };
                use $crate::store::{rows, ts::Ts};
                let sql = format!(
                    "SELECT {} FROM invitations i WHERE {column} = $1",
                    rows::INVITATION_COLUMNS
                );
                let q = sqlx::query_as::<_, rows::InvitationRow>(&sql);
                let found = $crate::bind_arg!(q, key).fetch_optional(&mut **tx).await?;
                let inv: Invitation = found.ok_or(Error::NotFound)?.try_into()?;
                check_open(&inv, actor.at)?;
                let user_email: Option<(String,)> =
                    sqlx::query_as("SELECT email_key FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut **tx)
                        .await?;
                let (user_email,) = user_email.ok_or(Error::Unauthenticated)?;
                if user_email != inv.email.to_lowercase() {
                    return Err(Error::conflict(
                        "invitation_email_mismatch",
                        "this invitation is addressed to another email; sign in with that one",
                    )
                    .into());
                }
                let locked: Option<(uuid::Uuid,)> = sqlx::query_as(LOCK_WORKSPACE)
                    .bind(inv.workspace_id)
                    .fetch_optional(&mut **tx)
                    .await?;
                locked.ok_or(Error::NotFound)?;
                let inviter_role = match inv.inviter_id {
                    Some(id) => Self::role_in(tx, inv.workspace_id, id).await?,
                    None => None,
                };
                let authorised =
                    inviter_role.is_some_and(|r| check_grant(r, inv.role).is_ok());
                if !authorised {
                    return Err(Error::conflict(
                        "inviter_lost_authority",
                        "whoever sent this invitation may no longer grant this role",
                    )
                    .into());
                }
                if Self::role_in(tx, inv.workspace_id, user_id).await?.is_some() {
                    return Err(Error::conflict(
                        "already_member",
                        "you are already a member of this workspace",
                    )
                    .into());
                }
                let spent = sqlx::query(
                    "UPDATE invitations SET status = 'accepted', ended_at = $2, accepted_by = $3 \
                     WHERE id = $1 AND status = 'pending' AND expires_at > $2",
                )
                .bind(inv.id)
                .bind(Ts(actor.at))
                .bind(user_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if spent != 1 {
                    return Err(Error::conflict(
                        "invitation_accepted",
                        "this invitation has already been used",
                    )
                    .into());
                }
                sqlx::query(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(inv.workspace_id)
                .bind(user_id)
                .bind(inv.role.as_str())
                .bind(Ts(actor.at))
                .execute(&mut **tx)
                .await?;
                sqlx::query("UPDATE workspaces SET member_count = member_count + 1 WHERE id = $1")
                    .bind(inv.workspace_id)
                    .execute(&mut **tx)
                    .await?;
                // Accepting proves the mailbox, and makes the workspace the user's primary one.
                sqlx::query(
                    "UPDATE users SET email_verified = TRUE, primary_workspace_id = $2 WHERE id = $1",
                )
                .bind(user_id)
                .bind(inv.workspace_id)
                .execute(&mut **tx)
                .await?;
                let accepted = Self::invitation_event(
                    &inv,
                    actor,
                    actions::INVITATION_ACCEPTED,
                    None,
                    Some(serde_json::json!({"user_id": user_id})),
                );
                let joined = NewEvent {
                    workspace_id: Some(inv.workspace_id),
                    actor,
                    action: actions::MEMBER_ADDED,
                    target_type: "user",
                    target_id: Some(user_id.to_string()),
                    before: None,
                    after: Some(serde_json::json!({"role": inv.role.as_str(), "invitation_id": inv.id})),
                };
                Self::record(tx, &accepted).await?;
                Self::record(tx, &joined).await?;
                Ok(inv.role)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::InvitationStore for $store {
            async fn create_invitation(
                &self,
                workspace_id: uuid::Uuid,
                new: &$crate::domain::invitation::NewInvitation,
                limit: &$crate::store::RateLimit,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::invitation::Invitation> {
                use $crate::domain::{
                    audit::actions,
                    role::{check_grant, Action},
                    Error,
                };
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                let actor_role = Self::lock_and_role(&mut tx, workspace_id, actor).await?;
                actor_role.require(Action::ManageInvitations)?;
                check_grant(actor_role, new.role)?;
                Self::rate_hit(&mut tx, limit, actor.at).await?;
                let (is_self, is_member): (bool, bool) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND email_key = $3), \
                     EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.workspace_id = $2 AND u.email_key = $3)",
                )
                .bind(actor.user_id)
                .bind(workspace_id)
                .bind(&new.email_key)
                .fetch_one(&mut *tx)
                .await?;
                if is_self {
                    return Err(Error::conflict("cannot_invite_self", "you cannot invite yourself").into());
                }
                if is_member {
                    return Err(Error::conflict(
                        "already_member",
                        "someone with this email is already a member",
                    )
                    .into());
                }
                let replaced: Vec<(uuid::Uuid,)> = sqlx::query_as(
                    "UPDATE invitations SET status = 'revoked', ended_at = $3 \
                     WHERE workspace_id = $1 AND email_key = $2 AND status = 'pending' RETURNING id",
                )
                .bind(workspace_id)
                .bind(&new.email_key)
                .bind(Ts(actor.at))
                .fetch_all(&mut *tx)
                .await?;
                for (old,) in &replaced {
                    Self::withdraw_mail(&mut tx, *old).await?;
                    let inv = Self::read_invitation(&mut tx, *old).await?;
                    let e = Self::invitation_event(
                        &inv,
                        actor,
                        actions::INVITATION_REVOKED,
                        Some(serde_json::json!({"status": "pending"})),
                        Some(serde_json::json!({"status": "revoked", "replaced_by": new.id})),
                    );
                    Self::record(&mut tx, &e).await?;
                }
                let row: $crate::store::rows::InvitationRow = sqlx::query_as(&format!(
                    "INSERT INTO invitations (id, workspace_id, email, email_key, role, status, \
                     token_hash, inviter_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9) RETURNING {}",
                    $crate::store::rows::INVITATION_FIELDS
                ))
                .bind(new.id)
                .bind(workspace_id)
                .bind(&new.email)
                .bind(&new.email_key)
                .bind(new.role.as_str())
                .bind(&new.token_hash)
                .bind(actor.user_id)
                .bind(Ts(actor.at))
                .bind(Ts(new.expires_at))
                .fetch_one(&mut *tx)
                .await?;
                if let Some(mail) = &new.mail {
                    Self::queue_mail(&mut tx, new.id, mail, actor.at).await?;
                }
                let inv: $crate::domain::invitation::Invitation = row.try_into()?;
                let e = Self::invitation_event(
                    &inv,
                    actor,
                    actions::INVITATION_CREATED,
                    None,
                    Some(serde_json::json!({
                        "email": inv.email, "role": inv.role.as_str(),
                        "expires_at": inv.expires_at, "email_queued": new.mail.is_some(),
                    })),
                );
                Self::record(&mut tx, &e).await?;
                tx.commit().await?;
                Ok(inv)
            }

            async fn invitations(
                &self,
                workspace_id: uuid::Uuid,
                status: $crate::domain::invitation::Status,
                now: chrono::DateTime<chrono::Utc>,
                page: &$crate::domain::paging::PageRequest,
            ) -> $crate::store::StoreResult<
                $crate::domain::paging::Page<$crate::domain::invitation::Invitation>,
            > {
                use $crate::domain::{invitation::Status, paging::{Cursor, Page}};
                use $crate::store::{rows, ts::Ts};
                // Expiry is a matter of time: a stored `pending` past its expiry is `expired`.
                let condition = match status {
                    Status::Pending => "i.status = 'pending' AND i.expires_at > $2",
                    Status::Expired => {
                        "(i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= $2))"
                    }
                    Status::Accepted => "i.status = 'accepted' AND $2 = $2",
                    Status::Declined => "i.status = 'declined' AND $2 = $2",
                    Status::Revoked => "i.status = 'revoked' AND $2 = $2",
                };
                let (after, order) = match (page.after.is_some(), page.newest_first) {
                    (false, false) => ("", "i.created_at, i.id"),
                    (false, true) => ("", "i.created_at DESC, i.id DESC"),
                    (true, false) => ("AND (i.created_at, i.id) > ($3, $4)", "i.created_at, i.id"),
                    (true, true) => {
                        ("AND (i.created_at, i.id) < ($3, $4)", "i.created_at DESC, i.id DESC")
                    }
                };
                let sql = format!(
                    "SELECT {} FROM invitations i WHERE i.workspace_id = $1 AND {condition} {after} \
                     ORDER BY {order} LIMIT {} OFFSET {}",
                    rows::INVITATION_COLUMNS,
                    page.limit + 1,
                    page.offset
                );
                let mut q = sqlx::query_as::<_, rows::InvitationRow>(&sql)
                    .bind(workspace_id)
                    .bind(Ts(now));
                if let Some(c) = page.after {
                    q = q.bind(Ts(c.at)).bind(c.id);
                }
                let found = q.fetch_all(&self.pool).await?;
                let total: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM invitations i WHERE i.workspace_id = $1 AND {condition}"
                ))
                .bind(workspace_id)
                .bind(Ts(now))
                .fetch_one(&self.pool)
                .await?;
                let items = found
                    .into_iter()
                    .map($crate::domain::invitation::Invitation::try_from)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(Page::from_rows(items, page.limit, total.unsigned_abs(), |i| Cursor {
                    at: i.created_at,
                    id: i.id,
                }))
            }

            async fn invitation(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::domain::invitation::Invitation>> {
                let found: Option<$crate::store::rows::InvitationRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM invitations i WHERE i.id = $1 AND i.workspace_id = $2",
                    $crate::store::rows::INVITATION_COLUMNS
                ))
                .bind(id)
                .bind(workspace_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(found.map(TryInto::try_into).transpose()?)
            }

            async fn extend_invitation(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
                expires_at: chrono::DateTime<chrono::Utc>,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::invitation::Invitation> {
                use $crate::domain::{audit::actions, invitation::check_open, role::Action};
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                let role = Self::lock_and_role(&mut tx, workspace_id, actor).await?;
                let current = Self::find_invitation(&mut tx, workspace_id, id).await?;
                role.require(Action::ManageInvitations)?;
                check_open(&current, actor.at)?;
                sqlx::query(
                    "UPDATE invitations SET expires_at = $2 WHERE id = $1 AND status = 'pending'",
                )
                .bind(id)
                .bind(Ts(expires_at))
                .execute(&mut *tx)
                .await?;
                let inv = Self::read_invitation(&mut tx, id).await?;
                let e = Self::invitation_event(
                    &inv,
                    actor,
                    actions::INVITATION_EXTENDED,
                    Some(serde_json::json!({"expires_at": current.expires_at})),
                    Some(serde_json::json!({"expires_at": inv.expires_at})),
                );
                Self::record(&mut tx, &e).await?;
                tx.commit().await?;
                Ok(inv)
            }

            async fn cancel_invitation(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                use $crate::domain::{
                    audit::actions,
                    invitation::{check_open, Status},
                    role::Action,
                    Error,
                };
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                let role = Self::lock_and_role(&mut tx, workspace_id, actor).await?;
                let current = Self::find_invitation(&mut tx, workspace_id, id).await?;
                role.require(Action::ManageInvitations)?;
                // An expired invitation may still be cancelled; anything else must be pending.
                if current.stored_status != Status::Pending {
                    check_open(&current, actor.at)?;
                }
                let done = sqlx::query(
                    "UPDATE invitations SET status = 'revoked', ended_at = $2 \
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(id)
                .bind(Ts(actor.at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done != 1 {
                    return Err(Error::conflict("invitation_not_pending", "this invitation is no longer pending").into());
                }
                Self::withdraw_mail(&mut tx, id).await?;
                let e = Self::invitation_event(
                    &current,
                    actor,
                    actions::INVITATION_REVOKED,
                    Some(serde_json::json!({"status": "pending"})),
                    Some(serde_json::json!({"status": "revoked"})),
                );
                Self::record(&mut tx, &e).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn reissue_invitation(
                &self,
                workspace_id: uuid::Uuid,
                id: uuid::Uuid,
                token_hash: &[u8],
                expires_at: chrono::DateTime<chrono::Utc>,
                mail: &$crate::mail::Mail,
                limit: Option<&$crate::store::RateLimit>,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::invitation::Invitation> {
                use $crate::domain::{
                    audit::actions,
                    role::{check_grant, Action},
                    Error,
                };
                use $crate::store::ts::Ts;
                let (mut tx, _writer) = self.begin_write().await?;
                let current = Self::find_invitation(&mut tx, workspace_id, id).await?;
                if let Some(limit) = limit {
                    // A person resending: their authority, then their rate limit.
                    let role = Self::lock_and_role(&mut tx, workspace_id, actor).await?;
                    role.require(Action::ManageInvitations)?;
                    check_grant(role, current.role)?;
                    Self::rate_hit(&mut tx, limit, actor.at).await?;
                }
                let done = sqlx::query(
                    "UPDATE invitations SET token_hash = $2, expires_at = $3 \
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(id)
                .bind(token_hash)
                .bind(Ts(expires_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done != 1 {
                    return Err(Error::conflict(
                        "invitation_not_pending",
                        "only a pending (or expired) invitation can be resent",
                    )
                    .into());
                }
                Self::withdraw_mail(&mut tx, id).await?;
                Self::queue_mail(&mut tx, id, mail, actor.at).await?;
                let inv = Self::read_invitation(&mut tx, id).await?;
                let e = Self::invitation_event(
                    &inv,
                    actor,
                    actions::INVITATION_RESENT,
                    Some(serde_json::json!({"expires_at": current.expires_at})),
                    Some(serde_json::json!({"expires_at": inv.expires_at})),
                );
                Self::record(&mut tx, &e).await?;
                tx.commit().await?;
                Ok(inv)
            }

            async fn invitations_for_email(
                &self,
                email_key: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::domain::invitation::Preview>> {
                use $crate::store::rows;
                let found: Vec<rows::PreviewRow> = sqlx::query_as(&format!(
                    "SELECT {}, {} FROM invitations i {} \
                     WHERE i.email_key = $1 AND i.status = 'pending' AND i.expires_at > $2 \
                     ORDER BY i.created_at, i.id",
                    rows::INVITATION_COLUMNS,
                    rows::PREVIEW_COLUMNS,
                    rows::PREVIEW_JOINS
                ))
                .bind(email_key)
                .bind($crate::store::ts::Ts(now))
                .fetch_all(&self.pool)
                .await?;
                Ok(found
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<anyhow::Result<Vec<_>>>()?)
            }

            async fn invitation_by_token(
                &self,
                token_hash: &[u8],
            ) -> $crate::store::StoreResult<Option<$crate::domain::invitation::Preview>> {
                use $crate::store::sql::Arg;
                self.preview_where("i.token_hash", Arg::Bytes(token_hash.to_vec()))
                    .await
            }

            async fn invitation_by_id(
                &self,
                id: uuid::Uuid,
            ) -> $crate::store::StoreResult<Option<$crate::domain::invitation::Preview>> {
                use $crate::store::sql::Arg;
                self.preview_where("i.id", Arg::Uuid(id)).await
            }

            async fn accept_invitation(
                &self,
                token_hash: &[u8],
                user_id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::role::Role> {
                let (mut tx, _writer) = self.begin_write().await?;
                let key = $crate::store::sql::Arg::Bytes(token_hash.to_vec());
                let role = Self::accept_in(&mut tx, "i.token_hash", &key, user_id, actor).await?;
                tx.commit().await?;
                Ok(role)
            }

            async fn accept_invitation_by_id(
                &self,
                id: uuid::Uuid,
                user_id: uuid::Uuid,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::role::Role> {
                let (mut tx, _writer) = self.begin_write().await?;
                let key = $crate::store::sql::Arg::Uuid(id);
                let role = Self::accept_in(&mut tx, "i.id", &key, user_id, actor).await?;
                tx.commit().await?;
                Ok(role)
            }

            async fn accept_invitation_with_signup(
                &self,
                token_hash: &[u8],
                account: &$crate::store::NewAccount,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<$crate::domain::role::Role> {
                use $crate::domain::Error;
                use $crate::store::StoreError;
                let (mut tx, _writer) = self.begin_write().await?;
                match Self::insert_account(&mut tx, account, actor).await {
                    Ok(_) => {}
                    Err(StoreError::UniqueViolation(c)) if c.contains("email") => {
                        return Err(Error::conflict(
                            "account_exists",
                            "an account with this email exists; sign in, then accept",
                        )
                        .into())
                    }
                    Err(e) => return Err(e),
                }
                let key = $crate::store::sql::Arg::Bytes(token_hash.to_vec());
                let role =
                    Self::accept_in(&mut tx, "i.token_hash", &key, account.user_id, actor).await?;
                tx.commit().await?;
                Ok(role)
            }

            async fn decline_invitation(
                &self,
                token_hash: &[u8],
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                let key = $crate::store::sql::Arg::Bytes(token_hash.to_vec());
                self.decline_where("token_hash = $1", &key, None, actor).await
            }

            async fn decline_invitation_by_id(
                &self,
                id: uuid::Uuid,
                email_key: &str,
                actor: &$crate::domain::audit::Actor,
            ) -> $crate::store::StoreResult<()> {
                let key = $crate::store::sql::Arg::Uuid(id);
                self.decline_where("id = $1 AND email_key = $3", &key, Some(email_key), actor)
                    .await
            }

            async fn hit_rate_limit(
                &self,
                limit: &$crate::store::RateLimit,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let (mut tx, _writer) = self.begin_write().await?;
                Self::rate_hit(&mut tx, limit, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn hit_rate_limits(
                &self,
                limits: &[$crate::store::RateLimit],
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut ordered: Vec<&$crate::store::RateLimit> =
                    limits.iter().filter(|l| l.limit > 0).collect();
                if ordered.is_empty() {
                    return Ok(());
                }
                ordered.sort_by(|a, b| a.bucket.cmp(&b.bucket));
                let (mut tx, _writer) = self.begin_write().await?;
                let mut wait: Option<u64> = None;
                for limit in ordered {
                    match Self::rate_hit(&mut tx, limit, now).await {
                        Ok(()) => {}
                        Err($crate::store::StoreError::Refused(e)) => match *e {
                            $crate::domain::Error::RateLimited { retry_after } => {
                                wait = Some(wait.unwrap_or(0).max(retry_after));
                            }
                            other => return Err(other.into()),
                        },
                        Err(e) => return Err(e),
                    }
                }
                if let Some(retry_after) = wait {
                    // Dropping the transaction rolls every hit of this attempt back.
                    return Err($crate::domain::Error::RateLimited { retry_after }.into());
                }
                tx.commit().await?;
                Ok(())
            }

            async fn prune_rate_limits(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                    .bind(before.timestamp())
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn claim_outbox(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                batch: u32,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxMail>> {
                let (mut tx, _writer) = self.begin_write().await?;
                let rows: Vec<$crate::store::rows::OutboxRow> = sqlx::query_as(CLAIM_OUTBOX)
                    .bind($crate::store::ts::Ts(now))
                    .bind(i64::from(batch))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn outbox_sent(
                &self,
                id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "UPDATE outbox SET status = 'sent', sent_at = $2, text_body = NULL, \
                     html_body = NULL, last_error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind($crate::store::ts::Ts(now))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn outbox_failed(
                &self,
                id: uuid::Uuid,
                error: &str,
                retry_at: Option<chrono::DateTime<chrono::Utc>>,
            ) -> $crate::store::StoreResult<()> {
                let error: String = error.chars().take(1000).collect();
                match retry_at {
                    Some(at) => sqlx::query(
                        "UPDATE outbox SET status = 'queued', claimed_at = NULL, \
                         next_attempt_at = $2, last_error = $3 WHERE id = $1 AND status = 'sending'",
                    )
                    .bind(id)
                    .bind($crate::store::ts::Ts(at))
                    .bind(error),
                    None => sqlx::query(
                        "UPDATE outbox SET status = 'failed', text_body = NULL, html_body = NULL, \
                         last_error = $2 WHERE id = $1 AND status = 'sending'",
                    )
                    .bind(id)
                    .bind(error),
                }
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn take_stale_outbox(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<Option<uuid::Uuid>>> {
                let (mut tx, _writer) = self.begin_write().await?;
                let rows: Vec<(Option<uuid::Uuid>,)> = sqlx::query_as(
                    "UPDATE outbox SET status = 'superseded', text_body = NULL, html_body = NULL, \
                     last_error = 'sender stopped mid-delivery; invitation reissued' \
                     WHERE status = 'sending' AND claimed_at < $1 RETURNING invitation_id",
                )
                .bind($crate::store::ts::Ts(before))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }
        }
    };
}

pub(crate) use impl_invitation_store;
