//! The topic rules of one user (or of anonymous clients), indexed by their first topic level,
//! so that a publish or delivery check looks only at the rules that could match its topic
//! (those with the same first level, or a wildcard there) instead of scanning every rule: a
//! 1,000-rule ACL file then costs about what a short one does.

use std::collections::HashMap;

/// The maps looked up on every check hash with foldhash, several times cheaper than the
/// standard SipHash for short keys (a first topic level, a user name). Their keys come from
/// the ACL file, never from clients, so SipHash's resistance to chosen collisions buys nothing.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One topic rule: its access bits (`READ`, `WRITE`, or `DENY` = 0) and filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub access: u8,
    pub filter: Box<str>,
}

/// Rules in the order they are decided (deny rules first, then the file's order), with an
/// index of that order by first filter level.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RuleList {
    rules: Vec<Rule>,
    /// Positions of rules whose filter starts with this level (no wildcard), ascending.
    by_first: FastMap<Box<str>, Vec<u32>>,
    /// Positions of rules whose filter starts with `+` or `#`, ascending.
    wild: Vec<u32>,
}

impl RuleList {
    pub fn new(rules: Vec<Rule>) -> RuleList {
        let mut list = RuleList {
            rules,
            ..RuleList::default()
        };
        for (i, r) in list.rules.iter().enumerate() {
            let first = r.filter.split('/').next().unwrap_or("");
            match first {
                "+" | "#" => list.wild.push(i as u32),
                _ => list
                    .by_first
                    .entry(first.into())
                    .or_default()
                    .push(i as u32),
            }
        }
        list
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Every rule, in order (for subscription checks, whose filter may start with a wildcard).
    pub fn all(&self) -> &[Rule] {
        &self.rules
    }

    /// The rules that can match the topic name `topic`, in order. A wildcard first level
    /// never matches a `$` topic [MQTT-4.7.2-1], so those are skipped for one.
    pub fn candidates<'a>(&'a self, topic: &str) -> impl Iterator<Item = &'a Rule> + 'a {
        let first = topic.split('/').next().unwrap_or("");
        let same: &[u32] = self.by_first.get(first).map_or(&[], Vec::as_slice);
        let wild: &[u32] = match first.starts_with('$') {
            true => &[],
            false => &self.wild,
        };
        Merged { a: same, b: wild }.map(move |i| &self.rules[i as usize])
    }
}

/// Two ascending position lists merged into one ascending sequence.
struct Merged<'a> {
    a: &'a [u32],
    b: &'a [u32],
}

impl Iterator for Merged<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let side = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = side.split_first()?;
        *side = rest;
        Some(*first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(filter: &str) -> Rule {
        Rule {
            access: 3,
            filter: filter.into(),
        }
    }

    #[test]
    fn candidates_are_the_same_first_level_and_wildcards_in_rule_order() {
        let list = RuleList::new(
            ["a/b", "+/b", "c/#", "a/#", "#", "$SYS/#"]
                .map(rule)
                .to_vec(),
        );
        let names =
            |t: &str| -> Vec<String> { list.candidates(t).map(|r| r.filter.to_string()).collect() };
        assert_eq!(names("a/b"), ["a/b", "+/b", "a/#", "#"]);
        assert_eq!(names("x"), ["+/b", "#"]);
        assert_eq!(names("$SYS/broker/uptime"), ["$SYS/#"]);
        assert_eq!(list.all().len(), 6);
    }
}
