//! `TestApp`: the real router served over real HTTP on 127.0.0.1, on a fresh SQLite file or a
//! fresh PostgreSQL schema, with a clock the test can move and a raw pool to check the database.

use std::{sync::Arc, time::Duration};

use roster::{
    app::{app, AppState},
    config::{Config, Settings},
    domain::clock::OffsetClock,
};
use serde_json::{json, Value};
use sqlx::{PgPool, SqlitePool};

/// The SpatialFlow dialect's base path.
pub const SF: &str = "/spatialflow/api/v1";

/// The password every account a test signs up has.
pub const PASSWORD: &str = "correct horse battery staple";

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A pool for checking the database state from the test, independent of the app.
pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    /// Runs a `SELECT COUNT(*) …`-shaped query and returns the number.
    pub async fn count(&self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
            Raw::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs a statement whose only argument (`$1`) is an id; the number of rows it changed.
    pub async fn execute_with(&self, sql: &str, id: uuid::Uuid) -> u64 {
        match self {
            Raw::Sqlite(p) => sqlx::query(sql)
                .bind(id)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Raw::Postgres(p) => sqlx::query(sql)
                .bind(id)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs a `SELECT COUNT(*) …`-shaped query whose only argument (`$1`) is an id.
    pub async fn count_with(&self, sql: &str, id: uuid::Uuid) -> i64 {
        match self {
            Raw::Sqlite(p) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(id)
                    .fetch_one(p)
                    .await
            }
            Raw::Postgres(p) => {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(id)
                    .fetch_one(p)
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<OffsetClock>,
    pub raw: Raw,
    _dir: Option<tempfile::TempDir>,
}

/// An HTTP answer: status, headers and the body as JSON (or `Null` when not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem document with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["status"], status);
        assert!(self.body["type"].is_string() && self.body["title"].is_string());
        assert!(self.body["detail"].is_string());
    }
}

/// Asserts a SpatialFlow error: this status, the dialect's JSON body with this `error_code`.
pub fn assert_sf_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.body["detail"].is_string(), "{}", r.text);
    assert_eq!(r.body["error_code"], code, "{}", r.text);
}

/// Asserts a Pupil error envelope with this status and machine code.
pub fn assert_pupil_error(r: &Resp, status: u16, error: &str) {
    assert_eq!(r.status, status, "body: {}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "body: {}",
        r.text
    );
    assert_eq!(r.body["code"], status, "body: {}", r.text);
    assert_eq!(r.body["status"], "error", "body: {}", r.text);
    assert_eq!(
        r.body.as_object().map(|o| o.len()),
        Some(3),
        "body: {}",
        r.text
    );
    assert_eq!(r.body["result"]["error"], error, "body: {}", r.text);
    assert!(r.body["result"]["message"].is_string());
}

/// A user signed up through the API.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

/// Why a PostgreSQL test is ignored unless asked for.
pub const NEEDS_POSTGRES: &str =
    "needs PostgreSQL: set ROSTER_TEST_POSTGRES_URL and run the ignored tests (scripts/test does)";

/// A fresh PostgreSQL schema on the server `ROSTER_TEST_POSTGRES_URL` names, as a URL whose
/// connections use it. A PostgreSQL test that cannot run fails here: it never passes without
/// having run (they are `#[ignore]`d, so `cargo test` lists them as not run, and
/// `scripts/test` runs them only when it has a PostgreSQL).
pub async fn postgres_schema_url() -> String {
    let base = std::env::var("ROSTER_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("ROSTER_TEST_POSTGRES_URL is not set: this test {NEEDS_POSTGRES}")
    });
    let admin = PgPool::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("ROSTER_TEST_POSTGRES_URL is set but unreachable: {e}"));
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create test schema");
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// The settings of a test app on `database_url`.
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        database_url: Some(database_url.to_owned()),
        public_url: Some("http://roster.test".into()),
        database_max_connections: Some(8),
        mail_dir: Some(std::env::temp_dir().join("roster-test-mail")),
        ..Settings::default()
    }
}

