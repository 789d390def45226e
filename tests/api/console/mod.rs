//! `/console` over real HTTP, on both databases: the cookie a sign-in sets and what it opens,
//! the CSRF guard (a form without this session's token changes nothing), revocation (a session
//! ended through the API, a removed member), what a viewer is offered, and bad input as 4xx
//! pages. (tests/browser/stories/console.mjs clicks through the same pages in Chromium.)

use reqwest::redirect::Policy;
use serde_json::json;

use crate::helpers::{Account, TestApp, PASSWORD};
use crate::native::mfa::{next_step, Authenticator};
use crate::on_both_databases;

on_both_databases!(
    a_console_sign_in_sets_an_http_only_cookie_that_opens_the_workspace_pages,
    a_wrong_password_gets_the_form_again_and_no_cookie,
    a_form_without_this_sessions_csrf_token_changes_nothing,
    a_form_another_site_posts_is_refused_even_with_the_token,
    a_session_ended_through_the_api_closes_the_console_at_once,
    a_removed_member_is_refused_the_workspace_at_their_next_request,
    a_viewer_is_offered_no_role_control_and_a_posted_change_is_refused,
    an_owner_changes_a_role_and_the_database_and_audit_log_show_it,
    bad_input_gets_a_page_with_a_4xx_never_a_5xx,
    an_owner_creates_edits_and_deletes_a_custom_role,
    the_usage_page_shows_the_month_against_the_plan_and_a_bar_per_day,
    a_webhook_endpoint_is_added_with_its_secret_shown_once_then_paused_and_deleted,
    two_factor_set_up_in_the_console_is_asked_at_the_next_console_sign_in,
    an_admin_is_offered_controls_only_over_the_members_the_rules_let_them_manage,
    a_members_page_reads_its_session_and_standing_in_one_statement,
);

/// A browser's view of the console: no redirect followed, one cookie jar of our own.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: String,
    /// The one-shot message cookie, kept from one answer to the next request as a browser does.
    flash: std::sync::Mutex<Option<String>>,
}

struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    text: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            cookie: String::new(),
            flash: std::sync::Mutex::new(None),
        }
    }

    async fn read(r: reqwest::RequestBuilder) -> Page {
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let text = r.text().await.expect("body");
        Page {
            status,
            location,
            set_cookie,
            text,
        }
    }

    fn cookies(&self) -> String {
        let flash = self.flash.lock().expect("flash").clone();
        match flash {
            Some(f) => format!("roster_console={}; roster_flash={f}", self.cookie),
            None => format!("roster_console={}", self.cookie),
        }
    }

    /// Keeps (or drops) the message cookie an answer sets.
    fn keep(&self, page: Page) -> Page {
        if let Some(c) = page
            .set_cookie
            .iter()
            .find(|c| c.starts_with("roster_flash="))
        {
            let value = c["roster_flash=".len()..].split(';').next().unwrap_or("");
            *self.flash.lock().expect("flash") =
                (!value.is_empty() && !c.contains("Max-Age=0")).then(|| value.to_owned());
        }
        page
    }

    async fn get(&self, path: &str) -> Page {
        let page = Self::read(
            self.http
                .get(self.app.url(path))
                .header("cookie", self.cookies()),
        )
        .await;
        self.keep(page)
    }

    /// A form post as the page's own form sends it (same-origin).
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let page = Self::read(
            self.http
                .post(self.app.url(path))
                .header("cookie", self.cookies())
                .header("sec-fetch-site", "same-origin")
                .form(form),
        )
        .await;
        self.keep(page)
    }

    /// Signs in through the console's form and keeps the cookie.
    async fn sign_in(&mut self, email: &str) -> Page {
        let page = self
            .post(
                "/console/sign-in",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        if let Some(c) = page
            .set_cookie
            .iter()
            .find(|c| c.starts_with("roster_console="))
        {
            let value = c["roster_console=".len()..].split(';').next().unwrap_or("");
            self.cookie = value.to_owned();
        }
        page
    }

    /// The value of the first input named `name` in `html`.
    fn input(html: &str, name: &str) -> String {
        let marker = format!("id=\"{name}\" readonly value=\"");
        let at = html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {html}"));
        let rest = &html[at + marker.len()..];
        rest[..rest.find('"').expect("end")].to_owned()
    }

    /// The CSRF token of the page at `path`.
    async fn csrf(&self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let at = page
            .text
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &page.text[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end")].to_owned()
    }
}

async fn owner_with_workspace(app: &TestApp, email: &str, name: &str) -> (Account, String) {
    let owner = app.signup(email, "Olive Owner").await;
    let ws = app.workspace(&owner.access, name).await;
    (owner, ws["id"].as_str().expect("id").to_owned())
}

async fn a_console_sign_in_sets_an_http_only_cookie_that_opens_the_workspace_pages(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "own@example.com", "Harbour").await;
    let mut b = Browser::new(&app);
    let first = b.get(&format!("/console/w/{ws}/members")).await;
    assert_eq!(first.status, 303, "without a cookie: to sign-in");
    assert_eq!(first.location.as_deref(), Some("/console/sign-in"));

    let signed = b.sign_in(&owner.email).await;
    assert_eq!(signed.status, 303, "{}", signed.text);
    let cookie = signed
        .set_cookie
        .iter()
        .find(|c| c.starts_with("roster_console="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(
        !cookie.contains("Secure"),
        "no Secure flag on an http public URL"
    );
    assert!(
        b.cookie.starts_with("rt_"),
        "the cookie is the session's token"
    );
    assert_eq!(
        app.rows("sessions", "ended_at IS NULL").await,
        2,
        "the API's sign-up session and the console's"
    );

    for section in ["members", "invitations", "api-keys", "audit", "settings"] {
        let page = b.get(&format!("/console/w/{ws}/{section}")).await;
        assert_eq!(page.status, 200, "{section}: {}", page.text);
        assert!(page.text.contains("Harbour"), "{section}");
    }
    let members = b.get(&format!("/console/w/{ws}/members")).await;
    assert!(members.text.contains("own@example.com"));
    for page in [
        b.get("/console/account").await,
        b.get("/console/workspaces").await,
    ] {
        assert_eq!(page.status, 200, "{}", page.text);
    }
}

async fn a_wrong_password_gets_the_form_again_and_no_cookie(app: TestApp) {
    app.signup("wrong@example.com", "Wrong").await;
    let b = Browser::new(&app);
    let page = b
        .post(
            "/console/sign-in",
            &[
                ("email", "wrong@example.com"),
                ("password", "not it at all"),
            ],
        )
        .await;
    assert_eq!(page.status, 401);
    assert!(page.text.contains("do not match"), "{}", page.text);
    assert!(page
        .set_cookie
        .iter()
        .all(|c| !c.starts_with("roster_console=rt_")));
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 1);
}

async fn a_form_without_this_sessions_csrf_token_changes_nothing(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "csrf@example.com", "Guarded").await;
    let mut mine = Browser::new(&app);
    mine.sign_in(&owner.email).await;
    let mut other = Browser::new(&app);
    other.sign_in(&owner.email).await;
    let settings = format!("/console/w/{ws}/settings");
    let theirs = other.csrf(&settings).await;
    let own = mine.csrf(&settings).await;
    assert_ne!(own, theirs, "each session has its own token");

    let without = mine.post(&settings, &[("name", "Hijacked")]).await;
    assert_eq!(without.status, 403, "{}", without.text);
    let foreign = mine
        .post(&settings, &[("csrf", &theirs), ("name", "Hijacked")])
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.text);
    assert!(foreign.text.contains("Request refused"));
    assert_eq!(app.rows("workspaces", "name = 'Hijacked'").await, 0);

    let with = mine
        .post(&settings, &[("csrf", &own), ("name", "Renamed")])
        .await;
    assert_eq!(with.status, 303, "{}", with.text);
    assert_eq!(app.rows("workspaces", "name = 'Renamed'").await, 1);
}

