//! Remote brokers for the bridge tests: Debian's Mosquitto started on a free port with a
//! config the test writes, and MQTT clients (rumqttc) that collect what they receive.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().unwrap().port()
}

/// Whether the `mosquitto` broker (Debian package `mosquitto`) is installed.
pub fn have_mosquitto() -> bool {
    Path::new("/usr/sbin/mosquitto").exists()
}

/// A Mosquitto broker on 127.0.0.1:`port`, with `extra` config lines; stopped on drop.
pub struct Mosquitto {
    pub port: u16,
    conf: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// On a free port: if another process took the port between `free_port` and Mosquitto's
    /// bind (tests run in parallel), Mosquitto exits and another port is tried.
    pub fn start(dir: &Path, extra: &str) -> Mosquitto {
        for _ in 0..5 {
            let port = free_port();
            let conf = dir.join(format!("mosquitto-{port}.conf"));
            let text =
                format!("listener {port} 127.0.0.1\nuser root\nmax_queued_messages 0\n{extra}\n");
            std::fs::write(&conf, text).unwrap();
            let mut m = Mosquitto {
                port,
                conf,
                child: None,
            };
            m.restart();
            // Still running after its socket is up: the listener is its own.
            std::thread::sleep(Duration::from_millis(100));
            let alive = m
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(None)));
            if alive {
                return m;
            }
        }
        panic!("mosquitto did not start on any of 5 free ports");
    }

    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Start (again) with the same config and port.
    pub fn restart(&mut self) {
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run mosquitto");
        self.child = Some(child);
        wait_listening(self.port);
    }

    /// SIGTERM and wait (Mosquitto saves its persistence file, if any).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Wait until 127.0.0.1:port is in state LISTEN, without connecting to it.
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = format!("0100007F:{port:04X}");
    while Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let up = table.lines().skip(1).any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && cols[1] == want && cols[3] == "0A"
        });
        if up {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port}");
}

/// What a [`Subscriber`] received: (topic, payload, qos, retain).
pub type Received = Arc<Mutex<Vec<(String, String, u8, bool)>>>;

/// A rumqttc client subscribed to `filters` (at QoS 2), collecting every publish; with
/// `persistent` it keeps its session and reconnects after a broker restart.
pub struct Subscriber {
    pub received: Received,
    pub client: rumqttc::Client,
}

impl Subscriber {
    pub fn start(addr: SocketAddr, id: &str, filters: &[&str], persistent: bool) -> Subscriber {
        let mut opts = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
        opts.set_clean_session(!persistent);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_max_packet_size(1 << 20, 1 << 20);
        opts.set_inflight(100);
        let (client, mut conn) = rumqttc::Client::new(opts, 1000);
        let received: Received = Arc::default();
        let (r, (tx, rx)) = (received.clone(), std::sync::mpsc::channel());
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        let c = client.clone();
        std::thread::spawn(move || {
            let mut subscribed = false;
            for ev in conn.iter() {
                match ev {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) if !subscribed => {
                        for f in &filters {
                            c.subscribe(f, rumqttc::QoS::ExactlyOnce).unwrap();
                        }
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) if !subscribed => {
                        subscribed = true;
                        let _ = tx.send(());
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let payload = String::from_utf8_lossy(&p.payload).into_owned();
                        r.lock()
                            .unwrap()
                            .push((p.topic, payload, p.qos as u8, p.retain));
                    }
                    Err(rumqttc::ConnectionError::MqttState(_)) | Err(_) => {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    _ => {}
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("subscribed within 10 s");
        Subscriber { received, client }
    }

    /// Wait until `n` messages arrived (or `within` passed); returns what arrived.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<(String, String, u8, bool)> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A publishing rumqttc client; `publish` returns once the broker acknowledged (QoS 1/2).
pub struct Publisher {
    client: rumqttc::Client,
    acks: std::sync::mpsc::Receiver<()>,
}

impl Publisher {
    pub fn start(addr: SocketAddr, id: &str) -> Publisher {
        let mut opts = rumqttc::MqttOptions::new(id, addr.ip().to_string(), addr.port());
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_inflight(100);
        let (client, mut conn) = rumqttc::Client::new(opts, 1000);
        let (tx, acks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(rumqttc::Event::Incoming(
                        rumqttc::Packet::PubAck(_) | rumqttc::Packet::PubComp(_),
                    )) => {
                        let _ = tx.send(());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                    _ => {}
                }
            }
        });
        Publisher { client, acks }
    }

    pub fn publish(&self, topic: &str, payload: &str, qos: u8, retain: bool) {
        let q = match qos {
            0 => rumqttc::QoS::AtMostOnce,
            1 => rumqttc::QoS::AtLeastOnce,
            _ => rumqttc::QoS::ExactlyOnce,
        };
        self.client.publish(topic, q, retain, payload).unwrap();
    }

    /// Wait for `n` acknowledgements.
    pub fn wait_acks(&self, n: usize) {
        for i in 0..n {
            self.acks
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("only {i} of {n} publishes acknowledged"));
        }
    }
}

/// A `[[bridges]]` table: `topics` are TOML inline tables.
pub fn bridge_toml(name: &str, addr: SocketAddr, topics: &[&str], extra: &str) -> String {
    format!(
        "[[bridges]]\nname = {name:?}\naddresses = [\"{addr}\"]\ntopics = [{}]\n\
         restart_timeout = {{ start = 0.2, max = 1.0, jitter = false }}\n{extra}\n",
        topics.join(", ")
    )
}
