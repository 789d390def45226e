//! The `roster` command line: configuration errors, `print-config`, `openapi`, `migrate`, and
//! the operator commands for users, API keys, the audit log and backups.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

/// Where the commands under test write mail: outside the checkout.
fn mail_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("roster-cli-tests-mail")
}

fn roster(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(args)
        .env_remove("ROSTER_DATABASE_URL")
        .env_remove("ROSTER_LISTEN")
        .env_remove("ROSTER_PUBLIC_URL")
        .env("ROSTER_MAIL_DIR", mail_dir())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn roster");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_misconfiguration_fails_at_start_and_says_what_to_change() {
    for (env, expected) in [
        (("ROSTER_PUBLIC_URL", "not a url"), "ROSTER_PUBLIC_URL"),
        (("ROSTER_DATABASE_URL", "mysql://x"), "ROSTER_DATABASE_URL"),
        (
            ("ROSTER_ACCESS_TOKEN_TTL", "soon"),
            "ROSTER_ACCESS_TOKEN_TTL",
        ),
        (("ROSTER_LOG_FORMAT", "xml"), "ROSTER_LOG_FORMAT"),
        (
            ("ROSTER_TRUSTED_PROXIES", "10.0.0.0/8,not-a-network"),
            "ROSTER_TRUSTED_PROXIES",
        ),
        (
            ("ROSTER_KEY_ENCRYPTION_KEY", "c2hvcnQ="),
            "ROSTER_KEY_ENCRYPTION_KEY",
        ),
        (
            ("ROSTER_KEY_REFRESH_INTERVAL", "often"),
            "ROSTER_KEY_REFRESH_INTERVAL",
        ),
    ] {
        let out = roster(&["serve"], &[env], None);
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
    let out = roster(&["serve", "--listen", "nonsense"], &[], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--listen"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn print_config_shows_the_resolved_settings_with_secrets_redacted() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("roster.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9999\"\naccess_token_ttl = \"5m\"\n",
    )
    .expect("write");
    let out = roster(
        &[
            "print-config",
            "--config",
            file.to_str().expect("path"),
            "--access-token-ttl",
            "7m",
        ],
        &[(
            "ROSTER_DATABASE_URL",
            "postgres://roster:s3cret-pw@db.internal/roster",
        )],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(!printed.contains("s3cret-pw"), "{printed}");
    assert!(printed.contains("REDACTED"));
    assert!(
        printed.contains("listen = \"127.0.0.1:9999\""),
        "file value kept: {printed}"
    );
    assert!(
        printed.contains("access_token_ttl = \"7m\""),
        "flag beats file: {printed}"
    );
    assert!(
        printed.contains("public_url = \"http://127.0.0.1:9999/\""),
        "{printed}"
    );
    assert!(
        printed.contains("trusted_proxies = []"),
        "none by default: {printed}"
    );

    // Trusted proxies from the environment (comma-separated) and from the file (an array);
    // the key-encryption key is never printed.
    let kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let out = roster(
        &["print-config"],
        &[
            ("ROSTER_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
            ("ROSTER_KEY_ENCRYPTION_KEY", kek),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7/32\"]"),
        "{printed}"
    );
    assert!(!printed.contains(kek), "{printed}");
    assert!(
        printed.contains("key_encryption_key = \"REDACTED\""),
        "{printed}"
    );
    std::fs::write(&file, "trusted_proxies = [\"fd00::/8\"]\n").expect("write");
    let out = roster(
        &["print-config", "--config", file.to_str().expect("path")],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("trusted_proxies = [\"fd00::/8\"]"),
        "{}",
        text(&out.stdout)
    );

    std::fs::write(&file, "listne = \"typo\"\n").expect("write");
    let out = roster(
        &["print-config", "--config", file.to_str().expect("path")],
        &[],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("listne"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn operators_rotate_and_list_the_signing_keys_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let db = [("ROSTER_DATABASE_URL", url.as_str())];
    let out = roster(&["migrate"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = roster(&["keys", "list"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{listed}");
    let first = rows[0].split_whitespace().next().expect("kid").to_owned();
    assert!(rows[0].ends_with("yes"), "the one key signs: {listed}");

    let out = roster(&["keys", "rotate"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second = text(&out.stdout).trim().to_owned();
    assert_ne!(second, first);
    assert!(
        text(&out.stderr).contains("older keys verify until"),
        "{}",
        text(&out.stderr)
    );

    let out = roster(&["keys", "list"], &db, None);
    let listed = text(&out.stdout);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{listed}");
    let old = rows.iter().find(|r| r[0] == first).expect("old key listed");
    let new = rows
        .iter()
        .find(|r| r[0] == second)
        .expect("new key listed");
    assert_ne!(old[2], "-", "the old key has a retirement time: {listed}");
    assert_eq!(old[4], "no", "{listed}");
    assert_eq!(new[2], "-", "{listed}");
    assert_eq!(new[4], "yes", "{listed}");

    // With a key-encryption key, a rotation seals every stored key; starting without the key
    // is then refused with a message, not a panic.
    let kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let sealed = [
        ("ROSTER_DATABASE_URL", url.as_str()),
        ("ROSTER_KEY_ENCRYPTION_KEY", kek),
    ];
    let out = roster(&["keys", "rotate"], &sealed, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = roster(&["keys", "list"], &sealed, None);
    let listed = text(&out.stdout);
    assert!(
        listed
            .lines()
            .skip(1)
            .all(|l| l.split_whitespace().nth(3) == Some("yes")),
        "{listed}"
    );
    let out = roster(&["keys", "list"], &db, None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("ROSTER_KEY_ENCRYPTION_KEY"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn openapi_prints_the_native_document() {
    let out = roster(&["openapi"], &[], None);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    assert!(doc["paths"]["/v1/auth/signup"].is_object());
}

#[test]
fn operators_create_users_set_passwords_and_create_api_keys_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let db = [("ROSTER_DATABASE_URL", url.as_str())];

    let out = roster(&["migrate"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("cli.db").exists());

    let out = roster(
        &[
            "user",
            "create",
            "--email",
            "Ops@Example.com",
            "--name",
            "Ops",
        ],
        &db,
        Some("first password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim().len(), 36, "prints the user id");

    let out = roster(
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Again",
        ],
        &db,
        Some("first password\n"),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );

    let out = roster(
        &[
            "user",
            "create",
            "--email",
            "weak@example.com",
            "--name",
            "W",
        ],
        &db,
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("password"),
        "{}",
        text(&out.stderr)
    );

    let out = roster(
        &["user", "set-password", "--email", "OPS@example.com"],
        &db,
        Some("second password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = roster(
        &["user", "set-password", "--email", "ghost@example.com"],
        &db,
        Some("second password\n"),
    );
    assert!(!out.status.success());

    let out = roster(
        &[
            "api-key",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "robot",
            "--expires-in",
            "90d",
        ],
        &db,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("rk_") && secret.len() == 46, "{secret}");
}

/// The id of the one workspace in a fresh SQLite database, read directly.
fn only_workspace(url: &str) -> String {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(url).await.expect("open");
        let (id,): (uuid::Uuid,) = sqlx::query_as("SELECT id FROM workspaces")
            .fetch_one(&pool)
            .await
            .expect("one workspace");
        id.to_string()
    })
}

#[test]
fn operators_put_a_workspace_on_a_configured_plan_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("plans.db").display());
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        "[plans.free]\nmonthly_units = 100\n\n[plans.team]\nmonthly_units = 1000\noverage = true\n\n[meters]\nsms = 2.5\n",
    )
    .expect("write config");
    let config = config.display().to_string();
    let env = [
        ("ROSTER_DATABASE_URL", url.as_str()),
        ("ROSTER_CONFIG", config.as_str()),
    ];

    let out = roster(&["print-config"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("[plans.team]"), "{printed}");
    assert!(printed.contains("sms = 2.5"), "{printed}");
    assert!(printed.contains("action_deliveries = 0.5"), "{printed}");

    let out = roster(
        &[
            "user",
            "create",
            "--email",
            "plan@example.com",
            "--name",
            "Plan",
        ],
        &env,
        Some("a fine password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ws = only_workspace(&url);

    let out = roster(&["workspace", "set-plan", &ws, "team"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("is on plan team"),
        "{}",
        text(&out.stdout)
    );

    // `pro` is a built-in plan, but this configuration replaces the built-in plans.
    let out = roster(&["workspace", "set-plan", &ws, "pro"], &env, None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown plan") && err.contains("free, team"),
        "{err}"
    );

    let out = roster(
        &["workspace", "set-plan", "no-such-slug", "team"],
        &env,
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no workspace"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(
        dir.path().join("bad.toml"),
        "[plans.team]\nmonthly_units = 5\n",
    )
    .expect("write");
    let bad = dir.path().join("bad.toml").display().to_string();
    let out = roster(&["print-config"], &[("ROSTER_CONFIG", bad.as_str())], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`free` plan"),
        "{}",
        text(&out.stderr)
    );
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `roster serve` on `url`, answering on `port` once this returns; killed when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(url: &str, port: u16) -> Served {
    let child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env("ROSTER_DATABASE_URL", url)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_PUBLIC_URL", "http://roster.test")
        .env("ROSTER_OUTBOX_WORKER", "false")
        .env("ROSTER_MAIL_DIR", mail_dir())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn roster serve");
    let served = Served(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return served;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("roster serve did not start on port {port}");
}

/// POSTs JSON to a running service; the status and body.
async fn post(port: u16, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[test]
fn a_backup_taken_while_the_service_runs_restores_into_a_working_service() {
    let dir = tempfile::tempdir().expect("dir");
    let live = dir.path().join("live.db");
    let url = format!("sqlite://{}", live.display());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let port = free_port();
    let service = serve(&url, port);
    let account = serde_json::json!({
        "email": "kept@example.com", "password": "a fine long password", "name": "Kept",
    });
    let (status, body) = rt.block_on(post(port, "/v1/auth/signup", account.clone()));
    assert_eq!(status, 201, "{body}");

    // The backup is taken while the service runs (and its connections hold the file).
    let backup = dir.path().join("backup.db");
    let env = [("ROSTER_DATABASE_URL", url.as_str())];
    let out = roster(&["backup", backup.to_str().expect("path")], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("backup written"));
    // A second backup to the same file is refused, and the first one is left as it was.
    let size = std::fs::metadata(&backup).expect("backup").len();
    let out = roster(&["backup", backup.to_str().expect("path")], &env, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::metadata(&backup).expect("backup").len(), size);
    // Written after the backup: not in it.
    let later = serde_json::json!({
        "email": "later@example.com", "password": "a fine long password", "name": "Later",
    });
    assert_eq!(
        rt.block_on(post(port, "/v1/auth/signup", later.clone())).0,
        201
    );
    drop(service);

    // Restore (README): with the service stopped, copy the file into place and start it.
    let restored = dir.path().join("restored.db");
    std::fs::copy(&backup, &restored).expect("restore");
    let restored_url = format!("sqlite://{}", restored.display());
    let port = free_port();
    let _service = serve(&restored_url, port);
    let login = |body: &serde_json::Value| {
        let body = serde_json::json!({"email": body["email"], "password": body["password"]});
        rt.block_on(post(port, "/v1/auth/login", body))
    };
    let (status, body) = login(&account);
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    assert_eq!(
        login(&later).0,
        401,
        "the later account is not in the backup"
    );
    let out = roster(
        &["audit", "verify"],
        &[("ROSTER_DATABASE_URL", restored_url.as_str())],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn backup_on_postgres_explains_pg_dump_and_exits_non_zero() {
    let out = roster(
        &["backup", "/tmp/never-written.db"],
        &[(
            "ROSTER_DATABASE_URL",
            "postgres://roster@127.0.0.1:1/roster",
        )],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("pg_dump --format=custom"), "{err}");
    assert!(err.contains("pg_restore"), "{err}");
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}

#[test]
fn audit_verify_reports_every_chain_and_names_an_edited_event() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let env = [("ROSTER_DATABASE_URL", url.as_str())];
    let out = roster(
        &[
            "user",
            "create",
            "--email",
            "verify@example.com",
            "--name",
            "V",
        ],
        &env,
        Some("a fine password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ws = only_workspace(&url);

    let out = roster(&["audit", "verify"], &env, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains(&format!("ok      workspace {ws}: 2 events checked")),
        "{printed}"
    );
    assert!(printed.contains("ok      account "), "{printed}");
    assert!(printed.contains("2 audit chains verified"), "{printed}");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let edited: uuid::Uuid = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("open");
        let (id,): (uuid::Uuid,) = sqlx::query_as(
            "UPDATE audit_events SET action = 'workspace.renamed' \
             WHERE seq = 1 AND workspace_id IS NOT NULL RETURNING id",
        )
        .fetch_one(&pool)
        .await
        .expect("edit");
        id
    });
    for args in [
        vec!["audit", "verify"],
        vec!["audit", "verify", ws.as_str()],
    ] {
        let out = roster(&args, &env, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let printed = text(&out.stdout);
        assert!(
            printed.contains(&format!(
                "BROKEN  workspace {ws}: event {edited} at seq 1: content_edited"
            )),
            "{printed}"
        );
        assert!(
            text(&out.stderr).contains("broken"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = roster(&["audit", "verify", "no-such-slug"], &env, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no workspace"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn retention_and_sqlite_synchronous_are_settings_that_print_config_shows() {
    let out = roster(
        &["print-config", "--audit-retention", "90d"],
        &[
            ("ROSTER_OUTBOX_RETENTION", "14d"),
            ("ROSTER_SQLITE_SYNCHRONOUS", "full"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.contains("audit_retention = \"90d\""), "{printed}");
    assert!(printed.contains("outbox_retention = \"14d\""), "{printed}");
    assert!(
        printed.contains("sqlite_synchronous = \"full\""),
        "{printed}"
    );
    let out = roster(&["print-config"], &[], None);
    let printed = text(&out.stdout);
    assert!(
        printed.contains("audit_retention = \"forever\""),
        "{printed}"
    );
    assert!(
        printed.contains("sqlite_synchronous = \"normal\""),
        "{printed}"
    );

    let out = roster(&["serve"], &[("ROSTER_SQLITE_SYNCHRONOUS", "off")], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("ROSTER_SQLITE_SYNCHRONOUS") && err.contains("`normal` or `full`"),
        "{err}"
    );
}

/// POSTs JSON with a bearer token to a running service; the status and body.
async fn post_as(
    port: u16,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[test]
fn operators_list_users_and_remove_a_lost_second_factor_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("mfa.db").display());
    let db = [("ROSTER_DATABASE_URL", url.as_str())];
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let port = free_port();
    let _service = serve(&url, port);
    let account = serde_json::json!({
        "email": "lost@example.com", "password": "a fine long password", "name": "Lost Phone",
    });
    let (status, body) = rt.block_on(post(port, "/v1/auth/signup", account.clone()));
    assert_eq!(status, 201, "{body}");
    rt.block_on(post(
        port,
        "/v1/auth/signup",
        serde_json::json!({"email": "other@example.com", "password": "a fine long password", "name": "Other"}),
    ));
    let access = body["access_token"].as_str().expect("access");
    let (status, enrolment) = rt.block_on(post_as(
        port,
        "/v1/me/mfa/totp",
        access,
        serde_json::json!({}),
    ));
    assert_eq!(status, 200, "{enrolment}");
    let secret = totp_rs::Secret::Encoded(enrolment["secret"].as_str().expect("secret").into())
        .to_bytes()
        .expect("base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        30,
        secret,
        None,
        String::new(),
    )
    .generate(now);
    let (status, confirmed) = rt.block_on(post_as(
        port,
        "/v1/me/mfa/totp/confirm",
        access,
        serde_json::json!({"code": code}),
    ));
    assert_eq!(status, 200, "{confirmed}");
    let login = serde_json::json!({"email": account["email"], "password": account["password"]});
    assert_eq!(
        rt.block_on(post(port, "/v1/auth/login", login.clone())).0,
        202
    );

    let out = roster(&["user", "list"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("email") && lines[0].contains("mfa"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("lost@example.com") && lines[1].contains("Lost Phone"),
        "{table}"
    );
    let out = roster(&["user", "list", "--json"], &db, None);
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(users[0]["email"], "lost@example.com");
    assert_eq!(users[0]["mfa"], true);
    assert_eq!(users[0]["email_verified"], false);
    assert_eq!(users[1]["mfa"], false);

    let out = roster(&["user", "disable-mfa", "LOST@example.com"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = roster(&["user", "list", "--json"], &db, None);
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(users[0]["mfa"], false);
    // The password alone signs in again.
    let (status, tokens) = rt.block_on(post(port, "/v1/auth/login", login));
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string());
    // Nothing to remove, or no such user: a clear failure.
    let out = roster(&["user", "disable-mfa", "lost@example.com"], &db, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not enabled"),
        "{}",
        text(&out.stderr)
    );
    let out = roster(&["user", "disable-mfa", "ghost@example.com"], &db, None);
    assert!(!out.status.success());
    // The removal is audited, and the audit chains still verify.
    let out = roster(&["audit", "verify"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_verify_an_address_from_the_command_line_and_print_config_shows_the_rule() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("verify.db").display());
    let db = [("ROSTER_DATABASE_URL", url.as_str())];
    let out = roster(
        &[
            "user",
            "create",
            "--email",
            "late@example.com",
            "--name",
            "Late",
        ],
        &db,
        Some("first password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    sqlx::query("UPDATE users SET email_verified = FALSE")
        .execute(&pool)
        .await
        .expect("unverify");

    let out = roster(&["user", "verify-email", "LATE@example.com"], &db, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("late@example.com verified"));
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .expect("count")
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM users WHERE email_verified").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE action = 'user.email_verified' AND actor_id IS NULL").await,
        1
    );
    let out = roster(&["user", "verify-email", "ghost@example.com"], &db, None);
    assert!(!out.status.success());

    let out = roster(&["print-config"], &[], None);
    assert!(
        text(&out.stdout).contains("require_verified_email = false"),
        "{}",
        text(&out.stdout)
    );
    let out = roster(
        &["print-config"],
        &[("ROSTER_REQUIRE_VERIFIED_EMAIL", "true")],
        None,
    );
    let printed = text(&out.stdout);
    assert!(
        printed.contains("require_verified_email = true"),
        "{printed}"
    );
    assert!(
        printed.contains("password_reset_rate_limit = 10"),
        "{printed}"
    );
}
