//! The Home Assistant start-up burst (issue #3 item 7): with 2,000 retained discovery topics
//! stored, 20 clients subscribing to `homeassistant/#` at QoS 1 at the same moment each receive
//! all 2,000, without drops, although the queue limit is far smaller: retained delivery is paced
//! by the inflight window and does not count against the queue.

mod common;

use common::*;
use std::collections::HashSet;
use std::time::Duration;

const TOPICS: usize = 2_000;
const SUBSCRIBERS: usize = 20;

#[test]
fn twenty_subscribers_each_get_all_2000_retained_discovery_topics() {
    let b = start_broker_with(TestConfig {
        max_queued_messages: 100,
        ..TestConfig::default()
    });
    let mut p = RawClient::connected(b.addr(), "ha-devices");
    for chunk in (0..TOPICS).collect::<Vec<_>>().chunks(200) {
        let mut bytes = Vec::new();
        for &i in chunk {
            let topic = format!("homeassistant/sensor/dev{i}/config");
            let payload = format!("{{\"name\":\"sensor {i}\",\"state_topic\":\"dev{i}/state\"}}");
            bytes.extend(publish(
                topic,
                payload.as_bytes(),
                1,
                true,
                false,
                i as u16 + 1,
            ));
        }
        p.send(&bytes);
        for _ in chunk {
            assert_eq!(p.read_packet().0, 0x40, "PUBACK");
        }
    }

    let addr = b.addr();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(SUBSCRIBERS));
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|n| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = RawClient::connected(addr, &format!("ha-{n}"));
                barrier.wait();
                c.send(&subscribe(1, &[("homeassistant/#", 1)]));
                let mut topics = HashSet::new();
                while topics.len() < TOPICS {
                    let (first, body) = c
                        .try_read_packet(Duration::from_secs(30))
                        .unwrap_or_else(|e| panic!("subscriber {n} after {}: {e:?}", topics.len()));
                    if let Some(m) = Publish::parse(first, &body) {
                        assert!(m.retain && m.qos == 1);
                        c.send(&puback(m.packet_id.unwrap()));
                        topics.insert(m.topic);
                    }
                }
                topics.len()
            })
        })
        .collect();
    for s in subscribers {
        assert_eq!(s.join().unwrap(), TOPICS);
    }
}
