//! `/console`: the web console, where people run their workspaces. Server-rendered HTML
//! (askama, `templates/console/`) with plain forms that work without JavaScript; the one script
//! (`assets/console.js`) only adds copy buttons, confirmations and local times. Every action is
//! the same domain call as the API's, so the console holds no rule of its own, and a page shows
//! only the actions its viewer's permissions allow.
//!
//! Signing in starts an ordinary session: its cookie (`roster_console`, `HttpOnly`,
//! `SameSite=Lax`, `Secure` behind https) holds the session's first refresh token, which the
//! console never spends and checks on every request (`Core::console_access`), so ending the
//! session anywhere, or removing the member, ends the console's access at its next click. Every
//! form carries a CSRF token derived from that cookie (another session's token never matches),
//! and a form another site posts is refused as on the other pages.

mod account;
mod audit;
mod entry;
mod invitations;
mod keys;
mod members;
mod roles;
mod usage;
mod webhooks;
mod workspaces;

use askama::Template;
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    app::AppState,
    domain::{
        paging::PageRequest,
        permission::Permission,
        role::Role,
        user::User,
        workspace::{Access, Workspace, WorkspaceRef, WorkspaceSelector},
        Error,
    },
    http::pages,
};

/// The session cookie's name.
pub const COOKIE: &str = "roster_console";
/// The one-shot message shown on the page after an action.
const FLASH: &str = "roster_flash";
/// How many of the viewer's workspaces the switcher lists.
const SWITCHER: u32 = 100;

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(entry::home))
        .route(
            "/console/sign-in",
            get(entry::show_sign_in).post(entry::sign_in),
        )
        .route("/console/sign-in/code", post(entry::second_factor))
        .route(
            "/console/sign-up",
            get(entry::show_sign_up).post(entry::sign_up),
        )
        .route(
            "/console/forgot-password",
            get(entry::show_forgot).post(entry::forgot),
        )
        .route("/console/sign-out", post(entry::sign_out))
        .route(
            "/console/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route("/console/w/{ws}", get(workspaces::open))
        .route(
            "/console/w/{ws}/settings",
            get(workspaces::settings).post(workspaces::update),
        )
        .route("/console/w/{ws}/settings/delete", post(workspaces::delete))
        .route("/console/w/{ws}/members", get(members::page))
        .route(
            "/console/w/{ws}/members/{user_id}/role",
            post(members::change_role),
        )
        .route(
            "/console/w/{ws}/members/{user_id}/remove",
            post(members::remove),
        )
        .route(
            "/console/w/{ws}/invitations",
            get(invitations::page).post(invitations::invite),
        )
        .route(
            "/console/w/{ws}/invitations/{id}/{action}",
            post(invitations::act),
        )
        .route(
            "/console/w/{ws}/api-keys",
            get(keys::page).post(keys::create),
        )
        .route("/console/w/{ws}/api-keys/{id}/{action}", post(keys::act))
        .route("/console/w/{ws}/audit", get(audit::page))
        .route("/console/w/{ws}/audit.csv", get(audit::export))
        .route("/console/w/{ws}/usage", get(usage::page))
        .route(
            "/console/w/{ws}/roles",
            get(roles::page).post(roles::create),
        )
        .route("/console/w/{ws}/roles/{key}", post(roles::update))
        .route("/console/w/{ws}/roles/{key}/delete", post(roles::delete))
        .route(
            "/console/w/{ws}/webhooks",
            get(webhooks::page).post(webhooks::create),
        )
        .route("/console/w/{ws}/webhooks/{id}", get(webhooks::endpoint))
        .route(
            "/console/w/{ws}/webhooks/{id}/{action}",
            post(webhooks::act),
        )
        .route(
            "/console/w/{ws}/webhooks/{id}/deliveries/{event_id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/console/account", get(account::page).post(account::update))
        .route("/console/account/password", post(account::password))
        .route(
            "/console/account/sessions/{id}/end",
            post(account::end_session),
        )
        .route("/console/account/sessions/end-all", post(account::end_all))
        .route("/console/account/keys", post(account::create_key))
        .route("/console/account/mfa/enrol", post(account::enrol_mfa))
        .route("/console/account/mfa/confirm", post(account::confirm_mfa))
        .route("/console/account/mfa/disable", post(account::disable_mfa))
        .route(
            "/console/account/keys/{id}/revoke",
            post(account::revoke_key),
        )
        .layer(axum::middleware::from_fn(clear_flash))
}

/// A message is shown once: a page that was sent one (not a redirect passing it on) removes it.
async fn clear_flash(request: Request, next: axum::middleware::Next) -> Response {
    let had = cookie_value(request.headers(), FLASH).is_some();
    let mut r = next.run(request).await;
    if had && !r.status().is_redirection() {
        r.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "roster_flash=; Path=/console; HttpOnly; SameSite=Lax; Max-Age=0",
            ),
        );
    }
    r
}

