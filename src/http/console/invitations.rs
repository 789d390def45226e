//! A workspace's invitations: invite one address or many (pasted, one per line, or a CSV whose
//! first column is the address), filter by status, and resend, extend or cancel a pending one.

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{
    done, query_string, refused, render, shown, ActionPath, Choice, Empty, InWorkspace, Posted,
    Shell, Shown,
};
use crate::{
    app::AppState,
    domain::{
        invitation::{InviteRequest, NewExpiry, Status},
        paging::PageRequest,
        policy::NATIVE,
        role::{role_key, RoleName},
        session::RequestMeta,
        Error,
    },
    http::extract::Path,
};

/// Invitations per page.
const PAGE: u32 = 50;
/// Addresses one paste may invite (the API's bulk limit).
const MAX_BATCH: usize = 100;

pub struct Row {
    id: String,
    email: String,
    role: String,
    status: &'static str,
    pending: bool,
    inviter: String,
    created: Shown,
    expires: Shown,
}

#[derive(Template)]
#[template(path = "console/invitations.html")]
struct InvitationsPage {
    shell: Shell,
    ws: String,
    rows: Vec<Row>,
    total: u64,
    status: String,
    /// Each status with whether the filter holds it.
    statuses: Vec<(&'static str, bool)>,
    roles: Vec<Choice>,
    next: Option<String>,
    paged: bool,
    /// The filters as a query string, for the pager.
    query: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct InviteForm {
    /// One address, or many: one per line, or separated by commas or semicolons; a pasted CSV
    /// keeps its first column.
    emails: String,
    role: String,
}

pub async fn page(
    State(state): State<AppState>,
    here: InWorkspace,
    Query(query): Query<ListQuery>,
) -> Response {
    let access = &here.access;
    let status_text = query.status.filter(|s| !s.is_empty());
    let status = match status_text.as_deref().map(|s| (s, Status::parse(s))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((s, None)) => {
            return refused(Error::invalid(
                "status",
                "invalid",
                format!("{s:?} is not an invitation status"),
            ))
        }
    };
    let request = match PageRequest::parse(Some(PAGE), query.cursor.as_deref()) {
        Ok(r) => PageRequest {
            newest_first: true,
            ..r
        },
        Err(e) => return refused(e),
    };
    let (found, roles) = match tokio::try_join!(
        state.core.invitations(access, status, &request),
        state.core.roles(access)
    ) {
        Ok(both) => both,
        Err(e) => return refused(e),
    };
    let now = state.core.clock.now();
    let rows = found
        .data
        .into_iter()
        .map(|i| {
            let status = i.status_at(now);
            Row {
                id: i.id.to_string(),
                role: role_key(i.role, i.custom.as_ref().map(|(label, _)| label)),
                status: status.as_str(),
                pending: status == Status::Pending,
                inviter: i.inviter_email.clone().unwrap_or_default(),
                created: shown(i.created_at),
                expires: shown(i.expires_at),
                email: i.email,
            }
        })
        .collect();
    let page = InvitationsPage {
        ws: access.workspace.id.to_string(),
        rows,
        total: found.total,
        statuses: ["pending", "accepted", "declined", "revoked", "expired"]
            .into_iter()
            .map(|s| (s, status_text.as_deref() == Some(s)))
            .collect(),
        status: status_text.clone().unwrap_or_default(),
        roles: state
            .core
            .offers(access, &roles)
            .grantable()
            .map(Choice::of)
            .collect(),
        next: found.next_cursor.map(|c| c.encode()),
        paged: query.cursor.is_some(),
        query: query_string([("status", status_text.as_deref())]),
        shell: here.shell("Invitations", "invitations"),
    };
    render(StatusCode::OK, &page)
}

/// The addresses of a paste: one per line or separated by `,` or `;`; in a CSV row only the
/// first cell counts (a header row whose first cell is not an address is dropped).
fn addresses(text: &str) -> Vec<String> {
    let csv = text.lines().filter(|l| !l.trim().is_empty()).count() > 1
        && text.lines().all(|l| l.trim().is_empty() || l.contains(','));
    let mut found = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = if csv {
            line.split(',').take(1).collect()
        } else {
            line.split([',', ';']).collect()
        };
        for cell in cells {
            let cell = cell.trim().trim_matches('"').trim();
            // A CSV's header row: a first cell, before any address, that is not one.
            let header = csv && found.is_empty() && !cell.contains('@');
            if !cell.is_empty() && !header {
                found.push(cell.to_owned());
            }
        }
    }
    found
}

pub async fn invite(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Posted(form): Posted<InviteForm>,
) -> Response {
    let to = here.path("invitations");
    let emails = addresses(&form.emails);
    let request = |email: String| InviteRequest {
        email,
        role: RoleName::parse(&form.role),
        lifetime_days: None,
        send_email: true,
    };
    match emails.len() {
        0 => done(
            &to,
            Err(Error::invalid(
                "emails",
                "required",
                "enter at least one email address",
            )),
        ),
        1 => {
            let result = state
                .core
                .invite(&here.access, request(emails[0].clone()), &meta)
                .await
                .map(|i| format!("Invitation sent to {}.", i.invitation.email));
            done(&to, result)
        }
        n if n > MAX_BATCH => done(
            &to,
            Err(Error::invalid(
                "emails",
                "too_many",
                format!("at most {MAX_BATCH} addresses at once ({n} given)"),
            )),
        ),
        _ => {
            let requests = emails.iter().cloned().map(request).collect();
            let outcomes = match state.core.invite_many(&here.access, requests, &meta).await {
                Ok(o) => o,
                Err(e) => return done(&to, Err(e)),
            };
            let mut sent = 0;
            let mut refused = Vec::new();
            for (email, outcome) in emails.iter().zip(outcomes) {
                match outcome {
                    Ok(_) => sent += 1,
                    Err(e) => refused.push(format!("{email}: {}", super::said(&e))),
                }
            }
            let text = if refused.is_empty() {
                format!("{sent} invitations sent.")
            } else {
                format!("{sent} invitations sent; not sent: {}", refused.join(" "))
            };
            if refused.is_empty() {
                done(&to, Ok(text))
            } else {
                super::see_other(&to, Some(super::Flash { error: true, text }))
            }
        }
    }
}

/// Resend, extend (by the default lifetime from now) or cancel one invitation.
pub async fn act(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Path(p): Path<ActionPath>,
    Posted(_): Posted<Empty>,
) -> Response {
    let access = &here.access;
    let result = match p.action.as_str() {
        "resend" => state
            .core
            .resend_invitation(access, p.id, &NATIVE, &meta)
            .await
            .map(|i| format!("Invitation sent again to {}.", i.invitation.email)),
        "extend" => state
            .core
            .extend_invitation(access, p.id, NewExpiry::InDays(None), &meta)
            .await
            .map(|i| {
                format!(
                    "The invitation to {} now expires {}.",
                    i.email,
                    shown(i.expires_at).text
                )
            }),
        "cancel" => state
            .core
            .cancel_invitation(access, p.id, &meta)
            .await
            .map(|()| "Invitation cancelled.".to_owned()),
        _ => Err(Error::NotFound),
    };
    done(&here.path("invitations"), result)
}

#[cfg(test)]
mod tests {
    use super::addresses;

    #[test]
    fn a_paste_of_lines_commas_and_semicolons_gives_every_address() {
        assert_eq!(
            addresses("a@x.test\n b@x.test ; c@x.test,\n\n"),
            ["a@x.test", "b@x.test", "c@x.test"]
        );
    }

    #[test]
    fn a_csv_keeps_its_first_column_and_drops_its_header() {
        assert_eq!(
            addresses("email,name\na@x.test,Ann\n\"b@x.test\",Bob\n"),
            ["a@x.test", "b@x.test"]
        );
    }
}
