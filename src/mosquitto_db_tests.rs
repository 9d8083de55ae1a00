//! The parser on Mosquitto's own unit-test files (tests/fixtures/mosquitto/db/, from
//! test/unit/files/persist_read/ in github.com/eclipse/mosquitto), with the values its
//! persist_read_test.c expects, and on damaged input.

use super::*;

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/fixtures/mosquitto/db/{name}.test-db")).unwrap()
}

fn db(name: &str) -> MosquittoDb {
    parse(&file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_stored_message_with_its_properties() {
    let d = db("v6-message-store-props");
    assert_eq!(d.version, 6);
    let m = &d.messages[&1];
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("topic", &b"payload"[..])
    );
    assert_eq!((m.qos, m.retain, m.expiry_time), (2, true, 0));
    // Length 2, then payload format indicator (0x01) = 1, as the test expects.
    assert_eq!(m.properties, [2, 1, 1]);
    assert!(db("v6-message-store").messages[&1].properties.is_empty());
}

#[test]
fn a_client_with_its_queued_message() {
    let d = db("v6-client");
    assert_eq!(d.clients.len(), 1);
    assert_eq!(d.clients[0].id, "client-id");
    assert_eq!(d.clients[0].last_mid, 0x5287);
    let d = db("v6-client-message-props");
    let m = &d.client_msgs[0];
    assert_eq!((m.client_id.as_str(), m.mid, m.qos), ("client-id", 0x73, 1));
    assert_eq!((m.state, m.retain, m.outgoing), (3, false, true));
    assert!(d.messages.contains_key(&m.store_id));
    // Version 5 (Mosquitto 1.6): the client chunk without listener port and username.
    let d = db("v5-client");
    assert_eq!((d.version, d.clients[0].last_mid), (5, 0x5287));
}

#[test]
fn retained_messages_and_subscriptions() {
    let d = db("v6-retain");
    assert_eq!(d.retained, [0x54]);
    assert_eq!(d.messages[&0x54].topic, "topic");
    let d = db("v6-sub");
    assert_eq!(
        d.subs,
        [Sub {
            client_id: "client-id".into(),
            topic: "subscription".into(),
            qos: 1,
            options: 0x0c,
            identifier: 0x7623,
        }]
    );
}

#[test]
fn unknown_chunks_are_skipped_and_an_empty_file_is_an_empty_db() {
    assert_eq!(db("v5-bad-chunk").unknown_chunks, 1);
    assert_eq!(db("empty"), MosquittoDb::default());
    assert!(db("v6-cfg").messages.is_empty());
}

#[test]
fn damaged_or_foreign_files_are_errors_not_panics() {
    assert_eq!(
        parse(&file("corrupt-header-short")),
        Err(DbError::NotMosquittoDb)
    );
    assert_eq!(
        parse(&file("corrupt-header-long")),
        Err(DbError::NotMosquittoDb)
    );
    assert!(parse(&file("v3-cfg"))
        .unwrap_err()
        .to_string()
        .contains("start Mosquitto 2"));
    assert_eq!(parse(b"listener 1883\n"), Err(DbError::NotMosquittoDb));
    // Every prefix of a real file: an error or a smaller db, never a panic.
    let whole = file("v6-client-message-props");
    for n in 0..whole.len() {
        let _ = parse(&whole[..n]);
    }
    // A length far beyond the file allocates nothing: of an unknown chunk, of a message's
    // properties.
    let huge = |kind: u8| {
        let mut f = whole[..23].to_vec();
        f.extend_from_slice(&[0, 0, 0, kind, 0xff, 0xff, 0xff, 0xf0]);
        f.extend_from_slice(&[0; 40]);
        parse(&f)
    };
    let beyond = |offset, what| Err(DbError::Damaged { offset, what });
    assert_eq!(huge(9), beyond(31, "chunk longer than the file"));
    assert_eq!(huge(2), beyond(63, "properties beyond the file"));
    // A payload length beyond its chunk.
    let mut bad = file("v6-message-store");
    let chunk = 23 + 24; // header + cfg chunk
    bad[chunk + 8 + 16..chunk + 8 + 20].copy_from_slice(&[0, 0, 1, 0]);
    assert!(matches!(
        parse(&bad),
        Err(DbError::Damaged {
            what: "msg payload",
            ..
        })
    ));
}
