//! Every email Roster sends, as an `insta` snapshot of what the outbox holds (recipient,
//! subject, text and HTML bodies) with the link's secret and the expiry redacted.

use serde_json::json;

use crate::{
    helpers::{redacted_text, Raw, TestApp},
    on_both_databases,
};

on_both_databases!(the_invitation_email_and_its_resent_copy_keep_their_words);

/// The queued messages, oldest first, as one text per message.
async fn queued(app: &TestApp) -> Vec<String> {
    let sql = "SELECT recipient, subject, text_body, html_body FROM outbox \
               WHERE status = 'queued' ORDER BY created_at, id";
    let rows: Vec<(String, String, Option<String>, Option<String>)> = match &app.raw {
        Raw::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
        Raw::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
    }
    .expect("outbox");
    rows.into_iter()
        .map(|(to, subject, text, html)| {
            let body = format!(
                "To: {to}\nSubject: {subject}\n\n{}\n---- HTML ----\n{}",
                text.unwrap_or_default(),
                html.unwrap_or_default()
            );
            redacted_text(&body)
        })
        .collect()
}

async fn the_invitation_email_and_its_resent_copy_keep_their_words(app: TestApp) {
    let owner = app.signup("ada@example.com", "Ada <Lovelace> & Co").await;
    let ws = app.workspace(&owner.access, "Analytical \"Engines\"").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/workspaces/{ws}/invitations");
    let r = app
        .post(
            &path,
            Some(&owner.access),
            json!({"email": "charles@example.com", "role": "editor"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mail = queued(&app).await;
    assert_eq!(mail.len(), 1);
    insta::assert_snapshot!("invitation", mail[0]);

    let id = r.body["id"].as_str().expect("id");
    let r = app
        .post(
            &format!("{path}/{id}/resend"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mail = queued(&app).await;
    assert_eq!(mail.len(), 1, "the first copy is withdrawn");
    insta::assert_snapshot!("invitation_resent", mail[0]);
}
