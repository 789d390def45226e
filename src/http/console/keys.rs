//! A workspace's API keys (service accounts): create one with the permissions it may use (its
//! secret shown this once, with a copy button), revoke, rotate.

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};
use chrono::Duration;
use serde::Deserialize;

use super::{
    done, refused, render, shown, shown_once, ActionPath, Empty, InWorkspace, Posted, Shell, Shown,
};
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
    let result = state
        .core
        .create_workspace_key(&here.access, input, &meta)
        .await
        .map(|(key, secret)| (key.name, secret));
    shown_once(result, here.shell("API key created", "keys"), to)
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
        "rotate" => {
            let result = state
                .core
                .rotate_workspace_key(&here.access, p.id, None, &meta)
                .await
                .map(|(key, secret)| (key.name, secret));
            shown_once(result, here.shell("API key rotated", "keys"), to)
        }
        _ => done(&to, Err(Error::NotFound)),
    }
}
