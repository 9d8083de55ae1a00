//! A panic is a fault, not an outage (issue #19 item 2): a panic in a handler of any kind of
//! actor is caught by its supervision. Singletons restart with their state; a Connection or
//! Session ends that client alone (its Will published, its persistent session kept); other
//! clients publish and subscribe at QoS 1 through it all with nothing lost and order kept; each
//! panic is logged at ERROR with a backtrace and counted per actor kind in /metrics and $SYS.
//! Panics are injected with the test-only `fault-injection` feature.

mod clients;
#[path = "../common/mod.rs"]
mod common;
mod store_writer;

use courtier::config::Settings;
use courtier::ServerThread;
use courtier_actors::{FailureTarget, PanicTarget};
use courtier_storage::MemoryStore;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// ERROR lines logged in this test process (the broker runs in it).
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Error
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() == log::Level::Error {
            let line = r.args().to_string();
            eprintln!("ERROR {line}");
            ERRORS.lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

fn capture_errors() {
    static LOGGER: Capture = Capture;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
    courtier::panic_hook::install();
}

fn settings() -> Settings {
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 1;
    s
}

fn start() -> ServerThread {
    capture_errors();
    ServerThread::spawn(settings(), Arc::new(MemoryStore::new())).unwrap()
}

fn options(server: &ServerThread, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", server.mqtt_addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    o
}

fn client(server: &ServerThread, id: &str) -> (AsyncClient, EventLoop) {
    AsyncClient::new(options(server, id), 100)
}

/// A client with a persistent session (clean session 0) and a Will on `wills/{id}`.
fn persistent_with_will(server: &ServerThread, id: &str) -> (AsyncClient, EventLoop) {
    let mut o = options(server, id);
    o.set_clean_session(false);
    o.set_last_will(LastWill::new(
        format!("wills/{id}"),
        "gone",
        QoS::AtLeastOnce,
        false,
    ));
    AsyncClient::new(o, 100)
}

/// Drive an event loop until `n` publishes arrived (or time runs out); returns their payloads.
async fn receive(ev: &mut EventLoop, n: usize, within: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(within, async {
        while got.len() < n {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => got.push(p.payload.to_vec()),
                Ok(_) => {}
                Err(e) => panic!("subscriber connection failed: {e}"),
            }
        }
    })
    .await;
    got
}

/// Drive an event loop until SUBACK; returns whether CONNACK said session present.
async fn wait_subscribed(ev: &mut EventLoop) -> bool {
    let mut present = false;
    loop {
        match ev.poll().await.expect("connected") {
            Event::Incoming(Packet::ConnAck(c)) => present = c.session_present,
            Event::Incoming(Packet::SubAck(_)) => return present,
            _ => {}
        }
    }
}

/// Drive a reconnected client's event loop until `n` publishes arrived (queued ones may come
/// before the SUBACK); returns CONNACK's session present and the payloads.
async fn rejoin(ev: &mut EventLoop, n: usize) -> (Option<bool>, Vec<Vec<u8>>) {
    let mut present = None;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while got.len() < n {
            match ev.poll().await.expect("reconnected") {
                Event::Incoming(Packet::ConnAck(c)) => present = Some(c.session_present),
                Event::Incoming(Packet::Publish(p)) => got.push(p.payload.to_vec()),
                _ => {}
            }
        }
    })
    .await;
    (present, got)
}

/// Drive an event loop until the broker closes the connection.
async fn until_closed(ev: &mut EventLoop, within: Duration) -> bool {
    tokio::time::timeout(within, async { while ev.poll().await.is_ok() {} })
        .await
        .is_ok()
}

fn panics_of(server: &ServerThread, actor: &str) -> u64 {
    let m = server.broker.metrics();
    m.panics()
        .into_iter()
        .find(|(a, _)| *a == actor)
        .map_or(0, |(_, n)| n)
}

/// The actor kinds, then the store's writer thread and the background tasks
/// (`store_writer.rs`).
const KINDS: [&str; 9] = [
    "Connection",
    "Session",
    "RetainStore",
    "SessionRegistry",
    "TopicRouter",
    "TopicSubtree",
    "SysPublisher",
    "StoreWriter",
    "BackgroundTask",
];

/// Every kind is listed from the first scrape, at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_list_every_actor_kind_from_zero() {
    let server = start();
    let http = server.http_addr.expect("http listener");
    let body = tokio::task::spawn_blocking(move || common::http::get(http, "/metrics").body)
        .await
        .unwrap();
    for kind in KINDS {
        // Background tasks are counted process-wide: another test here may have had one.
        let zero = if kind == "BackgroundTask" { "" } else { " 0" };
        let line = format!("courtier_actor_panics_total{{actor=\"{kind}\"}}{zero}");
        assert!(body.contains(&line), "{line} in /metrics:\n{body}");
    }
}

