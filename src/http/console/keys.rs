//! A workspace's API keys (service accounts): create one with the permissions it may use (its
//! secret shown this once, with a copy button), revoke, rotate.

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};
use chrono::Duration;
use serde::Deserialize;

use super::{done, refused, render, shown, ActionPath, Empty, InWorkspace, Posted, Shell, Shown};
use crate::{
    app::AppState,
    domain::{
        permission::Permission,
        session::RequestMeta,
        workspace_key::{NewKey, WorkspaceApiKey},
        Error,
    },
    http::extract::Path,
};

pub struct Row {
    id: String,
    name: String,
    prefix: String,
    permissions: String,
    created: Shown,
    expires: Option<Shown>,
    last_used: Option<Shown>,
    rotated: bool,
}

pub struct Grant {
    name: &'static str,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    shell: Shell,
    ws: String,
    rows: Vec<Row>,
    grants: Vec<Grant>,
}

/// The page that shows a new secret, once.
#[derive(Template)]
#[template(path = "console/secret.html")]
pub struct SecretPage {
    pub shell: Shell,
    pub heading: String,
    pub name: String,
    pub secret: String,
    pub back: String,
}

/// The form's list of permissions arrives as repeated `permission` fields.
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    permission: Vec<String>,
    /// Days until it expires; empty for never.
    expires_in_days: Option<String>,
}

fn row(k: WorkspaceApiKey) -> Row {
    Row {
        id: k.id.to_string(),
        name: k.name,
        prefix: k.prefix,
        permissions: k.permissions.replace(' ', ", "),
        created: shown(k.created_at),
        expires: k.expires_at.map(shown),
        last_used: k.last_used_at.map(shown),
        rotated: k.replaced_by.is_some(),
    }
}

pub async fn page(State(state): State<AppState>, here: InWorkspace) -> Response {
    let keys = match state.core.workspace_keys(&here.access).await {
        Ok(k) => k,
        Err(e) => return refused(e),
    };
    let grants = Permission::ALL
        .into_iter()
        .filter(|p| here.may(*p))
        .map(|p| Grant { name: p.as_str() })
        .collect();
    let page = KeysPage {
        ws: here.access.workspace.id.to_string(),
        rows: keys.into_iter().map(row).collect(),
        grants,
        shell: here.shell("API keys", "keys"),
    };
    render(StatusCode::OK, &page)
}

fn secret_page(
    here: &InWorkspace,
    heading: &str,
    key: &WorkspaceApiKey,
    secret: String,
) -> Response {
    render(
        StatusCode::OK,
        &SecretPage {
            shell: here.shell(heading, "keys"),
            heading: heading.into(),
            name: key.name.clone(),
            secret,
            back: here.path("api-keys"),
        },
    )
}

pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Posted(form): Posted<CreateForm>,
) -> Response {
    let to = here.path("api-keys");
    let days = match form.expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => match d.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => Some(d),
            _ => {
                let e = Error::invalid("expires_in_days", "invalid", "a number of days, 1 to 3650");
                return done(&to, Err(e));
            }
        },
    };
    let input = NewKey {
        name: form.name,
        permissions: form.permission,
        expires_at: days.map(|d| state.core.clock.now() + Duration::days(d)),
    };
    match state
        .core
        .create_workspace_key(&here.access, input, &meta)
        .await
    {
        Ok((key, secret)) => secret_page(&here, "API key created", &key, secret),
        Err(e) => done(&to, Err(e)),
    }
}

/// Revoke a key, or rotate it (a successor with a new secret; the old one keeps working for
/// the default grace period).
pub async fn act(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Path(p): Path<ActionPath>,
    Posted(_): Posted<Empty>,
) -> Response {
    let to = here.path("api-keys");
    match p.action.as_str() {
        "revoke" => {
            let result = state
                .core
                .revoke_workspace_key(&here.access, p.id, &meta)
                .await
                .map(|()| "API key revoked; it stops working at once.".to_owned());
            done(&to, result)
        }
        "rotate" => match state
            .core
            .rotate_workspace_key(&here.access, p.id, None, &meta)
            .await
        {
            Ok((key, secret)) => secret_page(&here, "API key rotated", &key, secret),
            Err(e) => done(&to, Err(e)),
        },
        _ => done(&to, Err(Error::NotFound)),
    }
}
