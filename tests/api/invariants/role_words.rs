//! A surface whose role words fold two roles into one (Pupil's `EDITOR` is editor and field
//! worker) must not turn a concurrent change back: the rule is judged inside the role-change
//! transaction, against the role the member has at that moment.

use futures::future::join;
use serde_json::json;

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(writing_editor_through_pupil_never_restores_a_field_worker_changed_meanwhile);

async fn writing_editor_through_pupil_never_restores_a_field_worker_changed_meanwhile(
    app: TestApp,
) {
    let owner = app.signup("owner@example.com", "Owner").await;
    let ws = app.workspace(&owner.access, "Crew").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, key) = app.api_key(&owner.access, json!({"name": "pupil"})).await;
    let worker = app.signup("worker@example.com", "Worker").await;
    app.add(&owner.access, &ws, &worker, "field_worker").await;
    let native = format!("/v1/workspaces/{ws}/members/{}", worker.id);
    let pupil = format!("/workspaces/{ws}/members/{}", worker.id);
    let (mut kept, mut changed) = (0, 0);
    for round in 0..40 {
        app.set_role(&owner.access, &ws, &worker.id, "field_worker")
            .await;
        let (lowered, written) = join(
            app.call(
                "PATCH",
                &native,
                Some(&owner.access),
                Some(json!({"role": "viewer"})),
            ),
            app.pupil("PATCH", &pupil, Some(&key), Some(json!({"role": "EDITOR"}))),
        )
        .await;
        assert_eq!(lowered.status, 200, "{}", lowered.text);
        assert_eq!(written.status, 200, "{}", written.text);
        let role = app
            .role_in_db(&ws, &worker.id)
            .await
            .expect("still a member");
        match role.as_str() {
            // Pupil's write came first (a field worker stays one), then the downgrade.
            "viewer" => kept += 1,
            // The downgrade came first; `EDITOR` then made the viewer an editor.
            "editor" => changed += 1,
            other => panic!("round {round}: {other}: EDITOR restored a role changed meanwhile"),
        }
    }
    assert_eq!(kept + changed, 40);
    // Alone, writing `EDITOR` back to a field worker keeps them a field worker.
    app.set_role(&owner.access, &ws, &worker.id, "field_worker")
        .await;
    let r = app
        .pupil("PATCH", &pupil, Some(&key), Some(json!({"role": "EDITOR"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"]["role"], "EDITOR");
    assert_eq!(
        app.role_in_db(&ws, &worker.id).await.as_deref(),
        Some("field_worker")
    );
}