/// A panic in each kind of actor, one after another, while a publisher sends 800 QoS 1
/// messages to two subscribers (one through a literal subtree, one through the wildcard one):
/// every message arrives once, in order; a victim client per Session and Connection panic is
/// disconnected, nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_every_actor_kind_loses_nothing_for_other_clients() {
    let server = start();
    let (sub, mut sev) = client(&server, "panic-subscriber");
    sub.subscribe("sensors/#", QoS::AtLeastOnce).await.unwrap();
    let (sub2, mut sev2) = client(&server, "panic-wildcard");
    sub2.subscribe("+/temp", QoS::AtLeastOnce).await.unwrap();
    wait_subscribed(&mut sev).await;
    wait_subscribed(&mut sev2).await;
    let (victim_s, mut vsev) = client(&server, "victim-session");
    victim_s
        .subscribe("sensors/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    wait_subscribed(&mut vsev).await;
    let (victim_c, mut vcev) = client(&server, "victim-connection");
    victim_c
        .subscribe("sensors/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    wait_subscribed(&mut vcev).await;
    let victims = tokio::spawn(async move {
        let within = Duration::from_secs(20);
        let s = until_closed(&mut vsev, within).await;
        let c = until_closed(&mut vcev, within).await;
        (s, c)
    });

    let count = 800;
    let targets = [
        PanicTarget::Supervised(FailureTarget::TopicSubtree("sensors".into())),
        PanicTarget::Supervised(FailureTarget::TopicSubtree("#".into())),
        PanicTarget::Supervised(FailureTarget::RetainStore),
        PanicTarget::Supervised(FailureTarget::TopicRouter),
        PanicTarget::Supervised(FailureTarget::SessionRegistry),
        PanicTarget::SysPublisher,
        PanicTarget::Session("victim-session".into()),
        PanicTarget::Connection("victim-connection".into()),
    ];
    let publish = async {
        let (publisher, mut pev) = client(&server, "panic-publisher");
        let driver = tokio::spawn(async move { while pev.poll().await.is_ok() {} });
        let every = count / targets.len();
        for i in 0..count {
            if i % every == 0 {
                let target = targets[i / every].clone();
                assert!(server.broker.inject_panic(target).await, "target exists");
            }
            publisher
                .publish("sensors/temp", QoS::AtLeastOnce, false, i.to_string())
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        driver.abort();
    };
    let (got, got2, ()) = tokio::join!(
        receive(&mut sev, count, Duration::from_secs(30)),
        receive(&mut sev2, count, Duration::from_secs(30)),
        publish,
    );
    let expected: Vec<Vec<u8>> = (0..count).map(|i| i.to_string().into_bytes()).collect();
    assert_eq!(
        got, expected,
        "every message once, in order, through 8 panics"
    );
    assert_eq!(got2, expected, "the wildcard subtree kept its subscription");
    assert_eq!(
        victims.await.unwrap(),
        (true, true),
        "the clients whose Session / Connection panicked were disconnected"
    );
    for kind in &KINDS[..7] {
        assert!(panics_of(&server, kind) >= 1, "{kind}: panic counted");
    }
    assert_eq!(panics_of(&server, "TopicSubtree"), 2);

    // The registry (restarted) still admits clients, and routes to them.
    let (late, mut lev) = client(&server, "panic-late");
    late.subscribe("sensors/#", QoS::AtLeastOnce).await.unwrap();
    wait_subscribed(&mut lev).await;
    let (publisher, mut pev) = client(&server, "panic-publisher-2");
    tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    publisher
        .publish("sensors/late", QoS::AtLeastOnce, false, "late")
        .await
        .unwrap();
    assert_eq!(
        receive(&mut lev, 1, Duration::from_secs(10)).await,
        vec![b"late".to_vec()]
    );

    // Counted in /metrics and $SYS too; logged at ERROR with a backtrace.
    let http = server.http_addr.expect("http listener");
    let body = tokio::task::spawn_blocking(move || common::http::get(http, "/metrics").body)
        .await
        .unwrap();
    assert!(
        body.contains("courtier_actor_panics_total{actor=\"RetainStore\"} 1"),
        "{body}"
    );
    let (sys, mut sysev) = client(&server, "panic-sys");
    sys.subscribe("$SYS/broker/panics", QoS::AtMostOnce)
        .await
        .unwrap();
    // The retained value first, then the next tick's (sys_interval 1 s).
    let total = receive(&mut sysev, 2, Duration::from_secs(5))
        .await
        .iter()
        .map(|p| String::from_utf8_lossy(p).parse::<u64>().unwrap())
        .max()
        .unwrap_or(0);
    assert!(total >= 8, "$SYS/broker/panics = {total}");
    let errors = ERRORS.lock().unwrap().clone();
    let logged = errors
        .iter()
        .find(|l| l.contains("RetainStore: injected panic"))
        .expect("the panic logged at ERROR");
    assert!(logged.starts_with("panic in thread"), "{logged}");
    assert!(logged.contains("backtrace:"), "{logged}");
    // A frame of the handler that panicked.
    assert!(
        logged.contains("<courtier_actors::retain::RetainStore as actix::handler::Handler"),
        "{logged}"
    );
}
