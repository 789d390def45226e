//! Several `roster serve` processes on one database: they start together without a migration
//! race, share the signing key, and a logout through one is refused by the other at once.

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
        .env("ROSTER_PUBLIC_URL", "http://roster.test")
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
    let jwks_a: serde_json::Value = client
        .get(format!("{a}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let jwks_b: serde_json::Value = client
        .get(format!("{b}/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks_a, jwks_b);
    assert_eq!(jwks_a["keys"].as_array().map(Vec::len), Some(1));

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
