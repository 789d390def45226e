//! A workspace's webhook endpoints: add one (its signing secret shown once), pause, resume or
//! delete it, and see an endpoint's recent deliveries with a button to send one again.

use askama::Template;
use axum::{extract::State, http::StatusCode, response::Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    done, refused, render, shown, shown_once, ActionPath, Empty, InWorkspace, Posted, Shell, Shown,
};
use crate::{
    app::AppState,
    domain::{
        paging::PageRequest,
        policy::NATIVE,
        session::RequestMeta,
        webhook::{
            DeliveriesOf, DeliverySettings, Dialect, Endpoint, EndpointPatch, NewEndpointInput,
            Subscription,
        },
        Error,
    },
    http::extract::Path,
};

/// Deliveries shown on an endpoint's page.
const RECENT: u32 = 50;

pub struct Row {
    id: String,
    name: String,
    url: String,
    events: String,
    enabled: bool,
    failing: i64,
    created: Shown,
}

pub struct DeliveryRow {
    event_id: String,
    event_type: String,
    status: &'static str,
    attempts: i64,
    last_status: String,
    last_error: String,
    created: Shown,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    shell: Shell,
    ws: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct EndpointPage {
    shell: Shell,
    ws: String,
    endpoint: Row,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Deserialize)]
pub struct CreateForm {
    url: String,
    name: Option<String>,
}

#[derive(Deserialize)]
pub struct IdPath {
    #[expect(dead_code, reason = "resolved by InWorkspace")]
    ws: String,
    id: Uuid,
}

#[derive(Deserialize)]
pub struct DeliveryPath {
    #[expect(dead_code, reason = "resolved by InWorkspace")]
    ws: String,
    id: Uuid,
    event_id: Uuid,
}

fn row(e: Endpoint) -> Row {
    Row {
        id: e.id.to_string(),
        events: match &e.subscription {
            Subscription::All => "every event".into(),
            Subscription::Only(types) => types.iter().copied().collect::<Vec<_>>().join(", "),
        },
        enabled: e.enabled,
        failing: e.failure_streak,
        created: shown(e.created_at),
        // An endpoint may be unnamed: its URL names its link then.
        name: if e.name.trim().is_empty() {
            e.url.clone()
        } else {
            e.name
        },
        url: e.url,
    }
}

pub async fn page(State(state): State<AppState>, here: InWorkspace) -> Response {
    match state.core.webhooks(&here.access).await {
        Ok(list) => render(
            StatusCode::OK,
            &WebhooksPage {
                ws: here.access.workspace.id.to_string(),
                rows: list.into_iter().map(row).collect(),
                shell: here.shell("Webhooks", "webhooks"),
            },
        ),
        Err(e) => refused(e),
    }
}

pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Posted(form): Posted<CreateForm>,
) -> Response {
    let input = NewEndpointInput {
        name: form
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        url: form.url.trim().to_owned(),
        description: None,
        event_types: None,
        enabled: None,
        dialect: Dialect::Native,
        settings: DeliverySettings::default(),
    };
    let result = state
        .core
        .create_webhook(&here.access, input, &NATIVE, &meta)
        .await
        .map(|(endpoint, secret)| (endpoint.name, secret));
    shown_once(
        result,
        here.shell("Webhook endpoint added", "webhooks"),
        here.path("webhooks"),
    )
}

/// An endpoint and its most recent deliveries.
pub async fn endpoint(
    State(state): State<AppState>,
    here: InWorkspace,
    Path(p): Path<IdPath>,
) -> Response {
    let request = PageRequest {
        newest_first: true,
        ..PageRequest::first(RECENT)
    };
    let found = tokio::try_join!(
        state.core.webhook(&here.access, p.id),
        state
            .core
            .webhook_deliveries(&here.access, p.id, DeliveriesOf::default(), &request)
    );
    let (endpoint, deliveries) = match found {
        Ok(both) => both,
        Err(e) => return refused(e),
    };
    let page = EndpointPage {
        ws: here.access.workspace.id.to_string(),
        endpoint: row(endpoint),
        deliveries: deliveries
            .into_iter()
            .map(|d| DeliveryRow {
                event_id: d.event_id.to_string(),
                event_type: d.event_type,
                status: d.status.as_str(),
                attempts: d.attempts,
                last_status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                last_error: d.last_error.unwrap_or_default(),
                created: shown(d.created_at),
            })
            .collect(),
        shell: here.shell("Webhook endpoint", "webhooks"),
    };
    render(StatusCode::OK, &page)
}

/// Pause, resume or delete an endpoint.
pub async fn act(
    State(state): State<AppState>,
    meta: RequestMeta,
    here: InWorkspace,
    Path(p): Path<ActionPath>,
    Posted(_): Posted<Empty>,
) -> Response {
    let access = &here.access;
    let toggle = |enabled: bool| EndpointPatch {
        enabled: Some(enabled),
        ..EndpointPatch::default()
    };
    let result = match p.action.as_str() {
        "pause" => state
            .core
            .update_webhook(access, p.id, toggle(false), &NATIVE, &meta)
            .await
            .map(|e| format!("“{}” paused: events queue until it is resumed.", e.name)),
        "resume" => state
            .core
            .update_webhook(access, p.id, toggle(true), &NATIVE, &meta)
            .await
            .map(|e| format!("“{}” resumed.", e.name)),
        "delete" => state
            .core
            .delete_webhook(access, p.id, &meta)
            .await
            .map(|()| "Webhook endpoint deleted.".to_owned()),
        _ => Err(Error::NotFound),
    };
    done(&here.path("webhooks"), result)
}

/// Sends one event to the endpoint again.
pub async fn redeliver(
    State(state): State<AppState>,
    here: InWorkspace,
    Path(p): Path<DeliveryPath>,
    Posted(_): Posted<Empty>,
) -> Response {
    let result = state
        .core
        .redeliver_webhook(&here.access, p.id, p.event_id)
        .await
        .map(|d| format!("The {} event is queued to be sent again.", d.event_type));
    done(&here.path(&format!("webhooks/{}", p.id)), result)
}
