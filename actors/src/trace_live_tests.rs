use super::*;
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::mpsc;

fn rec(hop: &'static str, client: &str) -> Record {
    Record::new(hop, RecordedBy::Session, client)
}

#[test]
fn no_trace_means_an_empty_mask() {
    let live = LiveTraces::default();
    assert_eq!(live.mask(), 0);
    assert_eq!(live.entry_mask("a", "t"), 0);
    assert_eq!(live.client_mask("a"), 0);
}

#[test]
fn a_trace_matches_by_client_topic_username_and_address() {
    let live = LiveTraces::default();
    let c = live.start(Selector::Client("lamp".into()), None).unwrap();
    let t = live
        .start(Selector::Topic("home/+/light".into()), None)
        .unwrap();
    let u = live
        .start(Selector::Username("alice".into()), None)
        .unwrap();
    let a = live
        .start(Selector::Address("10.0.0.7".into()), None)
        .unwrap();
    assert_eq!(live.mask().count_ones(), 4);
    assert_eq!(live.entry_mask("lamp", "x"), c.bit);
    assert_eq!(live.entry_mask("x", "home/hall/light"), t.bit);
    assert_eq!(live.entry_mask("lamp", "home/hall/light"), c.bit | t.bit);
    assert_eq!(live.entry_mask("x", "home/hall/heat"), 0);
    // MQTT-4.7.2-1: a wildcard trace does not follow $SYS topics.
    let all = live.start(Selector::Topic("#".into()), None).unwrap();
    assert_eq!(live.entry_mask("x", "$SYS/broker/uptime"), 0);
    assert!(live.delete(all.id));
    // Username and address traces learn the client id at CONNECT.
    assert_eq!(live.client_mask("phone"), 0);
    assert_eq!(
        live.on_connect("phone", Some("alice"), "192.168.1.2:5000"),
        u.bit
    );
    assert_eq!(live.client_mask("phone"), u.bit);
    assert_eq!(live.on_connect("pi", None, "10.0.0.7:41000"), a.bit);
    assert_eq!(live.on_connect("v6", None, "[::1]:41000"), 0);
    assert_eq!(live.on_connect("lamp", None, "127.0.0.1:1"), c.bit);
    assert_eq!(live.entry_mask("pi", "x"), a.bit);
}

#[test]
fn records_go_to_the_traces_in_the_mask_only() {
    let live = LiveTraces::default();
    let one = live.start(Selector::Client("a".into()), None).unwrap();
    let two = live.start(Selector::Client("b".into()), None).unwrap();
    live.emit(one.bit, rec("connect", "a"));
    live.emit(one.bit | two.bit, rec("sent", "b"));
    assert_eq!(one.records(), 2);
    assert_eq!(two.records(), 1);
    assert_eq!(two.kept()[0].hop, "sent");
}

#[test]
fn deleted_traces_stop_matching_and_close_their_readers() {
    let live = LiveTraces::default();
    let t = live.start(Selector::Client("a".into()), None).unwrap();
    let mut reader = t.read().unwrap();
    live.emit(t.bit, rec("connect", "a"));
    assert!(live.delete(t.id));
    assert_eq!(live.mask(), 0);
    assert_eq!(live.client_mask("a"), 0);
    assert!(live.get(t.id).is_none());
    assert_eq!(t.ended(), Some("stopped"));
    assert_eq!(reader.rx.try_recv().unwrap().hop, "connect");
    assert!(matches!(
        reader.rx.try_recv(),
        Err(mpsc::error::TryRecvError::Disconnected)
    ));
    assert!(t.read().is_none());
    assert!(!live.delete(t.id));
}

#[test]
fn traces_expire_and_keep_their_records() {
    let live = LiveTraces::default();
    let short = live
        .start(Selector::Client("a".into()), Some(Duration::ZERO))
        .unwrap();
    let long = live.start(Selector::Client("b".into()), None).unwrap();
    live.emit(short.bit, rec("connect", "a"));
    assert!(long.remaining() > Duration::from_secs(599));
    live.sweep();
    assert_eq!(short.ended(), Some("expired"));
    assert_eq!(short.remaining(), Duration::ZERO);
    assert_eq!(long.ended(), None);
    assert_eq!(live.mask(), long.bit);
    // Still listed and downloadable until deleted.
    assert_eq!(live.get(short.id).unwrap().kept().len(), 1);
    assert!(!live.expire(long.id));
}

