use super::*;

fn t(s: &str) -> ByteString {
    ByteString::from(s.to_owned())
}

fn nz(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap()
}

const A: &str = "homeassistant/sensor/0x00158d0001a2b3c4/temperature/state";
const B: &str = "zigbee2mqtt/Living Room Motion Sensor/availability";
const C: &str = "zigbee2mqtt/Kitchen Light/state";

#[test]
fn mqtt_3_1_2_27_no_aliases_when_the_client_or_the_broker_allows_none() {
    assert!(OutAliases::new(0, 10).is_none());
    assert!(OutAliases::new(10, 0).is_none());
    assert_eq!(OutAliases::new(3, 10).unwrap().max, 3);
    assert_eq!(OutAliases::new(30, 10).unwrap().max, 10);
}

#[test]
fn a_topic_is_aliased_at_its_first_send_then_sent_as_its_alias() {
    let mut a = OutAliases::new(10, 10).unwrap();
    assert_eq!(a.alias(&t(A)), Aliased::Set(nz(1)));
    assert_eq!(a.alias(&t(B)), Aliased::Set(nz(2)));
    assert_eq!(a.alias(&t(A)), Aliased::Use(nz(1)));
    assert_eq!(a.alias(&t(B)), Aliased::Use(nz(2)));
}

#[test]
fn short_topics_get_no_alias() {
    let mut a = OutAliases::new(10, 10).unwrap();
    assert_eq!(a.alias(&t("a/b/c")), Aliased::Topic);
    assert_eq!(a.alias(&t("a/b/c")), Aliased::Topic);
    assert!(a.slots.is_empty());
}

#[test]
fn mqtt_3_3_2_11_never_more_aliases_than_the_client_allows() {
    let mut a = OutAliases::new(2, 10).unwrap();
    for round in 0..50 {
        for i in 0..7 {
            let topic = t(&format!("zigbee2mqtt/device-{i}/state"));
            match a.alias(&topic) {
                Aliased::Set(n) | Aliased::Use(n) => assert!(n.get() <= 2, "round {round}"),
                Aliased::Topic => {}
            }
        }
    }
    assert_eq!(a.slots.len(), 2);
    assert_eq!(a.by_topic.len(), 2);
}

#[test]
fn when_full_a_topic_seen_again_takes_the_least_recently_used_alias() {
    let mut a = OutAliases::new(2, 2).unwrap();
    assert_eq!(a.alias(&t(A)), Aliased::Set(nz(1)));
    assert_eq!(a.alias(&t(B)), Aliased::Set(nz(2)));
    assert_eq!(a.alias(&t(A)), Aliased::Use(nz(1)));
    // C once: not yet worth a slot.
    assert_eq!(a.alias(&t(C)), Aliased::Topic);
    // C again: takes B's alias (B was used least recently), sent with its topic.
    assert_eq!(a.alias(&t(C)), Aliased::Set(nz(2)));
    assert_eq!(a.alias(&t(C)), Aliased::Use(nz(2)));
    assert_eq!(a.alias(&t(A)), Aliased::Use(nz(1)));
    // B lost its alias: it must earn one again.
    assert_eq!(a.alias(&t(B)), Aliased::Topic);
    assert_eq!(a.alias(&t(B)), Aliased::Set(nz(2)));
}

#[test]
fn many_topics_round_robin_do_not_thrash_the_aliases() {
    let mut a = OutAliases::new(10, 10).unwrap();
    let topics: Vec<_> = (0..500)
        .map(|i| {
            t(&format!(
                "homeassistant/sensor/0x{i:016x}/temperature/state"
            ))
        })
        .collect();
    let mut sets = 0;
    for _ in 0..5 {
        for topic in &topics {
            if let Aliased::Set(_) = a.alias(topic) {
                sets += 1;
            }
        }
    }
    assert_eq!(sets, 10, "only the first ten topics took aliases, once");
}
