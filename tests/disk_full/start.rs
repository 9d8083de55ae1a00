//! A start on a full disk: the store is loaded read-only and served (persistent sessions with
//! their queued messages, retained messages), clean sessions work, what needs a write is not
//! acknowledged, one ERROR line and the write-error counter say so, and the store is opened
//! for writing by itself once there is room.

use crate::clients::{publish5, Client4, Outcome, Tmpfs};
use crate::common::process::{terminate, BrokerProcess};
use crate::{assert_none_lost, env, payload, tag_of};
use rumqttc::QoS;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Publish persistent QoS 1 messages to `df/p/x` until one is acknowledged (the store opened
/// for writing again), within 15 s; returns its tag.
fn publish_until_acked(addr: SocketAddr, tag: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    for n in 0.. {
        let p = payload(tag, n);
        let mut c = Client4::connect(addr, "df-start-again", true);
        match c.publish("df/p/x", p.clone(), QoS::AtLeastOnce, false) {
            Outcome::Acked(_) => return tag_of(&p),
            Outcome::Closed => {
                assert!(Instant::now() < deadline, "no recovery within 15 s");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    unreachable!()
}

/// Store ERROR lines in the log.
fn store_errors(b: &BrokerProcess) -> Vec<String> {
    b.drain_log()
        .into_iter()
        .filter(|l| l.contains("ERROR") && l.contains("store"))
        .collect()
}

#[test]
fn start_on_a_full_disk_serves_the_store_read_only_and_opens_it_when_there_is_room() {
    let Some(fs) = Tmpfs::mount("20m") else {
        return;
    };
    let data = fs.path().join("data");
    {
        let b = BrokerProcess::start(&data, &[], &env());
        let mut keeper = Client4::connect(b.addr, "df-keeper", false);
        keeper.subscribe("df/p/#", QoS::AtLeastOnce);
        drop(keeper);
        let mut p = Client4::connect(b.addr, "df-pub", true);
        let queued = payload("queued", 0);
        assert_eq!(
            p.publish("df/p/x", queued, QoS::AtLeastOnce, false),
            Outcome::Acked(0)
        );
        assert_eq!(
            p.publish("df/r/1", b"on".to_vec(), QoS::AtLeastOnce, true),
            Outcome::Acked(0)
        );
        terminate(b);
    }
    let filler = fs.fill();
    let b = BrokerProcess::start(&data, &[], &env());
    let addr = b.addr;

    // Clean sessions work, at every QoS.
    let mut clean_sub = Client4::connect(addr, "df-clean-sub", true);
    clean_sub.subscribe("df/c/#", QoS::ExactlyOnce);
    let mut cp = Client4::connect(addr, "df-clean-pub", true);
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            cp.publish("df/c/x", format!("clean-{i}").into_bytes(), qos, false),
            Outcome::Acked(0)
        );
    }
    assert_eq!(
        clean_sub.receive(Duration::from_millis(500)),
        [&b"clean-0"[..], b"clean-1", b"clean-2"]
    );
    // The retained message from the store is delivered.
    let mut r = Client4::connect(addr, "df-retained", true);
    r.subscribe("df/r/#", QoS::AtLeastOnce);
    assert_eq!(r.receive(Duration::from_millis(500)), [b"on".to_vec()]);
    // The persistent session gets what was queued for it.
    let mut keeper = Client4::connect(addr, "df-keeper", false);
    let got: Vec<String> = keeper
        .receive(Duration::from_millis(800))
        .iter()
        .map(|p| tag_of(p))
        .collect();
    assert_eq!(got, ["queued-0"], "the queued message from the store");
    drop(keeper);

    // What needs a write is not acknowledged: 3.1.1 closed, 5.0 PUBACK 0x97.
    let mut p = Client4::connect(addr, "df-pub-311", true);
    assert_eq!(
        p.publish("df/p/x", payload("refused", 0), QoS::AtLeastOnce, false),
        Outcome::Closed
    );
    assert_eq!(
        publish5(addr, "df-pub-5", "df/p/z", QoS::AtLeastOnce),
        Outcome::Acked(0x97)
    );

    // Counted, and logged at ERROR once (at start-up, with the free bytes).
    let errors = b.metric("courtier_store_write_errors_total");
    assert!(errors >= 2, "write errors counted: {errors}");
    let logged = store_errors(&b);
    assert_eq!(logged.len(), 1, "one ERROR: {logged:#?}");
    assert!(
        logged[0].contains("bytes free") && logged[0].contains("read-only"),
        "{}",
        logged[0]
    );

    // Room again: writes work without a restart, and what is acknowledged survives one.
    std::fs::remove_file(filler).unwrap();
    let mut acked = vec![publish_until_acked(addr, "after")];
    for i in 0..3 {
        let p = payload("after-more", i);
        let mut c = Client4::connect(addr, "df-pub-after", true);
        assert_eq!(
            c.publish("df/p/x", p.clone(), QoS::AtLeastOnce, false),
            Outcome::Acked(0)
        );
        acked.push(tag_of(&p));
    }
    assert!(store_errors(&b).len() == 1, "no ERROR after the start-up's");
    terminate(b);
    let b = BrokerProcess::start(&data, &[], &env());
    assert_none_lost(b.addr, &acked);
    let mut r = Client4::connect(b.addr, "df-retained", true);
    r.subscribe("df/r/#", QoS::AtLeastOnce);
    assert_eq!(r.receive(Duration::from_millis(500)), [b"on".to_vec()]);
}

#[test]
fn start_on_a_full_disk_without_a_store_starts_empty_and_creates_it_when_there_is_room() {
    let Some(fs) = Tmpfs::mount("20m") else {
        return;
    };
    let data = fs.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let filler = fs.fill();
    let b = BrokerProcess::start(&data, &[], &env());
    let addr = b.addr;
    let mut clean_sub = Client4::connect(addr, "df-clean-sub", true);
    clean_sub.subscribe("df/c/#", QoS::AtLeastOnce);
    let mut cp = Client4::connect(addr, "df-clean-pub", true);
    assert_eq!(
        cp.publish("df/c/x", b"clean".to_vec(), QoS::AtLeastOnce, false),
        Outcome::Acked(0)
    );
    assert_eq!(
        clean_sub.receive(Duration::from_millis(500)),
        [b"clean".to_vec()]
    );
    let logged = store_errors(&b);
    assert_eq!(logged.len(), 1, "one ERROR: {logged:#?}");
    assert!(logged[0].contains("no store yet"), "{}", logged[0]);

    std::fs::remove_file(filler).unwrap();
    // A persistent subscription is refused until the store exists: retried until it works.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut keeper = Client4::connect(addr, "df-keeper", false);
        if keeper.try_subscribe("df/p/#", QoS::AtLeastOnce) {
            break;
        }
        assert!(Instant::now() < deadline, "no store within 15 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let acked = publish_until_acked(addr, "after");
    terminate(b);
    let b = BrokerProcess::start(&data, &[], &env());
    let mut keeper = Client4::connect(b.addr, "df-keeper", false);
    let got: Vec<String> = keeper
        .receive(Duration::from_secs(2))
        .iter()
        .map(|p| tag_of(p))
        .collect();
    assert!(got.contains(&acked), "{acked} lost: got {got:?}");
}

#[test]
fn start_on_a_full_disk_with_a_mosquitto_db_to_import_is_a_clear_error() {
    let Some(fs) = Tmpfs::mount("20m") else {
        return;
    };
    let data = fs.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = fs.path().join("mosquitto.db");
    std::fs::copy("tests/fixtures/mosquitto/db/v6-retain.test-db", &db).unwrap();
    let import = [(
        "COURTIER__PERSISTENCE__IMPORT_MOSQUITTO_DB",
        db.to_str().unwrap(),
    )];
    let filler = fs.fill();
    let out = std::process::Command::new(crate::common::process::BIN)
        .args(["-p", "0", "--data-dir"])
        .arg(&data)
        .envs(import)
        .env("COURTIER__HTTP__PORT", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit 1, no signal: {err}");
    assert!(
        err.contains("cannot import") && err.contains("free some space"),
        "{err}"
    );
    // With room it starts and imports.
    std::fs::remove_file(filler).unwrap();
    let b = BrokerProcess::start(&data, &[], &import);
    assert!(
        b.drain_log()
            .iter()
            .any(|l| l.contains("imported Mosquitto's")),
        "{:#?}",
        b.drain_log()
    );
}
