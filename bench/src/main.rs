//! `courtier-bench`: an MQTT 3.1.1 and 5.0 (`--mqtt5`) load generator usable against any broker.
//!
//! One scenario per run; prints one JSON line on stdout and a readable table on stderr. Runs on
//! a single-threaded tokio runtime with a raw client (`wire.rs`, parsing in place), so the
//! generator stays much cheaper than the broker; its own CPU time is reported (getrusage), and
//! with `--broker-pid` so is the broker's (CPU µs per delivered message, RSS per connection).
//!
//! - `client.rs`: one raw connection (connect, subscribe, batched writes, in-place frames)
//! - `load/`: fan-in (also to a shared subscription), fan-out, pairs and latency, also beside
//!   a fixed-rate fan-in (publishers and subscribers over a duration); `publisher.rs` and
//!   `subscriber.rs` are their two sides
//! - `pace.rs`: fixed-rate publishing (the latency probe, the steady load beside it)
//! - `scenarios.rs`: idle connections, reconnects, the retained burst, persistent sessions
//! - `stats.rs`: CPU, memory, percentiles and the report
//! - `transport.rs`: TCP or TLS, user name and password

mod acks;
mod client;
mod load;
mod pace;
mod scenarios;
mod stats;
mod trace_api;
mod transport;
mod wire;

use clap::{Parser, ValueEnum};
use std::net::{SocketAddr, ToSocketAddrs};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// P publishers -> 1 wildcard subscriber
    Fanin,
    /// 1 publisher -> S subscribers of the same topic
    Fanout,
    /// N publisher/subscriber pairs, one topic each
    Pairs,
    /// 1 publisher at a fixed rate -> 1 subscriber; latency percentiles (with --load-rate:
    /// beside a fan-in at that rate)
    Latency,
    /// K idle connections: connect time, broker memory per connection
    Conns,
    /// retained topics under homeassistant/, then S subscribers to homeassistant/# at once
    RetainedBurst,
    /// QoS 1 into offline persistent sessions, then reconnect and drain
    Persistent,
    /// K clients connect (with --username/--password: the broker checks K passwords, "cold"),
    /// disconnect, and connect again ("cached": a broker that remembers verified passwords
    /// skips the hashing); connects per second of each pass
    Reconnect,
}

/// MQTT load generator: one scenario per run, JSON line on stdout, table on stderr.
#[derive(Parser, Debug)]
#[command(name = "courtier-bench", version)]
pub struct Opts {
    #[arg(value_enum)]
    scenario: Scenario,
    /// Broker host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Broker port.
    #[arg(short, long, default_value_t = 1883)]
    port: u16,
    /// Broker process id: reports its CPU (µs per delivered message) and RSS.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Name of the broker in the report.
    #[arg(long, default_value = "broker")]
    label: String,
    /// QoS of publishes and subscriptions (0, 1 or 2).
    #[arg(short, long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Payload bytes (at least 20: publisher, sequence and timestamp).
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Measured duration in seconds (fanin, fanout, pairs, latency).
    #[arg(short, long, default_value_t = 5.0)]
    duration: f64,
    /// Unacknowledged QoS 1/2 publishes allowed per publisher.
    #[arg(long, default_value_t = 64)]
    inflight: usize,
    /// Closed loop: a publisher is never more than N messages ahead of delivery.
    #[arg(long)]
    closed_loop: Option<u64>,
    /// Publishers (fanin; latency with --load-rate: the load's publishers; default 10).
    #[arg(long, default_value_t = 10)]
    publishers: usize,
    /// Fan-in to a shared subscription instead: N subscribers of
    /// `$share/bench/<the fan-in filter>`, each message to one of them (fanin).
    #[arg(long)]
    shared: Option<usize>,
    /// Subscribers (fanout: 100; retained-burst: 20; persistent: sessions, 10).
    #[arg(long)]
    subscribers: Option<usize>,
    /// Publisher/subscriber pairs (pairs).
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Messages per second (latency).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Latency under load: beside the probe, --publishers publishers send this many messages
    /// per second in all (evenly split, at the same QoS) to one wildcard subscriber, as fanin
    /// does; the probe's latency is reported, the load's achieved rate as load_msgs_per_s
    /// (latency).
    #[arg(long, value_name = "MSGS_PER_S")]
    load_rate: Option<f64>,
    /// Connections (conns).
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Connections being established at once (conns).
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Seconds to hold idle connections before measuring the broker's memory (conns).
    #[arg(long, default_value_t = 1.0)]
    hold: f64,
    /// Retained topics (retained-burst).
    #[arg(long, default_value_t = 2000)]
    topics: usize,
    /// Messages published into the offline sessions (persistent).
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Speak MQTT 5.0 (protocol level 5) instead of 3.1.1, every client of the run. Persistent
    /// sessions get a Session Expiry Interval (1 h) in place of clean session 0.
    #[arg(long, visible_alias = "v5")]
    mqtt5: bool,
    /// User Properties (`u<i>` = `v<i>`, 9 bytes each) added to every PUBLISH (needs --mqtt5).
    #[arg(long, default_value_t = 0, requires = "mqtt5")]
    user_properties: usize,
    /// Topic Alias Maximum every client sends in CONNECT: the broker may then send topic
    /// aliases (needs --mqtt5; 0: none).
    #[arg(long, default_value_t = 0, requires = "mqtt5")]
    topic_alias_max: u16,
    /// Fan-out from N publishers, each on a long device topic as Zigbee2MQTT and Home Assistant
    /// use them (`.../homeassistant/sensor/0x00158d0000000001/temperature/state`,
    /// `.../zigbee2mqtt/Living Room Motion Sensor 2/availability`), every subscriber on all of
    /// them through one wildcard filter (fanout; 0: one short topic, one publisher).
    #[arg(long, default_value_t = 0)]
    device_topics: usize,
    /// MQTT over TLS, trusting this CA (PEM); the server name checked is "localhost".
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
    /// User name of every client; `{i}` becomes the client's number (one user per client).
    #[arg(long)]
    username: Option<String>,
    /// Password of every client (with --username); `{i}` as in --username.
    #[arg(long, requires = "username")]
    password: Option<String>,
    /// Trace the first subscriber over Courtier's API at this URL (http://127.0.0.1:PORT) for
    /// the run: the cost of one traced client to the others (fanin, fanout, pairs, latency).
    #[arg(long, value_name = "URL")]
    trace_first: Option<String>,
    /// Which client --trace-first traces: the first subscriber, or the first publisher (then
    /// every hop of its messages is recorded).
    #[arg(long, value_enum, default_value = "subscriber")]
    trace_role: trace_api::TraceRole,
    /// Read the trace's live stream (`/api/v1/traces/{id}/stream`) during the run, as an open
    /// dashboard does; the records read are reported as `stream_records`.
    #[arg(long, requires = "trace_first")]
    trace_stream: bool,
    /// The first publisher sends this many messages per second instead of as fast as allowed
    /// (0: it stays connected and idle), the others as usual (fanin, pairs).
    #[arg(long)]
    first_rate: Option<f64>,
    /// Only the first publisher sends; the others stay connected and idle (fanin, pairs).
    #[arg(long)]
    only_first: bool,
}