async fn a_form_another_site_posts_is_refused_even_with_the_token(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "site@example.com", "Sited").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let settings = format!("/console/w/{ws}/settings");
    let token = b.csrf(&settings).await;
    let page = Browser::read(
        b.http
            .post(app.url(&settings))
            .header("cookie", format!("roster_console={}", b.cookie))
            .header("sec-fetch-site", "cross-site")
            .form(&[("csrf", token.as_str()), ("name", "Elsewhere")]),
    )
    .await;
    assert_eq!(page.status, 403);
    assert_eq!(app.rows("workspaces", "name = 'Elsewhere'").await, 0);
    // Signing in from another site's form is refused too (no login CSRF).
    let login = Browser::read(
        b.http
            .post(app.url("/console/sign-in"))
            .header("origin", "https://attacker.example")
            .form(&[("email", owner.email.as_str()), ("password", PASSWORD)]),
    )
    .await;
    assert_eq!(login.status, 403);
}

async fn a_session_ended_through_the_api_closes_the_console_at_once(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "ended@example.com", "Ending").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    assert_eq!(b.get(&format!("/console/w/{ws}/members")).await.status, 200);
    let ended = app
        .post("/v1/me/sessions/revoke-all", Some(&owner.access), json!({}))
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    for path in [
        format!("/console/w/{ws}/members"),
        "/console/account".to_owned(),
        "/console/workspaces".to_owned(),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/console/sign-in"), "{path}");
    }
    // Its forms are refused as well, and change nothing.
    let page = b
        .post(
            &format!("/console/w/{ws}/settings"),
            &[("csrf", "x"), ("name", "After")],
        )
        .await;
    assert!(page.status == 303 || page.status == 403, "{}", page.status);
    assert_eq!(app.rows("workspaces", "name = 'After'").await, 0);
}

async fn a_removed_member_is_refused_the_workspace_at_their_next_request(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "rm-owner@example.com", "Removal").await;
    let admin = app.signup("rm-admin@example.com", "Ann Admin").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    let mut b = Browser::new(&app);
    b.sign_in(&admin.email).await;
    let members = format!("/console/w/{ws}/members");
    assert_eq!(b.get(&members).await.status, 200);
    let removed = app
        .call(
            "DELETE",
            &format!("/v1/workspaces/{ws}/members/{}", admin.id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(removed.status, 204);
    let page = b.get(&members).await;
    assert_eq!(page.status, 404, "{}", page.text);
    assert!(page.text.contains("not a member"));
}

async fn a_viewer_is_offered_no_role_control_and_a_posted_change_is_refused(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "v-owner@example.com", "Looking").await;
    let viewer = app.signup("v-viewer@example.com", "Vic Viewer").await;
    app.add(&owner.access, &ws, &viewer, "viewer").await;
    let mut b = Browser::new(&app);
    b.sign_in(&viewer.email).await;
    let members = format!("/console/w/{ws}/members");
    let page = b.get(&members).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("v-owner@example.com"));
    assert!(!page.text.contains("Change role"));
    assert!(!row_of(&page.text, "v-owner@example.com").contains("/remove"));
    assert!(
        row_of(&page.text, "v-viewer@example.com").contains("Leave"),
        "they may leave"
    );
    assert!(!page.text.contains("/invitations\"") && !page.text.contains("/api-keys\""));
    assert_eq!(
        b.get(&format!("/console/w/{ws}/invitations")).await.status,
        403
    );

    let token = b.csrf(&members).await;
    let post = b
        .post(
            &format!("/console/w/{ws}/members/{}/role", owner.id),
            &[("csrf", &token), ("role", "viewer")],
        )
        .await;
    assert_eq!(post.status, 303);
    let back = b.get(&members).await;
    assert!(back.text.contains("flash error"), "{}", back.text);
    assert_eq!(
        app.role_in_db(&ws, &owner.id).await.as_deref(),
        Some("owner")
    );
}

