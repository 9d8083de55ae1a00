use super::*;
use crate::topic::{matches, validate_topic_filter, validate_topic_name};
use std::collections::BTreeSet;

/// Counts heap allocations made by the current thread, so the test for an allocation-free
/// `for_each_match` is not disturbed by tests running in parallel.
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    struct Counting;

    fn count() {
        // `try_with`: the thread-local may already be gone while a thread shuts down.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count();
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count();
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count();
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    pub fn on_this_thread() -> usize {
        ALLOCATIONS.with(Cell::get)
    }
}

type Trie = SubscriptionTrie<u32, String>;

/// (filter, key) pairs visited for `topic`, sorted, duplicates kept.
fn trie_matches(trie: &Trie, topic: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    trie.for_each_match(topic, |k, v| out.push((v.clone(), *k)));
    out.sort();
    out
}

/// What `trie_matches` must return, by brute force over `subs` with `topic::matches`.
fn brute_matches(subs: &BTreeSet<(String, u32)>, topic: &str) -> Vec<(String, u32)> {
    subs.iter()
        .filter(|(filter, _)| matches(filter, topic))
        .cloned()
        .collect()
}

/// Inserts with the filter as value, so visits say which filter matched.
fn trie_of(subs: &[(&str, u32)]) -> Trie {
    let mut trie = Trie::new();
    for &(filter, key) in subs {
        trie.insert(filter, key, filter.to_owned());
    }
    trie
}

fn pairs(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    let mut v: Vec<_> = list.iter().map(|&(f, k)| (f.to_owned(), k)).collect();
    v.sort();
    v
}

#[test]
fn spec_examples_through_the_trie() {
    let trie = trie_of(&[
        ("sport/tennis/player1/#", 1),
        ("sport/+", 2),
        ("+/+", 3),
        ("/+", 4),
        ("#", 5),
        ("$SYS/#", 6),
        ("+/monitor/Clients", 7),
        ("$SYS/monitor/+", 8),
        ("sport/tennis/+", 9),
    ]);
    assert_eq!(
        trie_matches(&trie, "sport/tennis/player1"),
        pairs(&[
            ("sport/tennis/player1/#", 1),
            ("#", 5),
            ("sport/tennis/+", 9)
        ])
    );
    assert_eq!(
        trie_matches(&trie, "sport/tennis/player1/score/wimbledon"),
        pairs(&[("sport/tennis/player1/#", 1), ("#", 5)])
    );
    assert_eq!(trie_matches(&trie, "sport"), pairs(&[("#", 5)]));
    assert_eq!(
        trie_matches(&trie, "sport/"),
        pairs(&[("sport/+", 2), ("+/+", 3), ("#", 5)])
    );
    assert_eq!(
        trie_matches(&trie, "/finance"),
        pairs(&[("+/+", 3), ("/+", 4), ("#", 5)])
    );
    assert_eq!(
        trie_matches(&trie, "$SYS/broker/x"),
        pairs(&[("$SYS/#", 6)])
    );
    assert_eq!(
        trie_matches(&trie, "$SYS/monitor/Clients"),
        pairs(&[("$SYS/#", 6), ("$SYS/monitor/+", 8)])
    );
    assert_eq!(
        trie_matches(&trie, "a/monitor/Clients"),
        pairs(&[("#", 5), ("+/monitor/Clients", 7)])
    );
    assert_eq!(trie_matches(&trie, "$SYS"), pairs(&[("$SYS/#", 6)]));
}

#[test]
fn overlapping_filters_visit_a_key_once_per_filter() {
    let trie = trie_of(&[("a/+", 1), ("a/#", 1), ("a/b", 1), ("a/b", 2)]);
    assert_eq!(
        trie_matches(&trie, "a/b"),
        pairs(&[("a/+", 1), ("a/#", 1), ("a/b", 1), ("a/b", 2)])
    );
    assert_eq!(trie.len(), 4);
}

#[test]
fn insert_replaces_and_returns_old_value() {
    let mut trie: SubscriptionTrie<&str, u8> = SubscriptionTrie::new();
    assert!(trie.is_empty());
    assert_eq!(trie.insert("a/+", "c1", 0), None);
    assert_eq!(trie.insert("a/+", "c1", 1), Some(0));
    assert_eq!(trie.insert("a/+", "c2", 2), None);
    assert_eq!(trie.len(), 2);
    let mut seen = Vec::new();
    trie.for_each_match("a/x", |k, v| seen.push((*k, *v)));
    seen.sort();
    assert_eq!(seen, vec![("c1", 1), ("c2", 2)]);
}

#[test]
fn remove_returns_value_and_prunes_only_dead_branches() {
    let mut trie = trie_of(&[("a/b/c", 1), ("a/b", 1), ("a/+/c/#", 2)]);
    let full = trie.node_count();
    assert_eq!(full, 5); // a, a/b, a/b/c, a/+, a/+/c

    assert_eq!(trie.remove("a/b/c", &2), None, "wrong key");
    assert_eq!(trie.remove("a/b/c/d", &1), None, "no such filter");
    assert_eq!(
        trie.remove("a/b/c/#", &1),
        None,
        "no '#' subscription there"
    );
    assert_eq!(
        trie.node_count(),
        full,
        "failed removes must not change the trie"
    );

    assert_eq!(trie.remove("a/b/c", &1), Some("a/b/c".to_owned()));
    assert_eq!(trie.node_count(), 4, "a/b is still subscribed");
    assert_eq!(trie.remove("a/b/c", &1), None, "already removed");

    assert_eq!(trie.remove("a/+/c/#", &2), Some("a/+/c/#".to_owned()));
    assert_eq!(trie.node_count(), 2, "a/+ and a/+/c are gone");
    assert_eq!(trie.remove("a/b", &1), Some("a/b".to_owned()));
    assert_eq!(trie.node_count(), 0);
    assert!(trie.is_empty());
    assert!(trie_matches(&trie, "a/b").is_empty());
}

