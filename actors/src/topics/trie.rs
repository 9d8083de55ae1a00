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

use foldhash::HashMap;
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
            children: HashMap::default(),
            plus: None,
            exact: HashMap::default(),
            hash: HashMap::default(),
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
    match crate::topic::find_slash(topic) {
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

    /// The subscription of `key` to `filter`, if there is one.
    pub fn get(&self, filter: &str, key: &K) -> Option<&V> {
        let (path, hash) = parse_filter(filter);
        let mut node = &self.root;
        for level in path.into_iter().flat_map(|p| p.split('/')) {
            node = node.child(level)?;
        }
        match hash {
            true => node.hash.get(key),
            false => node.exact.get(key),
        }
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
#[path = "trie_tests.rs"]
mod tests;
