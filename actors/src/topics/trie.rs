//! A subscription trie: which subscriptions match a published topic name.
//!
//! One node per filter level. A node has its literal children in a `HashMap`, its `+` child
//! apart (no hashing needed to find it), the subscriptions whose filter ends at the node, and
//! the subscriptions whose filter is the node's path followed by `/#` (a `#` level is always the
//! last one, so it needs no node of its own). The root stands for "before the first level"; the
//! filter `"#"` lives in the root's `#` subscriptions.
//!
//! Matching walks the topic's levels down the trie, following the literal child and the `+`
//! child at each level. It allocates nothing unless a topic makes it keep more than
//! [`INLINE_PENDING`] branches pending at once (a `+` child beside a literal child on
//! more than that many levels of one path); then it spills to a heap vector rather than fail.
//!
//! Nothing here recurses: insertion, matching, removal, node counting and `Drop` all use loops,
//! so a 32,767-level filter (the most a 65,535-byte filter can hold) cannot overflow the stack
//! of the thread running the actor.
//!
//! Filters are assumed valid ([`crate::topic::validate_topic_filter`]); an invalid filter is
//! stored and removed consistently but matches unspecified topics.

use std::collections::HashMap;
use std::hash::Hash;

/// How many pending branches `for_each_match` keeps on the stack before spilling to the heap.
pub const INLINE_PENDING: usize = 32;

struct Node<K, V> {
    /// Literal next levels.
    children: HashMap<Box<str>, Node<K, V>>,
    /// The `+` next level.
    plus: Option<Box<Node<K, V>>>,
    /// Subscriptions whose filter ends exactly at this node.
    exact: HashMap<K, V>,
    /// Subscriptions whose filter is this node's path followed by `/#` (at the root: `#`).
    hash: HashMap<K, V>,
}

impl<K, V> Node<K, V> {
    fn new() -> Self {
        Node {
            children: HashMap::new(),
            plus: None,
            exact: HashMap::new(),
            hash: HashMap::new(),
        }
    }

    fn child(&self, level: &str) -> Option<&Node<K, V>> {
        if level == "+" {
            self.plus.as_deref()
        } else {
            self.children.get(level)
        }
    }

    fn child_count(&self) -> usize {
        self.children.len() + usize::from(self.plus.is_some())
    }

    /// Moves this node's children to `out`, leaving it a leaf.
    fn take_children(&mut self, out: &mut Vec<Node<K, V>>) {
        out.extend(self.children.drain().map(|(_, child)| child));
        if let Some(plus) = self.plus.take() {
            out.push(*plus);
        }
    }
}

impl<K, V> Drop for Node<K, V> {
    /// Tears the subtree down with a loop: the derived drop would recurse once per level.
    fn drop(&mut self) {
        if self.child_count() == 0 {
            return;
        }
        let mut stack = Vec::new();
        self.take_children(&mut stack);
        while let Some(mut node) = stack.pop() {
            node.take_children(&mut stack);
            // `node` is a leaf now; dropping it does not recurse.
        }
    }
}

/// Splits `"a/b/#"` into its level path (`Some("a/b")`) and whether it ends in `#`. The filter
/// `"#"` has no levels (`None`). Insert and remove both use this, so they always agree.
fn parse_filter(filter: &str) -> (Option<&str>, bool) {
    if filter == "#" {
        (None, true)
    } else if let Some(path) = filter.strip_suffix("/#") {
        (Some(path), true)
    } else {
        (Some(filter), false)
    }
}

/// `"a/b/c"` -> `("a", Some("b/c"))`; `"c"` -> `("c", None)`.
#[inline]
fn split_level(topic: &str) -> (&str, Option<&str>) {
    match topic.find('/') {
        Some(i) => (&topic[..i], Some(&topic[i + 1..])),
        None => (topic, None),
    }
}

/// A LIFO stack that lives on the call stack up to `INLINE_PENDING` items and then spills to a
/// heap vector (which allocates only if it is ever pushed to).
struct PendingStack<T: Copy> {
    inline: [Option<T>; INLINE_PENDING],
    inline_len: usize,
    spill: Vec<T>,
}

