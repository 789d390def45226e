//! What one client can hold of the server: a connection that sends its headers too slowly,
//! or sits idle after an answer, is closed after the header timeout; connections past the cap
//! wait until one frees. (Connection handling is the same on both databases: SQLite only.)

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{Db, TestApp};

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

async fn app_with(max_connections: usize) -> TestApp {
    TestApp::spawn_with(Db::Sqlite, |s| {
        s.header_timeout = Some("1s".into());
        s.max_connections = Some(max_connections);
    })
    .await
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `limit` passes); whether it closed.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_clients_are_dropped_within_the_header_timeout_while_others_are_served() {
    let app = app_with(4096).await;
    let target = addr(&app);
    let clients: Vec<_> = (0..500)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let mut stream = TcpStream::connect(&target).await.expect("connect");
                let request = b"GET /healthz HTTP/1.1\r\nHost: roster.test\r\nX-Slow: ";
                // One byte every 200 ms: the headers would take 10 s to arrive.
                for byte in request.iter().cycle().take(50) {
                    if stream.write_all(&[*byte]).await.is_err() {
                        return started.elapsed();
                    }
                    let mut buf = [0u8; 64];
                    match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf))
                        .await
                    {
                        Ok(Ok(0) | Err(_)) => return started.elapsed(),
                        Ok(Ok(n)) => panic!("answered a request that never finished: {n} bytes"),
                        Err(_) => {}
                    }
                }
                panic!("a slow client kept its connection for 10 s");
            })
        })
        .collect();
    // Meanwhile, ordinary requests are answered.
    let mut served = 0;
    while !clients.iter().all(tokio::task::JoinHandle::is_finished) && served < 100 {
        let r = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(r.status(), 200);
        served += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served >= 5, "only {served} ordinary requests ran alongside");
    for client in clients {
        let held = client.await.expect("slow client");
        assert!(
            held < HEADER_TIMEOUT + Duration::from_secs(3),
            "a slow client held its connection for {held:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let app = app_with(4096).await;
    let mut stream = TcpStream::connect(addr(&app)).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: roster.test\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(
        closed_within(&mut stream, HEADER_TIMEOUT + Duration::from_secs(3)).await,
        "an idle keep-alive connection stayed open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_until_one_frees() {
    let app = app_with(2).await;
    let target = addr(&app);
    let held_a = TcpStream::connect(&target).await.expect("connect");
    let held_b = TcpStream::connect(&target).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let waiting = tokio::spawn({
        let url = app.url("/healthz");
        async move { fresh.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a third connection was served past a cap of two"
    );
    drop(held_a);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting connection was never served")
        .expect("task")
        .expect("request");
    assert_eq!(status, 200);
    drop(held_b);
}
