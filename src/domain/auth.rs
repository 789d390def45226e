//! Who is calling: a bearer credential (access JWT or API key) resolved to a `Principal`, and
//! with a `WorkspaceSelector` to an `Access` — one statement per request on every surface, read
//! from the database each time, so that revocation takes effect at once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    api_key::API_KEY_PREFIX,
    mfa,
    role::Role,
    secret,
    session::REFRESH_PREFIX,
    token::AccessClaims,
    user::User,
    workspace::{Access, Workspace, WorkspaceSelector},
    workspace_key::WORKSPACE_KEY_PREFIX,
    Core, Error, Result,
};
use crate::store::{ApiKeyAuth, Standing, WorkspaceKeyAccess};

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of an active session.
    Session {
        session_id: Uuid,
        workspace_id: Option<Uuid>,
    },
    /// A personal API key.
    ApiKey { key_id: Uuid, read_only: bool },
    /// A workspace API key (a service account): no person stands behind it, so the
    /// principal's `user_id` is the nil UUID, which matches no account or membership.
    WorkspaceKey { key_id: Uuid, workspace_id: Uuid },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub credential: Credential,
}

impl Principal {
    /// The session behind the request, if it came with an access token.
    pub fn session_id(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session { session_id, .. } => Some(session_id),
            Credential::ApiKey { .. } | Credential::WorkspaceKey { .. } => None,
        }
    }

    /// Whether a person stands behind the credential (not a workspace API key).
    pub fn is_person(&self) -> bool {
        !matches!(self.credential, Credential::WorkspaceKey { .. })
    }

    /// Refuses a change made with a read-only API key.
    pub fn require_write(&self) -> Result<()> {
        match self.credential {
            Credential::ApiKey {
                read_only: true, ..
            } => Err(Error::forbidden(
                "api_key_read_only",
                "this API key is read-only",
            )),
            _ => Ok(()),
        }
    }
}

/// An API key's `last_used_at` is written at most this often.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

/// The keys whose use this process recorded in the last minute. Every request that reads a
/// key's `last_used_at` as older than a minute would record it, and under load thousands do
/// before the first record commits (each an `UPDATE` that competes with the writer for the
/// database): the first claims the minute, the others see the claim.
#[derive(Default)]
pub struct Touches(std::sync::Mutex<HashMap<Uuid, DateTime<Utc>>>);

/// Keys remembered at the most; past it, the claims older than a minute are forgotten (and if
/// all are recent, every claim, which costs at most one more record per key).
const TOUCHES_KEPT: usize = 10_000;

impl Touches {
    /// Whether the use of key `id` at `now` is to be recorded: when the stored `last_used_at`
    /// is a minute old or more and no request of this process claimed this minute for it yet.
    pub fn claim(&self, id: Uuid, last_used_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        let fresh = |t: &DateTime<Utc>| now - *t < LAST_USED_GRANULARITY;
        if last_used_at.as_ref().is_some_and(fresh) {
            return false;
        }
        let mut claims = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if claims.get(&id).is_some_and(fresh) {
            return false;
        }
        if claims.len() >= TOUCHES_KEPT {
            claims.retain(|_, t| fresh(t));
            if claims.len() >= TOUCHES_KEPT {
                claims.clear();
            }
        }
        claims.insert(id, now);
        true
    }
}

/// A credential after the checks that need no database: a verified access token, or the
/// hash of something that looks like an API key.
enum Presented {
    Session(AccessClaims),
    ApiKey(Vec<u8>),
    /// A workspace API key, which only `authorize_native` takes.
    WorkspaceKey,
    /// The hash of the console's cookie (see `console_cookie`).
    Console(Vec<u8>),
}

/// The caller with their account and their standing in the selected workspace, from one read
/// (for surfaces that show the user with their current workspace).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub user: User,
    /// The selected workspace and the caller's role there; `None` when they are not a member.
    pub membership: Option<(Workspace, Role)>,
}

impl Core {
    async fn present(&self, bearer: &str, now: DateTime<Utc>) -> Result<Presented> {
        if bearer.starts_with(WORKSPACE_KEY_PREFIX) {
            Ok(Presented::WorkspaceKey)
        } else if bearer.starts_with(API_KEY_PREFIX) {
            Ok(Presented::ApiKey(secret::hash(bearer)))
        } else {
            Ok(Presented::Session(self.keys.verify(bearer, now).await?))
        }
    }

    /// Records an API key's use, at most once a minute, off the request path.
    fn touch(&self, key: &ApiKeyAuth, now: DateTime<Utc>) {
        if self.touches.claim(key.id, key.last_used_at, now) {
            let store = self.store.clone();
            let id = key.id;
            tokio::spawn(async move {
                if let Err(e) = store.read().touch_api_key(id, now).await {
                    tracing::warn!(error = %e, "could not record API key use");
                }
            });
        }
    }

