//! Getting in and out: sign-in (with the second-factor step), sign-up, forgot password and
//! sign-out. A sign-in starts an ordinary session and hands its first refresh token to the
//! browser as the console's cookie.

use askama::Template;
use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::Response,
};
use secrecy::SecretString;
use serde::Deserialize;

use super::{
    message, render, see_other, session_cookie, Empty, Flash, Posted, PublicForm, Shell, Viewer,
};
use crate::{
    app::AppState,
    domain::{
        mfa::{Login, SecondFactor},
        policy::NATIVE,
        session::{RequestMeta, SignedIn},
        user::Signup,
        Error,
    },
    http::problem::ApiError,
};

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    shell: Shell,
    email: String,
    error: Option<String>,
    /// Set once the password was right and a second factor is asked.
    ticket: Option<String>,
}

#[derive(Template)]
#[template(path = "console/sign_up.html")]
struct SignUpPage {
    shell: Shell,
    email: String,
    name: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/forgot.html")]
struct ForgotPage {
    shell: Shell,
    sent: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    ticket: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

#[derive(Deserialize)]
pub struct SignUpForm {
    email: String,
    name: String,
    password: String,
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// Only the CSRF token.
fn flash_shell(title: &str, headers: &HeaderMap) -> Shell {
    Shell {
        flash: Flash::read(headers),
        ..Shell::bare(title)
    }
}

/// `/console`: the first workspace of a signed-in viewer, or sign-in.
pub async fn home(viewer: Result<Viewer, Response>) -> Response {
    match viewer {
        Ok(v) => match v.workspaces.first() {
            Some((w, _)) => see_other(&format!("/console/w/{}/members", w.id), v.flash),
            None => see_other("/console/workspaces", v.flash),
        },
        Err(_) => see_other("/console/sign-in", None),
    }
}

pub async fn show_sign_in(headers: HeaderMap) -> Response {
    render(
        StatusCode::OK,
        &SignInPage {
            shell: flash_shell("Sign in", &headers),
            email: String::new(),
            error: None,
            ticket: None,
        },
    )
}

/// The console's session begins: its cookie set, on to the console.
fn signed_in(state: &AppState, s: SignedIn) -> Response {
    let mut r = see_other("/console", None);
    r.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(state, Some(&s.tokens.refresh_token)),
    );
    r
}

/// The sign-in form again (or its code step, with `ticket`), saying why it was refused.
fn sign_in_again(e: Error, email: String, ticket: Option<String>) -> Response {
    let (status, text) = refusal(e);
    render(
        status,
        &SignInPage {
            shell: Shell::bare("Sign in"),
            email,
            error: Some(text),
            ticket,
        },
    )
}

/// A refusal as the form shows it: the API's status for the error, and the domain's words.
fn refusal(e: Error) -> (StatusCode, String) {
    let text = super::said(&e);
    let status = ApiError(e).problem().status;
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        text,
    )
}

pub async fn sign_in(
    State(state): State<AppState>,
    meta: RequestMeta,
    PublicForm(form): PublicForm<SignInForm>,
) -> Response {
    let password = SecretString::from(form.password);
    match state
        .core
        .login(&form.email, password, &NATIVE, &meta)
        .await
    {
        Ok(Login::SignedIn(s)) => signed_in(&state, *s),
        Ok(Login::MfaRequired(challenge)) => render(
            StatusCode::OK,
            &SignInPage {
                shell: Shell::bare("Sign in"),
                email: form.email,
                error: None,
                ticket: Some(challenge.ticket),
            },
        ),
        Err(e @ (Error::Internal(_) | Error::Unavailable)) => super::failure(e),
        Err(e) => sign_in_again(e, form.email, None),
    }
}

pub async fn second_factor(
    State(state): State<AppState>,
    meta: RequestMeta,
    PublicForm(form): PublicForm<CodeForm>,
) -> Response {
    let code = form.code.filter(|c| !c.trim().is_empty());
    let recovery = form.recovery_code.filter(|c| !c.trim().is_empty());
    let result = match SecondFactor::from_fields(code, recovery) {
        Ok(proof) => state.core.complete_mfa(&form.ticket, proof, &meta).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(s) => signed_in(&state, s),
        Err(e @ (Error::Internal(_) | Error::Unavailable)) => super::failure(e),
        // A ticket that is spent or expired cannot be tried again: back to the password.
        Err(
            e @ Error::Rejected {
                code: "mfa_ticket_invalid",
                ..
            },
        ) => sign_in_again(e, String::new(), None),
        Err(e) => sign_in_again(e, String::new(), Some(form.ticket)),
    }
}

pub async fn show_sign_up(headers: HeaderMap) -> Response {
    render(
        StatusCode::OK,
        &SignUpPage {
            shell: flash_shell("Create your account", &headers),
            email: String::new(),
            name: String::new(),
            error: None,
        },
    )
}

pub async fn sign_up(
    State(state): State<AppState>,
    meta: RequestMeta,
    PublicForm(form): PublicForm<SignUpForm>,
) -> Response {
    let input = Signup {
        email: form.email.clone(),
        name: form.name.clone(),
        password: SecretString::from(form.password),
    };
    match state.core.signup(input, &NATIVE, &meta).await {
        Ok(s) => signed_in(&state, s),
        Err(e @ (Error::Internal(_) | Error::Unavailable)) => super::failure(e),
        Err(e) => {
            let (status, text) = refusal(e);
            render(
                status,
                &SignUpPage {
                    shell: Shell::bare("Create your account"),
                    email: form.email,
                    name: form.name,
                    error: Some(text),
                },
            )
        }
    }
}

pub async fn show_forgot(headers: HeaderMap) -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            shell: flash_shell("Forgot your password?", &headers),
            sent: false,
            error: None,
        },
    )
}

/// Sends the reset link when the address has an account; the page says the same either way.
pub async fn forgot(
    State(state): State<AppState>,
    meta: RequestMeta,
    PublicForm(form): PublicForm<ForgotForm>,
) -> Response {
    let (status, sent, error) = match state.core.forgot_password(&form.email, &meta).await {
        Ok(()) => (StatusCode::OK, true, None),
        Err(e @ (Error::Internal(_) | Error::Unavailable)) => return super::failure(e),
        Err(e) => {
            let (status, text) = refusal(e);
            (status, false, Some(text))
        }
    };
    render(
        status,
        &ForgotPage {
            shell: Shell::bare("Forgot your password?"),
            sent,
            error,
        },
    )
}

/// Ends the console's session (every token of it) and removes the cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(_): Posted<Empty>,
) -> Response {
    let Some(session_id) = viewer.principal.session_id() else {
        return message(
            StatusCode::BAD_REQUEST,
            "Not signed in",
            "No session to end.",
        );
    };
    match state
        .core
        .end_session(viewer.user.id, session_id, "logout", &meta)
        .await
    {
        Ok(()) | Err(Error::NotFound) => {
            let mut r = see_other("/console/sign-in", Some(Flash::ok("You are signed out.")));
            r.headers_mut()
                .append(header::SET_COOKIE, session_cookie(&state, None));
            r
        }
        Err(e) => super::failure(e),
    }
}
