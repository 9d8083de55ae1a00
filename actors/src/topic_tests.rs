use super::*;

fn assert_matches(filter: &str, topic: &str) {
    assert!(matches(filter, topic), "{filter:?} should match {topic:?}");
}

fn assert_no_match(filter: &str, topic: &str) {
    assert!(
        !matches(filter, topic),
        "{filter:?} should not match {topic:?}"
    );
}

// ---- 4.7.1.2 Multi-level wildcard -------------------------------------------------------

#[test]
fn hash_example_sport_tennis_player1() {
    let f = "sport/tennis/player1/#";
    assert_matches(f, "sport/tennis/player1");
    assert_matches(f, "sport/tennis/player1/ranking");
    assert_matches(f, "sport/tennis/player1/score/wimbledon");
    assert_no_match(f, "sport/tennis/player2");
    assert_no_match(f, "sport/tennis");
    assert_no_match(f, "sport/tennis/player10");
}

#[test]
fn hash_matches_parent_level() {
    // Non-normative comment: "sport/#" also matches the singular "sport".
    assert_matches("sport/#", "sport");
    assert_matches("sport/tennis/#", "sport/tennis");
    assert_matches("sport/#", "sport/");
    assert_no_match("sport/#", "sports");
    assert_no_match("sport/tennis/#", "sport/tennisball");
}

#[test]
fn hash_alone_matches_everything_not_starting_with_dollar() {
    for topic in ["a", "/", "/a", "a/b/c", "a/", "sport/tennis", " ", "a$"] {
        assert_matches("#", topic);
    }
    assert_no_match("#", "$SYS");
    assert_no_match("#", "$SYS/broker/clients");
    assert_no_match("#", "$other");
}

#[test]
fn hash_examples_valid_and_invalid() {
    assert_eq!(validate_topic_filter("#"), Ok(()));
    assert_eq!(validate_topic_filter("sport/tennis/#"), Ok(()));
    assert_eq!(
        validate_topic_filter("sport/tennis#"),
        Err(TopicError::MisplacedHash)
    );
    assert_eq!(
        validate_topic_filter("sport/tennis/#/ranking"),
        Err(TopicError::MisplacedHash)
    );
}

// ---- 4.7.1.3 Single level wildcard ------------------------------------------------------

#[test]
fn plus_example_sport_tennis_plus() {
    let f = "sport/tennis/+";
    assert_matches(f, "sport/tennis/player1");
    assert_matches(f, "sport/tennis/player2");
    assert_no_match(f, "sport/tennis/player1/ranking");
    // '+' matches exactly one level, possibly empty, but not zero levels.
    assert_no_match(f, "sport/tennis");
    assert_matches(f, "sport/tennis/");
}

#[test]
fn plus_example_sport_plus() {
    assert_no_match("sport/+", "sport");
    assert_matches("sport/+", "sport/");
}

#[test]
fn plus_examples_valid_and_invalid() {
    for ok in ["+", "+/tennis/#", "sport/+/player1", "+/+", "/+", "+/"] {
        assert_eq!(validate_topic_filter(ok), Ok(()), "{ok:?}");
    }
    assert_eq!(
        validate_topic_filter("sport+"),
        Err(TopicError::MisplacedPlus)
    );
    assert_eq!(
        validate_topic_filter("sport/+x"),
        Err(TopicError::MisplacedPlus)
    );
    assert_eq!(validate_topic_filter("++"), Err(TopicError::MisplacedPlus));
}

#[test]
fn plus_matches_empty_levels_finance_examples() {
    assert_matches("+/+", "/finance");
    assert_matches("/+", "/finance");
    assert_no_match("+", "/finance");
    assert_matches("+", "finance");
    assert_matches("+", "");
    assert_matches("+/+", "/");
}

#[test]
fn plus_combined_with_hash() {
    assert_matches("+/tennis/#", "sport/tennis");
    assert_matches("+/tennis/#", "sport/tennis/player1/ranking");
    assert_no_match("+/tennis/#", "sport/golf");
    assert_matches("+/#", "sport");
    assert_matches("sport/+/player1", "sport/tennis/player1");
    assert_no_match("sport/+/player1", "sport/tennis/player2");
}

// ---- 4.7.2 Topics beginning with $ ------------------------------------------------------

