//! Shared helpers for Courtier's black-box tests.
//!
//! Everything here talks to the broker only through `TestBroker::addr()`. The one place that
//! knows *which* broker runs is `launch_broker_process` below: today it starts the reference
//! broker Mosquitto (which proves the tests right), later it is replaced by an in-process
//! Courtier start.
#![allow(dead_code)]

pub mod http;
pub mod packets;
pub mod process;
pub mod raw;
pub mod remote;
pub mod script;
pub mod security;
pub mod tls;
pub mod v5;
pub mod v5_props;
pub mod ws;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use packets::*;
#[allow(unused_imports)]
pub use raw::RawClient;

/// Broker settings a test can change. `Default` equals the broker's documented defaults.
#[derive(Clone, Debug)]
pub struct TestConfig {
    pub max_queued_messages: usize,
    pub max_inflight_messages: u16,
    pub max_packet_size: u32,
    pub max_connections: Option<usize>,
    /// `limits.max_keepalive`, seconds.
    pub max_keepalive: u16,
    pub allow_anonymous: bool,
    pub sys_interval_secs: u64,
    pub connect_timeout_secs: u64,
    /// `persistence.session_expiry_secs`; 0 = persistent sessions never expire.
    pub session_expiry_secs: u64,
    /// Any other setting, changed last.
    pub tweak: Option<fn(&mut courtier::config::Settings)>,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            max_queued_messages: 8192,
            max_inflight_messages: 20,
            max_packet_size: 268_435_460,
            max_connections: None,
            max_keepalive: 65535,
            allow_anonymous: true,
            sys_interval_secs: 10,
            connect_timeout_secs: 10,
            session_expiry_secs: 30 * 24 * 3600,
            tweak: None,
        }
    }
}

/// A running broker; dropping it stops the broker.
pub struct TestBroker {
    addr: SocketAddr,
    handle: BrokerHandle,
}

impl TestBroker {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// The HTTP listener (MQTT over WebSocket, /metrics, /healthz, /readyz), on a port the
    /// operating system chose.
    pub fn http_addr(&self) -> SocketAddr {
        self.handle
            .server
            .as_ref()
            .and_then(|s| s.http_addr)
            .expect("the test broker serves HTTP")
    }
    /// The in-process broker, for reading its counters directly.
    pub fn broker(&self) -> &courtier_actors::Broker {
        &self.handle.server.as_ref().expect("running").broker
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.handle.stop();
    }
}

/// Default configuration on a random free port of 127.0.0.1.
pub fn start_broker() -> TestBroker {
    start_broker_with(TestConfig::default())
}

pub fn start_broker_with(cfg: TestConfig) -> TestBroker {
    // A port race with another test (or developer) is possible between picking and binding:
    // retry a few times with a fresh port.
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        match launch_broker_process(&cfg, port) {
            Ok(mut handle) => {
                if wait_until_accepting(addr, &mut handle, Duration::from_secs(10)) {
                    return TestBroker { addr, handle };
                }
                handle.stop();
                last_err = format!("broker did not accept on {addr}");
            }
            Err(e) => last_err = e,
        }
    }
    panic!("could not start the test broker: {last_err}");
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().unwrap().port()
}

/// Wait until something listens on the broker's port, without connecting to it: Mosquitto
/// 2.0.11 (Debian 12) miscounts closed connections towards max_connections, so a probe
/// connection would let one extra client in. Reads /proc/net/tcp; elsewhere falls back to a TCP
/// connect probe.
fn wait_until_accepting(addr: SocketAddr, handle: &mut BrokerHandle, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !handle.is_running() {
            return false;
        }
        let listening = match std::fs::read_to_string("/proc/net/tcp") {
            Ok(table) => is_listening(&table, addr.port()),
            Err(_) => TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
        };
        if listening {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Whether /proc/net/tcp lists 127.0.0.1:port (or 0.0.0.0:port) in state LISTEN (0A).
fn is_listening(table: &str, port: u16) -> bool {
    let want = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols.len() > 3 && want.iter().any(|w| w == cols[1]) && cols[3] == "0A"
    })
}

/// What `launch_broker_process` returns: something that can be asked whether it still runs and
/// told to stop.
pub struct BrokerHandle {
    server: Option<courtier::ServerThread>,
}

impl BrokerHandle {
    fn is_running(&mut self) -> bool {
        self.server.is_some()
    }
    fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

// ================================================================================================
// THE BROKER UNDER TEST: Courtier, in process, on its own thread and actix System, with an
// in-memory store. (The suite was first validated against the reference broker Mosquitto; the
// tests marked courtier-specific assert where Courtier deliberately differs.)
// ================================================================================================
fn launch_broker_process(cfg: &TestConfig, port: u16) -> Result<BrokerHandle, String> {
    let mut s = courtier::config::Settings::defaults();
    s.listener.port = port;
    s.http.port = 0;
    s.security.allow_anonymous = cfg.allow_anonymous;
    s.limits.max_queued_messages = cfg.max_queued_messages;
    s.limits.max_inflight_messages = cfg.max_inflight_messages;
    s.limits.max_packet_size = cfg.max_packet_size;
    s.limits.max_connections = cfg.max_connections.map_or(-1, |n| n as i64);
    s.limits.max_keepalive = cfg.max_keepalive;
    s.broker.sys_interval_secs = cfg.sys_interval_secs;
    s.broker.connect_timeout_secs = cfg.connect_timeout_secs;
    s.persistence.session_expiry_secs = cfg.session_expiry_secs;
    if let Some(tweak) = cfg.tweak {
        tweak(&mut s);
    }
    let store = std::sync::Arc::new(courtier_storage::MemoryStore::new());
    let server = courtier::ServerThread::spawn(s, store).map_err(|e| e.to_string())?;
    Ok(BrokerHandle {
        server: Some(server),
    })
}
// ================================================================================================

/// A unique client id / topic prefix per call, so tests sharing a broker never collide.
pub fn unique(prefix: &str) -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}