async fn an_owner_changes_a_role_and_the_database_and_audit_log_show_it(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "r-owner@example.com", "Roles").await;
    let member = app.signup("r-member@example.com", "Mo Member").await;
    app.add(&owner.access, &ws, &member, "editor").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let members = format!("/console/w/{ws}/members");
    let token = b.csrf(&members).await;
    let post = b
        .post(
            &format!("/console/w/{ws}/members/{}/role", member.id),
            &[("csrf", &token), ("role", "admin")],
        )
        .await;
    assert_eq!(post.status, 303);
    assert_eq!(post.location.as_deref(), Some(members.as_str()));
    assert_eq!(
        app.role_in_db(&ws, &member.id).await.as_deref(),
        Some("admin")
    );
    let page = b.get(&members).await;
    assert!(
        page.text.contains("Mo Member is now admin."),
        "{}",
        page.text
    );
    // The last owner cannot demote themself: the domain's refusal, as a message.
    let own = b
        .post(
            &format!("/console/w/{ws}/members/{}/role", owner.id),
            &[("csrf", &token), ("role", "editor")],
        )
        .await;
    assert_eq!(own.status, 303);
    assert_eq!(
        app.role_in_db(&ws, &owner.id).await.as_deref(),
        Some("owner")
    );
    let audit = b
        .get(&format!("/console/w/{ws}/audit?action=member.role_changed"))
        .await;
    assert_eq!(audit.status, 200);
    assert!(audit.text.contains("member.role_changed"));
    let csv = b
        .get(&format!(
            "/console/w/{ws}/audit.csv?action=member.role_changed"
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.text.lines().count(),
        2,
        "a header and the one change: {}",
        csv.text
    );
}

async fn bad_input_gets_a_page_with_a_4xx_never_a_5xx(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "bad@example.com", "Bad Input").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let token = b.csrf(&format!("/console/w/{ws}/members")).await;
    for path in [
        format!("/console/w/{ws}/members?cursor=not-a-cursor"),
        format!("/console/w/{ws}/members?role=no-such-role"),
        format!("/console/w/{ws}/invitations?status=maybe"),
        format!("/console/w/{ws}/audit?from=yesterday"),
        "/console/w/not-a-workspace/members".to_owned(),
        format!("/console/w/{}/members", uuid::Uuid::nil()),
    ] {
        let page = b.get(&path).await;
        assert!((400..500).contains(&page.status), "{path}: {}", page.status);
        assert!(page.text.contains("<h1>"), "{path}: a page that says why");
    }
    for (path, form) in [
        (
            format!("/console/w/{ws}/invitations"),
            vec![
                ("csrf", token.as_str()),
                ("emails", "not an address"),
                ("role", "editor"),
            ],
        ),
        (
            format!("/console/w/{ws}/invitations/{}/explode", uuid::Uuid::nil()),
            vec![("csrf", token.as_str())],
        ),
        (
            format!("/console/w/{ws}/api-keys"),
            vec![
                ("csrf", token.as_str()),
                ("name", ""),
                ("expires_in_days", "-3"),
            ],
        ),
        (
            format!("/console/w/{ws}/members/not-a-uuid/role"),
            vec![("csrf", token.as_str()), ("role", "admin")],
        ),
    ] {
        let page = b.post(&path, &form).await;
        assert!(
            page.status == 303 || (400..500).contains(&page.status),
            "{path}: {} {}",
            page.status,
            page.text
        );
    }
    assert_eq!(app.rows("invitations", "1 = 1").await, 0);
    assert_eq!(app.rows("workspace_api_keys", "1 = 1").await, 0);
}

