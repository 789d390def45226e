//! Several `roster serve` processes on one database with default settings (no public URL, each
//! its own listen address): they start together without a migration race, agree on the issuer
//! and the signing key, a logout through one is refused by the others at once, and a key
//! rotated by `roster keys rotate` signs on every one of them within the refresh interval.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;

use crate::helpers::{postgres_schema_url, TestApp};

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start(database_url: &str) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env("ROSTER_DATABASE_URL", database_url)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("ROSTER_PUBLIC_URL")
        .env("ROSTER_KEY_REFRESH_INTERVAL", "1s")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn roster");
    Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_ready(client: &reqwest::Client, replica: &mut Replica) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = replica.child.try_wait() {
            panic!("replica exited at start: {status}");
        }
        if let Ok(r) = client.get(format!("{}/readyz", replica.base)).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "replica never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kid_of(token: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let header = token.split('.').next().unwrap_or_default();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
    header["kid"].as_str().unwrap_or_default().to_owned()
}

async fn two_replicas_share_keys_and_revocation(database_url: &str) {
    let client = reqwest::Client::new();
    let mut replicas: Vec<Replica> = (0..3).map(|_| start(database_url)).collect();
    for r in &mut replicas {
        wait_ready(&client, r).await;
    }
    let (a, b) = (&replicas[0].base, &replicas[1].base);
    let signup = client
        .post(format!("{a}/v1/auth/signup"))
        .json(
            &json!({"email": "replica@example.com", "password": "replicated secret", "name": "R"}),
        )
        .send()
        .await
        .expect("signup");
    assert_eq!(signup.status(), 201);
    let body: serde_json::Value = signup.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token");
    for base in [a, b, &replicas[2].base] {
        let r = client
            .get(format!("{base}/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("me");
        assert_eq!(r.status(), 200, "token from A refused by {base}");
    }
    let jwks_a: serde_json::Value = jwks(&client, &format!("{a}/.well-known/jwks.json")).await;
    let jwks_b: serde_json::Value = jwks(&client, &format!("{b}/.well-known/jwks.json")).await;
    assert_eq!(jwks_a, jwks_b);
    assert_eq!(jwks_a["keys"].as_array().map(Vec::len), Some(1));

    // `roster keys rotate`, run as an operator would, beside the running replicas: each of
    // them signs with the new key within its refresh interval, without a restart, and still
    // accepts the tokens signed before.
    let rotate = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["keys", "rotate"])
        .env("ROSTER_DATABASE_URL", database_url)
        .env_remove("ROSTER_PUBLIC_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("keys rotate");
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    let new_kid = String::from_utf8_lossy(&rotate.stdout).trim().to_owned();
    assert!(!new_kid.is_empty());
    let mut refresh = body["refresh_token"].as_str().expect("refresh").to_owned();
    for r in &replicas {
        let started = Instant::now();
        loop {
            let answer: serde_json::Value = client
                .post(format!("{}/v1/auth/refresh", r.base))
                .json(&json!({"refresh_token": refresh}))
                .send()
                .await
                .expect("refresh")
                .json()
                .await
                .expect("json");
            refresh = answer["refresh_token"].as_str().expect("rt").to_owned();
            let access = answer["access_token"].as_str().expect("at");
            if kid_of(access) == new_kid {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} never signed with the rotated key",
                r.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let jwks: serde_json::Value =
            jwks(&client, &format!("{}/.well-known/jwks.json", r.base)).await;
        assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2), "{}", r.base);
        let me = client
            .get(format!("{}/v1/me", r.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("me");
        assert_eq!(
            me.status(),
            200,
            "{} refuses a token signed before the rotation",
            r.base
        );
    }

    let out = client
        .post(format!("{a}/v1/auth/logout"))
        .bearer_auth(token)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 204);
    for base in [b, &replicas[2].base, a] {
        let r = client
            .get(format!("{base}/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("me");
        assert_eq!(r.status(), 401, "{base} still accepts a logged-out token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ROSTER_TEST_POSTGRES_URL and run the ignored tests (scripts/test does)"]
async fn replicas_on_one_postgres_start_together_and_agree_on_tokens_and_revocation() {
    two_replicas_share_keys_and_revocation(&postgres_schema_url().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_on_one_sqlite_file_start_together_and_agree_on_tokens_and_revocation() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    two_replicas_share_keys_and_revocation(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_app_and_a_replica_share_one_database() {
    // The test harness's app and a separate process see the same sessions.
    let app = TestApp::spawn(crate::helpers::Db::Sqlite).await;
    let a = app.signup("shared@example.com", "Shared").await;
    let mut replica = start(&app.database_url);
    let client = reqwest::Client::new();
    wait_ready(&client, &mut replica).await;
    let r = client
        .get(format!("{}/v1/me", replica.base))
        .bearer_auth(&a.access)
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), 200);
}

/// A replica's JWKS document.
async fn jwks(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json")
}