/// The CSRF token of a console cookie: a digest of the cookie, so it proves the form came
/// from a page this session was shown, and no other session's token matches.
fn csrf_token(cookie: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"roster-console-csrf\0")
        .chain_update(cookie.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether cookies must be `Secure`: when the service's public URL is https.
fn secure(state: &AppState) -> bool {
    state.config.public_url.scheme() == "https"
}

/// The `Set-Cookie` of a console session (`None`: the cookie's removal).
fn session_cookie(state: &AppState, value: Option<&str>) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let text = match value {
        Some(v) => format!("{COOKIE}={v}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A message for the next page.
#[derive(Clone)]
pub struct Flash {
    pub error: bool,
    pub text: String,
}

impl Flash {
    fn ok(text: impl Into<String>) -> Flash {
        Flash {
            error: false,
            text: text.into(),
        }
    }

    fn err(e: &Error) -> Flash {
        Flash {
            error: true,
            text: said(e),
        }
    }

    fn read(headers: &HeaderMap) -> Option<Flash> {
        let raw = cookie_value(headers, FLASH)?;
        let (kind, text) = raw.split_once('.')?;
        let text = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .ok()?
            .chars()
            .take(500)
            .collect();
        Some(Flash {
            error: kind == "e",
            text,
        })
    }

    fn cookie(&self) -> HeaderValue {
        let text = percent_encoding::utf8_percent_encode(
            &self.text.chars().take(500).collect::<String>(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        let kind = if self.error { "e" } else { "o" };
        HeaderValue::try_from(format!(
            "{FLASH}={kind}.{text}; Path=/console; HttpOnly; SameSite=Lax; Max-Age=60"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// What a person reads for a refusal: the domain's own words, field by field for bad input.
pub fn said(e: &Error) -> String {
    match e {
        Error::Validation(fields) => fields
            .iter()
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        Error::RateLimited { retry_after } => {
            format!("Too many attempts; try again in {retry_after} seconds.")
        }
        Error::NotFound => "That no longer exists, or you may not see it.".into(),
        Error::Unauthenticated => "Your session has ended; sign in again.".into(),
        Error::InvalidCredentials => "That email and password do not match.".into(),
        Error::Unavailable | Error::Internal(_) => {
            "Something went wrong on our side; please try again.".into()
        }
        other => {
            let text = other.to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
                None => text,
            }
        }
    }
}

/// A 303 to `to`, with a message for the page there.
fn see_other(to: &str, flash: Option<Flash>) -> Response {
    let mut r = Redirect::to(to).into_response();
    if let Some(f) = flash {
        r.headers_mut().append(header::SET_COOKIE, f.cookie());
    }
    r
}

/// After an action: back to `to` with what happened.
fn done(to: &str, result: Result<String, Error>) -> Response {
    match result {
        Ok(text) => see_other(to, Some(Flash::ok(text))),
        Err(Error::Unauthenticated) => signed_out(),
        Err(e @ (Error::Internal(_) | Error::Unavailable)) => failure(e),
        Err(e) => see_other(to, Some(Flash::err(&e))),
    }
}

/// The sign-in page, for a request without a live session.
fn signed_out() -> Response {
    let mut r = see_other(
        "/console/sign-in",
        Some(Flash {
            error: true,
            text: "Please sign in.".into(),
        }),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("roster_console=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    r
}

/// The console's headers on a rendered page: the pages' own, with a policy that lets in the
/// console's own script and stylesheet and nothing inline.
fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => return failure(Error::Internal(anyhow::anyhow!("rendering failed: {e}"))),
    };
    let mut r = pages::html(status, body);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

/// The page that shows a new secret, once.
#[derive(Template)]
#[template(path = "console/secret.html")]
struct SecretPage {
    shell: Shell,
    /// What was created with it, by name.
    name: String,
    secret: String,
    back: String,
}

/// After creating something that has a secret (`result`: its name and the secret): the page
/// that shows the secret this once, titled by `shell`, or back to `back` with the refusal.
fn shown_once(result: Result<(String, String), Error>, shell: Shell, back: String) -> Response {
    match result {
        Ok((name, secret)) => render(
            StatusCode::OK,
            &SecretPage {
                shell,
                name,
                secret,
                back,
            },
        ),
        Err(e) => done(&back, Err(e)),
    }
}

/// A page that only says something (a refusal, a failure).
#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage {
    shell: Shell,
    heading: String,
    text: String,
}

fn message(status: StatusCode, heading: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            shell: Shell::bare(heading),
            heading: heading.into(),
            text: text.into(),
        },
    )
}

/// A failure on our side: 500 or 503, with the detail kept for the log.
fn failure(e: Error) -> Response {
    pages::failed(
        message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Something went wrong",
            "Please try again in a moment.",
        ),
        e,
    )
}

/// A refusal to open a page: to sign-in without a session, else a page that says why.
fn refused(e: Error) -> Response {
    match e {
        Error::Unauthenticated => signed_out(),
        Error::NotFound => message(
            StatusCode::NOT_FOUND,
            "Not found",
            "This workspace does not exist, or you are not a member of it.",
        ),
        e @ (Error::Internal(_) | Error::Unavailable) => failure(e),
        e @ Error::Forbidden { .. } => message(StatusCode::FORBIDDEN, "Not allowed", &said(&e)),
        e => message(StatusCode::BAD_REQUEST, "Not possible", &said(&e)),
    }
}

/// A workspace in the switcher.
pub struct Switch {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub current: bool,
}

/// The current workspace's sections the viewer may open.
pub struct Nav {
    pub id: String,
    pub name: String,
    pub role: String,
    pub members: bool,
    pub roles: bool,
    pub invitations: bool,
    pub keys: bool,
    pub webhooks: bool,
    pub audit: bool,
    pub usage: bool,
    pub settings: bool,
    /// The section shown.
    pub here: &'static str,
}

/// What every console page shows around its content.
pub struct Shell {
    pub title: String,
    /// The viewer, when signed in.
    pub user: Option<User>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub workspaces: Vec<Switch>,
    pub nav: Option<Nav>,
}

impl Shell {
    fn bare(title: &str) -> Shell {
        Shell {
            title: title.into(),
            user: None,
            csrf: String::new(),
            flash: None,
            workspaces: Vec::new(),
            nav: None,
        }
    }
}

/// A signed-in viewer: their cookie, account and workspaces; the rejection sends the browser
/// to sign in.
pub struct Viewer {
    pub cookie: String,
    pub user: User,
    pub principal: crate::domain::auth::Principal,
    pub workspaces: Vec<(Workspace, Role)>,
    flash: Option<Flash>,
}

impl Viewer {
    fn csrf(&self) -> String {
        csrf_token(&self.cookie)
    }

    /// The frame of a page titled `title`, in `access`'s workspace when given.
    fn shell(&self, title: &str, here: Option<(&Access, &'static str)>) -> Shell {
        let current = here.map(|(a, _)| a.workspace.id);
        Shell {
            title: title.into(),
            user: Some(self.user.clone()),
            csrf: self.csrf(),
            flash: self.flash.clone(),
            workspaces: self
                .workspaces
                .iter()
                .map(|(w, r)| Switch {
                    id: w.id.to_string(),
                    name: w.name.clone(),
                    role: r.as_str(),
                    current: Some(w.id) == current,
                })
                .collect(),
            nav: here.map(|(a, section)| Nav {
                id: a.workspace.id.to_string(),
                name: a.workspace.name.clone(),
                role: a
                    .custom_role
                    .as_ref()
                    .map_or_else(|| a.role.as_str().to_owned(), |c| c.name.clone()),
                members: a.grants.has(Permission::MembersList),
                roles: a.grants.has(Permission::MembersList),
                invitations: a.grants.has(Permission::InvitationsManage),
                keys: a.grants.has(Permission::ApiKeysManage),
                webhooks: a.grants.has(Permission::WebhooksManage),
                audit: a.grants.has(Permission::AuditRead),
                usage: a.grants.has(Permission::UsageRead),
                settings: a.grants.has(Permission::WorkspaceRead),
                here: section,
            }),
        }
    }
}

/// The console's cookie of a request, unless it has none (or one no cookie could be).
fn cookie_of(parts: &Parts) -> Option<String> {
    cookie_value(&parts.headers, COOKIE)
        .filter(|c| !c.is_empty() && c.len() <= 200)
        .map(str::to_owned)
}

impl Viewer {
    /// The viewer of a cookie whose session resolved to `principal` and `user`, with the
    /// switcher's workspaces.
    async fn with_workspaces(
        state: &AppState,
        parts: &Parts,
        cookie: String,
        principal: crate::domain::auth::Principal,
        user: User,
    ) -> Result<Viewer, Response> {
        let workspaces = state
            .core
            .my_workspaces(&principal, &PageRequest::first(SWITCHER))
            .await
            .map_err(refused)?
            .data;
        Ok(Viewer {
            cookie,
            user,
            principal,
            workspaces,
            flash: Flash::read(&parts.headers),
        })
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let cookie = cookie_of(parts).ok_or_else(signed_out)?;
        let caller = state
            .core
            .console_caller(&cookie, &WorkspaceSelector::Current)
            .await
            .map_err(refused)?;
        Viewer::with_workspaces(state, parts, cookie, caller.principal, caller.user).await
    }
}

/// A signed-in viewer in the workspace the path names, with what they may do there.
pub struct InWorkspace {
    pub viewer: Viewer,
    pub access: Access,
}

impl InWorkspace {
    fn shell(&self, title: &str, section: &'static str) -> Shell {
        self.viewer.shell(title, Some((&self.access, section)))
    }

    /// The path of one of this workspace's pages.
    fn path(&self, rest: &str) -> String {
        format!("/console/w/{}/{rest}", self.access.workspace.id)
    }

    fn may(&self, permission: Permission) -> bool {
        self.access.grants.has(permission)
    }
}

impl FromRequestParts<AppState> for InWorkspace {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let cookie = cookie_of(parts).ok_or_else(signed_out)?;
        let ws = parts
            .uri
            .path()
            .strip_prefix("/console/w/")
            .and_then(|rest| rest.split('/').next())
            .filter(|ws| !ws.is_empty() && ws.len() <= 100)
            .ok_or_else(|| refused(Error::NotFound))?;
        let ws = percent_encoding::percent_decode_str(ws).decode_utf8_lossy();
        // One access read gives the account and the standing in the workspace.
        let (user, access) = state
            .core
            .console_access(&cookie, &WorkspaceSelector::Path(WorkspaceRef::parse(&ws)))
            .await
            .map_err(refused)?;
        let viewer =
            Viewer::with_workspaces(state, parts, cookie, access.principal.clone(), user).await?;
        Ok(InWorkspace { viewer, access })
    }
}

/// A form posted from a console page: refused (403, nothing changes) when another site sent
/// it or its CSRF token is not this session's; a body that does not parse is a 400 page.
pub struct Posted<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let forbidden = || {
            message(
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form can only be sent from its own page in this session. Reload the page and try again.",
            )
        };
        if pages::cross_site(request.headers(), state.config.public_url.as_str()) {
            return Err(forbidden());
        }
        let expected = cookie_value(request.headers(), COOKIE).map(csrf_token);
        let body = Bytes::from_request(request, state).await.map_err(|_| {
            message(
                StatusCode::BAD_REQUEST,
                "Unreadable form",
                "The form could not be read.",
            )
        })?;
        let pairs: Vec<(String, String)> = serde_html_form::from_bytes(&body).map_err(|_| {
            message(
                StatusCode::BAD_REQUEST,
                "Unreadable form",
                "The form could not be read.",
            )
        })?;
        let given = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v);
        match (expected, given) {
            (Some(e), Some(g)) if bool::from(e.as_bytes().ct_eq(g.as_bytes())) => {}
            _ => return Err(forbidden()),
        }
        serde_html_form::from_bytes(&body).map(Posted).map_err(|e| {
            message(
                StatusCode::BAD_REQUEST,
                "Unreadable form",
                &format!("The form could not be read: {e}."),
            )
        })
    }
}

/// A form posted before anyone is signed in (sign-in, sign-up, forgot password): refused when
/// another site sent it, so no page elsewhere can sign a visitor in to someone else's account.
pub struct PublicForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for PublicForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        if pages::cross_site(request.headers(), state.config.public_url.as_str()) {
            return Err(message(
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form can only be sent from its own page.",
            ));
        }
        let body = Bytes::from_request(request, state).await.map_err(|_| {
            message(
                StatusCode::BAD_REQUEST,
                "Unreadable form",
                "The form could not be read.",
            )
        })?;
        serde_html_form::from_bytes(&body)
            .map(PublicForm)
            .map_err(|_| {
                message(
                    StatusCode::BAD_REQUEST,
                    "Unreadable form",
                    "The form could not be read.",
                )
            })
    }
}

/// A form that carries nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct Empty {}

/// The path of an action on one row of a workspace's list: `…/{id}/{action}`.
#[derive(serde::Deserialize)]
pub struct ActionPath {
    #[expect(dead_code, reason = "resolved by InWorkspace")]
    ws: String,
    id: uuid::Uuid,
    action: String,
}

/// A role offered in a filter or a role control: its key and its name.
pub struct Choice {
    pub key: String,
    pub name: String,
}

impl Choice {
    fn of(role: &crate::domain::custom_role::RoleEntry) -> Choice {
        Choice {
            key: role.key.clone(),
            name: role.name.clone(),
        }
    }
}

/// The filters of a list as a query string, for its pager and its export link.
fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

/// A time as the pages show it: UTC in the HTML, the viewer's own zone once the script runs.
pub struct Shown {
    pub iso: String,
    pub text: String,
}

pub fn shown(t: DateTime<Utc>) -> Shown {
    Shown {
        iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        text: t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}
