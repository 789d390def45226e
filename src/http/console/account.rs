//! The viewer's own account: their name, their password, their sessions (end one, or every
//! other one) and their personal API keys.

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use super::{done, refused, render, shown, shown_once, Empty, Posted, Shell, Shown, Viewer};
use crate::{
    app::AppState,
    domain::{
        api_key::NewKey,
        mfa::{MfaStatus, SecondFactor},
        session::RequestMeta,
        user::ProfilePatch,
        Error,
    },
    http::extract::Path,
};

const HERE: &str = "/console/account";

pub struct SessionRow {
    id: String,
    started: Shown,
    last_used: Shown,
    ip: String,
    agent: String,
    this: bool,
}

pub struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    read_only: bool,
    created: Shown,
    last_used: Option<Shown>,
}

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    shell: Shell,
    name: String,
    email: String,
    verified: bool,
    sessions: Vec<SessionRow>,
    keys: Vec<KeyRow>,
    mfa: MfaStatus,
}

/// Setting up the authenticator: the QR code and the secret, and the form for a first code.
#[derive(Template)]
#[template(path = "console/mfa_enrol.html")]
struct EnrolPage {
    shell: Shell,
    /// The QR code as a `data:` URL of its SVG.
    qr: String,
    secret: String,
    error: Option<String>,
}

/// The recovery codes, shown once when the second factor is switched on.
#[derive(Template)]
#[template(path = "console/mfa_codes.html")]
struct CodesPage {
    shell: Shell,
    codes: Vec<String>,
}

#[derive(Deserialize)]
pub struct ProfileForm {
    name: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize)]
pub struct KeyForm {
    name: String,
    read_only: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

#[derive(Deserialize)]
pub struct DisableForm {
    code: Option<String>,
    recovery_code: Option<String>,
}

#[derive(Deserialize)]
pub struct IdPath {
    id: Uuid,
}

pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let user_id = viewer.user.id;
    let (sessions, keys, mfa) = match tokio::try_join!(
        state.core.sessions(user_id),
        state.core.api_keys(user_id),
        state.core.mfa_status(user_id)
    ) {
        Ok(all) => all,
        Err(e) => return refused(e),
    };
    let this = viewer.principal.session_id();
    let page = AccountPage {
        name: viewer.user.name.clone(),
        email: viewer.user.email.clone(),
        verified: viewer.user.email_verified,
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                id: s.id.to_string(),
                started: shown(s.created_at),
                last_used: shown(s.last_used_at),
                ip: s.ip.unwrap_or_default(),
                agent: s.user_agent.unwrap_or_default(),
                this: Some(s.id) == this,
            })
            .collect(),
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                name: k.name.unwrap_or_else(|| "(unnamed)".into()),
                prefix: k.prefix,
                read_only: k.read_only,
                created: shown(k.created_at),
                last_used: k.last_used_at.map(shown),
            })
            .collect(),
        mfa,
        shell: viewer.shell("Your account", None),
    };
    render(StatusCode::OK, &page)
}

pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(form): Posted<ProfileForm>,
) -> Response {
    let patch = ProfilePatch {
        name: Some(form.name),
        ..ProfilePatch::default()
    };
    let result = state
        .core
        .update_me(viewer.user.id, patch, &meta)
        .await
        .map(|_| "Profile saved.".to_owned());
    done(HERE, result)
}

/// Changes the password; every other session ends, this one stays.
pub async fn password(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(form): Posted<PasswordForm>,
) -> Response {
    let result = state
        .core
        .change_password(
            viewer.user.id,
            viewer.principal.session_id(),
            SecretString::from(form.current_password),
            SecretString::from(form.new_password),
            &meta,
        )
        .await
        .map(|ended| format!("Password changed; {ended} other session(s) signed out."));
    // A wrong current password is not a reason to sign this session out.
    let result = result.map_err(|e| match e {
        Error::InvalidCredentials => Error::invalid(
            "current_password",
            "invalid",
            "your current password is not right",
        ),
        other => other,
    });
    done(HERE, result)
}

pub async fn end_session(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Path(p): Path<IdPath>,
    Posted(_): Posted<Empty>,
) -> Response {
    let result = state
        .core
        .end_session(viewer.user.id, p.id, "ended_by_user", &meta)
        .await
        .map(|()| "Session signed out.".to_owned());
    done(HERE, result)
}

/// Signs out every session but this one.
pub async fn end_all(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(_): Posted<Empty>,
) -> Response {
    let result = state
        .core
        .end_all_sessions(viewer.user.id, viewer.principal.session_id(), &meta)
        .await
        .map(|n| format!("{n} other session(s) signed out."));
    done(HERE, result)
}

pub async fn create_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(form): Posted<KeyForm>,
) -> Response {
    let input = NewKey {
        name: Some(form.name),
        expires_at: None,
        read_only: form.read_only.is_some(),
        description: None,
    };
    let result = state
        .core
        .create_api_key(viewer.user.id, input, &meta)
        .await
        .map(|(key, secret)| (key.name.unwrap_or_default(), secret));
    shown_once(
        result,
        viewer.shell("Personal API key created", None),
        HERE.into(),
    )
}

pub async fn revoke_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Path(p): Path<IdPath>,
    Posted(_): Posted<Empty>,
) -> Response {
    let result = state
        .core
        .revoke_api_key(viewer.user.id, p.id, &meta)
        .await
        .map(|()| "API key revoked.".to_owned());
    done(HERE, result)
}

/// Issues a new authenticator secret (replacing one not yet confirmed) and shows it.
pub async fn enrol_mfa(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(_): Posted<Empty>,
) -> Response {
    match state.core.enrol_totp(&viewer.principal, &meta).await {
        Ok(e) => render(
            StatusCode::OK,
            &EnrolPage {
                qr: format!(
                    "data:image/svg+xml;base64,{}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        e.qr_svg.as_bytes()
                    )
                ),
                secret: e.secret,
                error: None,
                shell: viewer.shell("Set up two-factor authentication", None),
            },
        ),
        Err(e) => done(HERE, Err(e)),
    }
}

/// The first code switches the second factor on; its recovery codes are shown once.
pub async fn confirm_mfa(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(form): Posted<CodeForm>,
) -> Response {
    match state
        .core
        .confirm_totp(&viewer.principal, form.code.trim(), &meta)
        .await
    {
        Ok(codes) => render(
            StatusCode::OK,
            &CodesPage {
                codes,
                shell: viewer.shell("Two-factor authentication is on", None),
            },
        ),
        Err(e) => done(HERE, Err(e)),
    }
}

/// Switches the second factor off, with a current code or a recovery code.
pub async fn disable_mfa(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(form): Posted<DisableForm>,
) -> Response {
    let code = form.code.filter(|c| !c.trim().is_empty());
    let recovery = form.recovery_code.filter(|c| !c.trim().is_empty());
    let result = match SecondFactor::from_fields(code, recovery) {
        Ok(proof) => state
            .core
            .disable_mfa(&viewer.principal, proof, &meta)
            .await
            .map(|()| "Two-factor authentication is off.".to_owned()),
        Err(e) => Err(e),
    };
    done(HERE, result)
}
