//! Shared subscription memberships across a crash (kill -9) of the real binary on RocksDB:
//! persisted with the session as their `$share/{group}/{filter}` filter, back in their group
//! after the restart, for 5.0 and 3.1.1 members.

mod common;

use common::process::{terminate, BrokerProcess};
use common::v5::*;
use common::*;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

/// Every PUBLISH until the client is quiet, acknowledged; their payloads.
fn drain(c: &mut RawClient, v5: bool) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok((first, body)) = c.try_read_packet(Duration::from_millis(500)) {
        let (id, payload) = match v5 {
            true => {
                let p = Publish5::parse(first, &body);
                (p.pkid, p.payload)
            }
            false => {
                let p = Publish::parse(first, &body).expect("a PUBLISH");
                (p.packet_id, p.payload)
            }
        };
        if let Some(id) = id {
            c.send(&puback(id));
        }
        got.push(String::from_utf8(payload).unwrap());
    }
    got
}

#[test]
fn shared_memberships_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("crash-shared");
    let filter = format!("$share/g/{topic}");
    let (id5, id311) = (unique("m5"), unique("m311"));

    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let session5 = Connect5::new(&id5).clean(false).session_expiry(3600);
    let (mut m5, _) = connect5(b.addr, &session5);
    m5.send(&subscribe5(1, &[(&filter, 1)], &[]));
    let (first, body) = m5.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![1]);
    m5.send(&disconnect5(0, &[]));
    m5.expect_closed(CLOSE);
    let (mut m311, _) = RawClient::handshake(b.addr, &id311, false);
    assert_eq!(m311.subscribe(1, &[(&filter, 1)]), vec![1]);
    m311.send(&disconnect());
    m311.expect_closed(CLOSE);
    b.kill9();

    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let (mut p, _) = connect5(b.addr, &Connect5::new(&unique("pub")));
    for i in 0..4u16 {
        p.send(&publish5(
            &topic,
            i.to_string().as_bytes(),
            1,
            false,
            i + 1,
            &[],
        ));
        let (first, body) = p.read_packet();
        let ack = Ack5::parse(first, &body);
        assert_eq!(
            (ack.first, ack.reasons[0]),
            (0x40, 0x00),
            "matched subscribers"
        );
    }
    // Both members are offline: the group still takes turns, so each queued half.
    let (mut m5, ack) = connect5(b.addr, &session5);
    assert!(ack.session_present);
    let (mut m311, present) = RawClient::handshake(b.addr, &id311, false);
    assert!(present);
    let (got5, got311) = (drain(&mut m5, true), drain(&mut m311, false));
    assert_eq!((got5.len(), got311.len()), (2, 2), "{got5:?} {got311:?}");
    let mut all: Vec<String> = got5.into_iter().chain(got311).collect();
    all.sort();
    assert_eq!(all, ["0", "1", "2", "3"], "each message once");
    terminate(b);
}
