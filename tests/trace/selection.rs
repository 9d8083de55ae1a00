//! What is traced and what is not: no config, `$SYS` publications.

use super::*;

#[test]
fn without_a_trace_config_nothing_is_traced() {
    let (_dir, b) = broker("", &[]);
    let mut c = RawClient::connected(b.addr, "loop");
    c.subscribe(1, &[("a/#", 1)]);
    c.send(&publish("a/b", b"x", 1, false, false, 1));
    // The own delivery and the PUBACK, in either order.
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(c.read_packet().0 >> 4);
    }
    got.sort();
    assert_eq!(got, [3, 4]);
    std::thread::sleep(Duration::from_millis(200));
    let lines = b.drain_log();
    assert!(
        lines.iter().all(|l| !l.contains("courtier::trace")),
        "{lines:#?}"
    );
}

#[test]
fn sys_publications_are_traced_only_when_a_filter_names_them() {
    let sys = ("COURTIER__BROKER__SYS_INTERVAL_SECS", "1");
    let (_dir, b) = broker("[trace]\ntopics = [\"$SYS/broker/uptime\"]\n", &[sys]);
    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "via=sys");
    let line = lines.iter().find(|l| l.contains("via=sys")).unwrap();
    assert!(
        hop(line).contains(" received client=\"\" topic=\"$SYS/broker/uptime\" qos=0 retain=true")
    );
    // Only the named topic: the other $SYS topics, of this period and the next, are not.
    std::thread::sleep(Duration::from_millis(1200));
    let more: Vec<String> = b
        .log
        .try_iter()
        .filter(|l| l.contains("received"))
        .collect();
    let all: Vec<&String> = lines.iter().chain(&more).collect();
    assert!(all
        .iter()
        .all(|l| !l.contains("received") || l.contains("$SYS/broker/uptime")));
}
