//! A workspace's members: search, role filter and keyset pages (fast at any depth), and for
//! those who may manage members a role control and removal on each row.

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    done, query_string, refused, render, shown, Choice, Empty, InWorkspace, Posted, Shell, Shown,
};
use crate::{
    app::AppState,
    domain::{
        member::MemberFilter,
        paging::PageRequest,
        policy::NATIVE,
        role::{role_key, RoleName},
        session::RequestMeta,
    },
    http::extract::Path,
};

/// Members per page.
const PAGE: u32 = 50;

pub struct Row {
    user_id: String,
    name: String,
    email: String,
    role_key: String,
    role_name: String,
    joined: Shown,
    you: bool,
    /// Whether the role control lists the member's role.
    listed: bool,
    /// Whether the viewer may change this member's role, and remove them.
    change: bool,
    remove: bool,
}

#[derive(Template)]
#[template(path = "console/members.html")]
struct MembersPage {
    shell: Shell,
    ws: String,
    rows: Vec<Row>,
    total: u64,
    q: String,
    role: String,
    /// Every role of the workspace, for the filter.
    roles: Vec<Choice>,
    /// The roles the viewer may hand out.
    assignable: Vec<Choice>,
    /// Whether any row offers an action (the actions column is shown).
    manage: bool,
    next: Option<String>,
    paged: bool,
    /// The filters as a query string, for the pager.
    query: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    role: Option<String>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct MemberPath {
    #[expect(dead_code, reason = "resolved by InWorkspace")]
    ws: String,
    user_id: Uuid,
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn page(
    State(state): State<AppState>,
    here: InWorkspace,
    Query(query): Query<ListQuery>,
) -> Response {
    let access = &here.access;
    let q = query.q.unwrap_or_default();
    let role_key_filter = query.role.filter(|r| !r.is_empty());
    let role_filter = match &role_key_filter {
        None => None,
        Some(key) => match state.core.role_filter(access, key).await {
            Ok(f) => Some(f),
            Err(e) => return refused(e),
        },
    };
    let filter = match MemberFilter::new(Some(&q), role_filter) {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    let request = match PageRequest::parse(Some(PAGE), query.cursor.as_deref()) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let (found, roles) = match tokio::try_join!(
        state.core.members(access, &filter, &request),
        state.core.roles(access)
    ) {
        Ok(both) => both,
        Err(e) => return refused(e),
    };
    let offers = state.core.offers(access, &roles);
    let choices: Vec<Choice> = roles.iter().map(Choice::of).collect();
    let assignable: Vec<Choice> = offers.grantable().map(Choice::of).collect();
    let rows: Vec<Row> = found
        .data
        .into_iter()
        .map(|m| {
            let key = role_key(m.role, m.custom_role.as_ref());
            let you = m.user_id == access.principal.user_id;
            let (change, remove) = offers.on_member(&key, you);
            Row {
                user_id: m.user_id.to_string(),
                listed: assignable.iter().any(|c| c.key == key),
                change,
                remove,
                role_key: key,
                role_name: m
                    .custom_role
                    .as_ref()
                    .map_or_else(|| m.role.as_str().to_owned(), |c| c.name.clone()),
                you,
                name: m.name,
                email: m.email,
                joined: shown(m.joined_at),
            }
        })
        .collect();
    let page = MembersPage {
        ws: access.workspace.id.to_string(),
        total: found.total,
        q: q.clone(),
        role: role_key_filter.clone().unwrap_or_default(),
        roles: choices,
        manage: rows_manageable(&rows),
        rows,
        assignable,
        next: found.next_cursor.map(|c| c.encode()),
        paged: query.cursor.is_some(),
        query: query_string([
            ("q", Some(q.as_str())),
            ("role", role_key_filter.as_deref()),
        ]),
        shell: here.shell("Members", "members"),
    };
    render(StatusCode::OK, &page)
}

fn rows_manageable(rows: &[Row]) -> bool {
    rows.iter().any(|r| r.change || r.remove)
}

pub async fn change_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Path(p): Path<MemberPath>,
    Posted(form): Posted<RoleForm>,
) -> Response {
    let result = state
        .core
        .change_role(
            &here.access,
            p.user_id,
            RoleName::parse(&form.role),
            NATIVE.role_words,
            &meta,
        )
        .await
        .map(|m| {
            format!(
                "{} is now {}.",
                m.name,
                role_key(m.role, m.custom_role.as_ref())
            )
        });
    done(&here.path("members"), result)
}

pub async fn remove(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Path(p): Path<MemberPath>,
    Posted(_): Posted<Empty>,
) -> Response {
    let result = state
        .core
        .remove_member(&here.access, p.user_id, &meta)
        .await
        .map(|()| "Member removed.".to_owned());
    done(&here.path("members"), result)
}