impl<T: Copy> PendingStack<T> {
    fn new() -> Self {
        PendingStack {
            inline: [None; INLINE_PENDING],
            inline_len: 0,
            spill: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, item: T) {
        if self.inline_len < INLINE_PENDING {
            self.inline[self.inline_len] = Some(item);
            self.inline_len += 1;
        } else {
            self.spill.push(item);
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        // Spilled items were pushed after the inline ones were full: they come out first.
        if let Some(item) = self.spill.pop() {
            return Some(item);
        }
        if self.inline_len == 0 {
            return None;
        }
        self.inline_len -= 1;
        self.inline[self.inline_len].take()
    }
}

/// Subscriptions of keys `K` (subscribers) to topic filters, each carrying a `V` (e.g. QoS and a
/// handle), indexed for matching published topic names.
///
/// One key holds at most one subscription per filter; a key subscribed to several overlapping
/// filters (`"a/+"` and `"a/#"`) is visited once per matching filter by
/// [`for_each_match`](Self::for_each_match). De-duplicating per key (and, in MQTT 5.0, choosing
/// which subscription's options apply) is the caller's job.
pub struct SubscriptionTrie<K, V> {
    root: Node<K, V>,
    len: usize,
}

impl<K: Eq + Hash + Clone, V> Default for SubscriptionTrie<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash + Clone, V> SubscriptionTrie<K, V> {
    pub fn new() -> Self {
        SubscriptionTrie {
            root: Node::new(),
            len: 0,
        }
    }

    /// Inserts or replaces the subscription of `key` to `filter` (already validated). Returns
    /// the old value if one was replaced.
    pub fn insert(&mut self, filter: &str, key: K, value: V) -> Option<V> {
        debug_assert!(
            crate::topic::validate_topic_filter(filter).is_ok(),
            "invalid topic filter {filter:?}"
        );
        let (path, hash) = parse_filter(filter);
        let mut node = &mut self.root;
        if let Some(path) = path {
            for level in path.split('/') {
                node = if level == "+" {
                    node.plus.get_or_insert_with(|| Box::new(Node::new()))
                } else {
                    // Look up before inserting so an existing level costs no allocation.
                    if !node.children.contains_key(level) {
                        node.children.insert(level.into(), Node::new());
                    }
                    node.children.get_mut(level).expect("just inserted")
                };
            }
        }
        let subs = if hash {
            &mut node.hash
        } else {
            &mut node.exact
        };
        let old = subs.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes the subscription of `key` to `filter`, pruning the nodes it leaves empty so memory
    /// does not grow with subscription churn. Returns the removed value.
    pub fn remove(&mut self, filter: &str, key: &K) -> Option<V> {
        let (path, hash) = parse_filter(filter);
        let levels = || path.into_iter().flat_map(|p| p.split('/'));
        let depth = levels().count();

        // Pass 1, read-only: find the subscription and the deepest node that must survive it.
        // Every node below `keep` would be left with no subscriptions and no other children.
        let mut keep = 0;
        let mut node = &self.root;
        for (i, level) in levels().enumerate() {
            let is_chain_link =
                node.exact.is_empty() && node.hash.is_empty() && node.child_count() == 1;
            if i > 0 && !is_chain_link {
                keep = i;
            }
            node = node.child(level)?;
        }
        let subs = if hash { &node.hash } else { &node.exact };
        if !subs.contains_key(key) {
            return None;
        }
        let others = if hash { &node.exact } else { &node.hash };
        if subs.len() > 1 || !others.is_empty() || node.child_count() > 0 {
            keep = depth;
        }

        // Pass 2: take the value out.
        let mut node = &mut self.root;
        for level in levels() {
            node = if level == "+" {
                node.plus.as_deref_mut()
            } else {
                node.children.get_mut(level)
            }
            .expect("pass 1 found this path");
        }
        let subs = if hash {
            &mut node.hash
        } else {
            &mut node.exact
        };
        let value = subs.remove(key).expect("pass 1 found this key");
        self.len -= 1;

        // Pass 3: cut the branch that is now empty (dropped without recursion, see `Drop`).
        if keep < depth {
            let mut node = &mut self.root;
            let mut levels = levels();
            for level in levels.by_ref().take(keep) {
                node = if level == "+" {
                    node.plus.as_deref_mut()
                } else {
                    node.children.get_mut(level)
                }
                .expect("pass 1 found this path");
            }
            let cut = levels.next().expect("keep < depth");
            if cut == "+" {
                node.plus = None;
            } else {
                node.children.remove(cut);
            }
        }
        Some(value)
    }

    /// Calls `visit(key, value)` once for every (filter, key) subscription whose filter matches
    /// the topic name `topic`, in no particular order.
    ///
    /// Honours \[MQTT-4.7.2-1\]: filters starting with `+` or `#` are skipped for topics
    /// starting with `$`. A key with several matching filters is visited once per filter; the
    /// caller de-duplicates. Allocates nothing (see the module documentation for the one
    /// exception), and agrees with [`crate::topic::matches`] on every valid filter and name.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut visit: impl FnMut(&'a K, &'a V)) {
        let root = &self.root;
        let dollar = topic.starts_with('$');
        if !dollar {
            root.hash.iter().for_each(|(k, v)| visit(k, v));
        }

        // Each pending item is a node reached by the topic's levels so far, and what is left of
        // the topic after them (`None`: nothing, not even an empty level).
        let mut pending = PendingStack::new();
        let (level, rest) = split_level(topic);
        if let Some(child) = root.children.get(level) {
            pending.push((child, rest));
        }
        if !dollar {
            if let Some(plus) = root.plus.as_deref() {
                pending.push((plus, rest));
            }
        }

        while let Some((mut node, mut rest)) = pending.pop() {
            loop {
                // "path/#" matches the path itself and anything below it.
                node.hash.iter().for_each(|(k, v)| visit(k, v));
                let Some(remaining) = rest else {
                    node.exact.iter().for_each(|(k, v)| visit(k, v));
                    break;
                };
                let (level, next_rest) = split_level(remaining);
                let literal = node.children.get(level);
                let plus = node.plus.as_deref();
                // Follow one branch in this loop, keep the other pending.
                node = match (literal, plus) {
                    (Some(literal), Some(plus)) => {
                        pending.push((plus, next_rest));
                        literal
                    }
                    (Some(next), None) | (None, Some(next)) => next,
                    (None, None) => break,
                };
                rest = next_rest;
            }
        }
    }

    /// Number of (filter, key) subscriptions.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All subscriptions as (filter, key, value), in no particular order, for rebuilding and
    /// inspection. Allocates (each filter is rebuilt as a `String`): not for the hot path.
    pub fn iter(&self) -> impl Iterator<Item = (String, &K, &V)> {
        // Depth-first over (path, node); `None` path is the root.
        let mut stack: Vec<(Option<String>, &Node<K, V>)> = vec![(None, &self.root)];
        std::iter::from_fn(move || {
            let (path, node) = stack.pop()?;
            let join = |level: &str| match &path {
                None => level.to_owned(),
                Some(path) => format!("{path}/{level}"),
            };
            for (level, child) in &node.children {
                stack.push((Some(join(level)), child));
            }
            if let Some(plus) = node.plus.as_deref() {
                stack.push((Some(join("+")), plus));
            }
            let hash_filter = join("#");
            let exact = node.exact.iter().map(move |(k, v)| {
                let filter = path.clone().expect("the root has no exact subscriptions");
                (filter, k, v)
            });
            let hash = node
                .hash
                .iter()
                .map(move |(k, v)| (hash_filter.clone(), k, v));
            Some(exact.chain(hash))
        })
        .flatten()
    }

    /// Number of nodes below the root; 0 for an empty trie once everything is removed.
    #[cfg(test)]
    fn node_count(&self) -> usize {
        let mut count = 0;
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            stack.extend(node.children.values());
            stack.extend(node.plus.as_deref());
            count += node.child_count();
        }
        count
    }
}

#[cfg(test)]
mod tests {
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