impl TestApp {
    /// Starts an app on a fresh database (see `postgres_schema_url` for PostgreSQL).
    pub async fn spawn(db: Db) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts an app with adjusted settings.
    pub async fn spawn_with(db: Db, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let (database_url, dir) = match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("roster.db").display());
                (url, Some(dir))
            }
            Db::Postgres => (postgres_schema_url().await, None),
        };
        Self::spawn_on(db, database_url, dir, adjust).await
    }

    /// Starts another app on this one's database (a second replica, or a restart).
    pub async fn another_on_same_database(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let db = match self.raw {
            Raw::Sqlite(_) => Db::Sqlite,
            Raw::Postgres(_) => Db::Postgres,
        };
        Self::spawn_on(db, self.database_url.clone(), None, adjust).await
    }

    async fn spawn_on(
        db: Db,
        database_url: String,
        dir: Option<tempfile::TempDir>,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = test_settings(&database_url);
        adjust(&mut settings);
        let config = Config::resolve(settings).expect("test config");
        let clock = Arc::new(OffsetClock::default());
        let state = AppState::build(config, clock.clone())
            .await
            .expect("app state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = app(state.clone());
        let limits = state.config.connections;
        tokio::spawn(roster::server::serve(
            listener,
            router,
            limits,
            std::future::pending(),
        ));
        let raw = match db {
            Db::Sqlite => Raw::Sqlite(SqlitePool::connect(&database_url).await.expect("raw")),
            Db::Postgres => Raw::Postgres(PgPool::connect(&database_url).await.expect("raw")),
        };
        TestApp {
            base: format!("http://{addr}"),
            database_url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            state,
            clock,
            raw,
            _dir: dir,
        }
    }

    /// One round of the outbox worker, delivering through `mailer`.
    pub async fn deliver(&self) -> roster::outbox::Round {
        let worker = roster::outbox::Worker::new(
            self.state.core.clone(),
            self.state.mailer().expect("mailer"),
        );
        worker.run_once().await.expect("outbox round")
    }

    /// The Prometheus text `/metrics` serves.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("body")
    }

    /// Rounds of the webhook worker until one sends nothing (at most 50).
    /// Moves this app's clock to the start of the next minute, so that a test of a budget
    /// counted in fixed one-minute windows runs inside one window (it has a minute).
    pub fn at_the_start_of_a_minute(&self) {
        let now = self.state.core.clock.now();
        let into = now.timestamp_micros().rem_euclid(60_000_000);
        self.clock
            .advance(Duration::from_micros((60_000_000 - into).unsigned_abs()));
    }

    pub async fn deliver_webhooks(&self) -> roster::webhooks::Round {
        let worker = roster::webhooks::Worker::new(self.state.core.clone(), Duration::from_secs(5))
            .expect("webhook worker");
        let mut total = roster::webhooks::Round::default();
        for _ in 0..50 {
            let r = worker.run_once().await.expect("webhook round");
            if r == roster::webhooks::Round::default() {
                break;
            }
            total.delivered += r.delivered;
            total.failed += r.failed;
            total.dead += r.dead;
        }
        total
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional bearer credential and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req.send().await.expect("request")).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        Self::read(req.send().await.expect("request")).await
    }

    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Resp {
        self.call("GET", path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> Resp {
        self.call("POST", path, bearer, Some(body)).await
    }

    /// A request to a SpatialFlow path with an optional bearer token and JSON body.
    pub async fn sf(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.call(method, &format!("{SF}{path}"), token, body).await
    }

    /// A POST to a SpatialFlow path, without a token.
    pub async fn sf_post(&self, path: &str, body: Value) -> Resp {
        self.post(&format!("{SF}{path}"), None, body).await
    }

    /// Signs in through the SpatialFlow dialect (a session bound to the primary workspace).
    pub async fn sf_login(&self, email: &str, password: &str) -> Resp {
        self.sf_post("/auth/login", json!({"email": email, "password": password}))
            .await
    }

    /// Signs in through the SpatialFlow dialect with the test password; the access token.
    pub async fn sf_token(&self, email: &str) -> String {
        let r = self.sf_login(email, PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["expires_in"].is_u64() && r.body["user"]["id"].is_string());
        r.body["access_token"].as_str().expect("token").to_owned()
    }

    /// A SpatialFlow request with `Content-Type: application/json` and exactly `body` (maybe
    /// empty), as the SDK sends it.
    pub async fn sf_raw(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, self.url(&format!("{SF}{path}")))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// Sends what the generated Pupil client sends: `Content-Type: application/json` on every
    /// request, the key in `api-key`.
    pub async fn pupil(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, self.url(&format!("/pupil/v2{path}")))
            .header("content-type", "application/json")
            .header("user-agent", "OpenAPI-Generator/1.0.0/python");
        if let Some(key) = key {
            req = req.header("api-key", key);
        }
        req = match body {
            Some(body) => req.body(body.to_string()),
            None => req.header("content-length", "0"),
        };
        self.send(req).await
    }

    /// Signs up `email` with the test password and returns the account and its first tokens.
    pub async fn signup(&self, email: &str, name: &str) -> Account {
        let password = PASSWORD;
        let r = self
            .post(
                "/v1/auth/signup",
                None,
                json!({"email": email, "password": password, "name": name}),
            )
            .await;
        assert_eq!(r.status, 201, "signup: {}", r.text);
        let id = r.body["user"]["id"].as_str().expect("id").to_owned();
        // The accounts tests sign up are not about their verification mail (the tests of it,
        // native/account_links.rs, sign up directly): it leaves the outbox, so that every other
        // test sees only the mail it causes.
        let withdrawn = self
            .raw
            .execute_with(
                "DELETE FROM outbox WHERE invitation_id IS NULL AND status = 'queued' \
                 AND recipient = (SELECT email FROM users WHERE id = $1)",
                id.parse().expect("uuid"),
            )
            .await;
        assert!(withdrawn >= 1, "sign-up queues a verification email");
        Account {
            id,
            email: email.to_owned(),
            password: password.to_owned(),
            access: r.body["access_token"].as_str().expect("access").to_owned(),
            refresh: r.body["refresh_token"]
                .as_str()
                .expect("refresh")
                .to_owned(),
            session_id: r.body["session_id"].as_str().expect("sid").to_owned(),
        }
    }

    /// Signs in again, starting a new session; returns the token response body.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let r = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, 200, "login: {}", r.text);
        r.body
    }

    /// Creates an API key for the holder of `access` and returns (id, secret).
    pub async fn api_key(&self, access: &str, body: Value) -> (String, String) {
        let r = self.post("/v1/me/api-keys", Some(access), body).await;
        assert_eq!(r.status, 201, "create key: {}", r.text);
        (
            r.body["id"].as_str().expect("id").to_owned(),
            r.body["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Creates a workspace as the holder of `access`; returns its body.
    pub async fn workspace(&self, access: &str, name: &str) -> Value {
        let r = self
            .post("/v1/workspaces", Some(access), json!({"name": name}))
            .await;
        assert_eq!(r.status, 201, "create workspace: {}", r.text);
        r.body
    }

    /// Adds an existing user to a workspace with a role (as an owner or admin).
    pub async fn add(&self, manager: &str, ws: &str, account: &Account, role: &str) {
        let r = self
            .post(
                &format!("/v1/workspaces/{ws}/members"),
                Some(manager),
                json!({"user_id": account.id, "role": role}),
            )
            .await;
        assert_eq!(r.status, 201, "add {role}: {}", r.text);
    }

    /// Sets a member's role (as an owner).
    pub async fn set_role(&self, owner: &str, ws: &str, user_id: &str, role: &str) {
        let r = self
            .call(
                "PATCH",
                &format!("/v1/workspaces/{ws}/members/{user_id}"),
                Some(owner),
                Some(json!({"role": role})),
            )
            .await;
        assert_eq!(r.status, 200, "set role {role}: {}", r.text);
    }

    /// The role a user has in a workspace according to the database, if any.
    pub async fn role_in_db(&self, ws: &str, user_id: &str) -> Option<String> {
        let sql = "SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2";
        let ws = uuid::Uuid::parse_str(ws).expect("ws id");
        let user = uuid::Uuid::parse_str(user_id).expect("user id");
        match &self.raw {
            Raw::Sqlite(p) => {
                sqlx::query_scalar(sql)
                    .bind(ws)
                    .bind(user)
                    .fetch_optional(p)
                    .await
            }
            Raw::Postgres(p) => {
                sqlx::query_scalar(sql)
                    .bind(ws)
                    .bind(user)
                    .fetch_optional(p)
                    .await
            }
        }
        .expect("role query")
    }

    /// A snapshot of row counts of every table, to show that refused calls changed nothing.
    pub async fn census(&self) -> Vec<i64> {
        let mut counts = Vec::new();
        for table in [
            "users",
            "workspaces",
            "memberships",
            "memberships WHERE role = 'owner'",
            "memberships WHERE role = 'admin'",
            "memberships WHERE role = 'editor'",
            "memberships WHERE role = 'viewer'",
            "sessions WHERE ended_at IS NULL",
            "api_keys WHERE revoked_at IS NULL",
            "audit_events",
        ] {
            counts.push(
                self.raw
                    .count(&format!("SELECT COUNT(*) FROM {table}"))
                    .await,
            );
        }
        counts
    }

    /// The signing keys as stored (newest first).
    pub async fn signing_keys(&self) -> Vec<roster::domain::token::SigningKey> {
        self.state
            .core
            .store
            .read()
            .signing_keys()
            .await
            .expect("signing keys")
    }

    /// The number of rows a `WHERE` clause selects from `table`.
    pub async fn rows(&self, table: &str, filter: &str) -> i64 {
        let sql = if filter.is_empty() {
            format!("SELECT COUNT(*) FROM {table}")
        } else {
            format!("SELECT COUNT(*) FROM {table} WHERE {filter}")
        };
        self.raw.count(&sql).await
    }
}

/// Declares tests that run once on SQLite and once on PostgreSQL. Each named `async fn`
/// takes a `TestApp`; the generated tests are `<name>::sqlite` and `<name>::postgres`. The
/// PostgreSQL variants are ignored unless asked for (`--run-ignored all`, which `scripts/test`
/// passes when it has a PostgreSQL), so they are reported as not run rather than passed.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Db::Sqlite).await)
                        .await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: set ROSTER_TEST_POSTGRES_URL and run the ignored tests (scripts/test does)"]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Db::Postgres).await)
                        .await;
                }
            }
        )*
    };
}

/// `value` with what differs from run to run replaced by placeholders, for snapshots: ids
/// (`[uuid]`), times and dates (`[time]`), secrets (`rk_[secret]`, `rt_…`, `inv_…`, `[jwt]`)
/// and the random suffix of a personal workspace's slug (`-[suffix]`).
pub fn redacted(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(redacted_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), redacted(v))).collect())
        }
        other => other.clone(),
    }
}

/// `redacted` for text (an email body, a CSV export).
pub fn redacted_text(text: &str) -> String {
    static PATTERNS: std::sync::OnceLock<Vec<(regex::Regex, &'static str)>> =
        std::sync::OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        [
            (
                r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+",
                "[jwt]",
            ),
            (r"\b(rk|rt|inv|ev|pr)_[A-Za-z0-9_-]+", "${1}_[secret]"),
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "[uuid]",
            ),
            (
                r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?",
                "[time]",
            ),
            (r"-[0-9a-f]{8}\b", "-[suffix]"),
        ]
        .into_iter()
        .map(|(p, r)| (regex::Regex::new(p).expect("pattern"), r))
        .collect()
    });
    let mut out = text.to_owned();
    for (pattern, replacement) in patterns {
        out = pattern.replace_all(&out, *replacement).into_owned();
    }
    out
}
