//! Users: insert, read (by id, by email key with the password hash), profile and password
//! changes, email verification, the primary workspace, deletion.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{db::Db, ts::Ts, StoreResult};
use crate::domain::user::User;

const USER_COLUMNS: &str = "id, email, name, email_verified, personal_workspace_id, \
     primary_workspace_id, photo_url, onboarded_at, product_updates_subscribed, created_at, \
     updated_at";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    email_verified: bool,
    personal_workspace_id: Option<Uuid>,
    primary_workspace_id: Option<Uuid>,
    photo_url: Option<String>,
    onboarded_at: Option<Ts>,
    product_updates_subscribed: bool,
    created_at: Ts,
    updated_at: Ts,
}

super::sqlite_read::read_row!(UserRow {
    id,
    email,
    name,
    email_verified,
    personal_workspace_id,
    primary_workspace_id,
    photo_url,
    onboarded_at,
    product_updates_subscribed,
    created_at,
    updated_at
});

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            email: r.email,
            name: r.name,
            email_verified: r.email_verified,
            personal_workspace_id: r.personal_workspace_id,
            primary_workspace_id: r.primary_workspace_id,
            photo_url: r.photo_url,
            onboarded_at: r.onboarded_at.map(|t| t.0),
            product_updates_subscribed: r.product_updates_subscribed,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        }
    }
}

/// A user about to be stored.
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub email_key: &'a str,
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    pub email_verified: bool,
    pub now: DateTime<Utc>,
}

/// What signing in needs of an account.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub user_id: Uuid,
    pub password_hash: Option<String>,
    pub primary_workspace_id: Option<Uuid>,
    pub email_verified: bool,
    /// The account has a confirmed second factor.
    pub mfa_enabled: bool,
}

super::sqlite_read::read_row!(Credentials {
    user_id,
    password_hash,
    primary_workspace_id,
    email_verified,
    mfa_enabled
});

/// A checked change to a user's profile; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserChange<'a> {
    pub name: Option<&'a str>,
    pub photo_url: Option<Option<&'a str>>,
    pub onboarded: Option<bool>,
    pub product_updates_subscribed: Option<bool>,
}