    /// Deterministic xorshift64*, so failures reproduce without a seed in the output.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// Small alphabets, so that random filters and topics often match: empty levels, `$` first
    /// levels, wildcards and trailing `#` all occur.
    fn random_filter(rng: &mut Rng) -> String {
        let n = 1 + rng.below(4);
        let mut levels: Vec<&str> = (0..n)
            .map(|_| rng.pick(&["a", "b", "", "+", "+", "$SYS"]))
            .collect();
        match rng.below(4) {
            0 => levels.push("#"),
            1 if n == 1 => levels = vec!["#"],
            _ => {}
        }
        let filter = levels.join("/");
        if filter.is_empty() {
            "/".to_owned() // one empty level is an empty (invalid) filter
        } else {
            filter
        }
    }

    fn random_topic(rng: &mut Rng) -> String {
        let n = 1 + rng.below(5);
        let topic = (0..n)
            .map(|_| rng.pick(&["a", "b", "", "$SYS", "$x"]))
            .collect::<Vec<_>>()
            .join("/");
        if topic.is_empty() {
            "/".to_owned() // one empty level is an empty (invalid) name
        } else {
            topic
        }
    }

    fn check_against_brute_force(
        trie: &Trie,
        subs: &BTreeSet<(String, u32)>,
        rng: &mut Rng,
    ) -> usize {
        let mut matched = 0;
        for _ in 0..300 {
            let topic = random_topic(rng);
            assert_eq!(validate_topic_name(&topic), Ok(()), "{topic:?}");
            let expected = brute_matches(subs, &topic);
            assert_eq!(trie_matches(trie, &topic), expected, "topic {topic:?}");
            matched += expected.len();
        }
        assert_eq!(trie.len(), subs.len());
        matched
    }

