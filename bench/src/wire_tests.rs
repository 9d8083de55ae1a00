//! The generator's wire format: what it writes and how it reads the broker's frames.

use super::*;

fn round_trip<const V5: bool>(props: Option<&[u8]>) {
    let mut buf = BytesMut::new();
    let mut payload = vec![0u8; 300];
    stamp(&mut payload, 7, 42, 99);
    let t = PublishTemplate::new("a/b", 1, false, props, payload.len());
    t.put(&mut buf, 513, &payload);
    let one = buf.len();
    publish(&mut buf, "a/b", 1, false, 513, props, &payload);
    assert_eq!(
        buf[..one],
        buf[one..],
        "template and one-off encodings differ"
    );
    buf.truncate(one);
    ack(&mut buf, PUBREL, 9);
    let (f, n) = parse(&buf).unwrap();
    assert_eq!((f.kind, f.qos()), (PUBLISH, 1));
    let (pkid, body) = f.publish::<V5>().unwrap();
    assert_eq!(pkid, 513);
    assert_eq!(read_stamp(body), Some((7, 42, 99)));
    assert_eq!(body.len(), 300);
    let (f, m) = parse(&buf[n..]).unwrap();
    assert_eq!(
        (f.kind, f.flags, f.pkid(), f.ack_reason(), n + m),
        (PUBREL, 2, 9, 0, buf.len())
    );
    assert!(parse(&buf[..n - 1]).is_none());
}

#[test]
fn publish_round_trips_through_parse() {
    round_trip::<false>(None);
}

#[test]
fn publish_v5_round_trips_with_and_without_user_properties() {
    round_trip::<true>(publish_properties(true, 0).as_deref());
    let props = publish_properties(true, 3).unwrap();
    assert_eq!(props.len(), 1 + 3 * 9);
    round_trip::<true>(Some(&props));
    // 200 properties: a 2-byte property length.
    let props = publish_properties(true, 200).unwrap();
    assert_eq!(get_len(&props), Some((props.len() - 2, 2)));
    round_trip::<true>(Some(&props));
    assert_eq!(publish_properties(false, 5), None);
}

#[test]
fn qos0_v5_publish_has_properties_after_the_topic() {
    let mut buf = BytesMut::new();
    PublishTemplate::new("t", 0, false, Some(&[0]), 20).put(&mut buf, 0, &[1; 20]);
    assert_eq!(&buf[..7], &[0x30, 24, 0, 1, b't', 0, 1]);
    let (f, _) = parse(&buf).unwrap();
    assert_eq!(f.publish::<true>().unwrap(), (0, &[1u8; 20][..]));
}

#[test]
fn v5_acks_in_long_form_and_suback_with_properties() {
    // PUBACK 0x10 No matching subscribers, with a reason string property.
    let ack = [0x40, 9, 0, 5, 0x10, 5, 0x1F, 0, 2, b'n', b'o'];
    let (f, _) = parse(&ack).unwrap();
    assert_eq!((f.kind, f.pkid(), f.ack_reason()), (PUBACK, 5, 0x10));
    let suback = [0x90, 7, 0, 1, 3, 0x1F, 0, 0, 0x01];
    let (f, _) = parse(&suback).unwrap();
    assert_eq!(f.suback_codes(true), &[0x01]);
    assert_eq!(
        parse(&[0x90, 3, 0, 1, 0x80]).unwrap().0.suback_codes(false),
        &[0x80]
    );
    let (f, _) = parse(&[0xE0, 1, 0x8B]).unwrap();
    assert_eq!((f.kind, f.ack_reason()), (DISCONNECT, 0x8B));
}

#[test]
fn connect_v5_and_connack_limits() {
    let mut buf = BytesMut::new();
    connect(&mut buf, "c", false, 60, Some(3600), 0, None);
    assert_eq!(
        &buf[..],
        &[
            0x10, 19, 0, 4, b'M', b'Q', b'T', b'T', 5, 0, 0, 60, 5, 0x11, 0, 0, 0x0E, 0x10, 0, 1,
            b'c'
        ]
    );
    buf.clear();
    connect(&mut buf, "c", true, 60, None, 0, None);
    assert_eq!(buf[8], 4);
    assert_eq!(buf.len(), 15);
    buf.clear();
    connect(&mut buf, "c", true, 60, Some(0), 10, None);
    assert_eq!(&buf[12..16], &[3, 0x22, 0, 10], "Topic Alias Maximum 10");
    buf.clear();
    // User name and password: flags 0xC2, both strings after the client id.
    connect(&mut buf, "c", true, 60, None, 0, Some(("u", "pw")));
    assert_eq!(
        &buf[..],
        &[
            0x10, 20, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 60, 0, 1, b'c', 0, 1, b'u', 0, 2,
            b'p', b'w'
        ]
    );
    // Session present 0, success, properties: assigned id "ab", receive maximum 20,
    // maximum QoS 1, a user property.
    let body = [
        0, 0, 22, 0x12, 0, 2, b'a', b'b', 0x21, 0, 20, 0x24, 1, 0x26, 0, 1, b'k', 0, 1, b'v', 0x25,
        1, 0x22, 0, 10,
    ];
    assert_eq!(connack_limits(&body), (20, 1));
    // A cut block: what was read before the cut still counts.
    assert_eq!(connack_limits(&body[..12]), (20, 2));
    assert_eq!(connack_limits(&[0, 0, 0]), (u16::MAX, 2));
    assert_eq!(connack_limits(&[0, 0]), (u16::MAX, 2));
}