impl Opts {
    pub fn proto(&self) -> client::Proto {
        client::Proto {
            v5: self.mqtt5,
            user_properties: self.user_properties,
            topic_alias_max: self.topic_alias_max,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("cannot resolve {}:{}", self.host, self.port))
    }
}

fn plan(o: &Opts) -> load::Plan {
    let tag = std::process::id();
    match o.scenario {
        Scenario::Fanin => load::Plan {
            scenario: if o.shared.is_some() {
                "shared-fanin"
            } else {
                "fanin"
            },
            topics: (0..o.publishers)
                .map(|i| format!("bench/{tag}/fanin/{i}"))
                .collect(),
            filters: match o.shared {
                Some(n) => vec![format!("$share/bench/bench/{tag}/fanin/#"); n.max(1)],
                None => vec![format!("bench/{tag}/fanin/#")],
            },
            per_msg: 1,
            rate: None,
            load: None,
        },
        Scenario::Fanout if o.device_topics > 0 => {
            let s = o.subscribers.unwrap_or(100);
            load::Plan {
                scenario: "fanout",
                topics: (0..o.device_topics)
                    .map(|i| device_topic(&format!("bench/{tag}"), i))
                    .collect(),
                filters: vec![format!("bench/{tag}/#"); s],
                per_msg: s as u64,
                rate: None,
                load: None,
            }
        }
        Scenario::Fanout => {
            let s = o.subscribers.unwrap_or(100);
            load::Plan {
                scenario: "fanout",
                topics: vec![format!("bench/{tag}/fanout")],
                filters: vec![format!("bench/{tag}/fanout"); s],
                per_msg: s as u64,
                rate: None,
                load: None,
            }
        }
        Scenario::Pairs => load::Plan {
            scenario: "pairs",
            topics: (0..o.pairs)
                .map(|i| format!("bench/{tag}/pair/{i}"))
                .collect(),
            filters: (0..o.pairs)
                .map(|i| format!("bench/{tag}/pair/{i}"))
                .collect(),
            per_msg: 1,
            rate: None,
            load: None,
        },
        _ => {
            let load = o.load_rate.filter(|r| *r > 0.0);
            let n = if load.is_some() {
                o.publishers.max(1)
            } else {
                0
            };
            let mut topics = vec![format!("bench/{tag}/latency")];
            topics.extend((0..n).map(|i| format!("bench/{tag}/load/{i}")));
            let mut filters = vec![format!("bench/{tag}/latency")];
            if n > 0 {
                filters.push(format!("bench/{tag}/load/#"));
            }
            load::Plan {
                scenario: if n > 0 { "latency-loaded" } else { "latency" },
                topics,
                filters,
                per_msg: 1,
                rate: Some(o.rate),
                load: load.map(|r| r / n as f64),
            }
        }
    }
}

/// The `i`th device topic under `prefix`, Home Assistant and Zigbee2MQTT alternately (44 to 52
/// bytes after the prefix).
fn device_topic(prefix: &str, i: usize) -> String {
    match i % 2 {
        0 => format!("{prefix}/homeassistant/sensor/0x00158d{i:010x}/temperature/state"),
        _ => format!("{prefix}/zigbee2mqtt/Living Room Motion Sensor {i}/availability"),
    }
}

fn main() {
    let o = Opts::parse();
    let tls = o.tls_ca.as_deref().map(|ca| {
        transport::tls_config(ca).unwrap_or_else(|e| {
            eprintln!("courtier-bench: --tls-ca {}: {e}", ca.display());
            std::process::exit(2)
        })
    });
    transport::set_access(transport::Access {
        tls,
        username: o.username.clone(),
        password: o.password.clone(),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        match o.scenario {
            Scenario::Conns => scenarios::conns(&o).await,
            Scenario::RetainedBurst => scenarios::retained_burst(&o).await,
            Scenario::Persistent => scenarios::persistent(&o).await,
            Scenario::Reconnect => scenarios::reconnect(&o).await,
            _ => load::run(&o, plan(&o)).await,
        }
    });
    match result {
        Ok(report) => {
            println!("{}", report.json());
            eprint!("{}", report.table());
        }
        Err(e) => {
            eprintln!("courtier-bench: {e}");
            std::process::exit(1);
        }
    }
}