    /// Records a workspace key's use, as `touch` does for a personal key.
    fn touch_workspace_key(&self, key: &WorkspaceKeyAccess, now: DateTime<Utc>) {
        if self.touches.claim(key.key_id, key.last_used_at, now) {
            let store = self.store.clone();
            let id = key.key_id;
            tokio::spawn(async move {
                if let Err(e) = store.read().touch_workspace_key(id, now).await {
                    tracing::warn!(error = %e, "could not record workspace API key use");
                }
            });
        }
    }

    /// Resolves a bearer credential, with one indexed read. Every failure is the same
    /// `Unauthenticated`.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let now = self.clock.now();
        let mut db = self.store.read();
        match self.present(bearer, now).await? {
            Presented::ApiKey(hash) => {
                let key = db
                    .api_key_auth(&hash, now)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                self.touch(&key, now);
                Ok(key_principal(&key))
            }
            // A workspace key stands for no person: routes about one refuse it. (`present`
            // never makes a console credential.)
            Presented::WorkspaceKey | Presented::Console { .. } => Err(Error::Unauthenticated),
            Presented::Session(claims) => {
                let active = db
                    .session_auth(claims.sid, claims.sub, now)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                Ok(session_principal(&claims, active.workspace_id))
            }
        }
    }

    /// Resolves a bearer credential, the workspace the selector names and the caller's role
    /// there, in one statement: 401 for a bad credential, 404 when the workspace does not exist
    /// or the caller is not a member (never 403, so existence does not leak); 403
    /// `mfa_required` for a member without a second factor when the workspace requires one
    /// (read in the same statement, so it holds from the next request on).
    /// A workspace API key is refused here (an invalid credential): the dialects take only a
    /// person's credentials; the native API uses `authorize_native`.
    pub async fn authorize(&self, bearer: &str, selector: &WorkspaceSelector) -> Result<Access> {
        let now = self.clock.now();
        let presented = self.present(bearer, now).await?;
        let (principal, standing) = self.resolve(presented, selector, false, now).await?;
        self.access_of(principal, standing)
    }

    /// As `authorize`, for the console's cookie (see `console_cookie`), with the caller's
    /// account from the same statement: a session ended anywhere, or a membership ended,
    /// closes the console at its next request.
    pub async fn console_access(
        &self,
        cookie: &str,
        selector: &WorkspaceSelector,
    ) -> Result<(User, Access)> {
        let now = self.clock.now();
        let (principal, mut standing) = self
            .resolve(console_cookie(cookie)?, selector, true, now)
            .await?;
        let user = standing.user.take().ok_or(Error::Unauthenticated)?;
        Ok((user, self.access_of(principal, standing)?))
    }

    /// As `caller`, for the console's cookie.
    pub async fn console_caller(
        &self,
        cookie: &str,
        selector: &WorkspaceSelector,
    ) -> Result<Caller> {
        let now = self.clock.now();
        let (principal, standing) = self
            .resolve(console_cookie(cookie)?, selector, true, now)
            .await?;
        caller_of(principal, standing)
    }

    /// What a member may do in the workspace their standing names: 404 for a non-member, 403
    /// `mfa_required` where the workspace requires a second factor they lack.
    fn access_of(&self, principal: Principal, standing: Standing) -> Result<Access> {
        let (workspace, role) = standing.membership.ok_or(Error::NotFound)?;
        if workspace.require_mfa && !standing.mfa {
            return Err(mfa::mfa_required());
        }
        let held = self.settings.permissions.held(&role);
        Ok(Access {
            principal,
            workspace,
            role: held.base,
            custom_role: role.label(),
            grants: held.grants,
        })
    }

    /// As `authorize`, and a workspace API key is also taken, for a workspace its path names:
    /// one statement reads the live key and, when the path names the key's own workspace, that
    /// workspace (any other workspace is 404, as for a non-member). Its `Access` holds the key's
    /// permissions and nothing else: the base role `demo` (which no member-only rule lets
    /// through) and no custom role. No second factor applies to a key.
    pub async fn authorize_native(
        &self,
        bearer: &str,
        selector: &WorkspaceSelector,
    ) -> Result<Access> {
        if !bearer.starts_with(WORKSPACE_KEY_PREFIX) {
            return self.authorize(bearer, selector).await;
        }
        let WorkspaceSelector::Path(ws) = selector else {
            return Err(Error::Unauthenticated);
        };
        let now = self.clock.now();
        let found = self
            .store
            .read()
            .workspace_key_access(&secret::hash(bearer), ws, now)
            .await?
            .ok_or(Error::Unauthenticated)?;
        self.touch_workspace_key(&found, now);
        let grants = self.settings.permissions.parse_stored(&found.permissions);
        let workspace = found.workspace.ok_or(Error::NotFound)?;
        Ok(Access {
            principal: Principal {
                user_id: Uuid::nil(),
                credential: Credential::WorkspaceKey {
                    key_id: found.key_id,
                    workspace_id: found.workspace_id,
                },
            },
            workspace,
            role: Role::Demo,
            custom_role: None,
            grants,
        })
    }

    /// The caller, their account and their standing in the selected workspace, in one
    /// statement: 401 for a bad credential.
    pub async fn caller(&self, bearer: &str, selector: &WorkspaceSelector) -> Result<Caller> {
        let now = self.clock.now();
        let presented = self.present(bearer, now).await?;
        let (principal, standing) = self.resolve(presented, selector, true, now).await?;
        caller_of(principal, standing)
    }

    /// The caller behind a session this service has just started (sign-in, refresh, sign-up),
    /// with their current workspace: one read, and no token to verify again. (Not the session's
    /// liveness: a session ended meanwhile, say by a concurrent reuse of its refresh token,
    /// refuses its tokens on their first use.)
    pub(super) async fn caller_of_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        bound: Option<Uuid>,
    ) -> Result<Caller> {
        let standing = self
            .store
            .read()
            .user_standing(user_id, bound)
            .await?
            .ok_or(Error::Unauthenticated)?;
        Ok(Caller {
            principal: Principal {
                user_id,
                credential: Credential::Session {
                    session_id,
                    workspace_id: bound,
                },
            },
            user: standing.user.ok_or(Error::Unauthenticated)?,
            membership: standing.membership.map(|(w, r)| (w, r.base)),
        })
    }

    async fn resolve(
        &self,
        presented: Presented,
        selector: &WorkspaceSelector,
        with_user: bool,
        now: DateTime<Utc>,
    ) -> Result<(Principal, Standing)> {
        let mut db = self.store.read();
        match presented {
            Presented::ApiKey(hash) => {
                let found = db
                    .key_access(&hash, selector, with_user, now)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                self.touch(&found.key, now);
                Ok((key_principal(&found.key), found.standing))
            }
            Presented::Session(claims) => {
                let found = db
                    .session_access(claims.sid, claims.sub, selector, with_user, now)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                let principal = session_principal(&claims, found.bound_workspace_id);
                Ok((principal, found.standing))
            }
            Presented::Console(hash) => {
                let found = db
                    .cookie_access(&hash, selector, with_user, now)
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                let principal = Principal {
                    user_id: found.user_id,
                    credential: Credential::Session {
                        session_id: found.session_id,
                        workspace_id: found.bound_workspace_id,
                    },
                };
                Ok((principal, found.standing))
            }
            Presented::WorkspaceKey => Err(Error::Unauthenticated),
        }
    }
}