#[test]
fn dollar_topics_not_matched_by_leading_wildcards_mqtt_4_7_2_1() {
    assert_no_match("#", "$SYS/broker/x");
    assert_no_match("+/monitor/Clients", "$SYS/monitor/Clients");
    assert_no_match("+", "$SYS");
    assert_no_match("+/#", "$SYS/x");
    assert_matches("$SYS/#", "$SYS/broker/x");
    assert_matches("$SYS/#", "$SYS");
    assert_matches("$SYS/monitor/+", "$SYS/monitor/Clients");
    assert_matches("$SYS/monitor/Clients", "$SYS/monitor/Clients");
    // Only the topic's first character counts: '$' inside a level is ordinary.
    assert_matches("+/$x", "a/$x");
    assert_matches("#", "a/$SYS");
}

// ---- Levels and exact matching -----------------------------------------------------------

#[test]
fn slash_levels_are_significant() {
    assert_no_match("finance", "/finance");
    assert_no_match("/finance", "finance");
    assert_no_match("finance", "finance/");
    assert_matches("/", "/");
    assert_no_match("a//b", "a/b");
    assert_matches("a//b", "a//b");
    assert_matches("a/+/b", "a//b");
}

#[test]
fn exact_matching_is_case_sensitive_and_full() {
    assert_matches("sport/tennis", "sport/tennis");
    assert_no_match("Sport/tennis", "sport/tennis");
    assert_no_match("sport/tennis", "sport/tennis/x");
    assert_no_match("sport/tennis/x", "sport/tennis");
    assert_no_match("sport", "sport ");
    assert_matches("ACCOUNTS", "ACCOUNTS");
    assert_no_match("ACCOUNTS", "Accounts");
}

// ---- Validation: one test per spec id -----------------------------------------------------

#[test]
fn mqtt_4_7_3_1_empty() {
    assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
    assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
    // A lone separator is not empty.
    assert_eq!(validate_topic_name("/"), Ok(()));
    assert_eq!(validate_topic_filter("/"), Ok(()));
}

#[test]
fn mqtt_3_3_2_2_wildcard_in_name() {
    for bad in ["#", "+", "a/+", "a/#", "a+b", "a#", "+/b"] {
        assert_eq!(
            validate_topic_name(bad),
            Err(TopicError::WildcardInName),
            "{bad:?}"
        );
    }
    assert_eq!(validate_topic_name("sport/tennis/player1"), Ok(()));
    assert_eq!(validate_topic_name("$SYS/broker"), Ok(()));
}

#[test]
fn mqtt_4_7_1_2_misplaced_hash() {
    for bad in ["a#", "#a", "a/#/b", "#/", "##", "a/b#", "#/#", "a/#b"] {
        assert_eq!(
            validate_topic_filter(bad),
            Err(TopicError::MisplacedHash),
            "{bad:?}"
        );
    }
    for ok in ["#", "a/#", "/#", "+/#", "a//#"] {
        assert_eq!(validate_topic_filter(ok), Ok(()), "{ok:?}");
    }
}

#[test]
fn mqtt_4_7_1_3_misplaced_plus() {
    for bad in ["sport+", "+sport", "a/b+/c", "++", "a/++", "+a/b"] {
        assert_eq!(
            validate_topic_filter(bad),
            Err(TopicError::MisplacedPlus),
            "{bad:?}"
        );
    }
}

#[test]
fn mqtt_4_7_3_2_null_character() {
    assert_eq!(validate_topic_name("a\0b"), Err(TopicError::NullCharacter));
    assert_eq!(
        validate_topic_filter("a/\0"),
        Err(TopicError::NullCharacter)
    );
    assert_eq!(validate_topic_filter("\0"), Err(TopicError::NullCharacter));
    // Non-ASCII UTF-8 is fine.
    assert_eq!(validate_topic_name("café/ü/日本"), Ok(()));
}

#[test]
fn mqtt_4_7_3_3_too_long() {
    let max = "a".repeat(MAX_TOPIC_LEN);
    assert_eq!(validate_topic_name(&max), Ok(()));
    assert_eq!(validate_topic_filter(&max), Ok(()));
    let over = "a".repeat(MAX_TOPIC_LEN + 1);
    assert_eq!(validate_topic_name(&over), Err(TopicError::TooLong));
    assert_eq!(validate_topic_filter(&over), Err(TopicError::TooLong));
    // The limit is in bytes, not characters: 21,846 three-byte characters = 65,538 bytes.
    let wide = "日".repeat(21_846);
    assert_eq!(validate_topic_name(&wide), Err(TopicError::TooLong));
}

#[test]
fn validation_order_is_documented() {
    // Length before content; a long filter full of bad wildcards is still TooLong.
    let long = "+x".repeat(40_000);
    assert_eq!(validate_topic_filter(&long), Err(TopicError::TooLong));
    // Leftmost offending level decides.
    assert_eq!(
        validate_topic_filter("a+/#/b"),
        Err(TopicError::MisplacedPlus)
    );
    assert_eq!(
        validate_topic_filter("a/#/b+"),
        Err(TopicError::MisplacedHash)
    );
    // Null before wildcards.
    assert_eq!(validate_topic_name("+\0"), Err(TopicError::NullCharacter));
}