#[test]
fn remove_keeps_nodes_with_other_subscriptions_on_the_path() {
    // The chain to prune stops at a node holding a '#' subscription or a second child.
    let mut trie = trie_of(&[("x/#", 1), ("x/y/z", 1), ("x/w", 3), ("x/y/z", 2)]);
    assert_eq!(trie.node_count(), 4);
    trie.remove("x/y/z", &1);
    assert_eq!(trie.node_count(), 4, "x/y/z still has key 2");
    trie.remove("x/y/z", &2);
    assert_eq!(trie.node_count(), 2);
    trie.remove("x/w", &3);
    assert_eq!(trie.node_count(), 1, "x holds x/#");
    assert_eq!(trie_matches(&trie, "x"), pairs(&[("x/#", 1)]));
    trie.remove("x/#", &1);
    assert_eq!(trie.node_count(), 0);
    // Root-level subscriptions need no node.
    let mut trie = trie_of(&[("#", 1), ("+", 2)]);
    assert_eq!(trie.node_count(), 1);
    trie.remove("#", &1);
    trie.remove("+", &2);
    assert_eq!((trie.len(), trie.node_count()), (0, 0));
}

#[test]
fn iter_lists_every_subscription_with_its_filter() {
    let list = [
        ("#", 1),
        ("+", 2),
        ("a/#", 3),
        ("a", 4),
        ("a/+/b", 5),
        ("/", 6),
        ("/#", 7),
        ("$SYS/#", 8),
        ("a", 9),
    ];
    let trie = trie_of(&list);
    let mut listed: Vec<(String, u32)> = trie
        .iter()
        .map(|(filter, k, v)| {
            assert_eq!(&filter, v, "value was inserted as the filter");
            (filter, *k)
        })
        .collect();
    listed.sort();
    assert_eq!(listed, pairs(&list));
    assert_eq!(trie.iter().count(), trie.len());
}

#[test]
fn for_each_match_does_not_allocate() {
    let trie = trie_of(&[
        ("#", 1),
        ("+/+/+", 2),
        ("a/b/c", 3),
        ("a/+/c", 4),
        ("a/#", 5),
        ("+/b/#", 6),
        ("$SYS/#", 7),
    ]);
    let mut visits = 0;
    let before = alloc_count::on_this_thread();
    for topic in [
        "a/b/c",
        "a/b/c/d",
        "x/b/c",
        "$SYS/a",
        "a",
        "/",
        "nothing/here",
    ] {
        trie.for_each_match(topic, |_, _| visits += 1);
    }
    let after = alloc_count::on_this_thread();
    assert_eq!(after - before, 0, "for_each_match allocated");
    assert_eq!(visits, 6 + 3 + 3 + 1 + 2 + 1 + 1);
    // The counter works: a Vec does allocate.
    let v = std::hint::black_box(vec![1u8]);
    assert!(alloc_count::on_this_thread() > after);
    drop(v);
}

#[test]
fn many_pending_branches_spill_and_still_match() {
    // On every level of "a/a/.../a" there is both a literal child and a '+' child, so the
    // walk keeps more than INLINE_PENDING branches pending at once.
    let depth = INLINE_PENDING + 10;
    let mut subs = BTreeSet::new();
    let mut trie = Trie::new();
    for i in 0..depth {
        let prefix = "a/".repeat(i);
        for filter in [format!("{prefix}+"), format!("{prefix}+/#")] {
            trie.insert(&filter, i as u32, filter.clone());
            subs.insert((filter, i as u32));
        }
    }
    for levels in [1, INLINE_PENDING, depth, depth + 3] {
        let topic = vec!["a"; levels].join("/");
        let found = trie_matches(&trie, &topic);
        assert!(!found.is_empty());
        assert_eq!(
            found,
            brute_matches(&subs, &topic),
            "topic of {levels} levels"
        );
    }
}

#[test]
fn very_deep_filters_do_not_overflow_the_stack() {
    // 30,000 levels is close to the most a 65,535-byte filter can hold; a recursive walk,
    // insert, remove or drop would overflow a 2 MiB test thread's stack here.
    let levels = 30_000;
    let literal = vec!["a"; levels].join("/");
    let plus = vec!["+"; levels].join("/");
    let hash = format!("{literal}/#");
    for f in [&literal, &plus, &hash] {
        assert_eq!(validate_topic_filter(f), Ok(()));
    }
    assert_eq!(validate_topic_name(&literal), Ok(()));

    let mut trie = trie_of(&[(&literal, 1), (&plus, 2), (&hash, 3)]);
    assert_eq!(trie.node_count(), 2 * levels);
    assert_eq!(
        trie_matches(&trie, &literal),
        pairs(&[(&literal, 1), (&plus, 2), (&hash, 3)])
    );
    assert_eq!(trie.iter().count(), 3);
    assert!(trie.remove(&plus, &2).is_some());
    assert_eq!(trie.node_count(), levels);
    assert!(trie.remove(&literal, &1).is_some());
    assert_eq!(
        trie.node_count(),
        levels,
        "the '#' subscription keeps the path"
    );
    assert!(trie.remove(&hash, &3).is_some());
    assert_eq!(trie.node_count(), 0);

    // Dropping a deep trie whole.
    let trie = trie_of(&[(&literal, 1), (&plus, 2)]);
    drop(trie);
}

#[path = "trie_prop_tests.rs"]
mod prop;
