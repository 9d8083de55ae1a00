//! ACL files (`[security] acl_file`) with Mosquitto's syntax and semantics (its
//! `aclfile__parse` and `mosquitto_acl_check_default` in `src/security_default.c`):
//!
//! - `topic [read|write|readwrite|deny] FILTER` (no access word = readwrite) applies to the
//!   user of the last `user NAME` line, or to anonymous clients before any `user` line;
//! - `pattern [read|write|readwrite|deny] FILTER` applies to every client, with `%c` replaced
//!   by the client id and `%u` by the user name (a pattern with `%u` never applies to an
//!   anonymous client);
//! - lines starting with `#` are comments; blank lines are ignored.
//!
//! A check looks at the client's own `topic` rules, then the patterns; within each list the
//! `deny` rules come first, so a matching deny wins over an allow of the same list. The first
//! rule that matches and grants the access allows it; nothing matching means denied. A topic
//! starting with `$` is only matched by rules starting with `$` (so `topic read #` does not give
//! `$SYS`). With pattern rules present, a client whose user name or client id holds `+` or `#`
//! is denied everything (it could otherwise widen a pattern into a wildcard).

use super::acl_index::{FastMap, Rule, RuleList};
use super::FileError;
use courtier_actors::topic;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
/// `deny`: matches, grants nothing, stops the search.
pub const DENY: u8 = 0;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    access: u8,
    filter: Box<str>,
    /// Whether it has `%u` (skipped for anonymous clients) or any `%` substitution at all.
    has_user: bool,
    substitutes: bool,
}

/// A parsed ACL file: rules per user, precomputed so a check is a map lookup and a look at
/// the rules that can match (acl_index.rs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Acl {
    anonymous: RuleList,
    users: FastMap<String, RuleList>,
    patterns: Vec<Pattern>,
}

/// What a check is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Receive a message on a topic (Mosquitto's read check, made at delivery).
    Read,
    /// Publish to a topic.
    Write,
    /// Subscribe to a filter: see [`Acl::may_subscribe`].
    Subscribe,
}

thread_local! {
    /// Scratch space for a pattern with `%c`/`%u` substituted: no allocation per check.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

fn parse_access(word: &str) -> Option<u8> {
    Some(match word {
        "read" => READ,
        "write" => WRITE,
        "readwrite" => READ | WRITE,
        "deny" => DENY,
        _ => return None,
    })
}

/// Deny rules first, keeping the file's order otherwise (Mosquitto puts denials at the front).
fn push_rule<T>(list: &mut Vec<T>, rule: T, deny: bool, is_deny: impl Fn(&T) -> bool) {
    if deny {
        let at = list.iter().take_while(|r| is_deny(r)).count();
        list.insert(at, rule);
    } else {
        list.push(rule);
    }
}

impl Acl {
    /// Parses a whole file; the error names the first bad line (1-based) and why.
    pub fn parse(text: &str) -> Result<Acl, (usize, String)> {
        let mut anonymous = Vec::new();
        let mut users: HashMap<String, Vec<Rule>> = HashMap::new();
        let mut patterns = Vec::new();
        let mut user: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim_end();
            if line.trim_start().is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.trim_start();
            let (word, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
            let rest = rest.trim();
            match word {
                "user" => {
                    if rest.is_empty() {
                        return Err((n, "missing user name".into()));
                    }
                    user = Some(rest.to_owned());
                    users.entry(rest.to_owned()).or_default();
                }
                "topic" | "pattern" => {
                    if rest.is_empty() {
                        return Err((n, format!("{word} without a topic")));
                    }
                    let (first, after) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
                    let (access, filter) = match parse_access(first) {
                        Some(a) if !after.trim().is_empty() => (a, after.trim()),
                        _ if after.trim().is_empty() => (READ | WRITE, first),
                        _ => {
                            return Err((
                                n,
                                format!(
                                    "invalid access {first:?} (read, write, readwrite or deny)"
                                ),
                            ))
                        }
                    };
                    if topic::validate_topic_filter(filter).is_err() {
                        return Err((n, format!("invalid topic filter {filter:?}")));
                    }
                    let deny = access == DENY;
                    if word == "topic" {
                        let rule = Rule {
                            access,
                            filter: filter.into(),
                        };
                        let list = match &user {
                            Some(u) => users.entry(u.clone()).or_default(),
                            None => &mut anonymous,
                        };
                        push_rule(list, rule, deny, |r| r.access == DENY);
                    } else {
                        let pattern = Pattern {
                            access,
                            filter: filter.into(),
                            has_user: filter.contains("%u"),
                            substitutes: filter.contains("%u") || filter.contains("%c"),
                        };
                        push_rule(&mut patterns, pattern, deny, |p| p.access == DENY);
                    }
                }
                _ => {
                    return Err((
                        n,
                        format!("unknown keyword {word:?} (user, topic or pattern)"),
                    ))
                }
            }
        }
        Ok(Acl {
            anonymous: RuleList::new(anonymous),
            users: users
                .into_iter()
                .map(|(u, rules)| (u, RuleList::new(rules)))
                .collect(),
            patterns,
        })
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Acl, FileError> {
        let text = std::fs::read_to_string(path).map_err(|e| FileError::io("acl_file", path, e))?;
        Acl::parse(&text).map_err(|(line, reason)| FileError {
            key: "acl_file",
            path: path.to_owned(),
            line: Some(line),
            reason,
        })
    }

    /// Number of rules (topic rules of every user plus patterns).
    pub fn rule_count(&self) -> usize {
        self.anonymous.len()
            + self.users.values().map(RuleList::len).sum::<usize>()
            + self.patterns.len()
    }

    /// Whether `client_id`/`username` may read (`Access::Read`) or write (`Access::Write`)
    /// `topic_name`, or subscribe to the filter `topic_name` (`Access::Subscribe`).
    pub fn allows(
        &self,
        client_id: &str,
        username: Option<&str>,
        access: Access,
        topic_name: &str,
    ) -> bool {
        let rules = match username {
            Some(u) => self.users.get(u),
            None => Some(&self.anonymous),
        };
        if let Some(rules) = rules {
            // A topic name (read, write) can only match the rules indexed under its first
            // level; a subscription's filter may overlap any rule.
            let answer = match access {
                Access::Subscribe => rules
                    .all()
                    .iter()
                    .find_map(|r| decide(r.access, &r.filter, access, topic_name)),
                _ => rules
                    .candidates(topic_name)
                    .find_map(|r| decide(r.access, &r.filter, access, topic_name)),
            };
            if let Some(answer) = answer {
                return answer;
            }
        }
        if self.patterns.is_empty() {
            return false;
        }
        let dangerous = |s: &str| s.contains(['+', '#']);
        if dangerous(client_id) || username.is_some_and(dangerous) {
            return false;
        }
        SCRATCH.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            for p in &self.patterns {
                if p.has_user && username.is_none() {
                    continue;
                }
                let filter: &str = if p.substitutes {
                    substitute(&mut buf, &p.filter, client_id, username);
                    &buf
                } else {
                    &p.filter
                };
                if let Some(answer) = decide(p.access, filter, access, topic_name) {
                    return answer;
                }
            }
            false
        })
    }
}