#[test]
fn durations_are_bounded() {
    let live = LiveTraces::default();
    let t = live
        .start(
            Selector::Client("a".into()),
            Some(Duration::from_secs(1 << 40)),
        )
        .unwrap();
    assert!(t.remaining() <= MAX_DURATION);
}

#[test]
fn bad_requests_are_refused() {
    let live = LiveTraces::default();
    assert_eq!(
        live.start(Selector::Topic("a/#/b".into()), None).err(),
        Some(StartError::InvalidFilter("a/#/b".into()))
    );
    assert_eq!(
        live.start(Selector::Client(String::new()), None).err(),
        Some(StartError::Empty("client"))
    );
    for i in 0..MAX_TRACES {
        live.start(Selector::Client(i.to_string()), None).unwrap();
    }
    assert_eq!(
        live.start(Selector::Client("x".into()), None).err(),
        Some(StartError::Full)
    );
}

/// A running trace's ring is in its slot; when the trace ends the ring goes with it, so a
/// later trace in the same slot starts empty and the ended one keeps its records.
#[test]
fn an_ended_trace_keeps_its_records_when_its_slot_is_taken_again() {
    let live = LiveTraces::default();
    let first = live
        .start(Selector::Client("a".into()), Some(Duration::ZERO))
        .unwrap();
    live.emit(first.bit, rec("sent", "a"));
    live.emit(first.bit, rec("acked", "a"));
    live.sweep();
    assert_eq!(first.ended(), Some("expired"));
    // The slots are taken in turn: the 32nd trace from now takes the first one's again.
    let others: Vec<_> = (0..MAX_TRACES)
        .map(|i| live.start(Selector::Client(format!("c{i}")), None).unwrap())
        .collect();
    let again = others.last().unwrap();
    assert_eq!(again.bit, first.bit);
    live.emit(again.bit, rec("received", "c31"));
    assert_eq!(again.records(), 1);
    assert_eq!(again.kept()[0].hop, "received");
    assert_eq!(first.records(), 2);
    let hops: Vec<_> = first.kept().iter().map(|r| r.hop).collect();
    assert_eq!(hops, ["sent", "acked"]);
}

#[test]
fn the_ring_and_the_reader_channel_are_bounded() {
    let live = LiveTraces::default();
    let t = live.start(Selector::Client("a".into()), None).unwrap();
    let mut slow = t.read().unwrap();
    for i in 0..RING_RECORDS + 5 {
        live.emit(t.bit, rec("sent", &i.to_string()));
    }
    let kept = t.kept();
    assert_eq!(kept.len(), RING_RECORDS);
    // Oldest first: the first five were overwritten.
    assert_eq!(&*kept[0].client, "5");
    assert_eq!(
        &*kept[RING_RECORDS - 1].client,
        &(RING_RECORDS + 4).to_string()
    );
    assert_eq!(t.overwritten(), 5);
    assert_eq!(t.records(), RING_RECORDS as u64 + 5);
    // The reader that never read kept the first STREAM_BUFFER records and lost the rest.
    let lost = (RING_RECORDS + 5 - STREAM_BUFFER) as u64;
    assert_eq!(slow.lost.load(Relaxed), lost);
    assert_eq!(t.lost(), lost);
    let mut n = 0;
    while slow.rx.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(n, STREAM_BUFFER);
}

#[test]
fn slots_are_not_reused_at_once() {
    let live = LiveTraces::default();
    let a = live.start(Selector::Client("a".into()), None).unwrap();
    live.delete(a.id);
    let b = live.start(Selector::Client("b".into()), None).unwrap();
    assert_ne!(a.bit, b.bit);
    assert_ne!(a.id, b.id);
}

