//! A real `roster serve` killed with SIGKILL while deliveries are in flight, then started
//! again on the same database: every event still arrives, at least once, and a duplicate
//! carries the same `webhook-id`.

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::{helpers::postgres_schema_url, receiver::Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    killed_mid_delivery_every_event_still_arrives(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set ROSTER_TEST_POSTGRES_URL and run the ignored tests (scripts/test does)"]
async fn postgres() {
    killed_mid_delivery_every_event_still_arrives(&postgres_schema_url().await).await;
}

/// `roster serve` with its webhook worker, delivering to 127.0.0.1.
fn serve(url: &str, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env("ROSTER_DATABASE_URL", url)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROSTER_PUBLIC_URL", "http://roster.test")
        .env("ROSTER_OUTBOX_WORKER", "false")
        .env("ROSTER_WEBHOOK_ALLOW", "127.0.0.1")
        .env("ROSTER_WEBHOOK_TIMEOUT", "2s")
        .env("ROSTER_OUTBOX_INTERVAL", "100ms")
        .env("ROSTER_INVITE_RATE_LIMIT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn roster serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "roster serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = client.request(method, url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn killed_mid_delivery_every_event_still_arrives(db: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(db, port);
    let client = reqwest::Client::new();
    let rx = Receiver::start();
    rx.slow(1.5);
    use reqwest::Method;
    let (s, _) = call(
        &client,
        Method::POST,
        format!("{base}/v1/auth/signup"),
        None,
        json!({"email": "crash@example.com", "password": "correct horse battery staple", "name": "Crash"}),
    )
    .await;
    assert_eq!(s, 201);
    let login = |email: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let (s, body) = call(
                &client,
                Method::POST,
                format!("{base}/v1/auth/login"),
                None,
                json!({"email": email, "password": "correct horse battery staple"}),
            )
            .await;
            assert_eq!(s, 200, "{body}");
            body["access_token"].as_str().expect("token").to_owned()
        }
    };
    let token = login("crash@example.com").await;
    let (s, ws) = call(
        &client,
        Method::POST,
        format!("{base}/v1/workspaces"),
        Some(&token),
        json!({"name": "Crashing"}),
    )
    .await;
    assert_eq!(s, 201, "{ws}");
    let ws = ws["id"].as_str().expect("id").to_owned();
    let (s, hook) = call(
        &client,
        Method::POST,
        format!("{base}/v1/workspaces/{ws}/webhooks"),
        Some(&token),
        json!({"url": rx.url("/crash"), "event_types": ["invitation.created"]}),
    )
    .await;
    assert_eq!(s, 201, "{hook}");
    rx.trust(&[hook["secret"].as_str().expect("secret")]);
    const EVENTS: usize = 40;
    for i in 0..EVENTS {
        let (s, body) = call(
            &client,
            Method::POST,
            format!("{base}/v1/workspaces/{ws}/invitations"),
            Some(&token),
            json!({"email": format!("guest{i}@example.com"), "role": "viewer"}),
        )
        .await;
        assert_eq!(s, 201, "{body}");
    }
    // Killed once the receiver holds requests it has not answered yet.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rx.received().is_empty() {
        assert!(Instant::now() < deadline, "no delivery started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    let in_flight: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r["webhook_id"].as_str().expect("id").to_owned())
        .collect();
    let at_kill = in_flight.len();
    assert!(
        at_kill < EVENTS,
        "the kill came too late to interrupt anything"
    );
    rx.slow(0.0);
    let mut server = serve(db, port);
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for r in rx.received() {
            *seen
                .entry(r["webhook_id"].as_str().expect("id").to_owned())
                .or_default() += 1;
        }
        let resent = in_flight
            .iter()
            .all(|id| seen.get(id).copied().unwrap_or(0) >= 2);
        if (seen.len() == EVENTS && resent) || Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(seen.len(), EVENTS, "every event arrived at least once");
    let received = rx.received();
    assert!(received.iter().all(|r| r["verified"] == true));
    // Those in flight at the kill were never acknowledged to Roster, so they were sent again,
    // under the same id.
    for id in &in_flight {
        assert!(
            seen[id] >= 2,
            "{id} was in flight at the kill and not sent again"
        );
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    assert_eq!(received.len(), EVENTS + duplicates);
    println!("{EVENTS} events, {at_kill} in flight at the kill, {duplicates} sent twice under the same webhook-id");
}
