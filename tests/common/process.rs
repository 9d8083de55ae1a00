//! The real `courtier` binary as a child process, for crash (kill -9) and restart tests.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_courtier");

pub struct BrokerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Log lines, collected by a thread.
    pub log: mpsc::Receiver<String>,
    /// The lines logged up to "listening".
    pub startup_log: Vec<String>,
}

impl BrokerProcess {
    /// Start on port 0 with `data_dir`, extra args and environment; wait for "listening".
    pub fn start(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> BrokerProcess {
        let mut child = Command::new(BIN)
            .args(["-p", "0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            // RUST_LOG first, so that a test may set its own (or "" to use [log] level).
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .env("COURTIER__HTTP__PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run courtier");
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut startup_log = Vec::new();
        let addr = loop {
            let line = log
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("courtier did not listen ({e}): {startup_log:#?}"));
            if let Some(rest) = line.split("listening for MQTT on ").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
            startup_log.push(line);
        };
        BrokerProcess {
            child,
            addr,
            log,
            startup_log,
        }
    }

    /// SIGKILL: no shutdown code runs, as in a crash.
    /// The HTTP listener's address, from its start-up log line.
    pub fn http_addr(&self) -> SocketAddr {
        self.startup_log
            .iter()
            .find_map(|l| l.split("listening for HTTP on ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .expect("the HTTP listener's address in the log")
    }

    /// The value of an unlabelled series in /metrics, waiting up to 10 s for it: until the
    /// broker is ready, /metrics answers 503 "the broker is starting".
    pub fn metric(&self, name: &str) -> u64 {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let body = super::http::get(self.http_addr(), "/metrics").body;
            let value = body
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok());
            match value {
                Some(v) => return v,
                None if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                None => panic!("{name} not in /metrics: {body}"),
            }
        }
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// All log lines seen so far, start-up included.
    pub fn drain_log(&self) -> Vec<String> {
        let mut all = self.startup_log.clone();
        all.extend(self.log.try_iter());
        all
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGTERM and wait: the broker's clean shutdown path.
pub fn terminate(b: BrokerProcess) {
    let ok = Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let mut b = b;
    let status = b.child.wait().unwrap();
    assert!(status.success(), "clean exit: {status:?}");
}