/// The console's cookie holds the first refresh token of a session the console started, which
/// the console never spends: it stands for its session while the session is live (not ended,
/// not expired) and nobody has spent the token elsewhere, all checked by the access read.
fn console_cookie(cookie: &str) -> Result<Presented> {
    if !cookie.starts_with(REFRESH_PREFIX) {
        return Err(Error::Unauthenticated);
    }
    Ok(Presented::Console(secret::hash(cookie)))
}

fn caller_of(principal: Principal, standing: Standing) -> Result<Caller> {
    Ok(Caller {
        principal,
        user: standing.user.ok_or(Error::Unauthenticated)?,
        membership: standing.membership.map(|(w, r)| (w, r.base)),
    })
}

fn key_principal(key: &ApiKeyAuth) -> Principal {
    Principal {
        user_id: key.user_id,
        credential: Credential::ApiKey {
            key_id: key.id,
            read_only: key.read_only,
        },
    }
}

fn session_principal(claims: &AccessClaims, workspace_id: Option<Uuid>) -> Principal {
    Principal {
        user_id: claims.sub,
        credential: Credential::Session {
            session_id: claims.sid,
            workspace_id,
        },
    }
}

#[cfg(test)]
mod touches_tests {
    use super::*;

    #[test]
    fn a_keys_use_is_recorded_once_a_minute_however_many_requests_read_it_stale() {
        let touches = Touches::default();
        let key = Uuid::now_v7();
        let now = Utc::now();
        let stale = Some(now - Duration::minutes(5));
        let claimed = (0..1_000)
            .filter(|_| touches.claim(key, stale, now))
            .count();
        assert_eq!(claimed, 1, "one request of the burst records the use");
        assert!(!touches.claim(key, stale, now + Duration::seconds(59)));
        assert!(
            touches.claim(key, stale, now + Duration::seconds(60)),
            "a minute later, again"
        );
        assert!(
            touches.claim(Uuid::now_v7(), None, now),
            "a never-used key, at once"
        );
        assert!(
            !touches.claim(Uuid::now_v7(), Some(now), now),
            "a key used just now, not"
        );
    }

    #[test]
    fn the_claims_stay_bounded_however_many_keys() {
        let touches = Touches::default();
        let now = Utc::now();
        for i in 0..(3 * TOUCHES_KEPT) {
            let at = now + Duration::milliseconds(i as i64);
            assert!(touches.claim(Uuid::now_v7(), None, at));
        }
        let kept = touches.0.lock().expect("lock").len();
        assert!(kept <= TOUCHES_KEPT, "{kept} claims kept");
    }
}
