//! `/verify-email/{token}` and `/reset-password/{token}`: the pages the account emails link
//! to. Server-rendered HTML with plain forms (they work without JavaScript; a form another
//! site posts is refused, see [`crate::http::pages`]), calling the same domain functions as `POST /v1/auth/verify-email`
//! and `POST /v1/auth/reset-password`. Opening a link changes nothing: a mail scanner that
//! fetches it does not spend it; the person presses the button.

use askama::Template;
use axum::{
    extract::{Form, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use secrecy::SecretString;
use serde::Deserialize;

use crate::{
    app::AppState,
    domain::{account_link::LinkPreview, session::RequestMeta, Error},
    http::{extract::Path, pages},
};

/// Which form a page shows.
enum FormKind {
    Verify,
    Reset,
}

#[derive(Template)]
#[template(path = "account/page.html")]
struct Page {
    title: String,
    message: Option<String>,
    error: Option<String>,
    form: Option<FormKind>,
    email: String,
    expires: Option<String>,
}

impl Page {
    fn message(title: &str, text: &str) -> Page {
        Page {
            title: title.into(),
            message: Some(text.into()),
            error: None,
            form: None,
            email: String::new(),
            expires: None,
        }
    }
}

#[derive(Deserialize)]
pub struct TokenPath {
    token: String,
}

#[derive(Deserialize)]
pub struct ResetForm {
    password: Option<String>,
    confirm: Option<String>,
}

fn render(status: StatusCode, page: &Page) -> Response {
    let body = page.render().unwrap_or_else(|_| "<h1>Roster</h1>".into());
    pages::html(status, body)
}

/// A page with its form.
fn form_page(
    status: StatusCode,
    title: &str,
    kind: FormKind,
    preview: &LinkPreview,
    error: Option<String>,
) -> Response {
    let page = Page {
        title: title.into(),
        message: None,
        error,
        form: Some(kind),
        email: preview.masked_email.clone(),
        expires: Some(preview.expires_at.format("%Y-%m-%d %H:%M UTC").to_string()),
    };
    render(status, &page)
}

/// The page for a refusal: a dead link, bad input, or a failure on our side.
fn refusal(e: Error) -> Response {
    match e {
        Error::LinkRefused(fault) => render(
            if fault.gone() {
                StatusCode::GONE
            } else {
                StatusCode::NOT_FOUND
            },
            &Page::message("This link does not work", &capitalised(fault.detail())),
        ),
        e @ Error::Conflict { .. } => render(
            StatusCode::CONFLICT,
            &Page::message("This link does not work", &capitalised(&e.to_string())),
        ),
        Error::RateLimited { retry_after } => render(
            StatusCode::TOO_MANY_REQUESTS,
            &Page::message(
                "Too many attempts",
                &format!("Try again in {retry_after} seconds."),
            ),
        ),
        e => pages::failed(
            render(
                StatusCode::SERVICE_UNAVAILABLE,
                &Page::message("Something went wrong", "Please try again in a moment."),
            ),
            e,
        ),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

fn cross_site() -> Response {
    render(
        StatusCode::FORBIDDEN,
        &Page::message(
            "Request refused",
            "This form can only be sent from its own page. Open the link from your email again.",
        ),
    )
}

pub async fn show_verify(State(state): State<AppState>, Path(p): Path<TokenPath>) -> Response {
    match state.core.verification_preview(&p.token).await {
        Ok(preview) => form_page(
            StatusCode::OK,
            "Verify your email address",
            FormKind::Verify,
            &preview,
            None,
        ),
        Err(e) => refusal(e),
    }
}

pub async fn verify(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(p): Path<TokenPath>,
) -> Response {
    if pages::cross_site(&headers, state.config.public_url.as_str()) {
        return cross_site();
    }
    match state.core.verify_email(&p.token, &meta).await {
        Ok(verified) => render(
            StatusCode::OK,
            &Page::message(
                "Email address verified",
                &format!(
                    "{} is verified. You can close this page and sign in to the app.",
                    verified.user.email
                ),
            ),
        ),
        Err(e) => refusal(e),
    }
}

pub async fn show_reset(State(state): State<AppState>, Path(p): Path<TokenPath>) -> Response {
    match state.core.reset_preview(&p.token).await {
        Ok(preview) => form_page(
            StatusCode::OK,
            "Choose a new password",
            FormKind::Reset,
            &preview,
            None,
        ),
        Err(e) => refusal(e),
    }
}

pub async fn reset(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    Path(p): Path<TokenPath>,
    Form(form): Form<ResetForm>,
) -> Response {
    if pages::cross_site(&headers, state.config.public_url.as_str()) {
        return cross_site();
    }
    let preview = match state.core.reset_preview(&p.token).await {
        Ok(preview) => preview,
        Err(e) => return refusal(e),
    };
    let again = |status, error: String| {
        form_page(
            status,
            "Choose a new password",
            FormKind::Reset,
            &preview,
            Some(error),
        )
    };
    let password = form.password.unwrap_or_default();
    if form.confirm.as_deref() != Some(password.as_str()) {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The two passwords are not the same.".into(),
        );
    }
    match state
        .core
        .reset_password(&p.token, SecretString::from(password), &meta)
        .await
    {
        Ok(_) => render(
            StatusCode::OK,
            &Page::message(
                "Password changed",
                "Your new password is set and every device was signed out. Sign in to the app with the new password.",
            ),
        ),
        Err(Error::Validation(fields)) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            fields
                .iter()
                .map(|f| capitalised(&f.message))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Err(e) => refusal(e),
    }
}