async fn an_owner_creates_edits_and_deletes_a_custom_role(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "roles@example.com", "Roled").await;
    let member = app.signup("holder@example.com", "Holly Holder").await;
    app.add(&owner.access, &ws, &member, "viewer").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let roles = format!("/console/w/{ws}/roles");
    let token = b.csrf(&roles).await;
    let created = b
        .post(
            &roles,
            &[
                ("csrf", token.as_str()),
                ("key", "billing"),
                ("name", "Billing"),
                ("base", "viewer"),
                ("permission", "workspace:read"),
                ("permission", "usage:read"),
            ],
        )
        .await;
    assert_eq!(created.status, 303);
    let page = b.get(&roles).await;
    assert!(
        page.text.contains("Role “Billing” created."),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("workspace:read, usage:read")
            || page.text.contains("usage:read, workspace:read")
    );
    assert_eq!(app.rows("roles", "key = 'billing'").await, 1);

    app.set_role(&owner.access, &ws, &member.id, "billing")
        .await;
    let edited = b
        .post(
            &format!("{roles}/billing"),
            &[
                ("csrf", token.as_str()),
                ("name", "Billing team"),
                ("permission", "usage:read"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303);
    assert_eq!(app.rows("roles", "name = 'Billing team'").await, 1);

    // Deleting a held role without a replacement is the domain's refusal; with one, it moves them.
    let refused = b
        .post(
            &format!("{roles}/billing/delete"),
            &[("csrf", token.as_str()), ("replacement", "")],
        )
        .await;
    assert_eq!(refused.status, 303);
    assert_eq!(app.rows("roles", "key = 'billing'").await, 1);
    assert!(b.get(&roles).await.text.contains("flash error"));
    let deleted = b
        .post(
            &format!("{roles}/billing/delete"),
            &[("csrf", token.as_str()), ("replacement", "editor")],
        )
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(app.rows("roles", "key = 'billing'").await, 0);
    assert_eq!(
        app.role_in_db(&ws, &member.id).await.as_deref(),
        Some("editor")
    );
}

async fn the_usage_page_shows_the_month_against_the_plan_and_a_bar_per_day(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "usage@example.com", "Metered").await;
    let (_, key) = app.api_key(&owner.access, json!({})).await;
    let events = vec![json!({"meter": "location_events"}); 7];
    let r = app
        .send(
            app.client
                .post(app.url(&format!("/v1/workspaces/{ws}/usage/events")))
                .bearer_auth(&key)
                .json(&json!({ "events": events })),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 201 || r.status == 202,
        "{}",
        r.text
    );
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let page = b.get(&format!("/console/w/{ws}/usage")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<strong>7</strong>"), "{}", page.text);
    assert!(page.text.contains("<svg") && page.text.contains("location_events"));
    let bars = page.text.matches("<rect ").count();
    assert!(bars >= 1, "a bar per day of the month so far: {bars}");
    assert!(page.text.contains(": 7</title>"), "today's bar says 7");
}

async fn a_webhook_endpoint_is_added_with_its_secret_shown_once_then_paused_and_deleted(
    app: TestApp,
) {
    let (owner, ws) = owner_with_workspace(&app, "hooks@example.com", "Hooked").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let hooks = format!("/console/w/{ws}/webhooks");
    let token = b.csrf(&hooks).await;
    let added = b
        .post(
            &hooks,
            &[
                ("csrf", token.as_str()),
                ("url", "https://hooks.example.com/roster"),
                ("name", "Ops"),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    let secret = Browser::input(&added.text, "secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let list = b.get(&hooks).await;
    assert!(list.text.contains("hooks.example.com") && !list.text.contains(&secret));
    let id = app
        .get(&format!("/v1/workspaces/{ws}/webhooks"), &owner.access)
        .await
        .body["data"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let paused = b
        .post(&format!("{hooks}/{id}/pause"), &[("csrf", token.as_str())])
        .await;
    assert_eq!(paused.status, 303);
    let one = app
        .get(&format!("/v1/workspaces/{ws}/webhooks/{id}"), &owner.access)
        .await;
    assert_eq!(one.body["enabled"], false, "{}", one.text);
    let page = b.get(&format!("{hooks}/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let deleted = b
        .post(&format!("{hooks}/{id}/delete"), &[("csrf", token.as_str())])
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(app.rows("webhook_endpoints", "1 = 1").await, 0);
}

async fn two_factor_set_up_in_the_console_is_asked_at_the_next_console_sign_in(app: TestApp) {
    let owner = app.signup("mfa@example.com", "Mia Mfa").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let token = b.csrf("/console/account").await;
    let enrol = b
        .post("/console/account/mfa/enrol", &[("csrf", token.as_str())])
        .await;
    assert_eq!(enrol.status, 200, "{}", enrol.text);
    assert!(
        enrol.text.contains("data:image/svg+xml;base64,"),
        "a QR code"
    );
    let auth = Authenticator::from_base32(&Browser::input(&enrol.text, "secret"));
    next_step(&app);
    let code = auth.code(&app, 0);
    let confirmed = b
        .post(
            "/console/account/mfa/confirm",
            &[("csrf", token.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(
        confirmed.text.matches("<li><code>").count(),
        10,
        "ten recovery codes"
    );
    assert_eq!(
        app.rows("totp_factors", "confirmed_at IS NOT NULL").await,
        1
    );

    // The next console sign-in asks for a code before it sets a cookie.
    let mut again = Browser::new(&app);
    let first = again.sign_in(&owner.email).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(
        again.cookie.is_empty(),
        "no cookie before the second factor"
    );
    let at = first
        .text
        .find("name=\"ticket\" value=\"")
        .expect("a ticket");
    let rest = &first.text[at + "name=\"ticket\" value=\"".len()..];
    let ticket = &rest[..rest.find('"').expect("end")];
    let wrong = again
        .post(
            "/console/sign-in/code",
            &[("ticket", ticket), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    next_step(&app);
    let code = auth.code(&app, 0);
    let done = again
        .post(
            "/console/sign-in/code",
            &[("ticket", ticket), ("code", code.as_str())],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert!(done
        .set_cookie
        .iter()
        .any(|c| c.starts_with("roster_console=rt_")));
}

/// The HTML of the members table's row for `email`.
fn row_of<'t>(html: &'t str, email: &str) -> &'t str {
    let at = html
        .find(&format!("<tr data-email=\"{email}\">"))
        .unwrap_or_else(|| panic!("no row for {email}"));
    let rest = &html[at..];
    &rest[..rest.find("</tr>").expect("end of row")]
}

async fn an_admin_is_offered_controls_only_over_the_members_the_rules_let_them_manage(
    app: TestApp,
) {
    let (owner, ws) = owner_with_workspace(&app, "o@example.com", "Ranked").await;
    let admin = app.signup("a@example.com", "Ada Admin").await;
    let other_admin = app.signup("b@example.com", "Bo Admin").await;
    let editor = app.signup("e@example.com", "Ed Editor").await;
    app.add(&owner.access, &ws, &admin, "admin").await;
    app.add(&owner.access, &ws, &other_admin, "admin").await;
    app.add(&owner.access, &ws, &editor, "editor").await;
    let mut b = Browser::new(&app);
    b.sign_in(&admin.email).await;
    let page = b.get(&format!("/console/w/{ws}/members")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let editor_row = row_of(&page.text, "e@example.com");
    assert!(editor_row.contains("Change role") && editor_row.contains("/remove"));
    assert!(
        !editor_row.contains("value=\"owner\""),
        "an admin cannot grant owner"
    );
    for manager in ["o@example.com", "b@example.com"] {
        let row = row_of(&page.text, manager);
        assert!(
            !row.contains("Change role") && !row.contains("/remove"),
            "{manager}: {row}"
        );
    }
    let own = row_of(&page.text, "a@example.com");
    assert!(
        own.contains("Leave") && !own.contains("Change role"),
        "{own}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_an_https_public_url_the_session_cookie_is_secure() {
    let app = TestApp::spawn_with(crate::helpers::Db::Sqlite, |s| {
        s.public_url = Some("https://roster.test".into());
    })
    .await;
    let owner = app.signup("secure@example.com", "Sid Secure").await;
    let mut b = Browser::new(&app);
    let page = b.sign_in(&owner.email).await;
    assert_eq!(page.status, 303, "{}", page.text);
    let cookie = page
        .set_cookie
        .iter()
        .find(|c| c.starts_with("roster_console="))
        .expect("a session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

async fn a_members_page_reads_its_session_and_standing_in_one_statement(app: TestApp) {
    let (owner, ws) = owner_with_workspace(&app, "count@example.com", "Counted").await;
    let mut b = Browser::new(&app);
    b.sign_in(&owner.email).await;
    let path = format!("/console/w/{ws}/members");
    assert_eq!(b.get(&path).await.status, 200);
    let before = app.state.core.store.statements();
    let page = b.get(&path).await;
    let spent = app.state.core.store.statements() - before;
    assert_eq!(page.status, 200);
    // The cookie's session, the account and the standing in the workspace: one access read;
    // then the switcher (its page and its count), the page of members and the custom roles.
    assert_eq!(spent, 5, "statements for one members page");
}
