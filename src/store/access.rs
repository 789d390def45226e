//! The read that authorizes a request: a credential (a session, or an API key by its hash),
//! the workspace a selector names, and the caller's role there — one statement, hit or miss.
//! The workspace and role are `None` when the workspace does not exist or the caller is not a
//! member; the whole answer is `None` when the credential is not live.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Error as Sqlx, FromRow, Type};
use uuid::Uuid;

use super::{
    api_keys::{ApiKeyAuth, ApiKeyAuthRow, API_KEY_AUTH_COLUMNS, LIVE_KEY},
    db::{Arg, Db},
    members::role,
    users::{PrefixedUserRow, PREFIXED_USER_COLUMNS},
    workspaces::{WorkspaceRow, WORKSPACE_COLUMNS},
    StoreResult,
};
use crate::domain::{
    role::Role,
    user::User,
    workspace::{Workspace, WorkspaceRef, WorkspaceSelector},
};

/// What the read finds besides the credential.
#[derive(Debug, Clone)]
pub struct Standing {
    /// The workspace selected and the caller's role in it, when they are a member.
    pub membership: Option<(Workspace, Role)>,
    /// The caller's account, when asked for.
    pub user: Option<User>,
}

/// A session's access read.
#[derive(Debug, Clone)]
pub struct SessionAccess {
    /// The workspace the session is bound to, if any.
    pub bound_workspace_id: Option<Uuid>,
    pub standing: Standing,
}

/// An API key's access read.
#[derive(Debug, Clone)]
pub struct KeyAccess {
    pub key: ApiKeyAuth,
    pub standing: Standing,
}

#[derive(sqlx::FromRow)]
struct BoundRow {
    bound_workspace_id: Option<Uuid>,
}

/// A credential row `C`, with the selected workspace and role and the user when the statement
/// read them (`member_role` is NULL on a miss; `u_id` is absent when the user was not read).
struct Found<C> {
    credential: C,
    standing: Standing,
}

impl<'r, R, C> FromRow<'r, R> for Found<C>
where
    R: sqlx::Row,
    C: FromRow<'r, R>,
    WorkspaceRow: FromRow<'r, R>,
    PrefixedUserRow: FromRow<'r, R>,
    &'r str: ColumnIndex<R>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, Sqlx> {
        let credential = C::from_row(row)?;
        let member_role: Option<String> = row.try_get("member_role")?;
        let membership = match member_role {
            Some(r) => Some((
                WorkspaceRow::from_row(row)?.into(),
                role(&r).map_err(|e| Sqlx::Decode(e.into()))?,
            )),
            None => None,
        };
        let user = match row.try_column("u_id") {
            Ok(_) => Some(PrefixedUserRow::from_row(row)?.into()),
            Err(_) => None,
        };
        Ok(Found {
            credential,
            standing: Standing { membership, user },
        })
    }
}

/// The joins and selected columns after the credential's alias (`s` or `k`, whose user is
/// `{owner}.user_id`), and the argument the selector binds as `${next}`.
fn joins<'a>(
    selector: &'a WorkspaceSelector,
    owner: &str,
    next: usize,
    with_user: bool,
) -> (String, String, Option<Arg<'a>>) {
    let (on, arg) = match selector {
        WorkspaceSelector::Path(WorkspaceRef::Id(id)) => {
            (format!("w.id = ${next}"), Some((*id).into()))
        }
        WorkspaceSelector::Path(WorkspaceRef::Slug(slug)) => {
            (format!("w.slug = ${next}"), Some(slug.as_str().into()))
        }
        WorkspaceSelector::Current if owner == "s" => (
            "w.id = COALESCE(s.workspace_id, u.primary_workspace_id)".to_owned(),
            None,
        ),
        WorkspaceSelector::Current => ("w.id = u.primary_workspace_id".to_owned(), None),
        WorkspaceSelector::Personal => ("w.id = u.personal_workspace_id".to_owned(), None),
    };
    let needs_user = with_user || !matches!(selector, WorkspaceSelector::Path(_));
    let mut columns = format!("m.role AS member_role, {WORKSPACE_COLUMNS}");
    let mut from = String::new();
    if needs_user {
        from.push_str(&format!(" JOIN users u ON u.id = {owner}.user_id"));
    }
    if with_user {
        columns.push_str(&format!(", {PREFIXED_USER_COLUMNS}"));
    }
    from.push_str(&format!(
        " LEFT JOIN workspaces w ON {on} LEFT JOIN memberships m \
         ON m.workspace_id = w.id AND m.user_id = {owner}.user_id"
    ));
    (columns, from, arg)
}

#[derive(sqlx::FromRow)]
struct NoCredential {}

impl Db<'_> {
    /// A user's account with their current workspace (`bound`, else their primary one) and
    /// their role there: what a session just started stands for. `None` for no such user.
    pub async fn user_standing(
        &mut self,
        user_id: Uuid,
        bound: Option<Uuid>,
    ) -> StoreResult<Option<Standing>> {
        let sql = format!(
            "SELECT m.role AS member_role, {WORKSPACE_COLUMNS}, {PREFIXED_USER_COLUMNS} \
             FROM users u LEFT JOIN workspaces w ON w.id = COALESCE($2, u.primary_workspace_id) \
             LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = u.id \
             WHERE u.id = $1"
        );
        let found: Option<Found<NoCredential>> =
            self.optional(&sql, &[user_id.into(), bound.into()]).await?;
        Ok(found.map(|f| f.standing))
    }

    /// A session's access read: the session is the user's, has not ended or expired; with the
    /// workspace the selector names and the caller's role there.
    pub async fn session_access(
        &mut self,
        session_id: Uuid,
        user_id: Uuid,
        selector: &WorkspaceSelector,
        with_user: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionAccess>> {
        let (columns, from, arg) = joins(selector, "s", 4, with_user);
        let sql = format!(
            "SELECT s.workspace_id AS bound_workspace_id, {columns} FROM sessions s{from} \
             WHERE s.id = $1 AND s.user_id = $2 AND s.ended_at IS NULL AND s.expires_at > $3"
        );
        let mut args: Vec<Arg> = vec![session_id.into(), user_id.into(), now.into()];
        args.extend(arg);
        let found: Option<Found<BoundRow>> = self.optional(&sql, &args).await?;
        Ok(found.map(|f| SessionAccess {
            bound_workspace_id: f.credential.bound_workspace_id,
            standing: f.standing,
        }))
    }

    /// An API key's access read: the key is live; with the workspace the selector names (its
    /// owner's primary workspace for `Current`) and the owner's role there.
    pub async fn key_access(
        &mut self,
        secret_hash: &[u8],
        selector: &WorkspaceSelector,
        with_user: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<KeyAccess>> {
        let (columns, from, arg) = joins(selector, "k", 3, with_user);
        let sql = format!(
            "SELECT {API_KEY_AUTH_COLUMNS}, {columns} FROM api_keys k{from} WHERE {LIVE_KEY}"
        );
        let mut args: Vec<Arg> = vec![secret_hash.into(), now.into()];
        args.extend(arg);
        let found: Option<Found<ApiKeyAuthRow>> = self.optional(&sql, &args).await?;
        Ok(found.map(|f| KeyAccess {
            key: f.credential.into(),
            standing: f.standing,
        }))
    }
}
