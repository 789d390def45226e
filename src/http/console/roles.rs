//! A workspace's roles: the built-in ones with their fixed permissions, and custom roles that
//! those who may manage roles create, edit (name, permissions) and delete (optionally moving
//! their holders to another role).

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};
use serde::Deserialize;

use super::{done, refused, render, Choice, InWorkspace, Posted, Shell};
use crate::{
    app::AppState,
    domain::{
        custom_role::{NewRole, RolePatch},
        permission::Permission,
        role::{Role, RoleName},
        session::RequestMeta,
        Error,
    },
    http::extract::Path,
};

pub struct Grant {
    name: &'static str,
    held: bool,
}

pub struct Row {
    key: String,
    name: String,
    description: String,
    base: &'static str,
    custom: bool,
    permissions: String,
    /// Every permission the editor may grant, ticked where this role holds it.
    grants: Vec<Grant>,
}

#[derive(Template)]
#[template(path = "console/roles.html")]
struct RolesPage {
    shell: Shell,
    ws: String,
    rows: Vec<Row>,
    manage: bool,
    /// Permissions the viewer may put in a role: those they hold.
    grantable: Vec<&'static str>,
    /// The built-in roles a custom role may be based on, with the one offered first.
    bases: Vec<(&'static str, bool)>,
    /// Roles a deleted role's holders may be moved to.
    replacements: Vec<Choice>,
}

/// Repeated `permission` fields arrive as a list.
#[derive(Deserialize)]
pub struct CreateForm {
    key: String,
    name: String,
    description: Option<String>,
    base: String,
    #[serde(default)]
    permission: Vec<String>,
}

#[derive(Deserialize)]
pub struct UpdateForm {
    name: String,
    #[serde(default)]
    permission: Vec<String>,
}

#[derive(Deserialize)]
pub struct DeleteForm {
    replacement: Option<String>,
}

#[derive(Deserialize)]
pub struct RolePath {
    #[expect(dead_code, reason = "resolved by InWorkspace")]
    ws: String,
    key: String,
}

pub async fn page(State(state): State<AppState>, here: InWorkspace) -> Response {
    let roles = match state.core.roles(&here.access).await {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let grantable: Vec<&'static str> = Permission::ALL
        .into_iter()
        .filter(|p| here.may(*p))
        .map(Permission::as_str)
        .collect();
    let page = RolesPage {
        ws: here.access.workspace.id.to_string(),
        replacements: roles
            .iter()
            .filter(|r| r.base != Role::Owner)
            .map(Choice::of)
            .collect(),
        rows: roles
            .into_iter()
            .map(|r| Row {
                grants: grantable
                    .iter()
                    .map(|g| Grant {
                        name: g,
                        held: r.permissions.iter().any(|p| p == g),
                    })
                    .collect(),
                custom: r.id.is_some(),
                permissions: r.permissions.join(", "),
                base: r.base.as_str(),
                description: r.description.unwrap_or_default(),
                key: r.key,
                name: r.name,
            })
            .collect(),
        manage: here.may(Permission::RolesManage),
        grantable,
        bases: Role::ALL
            .into_iter()
            .filter(|r| *r != Role::Owner)
            .map(|r| (r.as_str(), r == Role::Viewer))
            .collect(),
        shell: here.shell("Roles", "roles"),
    };
    render(StatusCode::OK, &page)
}

pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Posted(form): Posted<CreateForm>,
) -> Response {
    let to = here.path("roles");
    let Some(base) = Role::parse(&form.base) else {
        let e = Error::invalid("base", "invalid", "choose the built-in role it is based on");
        return done(&to, Err(e));
    };
    let input = NewRole {
        key: form.key.trim().to_owned(),
        name: form.name.trim().to_owned(),
        description: form
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty()),
        base,
        permissions: form.permission,
    };
    let result = state
        .core
        .create_role(&here.access, input, &meta)
        .await
        .map(|r| format!("Role “{}” created.", r.name));
    done(&to, result)
}

pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Path(p): Path<RolePath>,
    Posted(form): Posted<UpdateForm>,
) -> Response {
    let patch = RolePatch {
        name: Some(form.name.trim().to_owned()),
        permissions: Some(form.permission),
        ..RolePatch::default()
    };
    let result = state
        .core
        .update_role(&here.access, &p.key, patch, &meta)
        .await
        .map(|r| format!("Role “{}” saved.", r.name));
    done(&here.path("roles"), result)
}

pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Path(p): Path<RolePath>,
    Posted(form): Posted<DeleteForm>,
) -> Response {
    let replacement = form
        .replacement
        .filter(|r| !r.is_empty())
        .map(|r| RoleName::parse(&r));
    let result = state
        .core
        .delete_role(&here.access, &p.key, replacement, &meta)
        .await
        .map(|()| "Role deleted.".to_owned());
    done(&here.path("roles"), result)
}