    #[test]
    fn property_trie_agrees_with_matches_under_churn() {
        for seed in 1..=5u64 {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
            let mut trie = Trie::new();
            let mut subs = BTreeSet::new();
            for _ in 0..300 {
                let filter = random_filter(&mut rng);
                assert_eq!(validate_topic_filter(&filter), Ok(()), "{filter:?}");
                let key = rng.below(4) as u32;
                let old = trie.insert(&filter, key, filter.clone());
                let was_new = subs.insert((filter.clone(), key));
                assert_eq!(old.is_none(), was_new, "insert {filter:?} for {key}");
            }
            let matched = check_against_brute_force(&trie, &subs, &mut rng);
            assert!(matched > 300, "generator too sparse: {matched} matches");

            // Remove a random half (plus some absent subscriptions), check again.
            let all: Vec<_> = subs.iter().cloned().collect();
            for (filter, key) in all {
                if rng.below(2) == 0 {
                    assert_eq!(trie.remove(&filter, &key), Some(filter.clone()));
                    subs.remove(&(filter, key));
                }
                let absent = random_filter(&mut rng);
                if !subs.contains(&(absent.clone(), 9)) {
                    assert_eq!(trie.remove(&absent, &9), None);
                }
            }
            check_against_brute_force(&trie, &subs, &mut rng);

            let mut listed: Vec<_> = trie.iter().map(|(f, k, _)| (f, *k)).collect();
            listed.sort();
            assert_eq!(listed, subs.iter().cloned().collect::<Vec<_>>());

            // Remove the rest: nothing may be left behind.
            for (filter, key) in std::mem::take(&mut subs) {
                assert_eq!(trie.remove(&filter, &key), Some(filter.clone()));
            }
            assert_eq!(trie.len(), 0);
            assert!(trie.is_empty());
            assert_eq!(trie.node_count(), 0, "seed {seed}: leftover nodes");
            check_against_brute_force(&trie, &subs, &mut rng);
        }
    }
}
