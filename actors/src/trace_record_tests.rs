use super::*;
use crate::codec::ProtocolVersion::{V311, V5};
use std::num::NonZeroU64;

fn json(r: &Record) -> String {
    serde_json::to_string(r).unwrap()
}

/// The typed details and reasons serialize as the strings the API always served (the
/// dashboard and `courtier ctl` read them as text).
#[test]
fn details_and_reasons_serialize_as_the_strings_of_the_log_line() {
    let base = Record {
        time_us: 7,
        msg: NonZeroU64::new(9),
        topic: Some("a/\"b\"".into()),
        qos: Some(1),
        ..Record::new("received", RecordedBy::Session, "pub\"lisher")
    };
    let r = Record {
        detail: Some(Detail::Received {
            retain: false,
            bytes: 4,
            via: "publish",
            protocol: Some(V5),
        }),
        ..base.clone()
    };
    assert_eq!(
        json(&r),
        r#"{"time_us":7,"msg":9,"hop":"received","actor":"session","client":"pub\"lisher","topic":"a/\"b\"","qos":1,"detail":"retain=false bytes=4 via=publish protocol=5.0"}"#
    );
    assert_eq!(
        LogLine(&r).to_string(),
        r#"msg=9 received client="pub\"lisher" actor=session topic="a/\"b\"" qos=1 retain=false bytes=4 via=publish protocol=5.0"#
    );
    let cases: [(Detail, &str); 9] = [
        (
            Detail::Received {
                retain: true,
                bytes: 0,
                via: "sys",
                protocol: None,
            },
            "retain=true bytes=0 via=sys",
        ),
        (
            Detail::Matched {
                subscribers: 2,
                clients: Some(client_list(["lamp", "t\"v"].into_iter())),
            },
            r#"subscribers=2 clients=["lamp", "t\"v"]"#,
        ),
        (
            Detail::Matched {
                subscribers: 11,
                clients: None,
            },
            "subscribers=11",
        ),
        (
            Detail::Sent {
                pkid: Some(3),
                dup: true,
                protocol: V311,
            },
            "pkid=3 dup=true protocol=3.1.1",
        ),
        (
            Detail::Sent {
                pkid: None,
                dup: false,
                protocol: V5,
            },
            "protocol=5.0",
        ),
        (
            Detail::Acked {
                pkid: 3,
                by: "PUBCOMP",
            },
            "pkid=3 by=PUBCOMP",
        ),
        (Detail::Resent(4), "pkid=4 resent=true"),
        (Detail::Evicted(2), "evicted=2"),
        (Detail::Text("a=\"b\"".into()), "a=\"b\""),
    ];
    for (detail, text) in cases {
        assert_eq!(detail.to_string(), text);
        let r = Record {
            detail: Some(detail),
            ..base.clone()
        };
        let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(v["detail"], text);
    }
    for (reason, text) in [
        (Reason::Drop(DropReason::QueueFull), "queue_full"),
        (Reason::Code(0x87), "0x87"),
        (
            Reason::Text("client sent DISCONNECT".into()),
            "client sent DISCONNECT",
        ),
    ] {
        let r = Record {
            reason: Some(Box::new(reason)),
            ..base.clone()
        };
        let v: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(v["reason"], text);
        assert!(LogLine(&r)
            .to_string()
            .ends_with(&format!(" reason={text}")));
    }
}

#[test]
fn integers_are_written_as_format_writes_them() {
    for n in [0, 7, 10, 65535, 1_883_919_763_817_627_711, u64::MAX] {
        let mut s = String::new();
        push_int(&mut s, "msg=", n);
        assert_eq!(s, format!("msg={n}"));
    }
}

/// The `matched` list is written as `{:?}` writes a list of strings, escapes included.
#[test]
fn a_client_list_reads_as_a_debug_list() {
    for names in [
        vec![],
        vec![""],
        vec!["lamp"],
        vec!["lamp", "tv", "a-client-id-longer-than-24-bytes"],
        vec!["lamp", "t\"v", "back\\slash", "tab\t", "é"],
    ] {
        let matched = Detail::Matched {
            subscribers: names.len() as u32,
            clients: Some(client_list(names.iter().copied())),
        };
        assert_eq!(
            matched.to_string(),
            format!("subscribers={} clients={names:?}", names.len())
        );
    }
}

/// A record's size is what each place of a ring costs: 128 bytes or less is two cache lines
/// per record (the ring holds each on lines of its own, trace_slot.rs).
#[test]
fn a_record_fits_in_128_bytes() {
    assert!(
        std::mem::size_of::<Record>() <= 128,
        "{}",
        std::mem::size_of::<Record>()
    );
}
