//! A real HTTP receiver of webhooks for the tests: `tests/support/webhook_receiver.py` in the
//! project's venv, which verifies every delivery with the `standardwebhooks` package and can be
//! told which status to answer.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

pub struct Receiver {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn spawn(port: u16, dir: &std::path::Path) -> Child {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "no Python for the webhook receiver at {}; run scripts/setup-test-env",
        python.display()
    );
    let child = Command::new(python)
        .arg(root.join("tests/support/webhook_receiver.py"))
        .arg(port.to_string())
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the webhook receiver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the webhook receiver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

impl Receiver {
    pub fn start() -> Receiver {
        let dir = tempfile::tempdir().expect("receiver dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let child = spawn(port, dir.path());
        Receiver { child, port, dir }
    }

    /// Stops the receiver: connections to its port are refused until `restart`.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port, keeping what it received.
    pub fn restart(&mut self) {
        self.child = spawn(self.port, self.dir.path());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The secrets deliveries are verified against.
    pub fn trust(&self, secrets: &[&str]) {
        std::fs::write(self.dir.path().join("secrets"), secrets.join("\n")).expect("secrets");
    }

    /// One more secret deliveries are verified against.
    pub fn also_trust(&self, secret: &str) {
        let path = self.dir.path().join("secrets");
        let mut all = std::fs::read_to_string(&path).unwrap_or_default();
        all.push('\n');
        all.push_str(secret);
        std::fs::write(path, all).expect("secrets");
    }

    /// How long each answer waits from now on (0: none).
    pub fn slow(&self, seconds: f64) {
        let path = self.dir.path().join("slow");
        if seconds > 0.0 {
            std::fs::write(path, seconds.to_string()).expect("slow");
        } else {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The status every answer has from now on.
    pub fn answer(&self, status: u16) {
        std::fs::write(self.dir.path().join("status"), status.to_string()).expect("status");
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a received record"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The settings of an app that may send webhooks to 127.0.0.1 (and nowhere else private),
/// where the receiver listens.
pub fn loopback_allowed(s: &mut roster::config::Settings) {
    s.webhook_allow = Some(vec!["127.0.0.1".into()]);
}
