use super::*;
use std::collections::HashMap;

#[derive(Debug, PartialEq)]
struct M {
    name: &'static str,
    online: bool,
    backlog: usize,
}

impl Member for M {
    fn online(&self) -> bool {
        self.online
    }
    fn backlog(&self) -> usize {
        self.backlog
    }
}

fn m(name: &'static str, online: bool, backlog: usize) -> M {
    M {
        name,
        online,
        backlog,
    }
}

fn group(members: Vec<M>) -> Group<&'static str, M> {
    let mut g = Group::default();
    for member in members {
        g.insert(member.name, member);
    }
    g
}

fn picks(g: &Group<&'static str, M>, strategy: SharedStrategy, n: usize) -> Vec<&'static str> {
    (0..n).map(|_| g.pick(strategy).unwrap().name).collect()
}

#[test]
fn an_empty_group_picks_no_one() {
    let g: Group<&str, M> = Group::default();
    for s in [
        SharedStrategy::RoundRobin,
        SharedStrategy::Random,
        SharedStrategy::ShortestQueue,
    ] {
        assert!(g.pick(s).is_none());
    }
}

#[test]
fn round_robin_takes_each_member_in_turn() {
    let g = group(vec![m("a", true, 0), m("b", true, 0), m("c", true, 0)]);
    assert_eq!(
        picks(&g, SharedStrategy::RoundRobin, 6),
        ["a", "b", "c", "a", "b", "c"]
    );
}

#[test]
fn offline_members_are_skipped_while_one_is_online() {
    let g = group(vec![
        m("a", true, 0),
        m("off1", false, 0),
        m("off2", false, 0),
        m("b", true, 0),
    ]);
    // Passing the offline members does not give the member after them two turns in a row.
    assert_eq!(
        picks(&g, SharedStrategy::RoundRobin, 6),
        ["a", "b", "a", "b", "a", "b"]
    );
    for name in picks(&g, SharedStrategy::Random, 200)
        .into_iter()
        .chain(picks(&g, SharedStrategy::ShortestQueue, 20))
    {
        assert!(name == "a" || name == "b", "{name} is offline");
    }
}

#[test]
fn with_every_member_offline_one_still_gets_the_message() {
    let g = group(vec![m("a", false, 0), m("b", false, 0)]);
    for s in [
        SharedStrategy::RoundRobin,
        SharedStrategy::Random,
        SharedStrategy::ShortestQueue,
    ] {
        assert!(g.pick(s).is_some(), "{s:?}");
    }
    // ... and they take turns, so both queues fill.
    assert_eq!(
        picks(&g, SharedStrategy::RoundRobin, 4),
        ["a", "b", "a", "b"]
    );
}

#[test]
fn random_reaches_every_member_roughly_evenly() {
    let g = group(vec![
        m("a", true, 0),
        m("b", true, 0),
        m("c", true, 0),
        m("d", true, 0),
    ]);
    let mut count: HashMap<&str, usize> = HashMap::new();
    for name in picks(&g, SharedStrategy::Random, 4000) {
        *count.entry(name).or_default() += 1;
    }
    assert_eq!(count.len(), 4);
    for (name, n) in count {
        assert!((700..1300).contains(&n), "{name} got {n} of 4000");
    }
}

#[test]
fn shortest_queue_prefers_the_member_with_the_least_waiting() {
    let g = group(vec![
        m("slow", true, 50),
        m("fast", true, 2),
        m("mid", true, 9),
    ]);
    assert_eq!(
        picks(&g, SharedStrategy::ShortestQueue, 3),
        ["fast", "fast", "fast"]
    );
    // Ties rotate, so equal members share the load.
    let g = group(vec![m("a", true, 1), m("b", true, 1), m("slow", true, 7)]);
    let got = picks(&g, SharedStrategy::ShortestQueue, 6);
    assert!(got.contains(&"a") && got.contains(&"b"), "{got:?}");
    assert!(!got.contains(&"slow"), "{got:?}");
    // An offline member's empty queue does not attract messages.
    let g = group(vec![m("away", false, 0), m("busy", true, 30)]);
    assert_eq!(
        picks(&g, SharedStrategy::ShortestQueue, 2),
        ["busy", "busy"]
    );
}

#[test]
fn pick_where_leaves_out_the_members_it_is_told_to() {
    let g = group(vec![m("gone", true, 0), m("b", true, 0), m("c", false, 0)]);
    for s in [
        SharedStrategy::RoundRobin,
        SharedStrategy::Random,
        SharedStrategy::ShortestQueue,
    ] {
        for _ in 0..10 {
            let got = g.pick_where(s, |m| m.name != "gone").unwrap();
            assert_eq!(got.name, "b", "{s:?}");
        }
        let only_offline = g.pick_where(s, |m| m.name == "c").unwrap();
        assert_eq!(only_offline.name, "c");
        assert!(g.pick_where(s, |_| false).is_none());
    }
}

#[test]
fn a_member_is_in_a_group_once_and_can_leave() {
    let mut g = group(vec![m("a", true, 0), m("b", true, 0)]);
    assert_eq!(g.insert("a", m("a", false, 3)), Some(m("a", true, 0)));
    assert_eq!(g.len(), 2);
    assert_eq!(g.get(&"a"), Some(&m("a", false, 3)));
    assert!(g.remove(&"a").is_some());
    assert!(g.remove(&"a").is_none());
    assert_eq!(picks(&g, SharedStrategy::RoundRobin, 2), ["b", "b"]);
    g.remove(&"b");
    assert!(g.is_empty());
}
