//! A real SMTP server for the tests: `tests/support/smtp_sink.py` (aiosmtpd) in the project's
//! venv (`scripts/setup-test-env`), which can be told to refuse mail for a while.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var("ROSTER_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join(".venv/bin/python"));
        assert!(
            python.exists(),
            "no Python for the SMTP test server at {}; run scripts/setup-test-env",
            python.display()
        );
        let dir = tempfile::tempdir().expect("mail dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let child = Command::new(python)
            .arg(root.join("tests/support/smtp_sink.py"))
            .arg(port.to_string())
            .arg(dir.path().join("inbox"))
            .arg(dir.path().join("refuse"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP test server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the SMTP test server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Makes the server refuse (temporarily) every message, or accept again.
    pub fn refuse(&self, on: bool) {
        let flag = self.dir.path().join("refuse");
        if on {
            std::fs::write(flag, b"refuse").expect("flag");
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }

    /// Every message received so far, in order, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path().join("inbox"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("message"))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The invitation tokens a message carries (from its links).
pub fn tokens_in(message: &str) -> Vec<String> {
    // Quoted-printable may fold lines with `=\r\n` and encode `=`; undo both first.
    let text = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let mut found: Vec<String> = text
        .match_indices("/invite/inv_")
        .map(|(i, _)| {
            text[i + "/invite/".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect()
        })
        .collect();
    found.sort();
    found.dedup();
    found
}
