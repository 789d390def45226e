//! The read that authorizes a request: a credential (a session, an API key by its hash, or
//! the console's cookie: a session's refresh token by its hash),
//! the workspace a selector names, the caller's role there and whether they have a second
//! factor (for a workspace's `require_mfa`) — one statement, hit or miss.
//! The workspace and role are `None` when the workspace does not exist or the caller is not a
//! member; the whole answer is `None` when the credential is not live.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Error as Sqlx, FromRow, Type};
use uuid::Uuid;

use super::{
    api_keys::{ApiKeyAuth, ApiKeyAuthRow, API_KEY_AUTH_COLUMNS, LIVE_KEY},
    db::{Arg, Db},
    members::RoleRow,
    sqlite_read::ReadRow,
    ts::Ts,
    users::{PrefixedUserRow, PREFIXED_USER_COLUMNS},
    workspaces::{WorkspaceRow, WORKSPACE_COLUMNS},
    StoreResult,
};
use crate::domain::{
    role::Assignment,
    user::User,
    workspace::{Workspace, WorkspaceRef, WorkspaceSelector},
};

/// What the read finds besides the credential.
#[derive(Debug, Clone)]
pub struct Standing {
    /// The workspace selected and the caller's role in it, when they are a member.
    pub membership: Option<(Workspace, Assignment)>,
    /// The caller's account, when asked for.
    pub user: Option<User>,
    /// The caller has a confirmed second factor.
    pub mfa: bool,
}

/// A session's access read.
#[derive(Debug, Clone)]
pub struct SessionAccess {
    /// The workspace the session is bound to, if any.
    pub bound_workspace_id: Option<Uuid>,
    pub standing: Standing,
}

/// The console cookie's access read: the session its refresh token belongs to.
#[derive(Debug, Clone)]
pub struct CookieAccess {
    pub session_id: Uuid,
    pub user_id: Uuid,
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

/// The custom role columns of the membership `m` read with the role (`roles r`).
const CUSTOM_ROLE_COLUMNS: &str =
    "m.role_id, r.key AS role_key, r.name AS role_name, r.permissions AS role_permissions";

#[derive(sqlx::FromRow)]
struct BoundRow {
    bound_workspace_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct CookieRow {
    session_id: Uuid,
    session_user_id: Uuid,
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
    Option<Uuid>: Decode<'r, R::Database> + Type<R::Database>,
    Option<Ts>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, Sqlx> {
        let member_role: Option<String> = row.try_get("member_role")?;
        let held = match member_role {
            Some(role) => Some((
                WorkspaceRow::from_row(row)?,
                RoleRow {
                    role,
                    role_id: row.try_get("role_id")?,
                    role_key: row.try_get("role_key")?,
                    role_name: row.try_get("role_name")?,
                    role_permissions: row.try_get("role_permissions")?,
                },
            )),
            None => None,
        };
        let user = match row.try_column("u_id") {
            Ok(_) => Some(PrefixedUserRow::from_row(row)?),
            Err(_) => None,
        };
        let mfa: Option<Ts> = row.try_get("caller_mfa_at")?;
        Found::assemble(C::from_row(row)?, held, user, mfa.is_some())
            .map_err(|e| Sqlx::Decode(e.into()))
    }
}

impl<C> Found<C> {
    /// The answer from a decoded row, either driver's: the membership only when the caller
    /// holds a role in the workspace read (`held`), the user when the statement read them.
    fn assemble(
        credential: C,
        held: Option<(WorkspaceRow, RoleRow)>,
        user: Option<PrefixedUserRow>,
        mfa: bool,
    ) -> anyhow::Result<Self> {
        let membership = held
            .map(|(w, r)| Assignment::try_from(r).map(|a| (w.into(), a)))
            .transpose()?;
        Ok(Found {
            credential,
            standing: Standing {
                membership,
                user: user.map(Into::into),
                mfa,
            },
        })
    }
}

impl<C: ReadRow> ReadRow for Found<C> {
    /// As `from_row` above, from a rusqlite row.
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let member_role: Option<String> = row.get("member_role")?;
        let held = match member_role {
            Some(role) => Some((
                WorkspaceRow::read(row)?,
                RoleRow {
                    role,
                    role_id: row.get("role_id")?,
                    role_key: row.get("role_key")?,
                    role_name: row.get("role_name")?,
                    role_permissions: row.get("role_permissions")?,
                },
            )),
            None => None,
        };
        let user = match row.as_ref().column_index("u_id") {
            Ok(_) => Some(PrefixedUserRow::read(row)?),
            Err(_) => None,
        };
        let mfa: Option<Ts> = row.get("caller_mfa_at")?;
        Found::assemble(C::read(row)?, held, user, mfa.is_some()).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
    }
}

super::sqlite_read::read_row!(BoundRow { bound_workspace_id });
super::sqlite_read::read_row!(CookieRow {
    session_id,
    session_user_id,
    bound_workspace_id
});

impl ReadRow for NoCredential {
    fn read(_: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(NoCredential {})
    }
}

/// Which credential an access read starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Session,
    Key,
    /// A refresh token that has not been spent, of a live session (the console's cookie).
    Cookie,
}

const CREDENTIALS: [Credential; 3] = [Credential::Session, Credential::Key, Credential::Cookie];

