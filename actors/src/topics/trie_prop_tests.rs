//! Property test: the trie agrees with brute-force `matches()` under random churn.

use super::*;

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

fn check_against_brute_force(trie: &Trie, subs: &BTreeSet<(String, u32)>, rng: &mut Rng) -> usize {
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