/// One rule's verdict, or `None` to go on with the next rule.
fn decide(rule_access: u8, filter: &str, access: Access, subject: &str) -> Option<bool> {
    // A `$` topic is only matched by a rule that names a `$` topic.
    if subject.starts_with('$') && !filter.starts_with('$') {
        return None;
    }
    match access {
        Access::Read | Access::Write => {
            if !topic::matches(filter, subject) {
                return None;
            }
            let wanted = if access == Access::Read { READ } else { WRITE };
            if rule_access == DENY {
                Some(false)
            } else {
                (rule_access & wanted != 0).then_some(true)
            }
        }
        // A subscription is granted when some topic it matches may be read: the first rule
        // overlapping it that grants read allows it, a deny covering all of it refuses it; what
        // is actually delivered is then checked message by message (Access::Read).
        Access::Subscribe => {
            if !overlaps(filter, subject) {
                return None;
            }
            if rule_access == DENY {
                covers(filter, subject).then_some(false)
            } else {
                (rule_access & READ != 0).then_some(true)
            }
        }
    }
}

fn substitute(buf: &mut String, pattern: &str, client_id: &str, username: Option<&str>) {
    buf.clear();
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        buf.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match (after.as_bytes().first(), username) {
            (Some(b'c'), _) => buf.push_str(client_id),
            (Some(b'u'), Some(u)) => buf.push_str(u),
            _ => {
                buf.push('%');
                rest = after;
                continue;
            }
        }
        rest = &after[1..];
    }
    buf.push_str(rest);
}

/// Whether some topic matches both filters.
pub fn overlaps(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (a.split('/'), b.split('/'));
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (None, None) => return true,
            // "a/#" matches "a": the longer side may end in "#" alone.
            (None, Some(l)) => return l == "#",
            (Some(l), None) => return l == "#",
            (Some(l), Some(m)) => {
                if l != "+" && m != "+" && l != m {
                    return false;
                }
            }
        }
    }
}

/// Whether every topic matched by `inner` is matched by `outer`.
pub fn covers(outer: &str, inner: &str) -> bool {
    let (mut x, mut y) = (outer.split('/'), inner.split('/'));
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) => return true,
            (_, Some("#")) => return false,
            (None, None) => return true,
            (Some(l), None) => return l == "#",
            (None, Some(_)) => return false,
            (Some("+"), Some(_)) => {}
            (Some(l), Some(m)) => {
                if l != m {
                    return false;
                }
            }
        }
    }
}