#[test]
fn display_names_the_spec_id() {
    let all = [
        TopicError::Empty,
        TopicError::WildcardInName,
        TopicError::MisplacedHash,
        TopicError::MisplacedPlus,
        TopicError::NullCharacter,
        TopicError::TooLong,
    ];
    let mut ids: Vec<&str> = all.iter().map(TopicError::spec_id).collect();
    for e in all {
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("[{}]", e.spec_id())),
            "{shown:?} does not name {}",
            e.spec_id()
        );
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "spec ids must be distinct");
}

// ---- Helpers ---------------------------------------------------------------------------

#[test]
fn first_level_examples() {
    assert_eq!(first_level("a/b"), "a");
    assert_eq!(first_level("/x"), "");
    assert_eq!(first_level("#"), "#");
    assert_eq!(first_level("abc"), "abc");
    assert_eq!(first_level("$SYS/broker"), "$SYS");
    assert_eq!(first_level("a/"), "a");
}

#[test]
fn starts_with_wildcard_examples() {
    for yes in ["#", "+", "+/a", "+/#"] {
        assert!(starts_with_wildcard(yes), "{yes:?}");
    }
    for no in ["a/#", "/+", "$SYS/#", "a/+", "a"] {
        assert!(!starts_with_wildcard(no), "{no:?}");
    }
}

#[test]
fn is_sys_topic_examples() {
    assert!(is_sys_topic("$SYS"));
    assert!(is_sys_topic("$SYS/"));
    assert!(is_sys_topic("$SYS/broker/clients/connected"));
    assert!(!is_sys_topic("$SYSTEM"));
    assert!(!is_sys_topic("$SYSx/a"));
    assert!(!is_sys_topic("a/$SYS"));
    assert!(!is_sys_topic("$sys/a"));
    assert!(!is_sys_topic("$other/a"));
}

#[test]
fn mqtt_4_8_2_1_and_2_share_names_split_into_group_and_filter() {
    let ok = |group, filter| Some(Ok(ShareName { group, filter }));
    assert_eq!(parse_share("$share/g/a/b"), ok("g", "a/b"));
    assert_eq!(parse_share("$share/g/#"), ok("g", "#"));
    assert_eq!(parse_share("$share/g/+/x"), ok("g", "+/x"));
    assert_eq!(parse_share("$share/g//"), ok("g", "/"));
    assert_eq!(parse_share("a/b"), None);
    assert_eq!(parse_share("$share"), None, "no '/': an ordinary filter");
    assert_eq!(
        parse_share("$SHARE/g/t"),
        None,
        "the prefix is case-sensitive"
    );
}

#[test]
fn mqtt_4_8_2_1_a_share_name_is_non_empty_without_wildcards() {
    for bad in [
        "$share//t",
        "$share/+/t",
        "$share/#",
        "$share/g+/t",
        "$share/#/t",
        "$share/",
    ] {
        assert_eq!(parse_share(bad), Some(Err(ShareError::BadGroup)), "{bad}");
    }
}

#[test]
fn mqtt_4_8_2_2_a_share_name_is_followed_by_a_filter() {
    for bad in ["$share/g", "$share/g/"] {
        assert_eq!(
            parse_share(bad),
            Some(Err(ShareError::MissingFilter)),
            "{bad}"
        );
    }
    assert_eq!(
        parse_share("$share/g/a/#/b"),
        Some(Err(ShareError::Filter(TopicError::MisplacedHash)))
    );
    assert_eq!(matching_filter("$share/g/a/+"), "a/+");
    assert_eq!(matching_filter("a/+"), "a/+");
}

#[test]
fn check_levels_counts_levels_and_0_is_no_limit() {
    assert_eq!(check_levels("a/b/c", 3), Ok(()));
    assert_eq!(check_levels("a/b/c/d", 3), Err(TopicError::TooManyLevels));
    // Empty levels count: "/" has two, "//" three.
    assert_eq!(check_levels("//", 2), Err(TopicError::TooManyLevels));
    assert_eq!(check_levels("/", 2), Ok(()));
    let deep = vec!["a"; 10_000].join("/");
    assert_eq!(check_levels(&deep, 128), Err(TopicError::TooManyLevels));
    assert_eq!(check_levels(&deep, 10_000), Ok(()));
    assert_eq!(check_levels(&deep, 0), Ok(()));
    // A long topic with few levels passes.
    assert_eq!(check_levels(&"x".repeat(60_000), 128), Ok(()));
}
