//! Topic names and filters: validation against an independent reading of the rules, and
//! `topic::matches` against a brute-force oracle for every valid (filter, name) pair.
//!
//! Input: filter bytes, 0xFF, name bytes (0xFF never occurs in UTF-8, so both halves can be any
//! string); without 0xFF the whole input is used as both. Invalid UTF-8 is replaced (lossy).
#![no_main]

use courtier_actors::topic;
use libfuzzer_sys::fuzz_target;

const MAX_LEN: usize = 65_535;

fn common_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LEN && !s.contains('\0')
}

/// [MQTT-4.7.3-1..3], [MQTT-3.3.2-2]: no wildcard in a name.
fn oracle_name_valid(s: &str) -> bool {
    common_ok(s) && !s.contains('+') && !s.contains('#')
}

/// [MQTT-4.7.1-2]: `#` alone in the last level; [MQTT-4.7.1-3]: `+` alone in its level.
fn oracle_filter_valid(s: &str) -> bool {
    if !common_ok(s) {
        return false;
    }
    let levels: Vec<&str> = s.split('/').collect();
    levels.iter().enumerate().all(|(i, l)| {
        if l.contains('#') {
            *l == "#" && i == levels.len() - 1
        } else if l.contains('+') {
            *l == "+"
        } else {
            true
        }
    })
}

/// Level-by-level matching by recursion over the two level lists.
fn oracle_levels(f: &[&str], t: &[&str]) -> bool {
    match (f.split_first(), t.split_first()) {
        (None, None) => true,
        // `#` matches the parent level too: "a/#" matches "a" [MQTT-4.7.1-2].
        (Some((&"#", _)), _) => true,
        (Some((&"+", fr)), Some((_, tr))) => oracle_levels(fr, tr),
        (Some((fl, fr)), Some((tl, tr))) => fl == tl && oracle_levels(fr, tr),
        _ => false,
    }
}

fn oracle_matches(filter: &str, name: &str) -> bool {
    let f: Vec<&str> = filter.split('/').collect();
    // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a name starting with '$'.
    if name.starts_with('$') && (f[0] == "+" || f[0] == "#") {
        return false;
    }
    let t: Vec<&str> = name.split('/').collect();
    oracle_levels(&f, &t)
}

fuzz_target!(|data: &[u8]| {
    let (fb, nb) = match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let filter = String::from_utf8_lossy(fb);
    let name = String::from_utf8_lossy(nb);

    let filter_ok = topic::validate_topic_filter(&filter).is_ok();
    let name_ok = topic::validate_topic_name(&name).is_ok();
    assert_eq!(filter_ok, oracle_filter_valid(&filter), "filter {filter:?}");
    assert_eq!(name_ok, oracle_name_valid(&name), "name {name:?}");
    // Also the other way round: both strings as names and as filters.
    assert_eq!(
        topic::validate_topic_name(&filter).is_ok(),
        oracle_name_valid(&filter)
    );
    assert_eq!(
        topic::validate_topic_filter(&name).is_ok(),
        oracle_filter_valid(&name)
    );

    // Never panics, valid or not.
    let m = topic::matches(&filter, &name);
    let _ = topic::matches(&name, &filter);
    let _ = topic::first_level(&filter);
    let _ = topic::is_sys_topic(&name);
    let _ = topic::starts_with_wildcard(&filter);

    if filter_ok && name_ok {
        assert_eq!(
            m,
            oracle_matches(&filter, &name),
            "matches({filter:?}, {name:?})"
        );
    }
    if name_ok {
        // A valid name is a valid filter that matches exactly itself.
        assert!(oracle_filter_valid(&name));
        assert!(
            topic::matches(&name, &name),
            "{name:?} does not match itself"
        );
    }
});