#[test]
fn a_cached_client_mask_follows_every_change() {
    let live = LiveTraces::default();
    let cache = ClientMask::default();
    assert_eq!(cache.get(&live, "phone"), 0);
    let other = live.start(Selector::Client("other".into()), None).unwrap();
    assert_eq!(cache.get(&live, "phone"), 0);
    let by_user = live
        .start(Selector::Username("alice".into()), None)
        .unwrap();
    assert_eq!(cache.get(&live, "phone"), 0);
    // Resolved at CONNECT: the cache sees it without being told.
    live.on_connect("phone", Some("alice"), "127.0.0.1:1");
    assert_eq!(cache.get(&live, "phone"), by_user.bit);
    let by_id = live.start(Selector::Client("phone".into()), None).unwrap();
    assert_eq!(cache.get(&live, "phone"), by_user.bit | by_id.bit);
    live.delete(by_user.id);
    assert_eq!(cache.get(&live, "phone"), by_id.bit);
    live.delete(by_id.id);
    live.delete(other.id);
    assert_eq!(cache.get(&live, "phone"), 0);
    // Topic traces match at entry only if any runs.
    assert_eq!(live.entry_mask_with(0, "a/b"), 0);
    let t = live.start(Selector::Topic("a/+".into()), None).unwrap();
    assert_eq!(live.entry_mask_with(0, "a/b"), t.bit);
    assert_eq!(live.entry_mask_with(0, "b/b"), 0);
}

/// The JSON of `outcome` is checked in tests/runtime_trace (`"dropped"`, `"denied"`).
#[test]
fn a_record_says_plainly_whether_it_is_a_drop_or_a_denial() {
    use crate::metrics::DropReason;
    assert_eq!(rec("connack", "c").outcome, None);
    for (reason, outcome) in [
        (DropReason::QueueFull, Outcome::Dropped),
        (DropReason::Qos0Offline, Outcome::Dropped),
        (DropReason::Expired, Outcome::Dropped),
        (DropReason::PacketTooLarge, Outcome::Dropped),
        (DropReason::NotAuthorized, Outcome::Denied),
        (DropReason::SysTopicDenied, Outcome::Denied),
    ] {
        assert_eq!(Outcome::of(reason), outcome, "{reason:?}");
    }
}

#[test]
fn clients_connected_before_a_trace_starts_are_selected_until_it_ends() {
    let live = LiveTraces::default();
    let u = live
        .start(Selector::Username("alice".into()), None)
        .unwrap();
    assert!(u
        .selector
        .selects_connection("phone", Some("alice"), "10.0.0.2:1"));
    assert!(!u
        .selector
        .selects_connection("tv", Some("bob"), "10.0.0.2:1"));
    live.select(&u, &["phone".into()]);
    assert_eq!(live.client_mask("phone"), u.bit);
    assert_eq!(live.entry_mask("phone", "x"), u.bit);
    assert_eq!(live.client_mask("tv"), 0);
    assert!(live.delete(u.id));
    assert_eq!(live.client_mask("phone"), 0);
    // Selecting for a trace that ended selects nothing.
    live.select(&u, &["tv".into()]);
    assert_eq!(live.client_mask("tv"), 0);
}

/// A trace logs at most its log limit of records a second; those over it are kept (and
/// streamed) as the others, and counted as unlogged. 0 logs every record.
#[test]
fn a_trace_logs_at_most_its_limit_a_second() {
    let live = LiveTraces::default();
    live.set_log_limit(3);
    let t = live.start(Selector::Client("a".into()), None).unwrap();
    assert_eq!(t.log_limit, 3);
    let second = 1_796_645_897_000_000;
    // As `LiveTraces::emit` does: asked, then kept.
    let offer = |t: &LiveTrace, time_us: u64| {
        let may = t.may_log(time_us, t.records());
        if may {
            t.logged();
        }
        t.push(Record {
            time_us,
            ..rec("sent", "a")
        });
        may
    };
    let logged = (0..10).filter(|i| offer(&t, second + i)).count();
    assert_eq!(logged, 3);
    assert_eq!((t.records(), t.unlogged()), (10, 7));
    assert_eq!(t.kept().len(), 10);
    // The next second logs again, up to the limit.
    let logged = (0..5).filter(|i| offer(&t, second + 1_000_000 + i)).count();
    assert_eq!(logged, 3);
    assert_eq!((t.records(), t.unlogged()), (15, 9));

    let all = live
        .start_with(Selector::Client("b".into()), None, Some(0))
        .unwrap();
    assert!((0..1000).all(|i| offer(&all, second + i)));
    assert_eq!(all.unlogged(), 0);
    // A new default applies to traces started from now on.
    live.set_log_limit(7);
    let c = live.start(Selector::Client("c".into()), None).unwrap();
    assert_eq!((t.log_limit, c.log_limit), (3, 7));
}
