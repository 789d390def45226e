//! `/invite/{token}`: the page an invitation email links to. Server-rendered HTML with plain
//! forms, so it works without JavaScript (a form another site posts is refused, see
//! [`crate::http::pages`]); it calls the same domain functions as the API.

use askama::Template;
use axum::{
    extract::{Form, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use crate::{
    app::AppState,
    domain::{
        invitation::{check_open, Acceptance, InvitationRef, Preview},
        session::RequestMeta,
        Error,
    },
    http::{extract::Path, pages},
};

struct Shown {
    inviter: String,
    email: String,
    workspace: String,
    role: &'static str,
    expires: String,
    account_exists: bool,
}

#[derive(Template)]
#[template(path = "invite/page.html")]
struct Page {
    title: String,
    message: Option<String>,
    error: Option<String>,
    invitation: Option<Shown>,
}

#[derive(Deserialize)]
pub struct TokenPath {
    token: String,
}

#[derive(Deserialize)]
pub struct Answer {
    action: String,
    name: Option<String>,
    password: Option<String>,
}

fn shown(p: &Preview) -> Shown {
    Shown {
        inviter: p.inviter_name.clone().unwrap_or_else(|| "Someone".into()),
        email: p.invitation.email.clone(),
        workspace: p.workspace_name.clone(),
        role: p.invitation.role.as_str(),
        expires: p
            .invitation
            .expires_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        account_exists: p.account_exists,
    }
}

fn render(status: StatusCode, page: Page) -> Response {
    let body = page.render().unwrap_or_else(|_| "<h1>Roster</h1>".into());
    pages::html(status, body)
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    render(
        status,
        Page {
            title: title.into(),
            message: Some(text.into()),
            error: None,
            invitation: None,
        },
    )
}

/// The page for a pending invitation, optionally with an error from the last attempt.
fn invitation_page(
    status: StatusCode,
    preview: &Preview,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Response {
    if let Err(e) = check_open(&preview.invitation, now) {
        return message(StatusCode::GONE, "Invitation unavailable", &e.to_string());
    }
    render(
        status,
        Page {
            title: format!("Join {}", preview.workspace_name),
            message: None,
            error,
            invitation: Some(shown(preview)),
        },
    )
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Invitation not found",
        "This invitation link is not valid. Ask for a new invitation.",
    )
}

pub async fn show(State(state): State<AppState>, Path(p): Path<TokenPath>) -> Response {
    match state.core.preview(&p.token).await {
        Ok(preview) => invitation_page(StatusCode::OK, &preview, None, state.core.clock.now()),
        Err(Error::NotFound) => not_found(),
        Err(e) => failure(e),
    }
}

pub async fn answer(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(p): Path<TokenPath>,
    Form(form): Form<Answer>,
) -> Response {
    if pages::cross_site(&headers, state.config.public_url.as_str()) {
        return message(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form can only be sent from its own page. Open the link from your email again.",
        );
    }
    let preview = match state.core.preview(&p.token).await {
        Ok(preview) => preview,
        Err(Error::NotFound) => return not_found(),
        Err(e) => return failure(e),
    };
    let result = match form.action.as_str() {
        "decline" => state
            .core
            .decline(InvitationRef::Token(&p.token), None, &meta)
            .await
            .map(|()| {
                message(
                    StatusCode::OK,
                    "Invitation declined",
                    "You declined the invitation.",
                )
            }),
        "accept" => {
            let password = SecretString::from(form.password.unwrap_or_default());
            let how = if preview.account_exists {
                Acceptance::Password(password)
            } else {
                Acceptance::NewAccount {
                    name: form.name.unwrap_or_default(),
                    password,
                }
            };
            state
                .core
                .accept(InvitationRef::Token(&p.token), how, &meta)
                .await
                .map(|accepted| {
                    message(
                        StatusCode::OK,
                        "You're in",
                        &format!(
                            "You joined {} as {}. You can now sign in to the app.",
                            preview.workspace_name,
                            accepted.role.as_str()
                        ),
                    )
                })
        }
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                "Unknown action",
                "Use the buttons on the invitation page.",
            )
        }
    };
    let now = state.core.clock.now();
    match result {
        Ok(page) => page,
        Err(Error::InvalidCredentials) => invitation_page(
            StatusCode::UNAUTHORIZED,
            &preview,
            Some("That password is not right.".into()),
            now,
        ),
        Err(Error::Validation(fields)) => {
            let text = fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            invitation_page(StatusCode::UNPROCESSABLE_ENTITY, &preview, Some(text), now)
        }
        Err(Error::RateLimited { retry_after }) => invitation_page(
            StatusCode::TOO_MANY_REQUESTS,
            &preview,
            Some(format!(
                "Too many attempts; try again in {retry_after} seconds."
            )),
            now,
        ),
        Err(e @ Error::Conflict { .. }) => message(
            StatusCode::CONFLICT,
            "Invitation unavailable",
            &e.to_string(),
        ),
        Err(e) => failure(e),
    }
}

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