/// The statement of an access read: its text depends only on the credential, the kind of
/// selector and whether the user is read, so each of the 24 is built once.
fn access_sql(
    credential: Credential,
    selector: &WorkspaceSelector,
    with_user: bool,
) -> &'static str {
    static ALL: OnceLock<Vec<String>> = OnceLock::new();
    let kind = match selector {
        WorkspaceSelector::Path(WorkspaceRef::Id(_)) => 0,
        WorkspaceSelector::Path(WorkspaceRef::Slug(_)) => 1,
        WorkspaceSelector::Current => 2,
        WorkspaceSelector::Personal => 3,
    };
    let index = (credential as usize * 4 + kind) * 2 + usize::from(with_user);
    &ALL.get_or_init(|| {
        let mut all = Vec::with_capacity(24);
        for credential in CREDENTIALS {
            for kind in 0..4 {
                for with_user in [false, true] {
                    all.push(build_access_sql(credential, kind, with_user));
                }
            }
        }
        all
    })[index]
}

/// Builds an access read (see `access_sql` for `kind`): the credential row, LEFT JOINed to the
/// selected workspace and the membership, so that a miss still answers with the credential.
fn build_access_sql(credential: Credential, kind: usize, with_user: bool) -> String {
    let (owner, head, live, next) = match credential {
        Credential::Session => (
            "s",
            "s.workspace_id AS bound_workspace_id",
            "s.id = $1 AND s.user_id = $2 AND s.ended_at IS NULL AND s.expires_at > $3",
            4,
        ),
        Credential::Key => ("k", API_KEY_AUTH_COLUMNS, LIVE_KEY, 3),
        Credential::Cookie => (
            "s",
            "s.id AS session_id, s.user_id AS session_user_id, \
             s.workspace_id AS bound_workspace_id",
            "rt.token_hash = $1 AND rt.spent_at IS NULL AND s.ended_at IS NULL \
             AND s.expires_at > $2",
            3,
        ),
    };
    let table = match credential {
        Credential::Session => "sessions s",
        Credential::Key => "api_keys k",
        Credential::Cookie => "refresh_tokens rt JOIN sessions s ON s.id = rt.session_id",
    };
    let on = match (kind, credential) {
        (0, _) => format!("w.id = ${next}"),
        (1, _) => format!("w.slug = ${next}"),
        (2, Credential::Session | Credential::Cookie) => {
            "w.id = COALESCE(s.workspace_id, u.primary_workspace_id)".into()
        }
        (2, Credential::Key) => "w.id = u.primary_workspace_id".into(),
        _ => "w.id = u.personal_workspace_id".into(),
    };
    let user_columns = if with_user {
        format!(", {PREFIXED_USER_COLUMNS}")
    } else {
        String::new()
    };
    let user_join = if with_user || kind >= 2 {
        format!(" JOIN users u ON u.id = {owner}.user_id")
    } else {
        String::new()
    };
    format!(
        "SELECT {head}, m.role AS member_role, {CUSTOM_ROLE_COLUMNS}, \
         {WORKSPACE_COLUMNS}{user_columns}, f.confirmed_at AS caller_mfa_at \
         FROM {table}{user_join} LEFT JOIN workspaces w ON {on} \
         LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = {owner}.user_id \
         LEFT JOIN roles r ON r.id = m.role_id \
         LEFT JOIN totp_factors f ON f.user_id = {owner}.user_id \
         WHERE {live}"
    )
}

/// The argument a selector binds, if any (after the credential's).
fn selector_arg(selector: &WorkspaceSelector) -> Option<Arg<'_>> {
    match selector {
        WorkspaceSelector::Path(WorkspaceRef::Id(id)) => Some((*id).into()),
        WorkspaceSelector::Path(WorkspaceRef::Slug(slug)) => Some(slug.as_str().into()),
        WorkspaceSelector::Current | WorkspaceSelector::Personal => None,
    }
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
            "SELECT m.role AS member_role, {CUSTOM_ROLE_COLUMNS}, {WORKSPACE_COLUMNS}, \
             {PREFIXED_USER_COLUMNS}, f.confirmed_at AS caller_mfa_at \
             FROM users u LEFT JOIN workspaces w ON w.id = COALESCE($2, u.primary_workspace_id) \
             LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = u.id \
             LEFT JOIN roles r ON r.id = m.role_id \
             LEFT JOIN totp_factors f ON f.user_id = u.id \
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
        let sql = access_sql(Credential::Session, selector, with_user);
        let args = [session_id.into(), user_id.into(), now.into()];
        let found: Option<Found<BoundRow>> = match selector_arg(selector) {
            Some(arg) => {
                let [a, b, c] = args;
                self.optional(sql, &[a, b, c, arg]).await?
            }
            None => self.optional(sql, &args).await?,
        };
        Ok(found.map(|f| SessionAccess {
            bound_workspace_id: f.credential.bound_workspace_id,
            standing: f.standing,
        }))
    }

    /// The console cookie's access read: the refresh token has not been spent and its session
    /// has not ended or expired; with the workspace the selector names and the role there.
    pub async fn cookie_access(
        &mut self,
        token_hash: &[u8],
        selector: &WorkspaceSelector,
        with_user: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<CookieAccess>> {
        let sql = access_sql(Credential::Cookie, selector, with_user);
        let args = [token_hash.into(), now.into()];
        let found: Option<Found<CookieRow>> = match selector_arg(selector) {
            Some(arg) => {
                let [a, b] = args;
                self.optional(sql, &[a, b, arg]).await?
            }
            None => self.optional(sql, &args).await?,
        };
        Ok(found.map(|f| CookieAccess {
            session_id: f.credential.session_id,
            user_id: f.credential.session_user_id,
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
        let sql = access_sql(Credential::Key, selector, with_user);
        let args = [secret_hash.into(), now.into()];
        let found: Option<Found<ApiKeyAuthRow>> = match selector_arg(selector) {
            Some(arg) => {
                let [a, b] = args;
                self.optional(sql, &[a, b, arg]).await?
            }
            None => self.optional(sql, &args).await?,
        };
        Ok(found.map(|f| KeyAccess {
            key: f.credential.into(),
            standing: f.standing,
        }))
    }
}
