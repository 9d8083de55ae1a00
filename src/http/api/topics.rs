//! The topic tree of `GET /api/v1/topics`, built from the retained topics and the
//! subscription filters (pure). Bounded by depth and node count, so a broker with millions of
//! topics still answers a small document.

use serde::Serialize;
use std::collections::BTreeMap;

/// One topic level.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct Node {
    /// This level's name.
    pub name: String,
    /// The topic (or filter) up to this level.
    pub topic: String,
    /// A retained message is stored on exactly this topic.
    pub retained: bool,
    /// Retained messages on this topic and below.
    pub retained_messages: usize,
    /// Subscriptions whose filter is exactly this path.
    pub subscriptions: usize,
    pub children: Vec<Node>,
    /// Children left out for the depth or node bounds.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

#[derive(Default)]
struct Level {
    children: BTreeMap<String, Level>,
    retained: bool,
    subscriptions: usize,
}

impl Level {
    fn at(&mut self, path: &str) -> &mut Level {
        path.split('/').fold(self, |l, name| {
            l.children.entry(name.to_owned()).or_default()
        })
    }

    fn retained_below(&self) -> usize {
        usize::from(self.retained)
            + self
                .children
                .values()
                .map(Level::retained_below)
                .sum::<usize>()
    }
}

/// Bounds of the tree: levels below the root, and nodes in all.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub depth: usize,
    pub max_nodes: usize,
}

/// The tree under `root` ("" for all topics) of `retained` topics and subscription `filters`.
pub fn build(retained: &[String], filters: &[String], root: &str, bounds: Bounds) -> Vec<Node> {
    let under =
        |t: &&String| root.is_empty() || t.as_str() == root || t.starts_with(&format!("{root}/"));
    let mut top = Level::default();
    for t in retained.iter().filter(under) {
        top.at(t).retained = true;
    }
    for f in filters.iter().filter(under) {
        top.at(f).subscriptions += 1;
    }
    let start = match root {
        "" => &top,
        r => {
            let mut l = &top;
            for name in r.split('/') {
                match l.children.get(name) {
                    Some(c) => l = c,
                    None => return Vec::new(),
                }
            }
            l
        }
    };
    let mut budget = bounds.max_nodes;
    let prefix = match root {
        "" => String::new(),
        r => format!("{r}/"),
    };
    nodes(start, &prefix, bounds.depth, &mut budget)
}

fn nodes(level: &Level, prefix: &str, depth: usize, budget: &mut usize) -> Vec<Node> {
    let mut out = Vec::new();
    for (name, child) in &level.children {
        if *budget == 0 || depth == 0 {
            break;
        }
        *budget -= 1;
        let topic = format!("{prefix}{name}");
        let children = nodes(child, &format!("{topic}/"), depth - 1, budget);
        let truncated = children.len() < child.children.len();
        out.push(Node {
            name: name.clone(),
            retained: child.retained,
            retained_messages: child.retained_below(),
            subscriptions: child.subscriptions,
            topic,
            children,
            truncated,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn levels_carry_retained_flags_counts_and_subscriptions() {
        let tree = build(
            &s(&["home/hall/light", "home/hall", "home/kitchen/temp"]),
            &s(&["home/+/light", "home/hall/light"]),
            "",
            Bounds {
                depth: 10,
                max_nodes: 100,
            },
        );
        assert_eq!(tree.len(), 1);
        let home = &tree[0];
        assert_eq!((home.topic.as_str(), home.retained), ("home", false));
        assert_eq!(home.retained_messages, 3);
        let names: Vec<_> = home.children.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["+", "hall", "kitchen"]);
        let hall = &home.children[1];
        assert!(hall.retained);
        assert_eq!(hall.children[0].topic, "home/hall/light");
        assert_eq!(hall.children[0].subscriptions, 1);
    }

    #[test]
    fn depth_and_node_bounds_truncate() {
        let retained = s(&["a/b/c", "a/x", "b", "c"]);
        let shallow = build(
            &retained,
            &[],
            "",
            Bounds {
                depth: 1,
                max_nodes: 100,
            },
        );
        assert_eq!(shallow.len(), 3);
        assert!(shallow[0].truncated && shallow[0].children.is_empty());
        let few = build(
            &retained,
            &[],
            "",
            Bounds {
                depth: 10,
                max_nodes: 2,
            },
        );
        assert_eq!(few.len(), 1);
        let under = build(
            &retained,
            &[],
            "a/b",
            Bounds {
                depth: 10,
                max_nodes: 10,
            },
        );
        assert_eq!(under[0].topic, "a/b/c");
    }
}