impl Db<'_> {
    /// Inserts a user (`Conflict(UserEmail)` when the email key is taken).
    pub async fn insert_user(&mut self, u: &NewUser<'_>) -> StoreResult<()> {
        self.execute(
            "INSERT INTO users (id, email, email_key, name, name_key, password_hash, \
             email_verified, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            &[
                u.id.into(),
                u.email.into(),
                u.email_key.into(),
                u.name.into(),
                u.name.to_lowercase().as_str().into(),
                u.password_hash.into(),
                u.email_verified.into(),
                u.now.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Makes a workspace the user's personal and primary one.
    pub async fn set_personal_workspace(
        &mut self,
        user_id: Uuid,
        workspace_id: Uuid,
    ) -> StoreResult<User> {
        let row: UserRow = self
            .one(
                &format!(
                    "UPDATE users SET personal_workspace_id = $2, primary_workspace_id = $2 \
                     WHERE id = $1 RETURNING {USER_COLUMNS}"
                ),
                &[user_id.into(), workspace_id.into()],
            )
            .await?;
        Ok(row.into())
    }

    pub async fn user(&mut self, id: Uuid) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = self
            .optional(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                &[id.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// The account of an email key, with its password hash.
    pub async fn credentials(&mut self, email_key: &str) -> StoreResult<Option<Credentials>> {
        self.optional(
            "SELECT id AS user_id, password_hash, primary_workspace_id, email_verified, \
             EXISTS (SELECT 1 FROM totp_factors f WHERE f.user_id = users.id \
             AND f.confirmed_at IS NOT NULL) AS mfa_enabled FROM users WHERE email_key = $1",
            &[email_key.into()],
        )
        .await
    }

    /// Applies a profile change; `None` when there is no such user.
    pub async fn update_user(
        &mut self,
        id: Uuid,
        change: &UserChange<'_>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = self
            .optional(
                &format!(
                    "UPDATE users SET name = COALESCE($2, name), \
                     name_key = COALESCE($3, name_key), \
                     photo_url = CASE WHEN $4 THEN $5 ELSE photo_url END, \
                     onboarded_at = CASE WHEN $6 IS NULL THEN onboarded_at \
                       WHEN $6 THEN COALESCE(onboarded_at, $8) ELSE NULL END, \
                     product_updates_subscribed = COALESCE($7, product_updates_subscribed), \
                     updated_at = $8 WHERE id = $1 RETURNING {USER_COLUMNS}"
                ),
                &[
                    id.into(),
                    change.name.into(),
                    change.name.map(str::to_lowercase).as_deref().into(),
                    change.photo_url.is_some().into(),
                    change.photo_url.flatten().into(),
                    change.onboarded.into(),
                    change.product_updates_subscribed.into(),
                    at.into(),
                ],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Sets the password of the user with this email key; false when there is none.
    pub async fn set_password(
        &mut self,
        email_key: &str,
        hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE users SET password_hash = $2, updated_at = $3 WHERE email_key = $1",
                &[email_key.into(), hash.into(), at.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Sets the password of the user with this id; false when there is none.
    pub async fn set_password_of(
        &mut self,
        user_id: Uuid,
        hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                &[user_id.into(), hash.into(), at.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Marks the user's email verified if it still is the address of `email_key`; false when
    /// it is not (the address changed since the link was sent).
    pub async fn mark_email_verified(
        &mut self,
        user_id: Uuid,
        email_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = self
            .execute(
                "UPDATE users SET email_verified = TRUE, updated_at = $3 \
                 WHERE id = $1 AND email_key = $2",
                &[user_id.into(), email_key.into(), at.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Gives the user a new, verified address (`Conflict(UserEmail)` when another account
    /// has it).
    pub async fn change_email(
        &mut self,
        user_id: Uuid,
        email: &str,
        email_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = self
            .optional(
                &format!(
                    "UPDATE users SET email = $2, email_key = $3, email_verified = TRUE, \
                     updated_at = $4 WHERE id = $1 RETURNING {USER_COLUMNS}"
                ),
                &[user_id.into(), email.into(), email_key.into(), at.into()],
            )
            .await?;
        Ok(row.map(Into::into))
    }

    /// Marks the user's email verified and makes `workspace_id` their primary workspace.
    pub async fn verify_email_and_set_primary(
        &mut self,
        user_id: Uuid,
        workspace_id: Uuid,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET email_verified = TRUE, primary_workspace_id = $2 WHERE id = $1",
            &[user_id.into(), workspace_id.into()],
        )
        .await?;
        Ok(())
    }

    /// Moves a user whose primary workspace is `workspace_id` back to their personal one.
    pub async fn reset_primary_workspace(
        &mut self,
        user_id: Uuid,
        workspace_id: Uuid,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET primary_workspace_id = personal_workspace_id \
             WHERE id = $1 AND primary_workspace_id = $2",
            &[user_id.into(), workspace_id.into()],
        )
        .await?;
        Ok(())
    }

    /// Moves everyone whose primary workspace is `workspace_id` back to their personal one.
    pub async fn reset_primary_workspace_of_all(&mut self, workspace_id: Uuid) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET primary_workspace_id = personal_workspace_id \
             WHERE primary_workspace_id = $1",
            &[workspace_id.into()],
        )
        .await?;
        Ok(())
    }

    /// Deletes a user; their sessions, keys and memberships go with them (cascade).
    pub async fn delete_user(&mut self, id: Uuid) -> StoreResult<()> {
        self.execute("DELETE FROM users WHERE id = $1", &[id.into()])
            .await?;
        Ok(())
    }
}

/// The user columns as an access read selects them (prefixed, beside a workspace's).
pub(super) const PREFIXED_USER_COLUMNS: &str = "u.id AS u_id, u.email AS u_email, \
     u.name AS u_name, u.email_verified AS u_email_verified, \
     u.personal_workspace_id AS u_personal_workspace_id, \
     u.primary_workspace_id AS u_primary_workspace_id, u.photo_url AS u_photo_url, \
     u.onboarded_at AS u_onboarded_at, \
     u.product_updates_subscribed AS u_product_updates_subscribed, \
     u.created_at AS u_created_at, u.updated_at AS u_updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct PrefixedUserRow {
    u_id: Uuid,
    u_email: String,
    u_name: String,
    u_email_verified: bool,
    u_personal_workspace_id: Option<Uuid>,
    u_primary_workspace_id: Option<Uuid>,
    u_photo_url: Option<String>,
    u_onboarded_at: Option<Ts>,
    u_product_updates_subscribed: bool,
    u_created_at: Ts,
    u_updated_at: Ts,
}

super::sqlite_read::read_row!(PrefixedUserRow {
    u_id,
    u_email,
    u_name,
    u_email_verified,
    u_personal_workspace_id,
    u_primary_workspace_id,
    u_photo_url,
    u_onboarded_at,
    u_product_updates_subscribed,
    u_created_at,
    u_updated_at
});

impl From<PrefixedUserRow> for User {
    fn from(r: PrefixedUserRow) -> Self {
        UserRow {
            id: r.u_id,
            email: r.u_email,
            name: r.u_name,
            email_verified: r.u_email_verified,
            personal_workspace_id: r.u_personal_workspace_id,
            primary_workspace_id: r.u_primary_workspace_id,
            photo_url: r.u_photo_url,
            onboarded_at: r.u_onboarded_at,
            product_updates_subscribed: r.u_product_updates_subscribed,
            created_at: r.u_created_at,
            updated_at: r.u_updated_at,
        }
        .into()
    }
}
