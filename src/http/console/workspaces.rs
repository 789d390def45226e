//! The viewer's workspaces (the switcher's full list, and creating one) and a workspace's
//! settings: its name and profile, requiring a second factor, deleting it by typing its name.

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};
use serde::Deserialize;

use super::{done, render, see_other, shown, InWorkspace, Posted, Shell, Shown, Viewer};
use crate::{
    app::AppState,
    domain::{
        permission::Permission,
        session::RequestMeta,
        workspace::{NewWorkspaceInput, WorkspacePatch},
        Error,
    },
};

pub struct Row {
    id: String,
    name: String,
    slug: String,
    role: &'static str,
    personal: bool,
}

#[derive(Template)]
#[template(path = "console/workspaces.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    shell: Shell,
    ws: String,
    name: String,
    slug: String,
    description: String,
    website: String,
    plan: String,
    members: u64,
    created: Shown,
    require_mfa: bool,
    personal: bool,
    may_update: bool,
    may_require_mfa: bool,
    may_delete: bool,
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
}

#[derive(Deserialize)]
pub struct SettingsForm {
    name: String,
    description: Option<String>,
    website: Option<String>,
    /// A checkbox: present when ticked. Only sent by an owner's form.
    require_mfa: Option<String>,
    /// Whether the form had the checkbox at all.
    mfa_shown: Option<String>,
}

#[derive(Deserialize)]
pub struct DeleteForm {
    confirm_name: String,
}

pub async fn list(viewer: Viewer) -> Response {
    let rows = viewer
        .workspaces
        .iter()
        .map(|(w, r)| Row {
            id: w.id.to_string(),
            name: w.name.clone(),
            slug: w.slug.clone(),
            role: r.as_str(),
            personal: w.is_personal,
        })
        .collect();
    render(
        StatusCode::OK,
        &ListPage {
            shell: viewer.shell("Workspaces", None),
            rows,
        },
    )
}

pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    viewer: Viewer,
    Posted(form): Posted<CreateForm>,
) -> Response {
    let input = NewWorkspaceInput {
        name: form.name.trim().to_owned(),
        ..NewWorkspaceInput::default()
    };
    match state
        .core
        .create_workspace(&viewer.principal, input, &meta)
        .await
    {
        Ok(w) => see_other(
            &format!("/console/w/{}/members", w.id),
            Some(super::Flash::ok(format!("Workspace “{}” created.", w.name))),
        ),
        Err(e) => done("/console/workspaces", Err(e)),
    }
}

/// `/console/w/{ws}`: the workspace's first section.
pub async fn open(here: InWorkspace) -> Response {
    let section = if here.may(Permission::MembersList) {
        "members"
    } else {
        "settings"
    };
    let to = here.path(section);
    see_other(&to, here.viewer.flash)
}

pub async fn settings(here: InWorkspace) -> Response {
    let w = &here.access.workspace;
    let page = SettingsPage {
        ws: w.id.to_string(),
        name: w.name.clone(),
        slug: w.slug.clone(),
        description: w.profile.description.clone().unwrap_or_default(),
        website: w.profile.website.clone().unwrap_or_default(),
        plan: w.plan.clone(),
        members: w.member_count,
        created: shown(w.created_at),
        require_mfa: w.require_mfa,
        personal: w.is_personal,
        may_update: here.may(Permission::WorkspaceUpdate),
        may_require_mfa: here.access.may_set_require_mfa(),
        may_delete: here.access.may_delete_workspace(),
        shell: here.shell("Settings", "settings"),
    };
    render(StatusCode::OK, &page)
}

/// An empty text field clears the field.
fn optional(text: Option<String>) -> Option<Option<String>> {
    text.map(|t| Some(t.trim().to_owned()).filter(|t| !t.is_empty()))
}

pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Posted(form): Posted<SettingsForm>,
) -> Response {
    let patch = WorkspacePatch {
        name: Some(form.name.trim().to_owned()),
        description: optional(form.description),
        website: optional(form.website),
        require_mfa: form.mfa_shown.map(|_| form.require_mfa.is_some()),
        ..WorkspacePatch::default()
    };
    let result = state
        .core
        .update_workspace(&here.access, patch, &meta)
        .await
        .map(|_| "Settings saved.".to_owned());
    done(&here.path("settings"), result)
}

/// Deletes the workspace once its name is typed exactly.
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Posted(form): Posted<DeleteForm>,
) -> Response {
    if form.confirm_name.trim() != here.access.workspace.name {
        let e = Error::invalid(
            "confirm_name",
            "mismatch",
            "type the workspace's name exactly to delete it",
        );
        return done(&here.path("settings"), Err(e));
    }
    match state.core.delete_workspace(&here.access, &meta).await {
        Ok(()) => see_other(
            "/console/workspaces",
            Some(super::Flash::ok(format!(
                "Workspace “{}” deleted.",
                here.access.workspace.name
            ))),
        ),
        Err(e) => done(&here.path("settings"), Err(e)),
    }
}
