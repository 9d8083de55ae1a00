//! ACL files: parsing (good and bad lines) and Mosquitto's semantics, one behaviour per test,
//! cases after Mosquitto's documentation (mosquitto.conf(5), "acl_file").

use super::acl::{covers, overlaps, Access, Acl};
use super::authz::AclAuthorizer;
use courtier_actors::auth::{Action, Authorizer, ClientRef, Denial};
use courtier_actors::codec::QoS;

fn acl(text: &str) -> Acl {
    Acl::parse(text).unwrap()
}

fn read(a: &Acl, id: &str, user: Option<&str>, topic: &str) -> bool {
    a.allows(id, user, Access::Read, topic)
}

fn write(a: &Acl, id: &str, user: Option<&str>, topic: &str) -> bool {
    a.allows(id, user, Access::Write, topic)
}

fn sub(a: &Acl, id: &str, user: Option<&str>, filter: &str) -> bool {
    a.allows(id, user, Access::Subscribe, filter)
}

#[test]
fn rules_before_any_user_line_apply_to_anonymous_clients_only() {
    let a = acl("topic read public/#\nuser alice\ntopic readwrite alice/#\n");
    assert!(read(&a, "c", None, "public/news"));
    assert!(!read(&a, "c", None, "alice/x"));
    assert!(!read(&a, "c", Some("alice"), "public/news"));
    assert!(read(&a, "c", Some("alice"), "alice/x") && write(&a, "c", Some("alice"), "alice/x"));
}

#[test]
fn read_allows_receiving_and_write_allows_publishing_only() {
    let a = acl("user u\ntopic read r/#\ntopic write w/#\ntopic readwrite rw\ntopic both\n");
    let u = Some("u");
    assert!(read(&a, "c", u, "r/1") && !write(&a, "c", u, "r/1"));
    assert!(write(&a, "c", u, "w/1") && !read(&a, "c", u, "w/1"));
    assert!(read(&a, "c", u, "rw") && write(&a, "c", u, "rw"));
    assert!(
        read(&a, "c", u, "both") && write(&a, "c", u, "both"),
        "no access word = readwrite"
    );
}

#[test]
fn no_matching_rule_denies() {
    let a = acl("user u\ntopic readwrite a/#\n");
    assert!(!write(&a, "c", Some("u"), "b"));
    assert!(
        !write(&a, "c", Some("stranger"), "a/b"),
        "a user without rules"
    );
    assert!(!write(&a, "c", None, "a/b"), "anonymous without rules");
}

#[test]
fn deny_wins_over_an_allow_of_the_same_user_wherever_it_is() {
    let a = acl("user u\ntopic readwrite home/#\ntopic deny home/secret\n");
    assert!(write(&a, "c", Some("u"), "home/light"));
    assert!(!write(&a, "c", Some("u"), "home/secret"));
    assert!(!read(&a, "c", Some("u"), "home/secret"));
}

#[test]
fn pattern_with_percent_u_lets_each_user_write_its_own_subtree() {
    let a = acl("pattern readwrite users/%u/#\n");
    assert!(write(&a, "c", Some("alice"), "users/alice/x"));
    assert!(!write(&a, "c", Some("alice"), "users/bob/x"));
    assert!(
        !write(&a, "c", None, "users//x"),
        "a %u pattern never applies to anonymous"
    );
}

#[test]
fn pattern_with_percent_c_follows_the_client_id() {
    let a = acl("pattern write devices/%c/state\n");
    assert!(write(&a, "lamp-1", None, "devices/lamp-1/state"));
    assert!(!write(&a, "lamp-1", None, "devices/lamp-2/state"));
}

#[test]
fn patterns_apply_to_every_client_after_its_own_rules() {
    let a = acl("user u\ntopic read a\npattern deny a\npattern read b\n");
    assert!(
        read(&a, "c", Some("u"), "a"),
        "the user's allow is found before the pattern deny"
    );
    assert!(
        read(&a, "c", Some("u"), "b") && read(&a, "c", Some("v"), "b") && read(&a, "c", None, "b")
    );
}

#[test]
fn wildcards_in_user_name_or_client_id_are_denied_when_patterns_exist() {
    let a = acl("pattern readwrite users/%u/#\npattern readwrite c/%c\n");
    assert!(!write(&a, "c", Some("+"), "users/+/x"));
    assert!(!write(&a, "#", None, "c/#"));
}

#[test]
fn hash_rule_does_not_give_sys_topics_but_a_dollar_rule_does() {
    let a = acl("topic read #\n");
    assert!(read(&a, "c", None, "anything/at/all"));
    assert!(!read(&a, "c", None, "$SYS/broker/uptime"));
    let a = acl("topic read #\ntopic read $SYS/#\n");
    assert!(read(&a, "c", None, "$SYS/broker/uptime"));
}

#[test]
fn subscribe_is_granted_when_some_topic_of_the_filter_is_readable() {
    let a = acl("user u\ntopic read home/+/temp\ntopic write cmd/#\ntopic deny home/secret/#\n");
    let u = Some("u");
    assert!(
        sub(&a, "c", u, "#"),
        "deliveries are then checked one by one"
    );
    assert!(sub(&a, "c", u, "home/kitchen/temp"));
    assert!(sub(&a, "c", u, "home/+/temp"));
    assert!(!sub(&a, "c", u, "cmd/#"), "write-only");
    assert!(!sub(&a, "c", u, "other/#"), "nothing readable");
    assert!(!sub(&a, "c", u, "home/secret/temp"), "covered by a deny");
    assert!(!sub(&a, "c", u, "$SYS/#"));
}

#[test]
fn filter_overlap_and_cover() {
    assert!(overlaps("a/+", "a/b") && overlaps("#", "a") && overlaps("a/#", "a"));
    assert!(!overlaps("a/b", "a/c") && !overlaps("a", "a/b"));
    assert!(covers("a/#", "a/b/c") && covers("a/#", "a") && covers("+/b", "x/b"));
    assert!(!covers("a/b", "a/+") && !covers("a", "a/#") && !covers("a/+", "a/#"));
}

#[test]
fn comments_blank_lines_and_extra_blanks_are_ignored() {
    let a = acl("# ACL\n\n   \nuser  alice \ntopic   read   a b/c \n");
    assert!(
        read(&a, "c", Some("alice"), "a b/c"),
        "a topic may contain spaces"
    );
    assert_eq!(a.rule_count(), 1);
}

#[test]
fn bad_lines_are_refused_with_their_line_number_and_reason() {
    let cases: &[(&str, &str)] = &[
        ("topic", "without a topic"),
        ("topic reed a/b", "invalid access"),
        ("topic read a/#/b", "invalid topic filter"),
        ("pattern write a+", "invalid topic filter"),
        ("user", "missing user name"),
        ("tpoic read a", "unknown keyword"),
    ];
    for (line, reason) in cases {
        let (n, why) = Acl::parse(&format!("# ok\n{line}\n")).unwrap_err();
        assert_eq!(n, 2, "{line}");
        assert!(why.contains(reason), "{line}: {why}");
    }
}

#[test]
fn authorizer_without_an_acl_allows_all_but_writing_sys_and_skips_receive_checks() {
    let z = AclAuthorizer::new(None);
    let c = ClientRef {
        client_id: "c",
        username: None,
    };
    let publish = Action::Publish {
        qos: QoS::AtMostOnce,
        retain: false,
    };
    assert_eq!(z.check(c, publish, "a"), Ok(()));
    assert_eq!(z.check(c, publish, "$SYS/x"), Err(Denial::SysTopicReadOnly));
    assert!(!z.checks_receive());
}

#[test]
fn authorizer_with_an_acl_maps_actions_and_a_replaced_acl_applies_at_once() {
    let z = AclAuthorizer::new(Some(acl("topic write out\ntopic read in\n")));
    let c = ClientRef {
        client_id: "c",
        username: None,
    };
    let publish = Action::Publish {
        qos: QoS::AtLeastOnce,
        retain: false,
    };
    assert!(z.checks_receive());
    assert_eq!(z.check(c, publish, "out"), Ok(()));
    assert_eq!(z.check(c, publish, "in"), Err(Denial::NotAuthorized));
    assert_eq!(z.check(c, Action::Receive, "in"), Ok(()));
    assert_eq!(
        z.check(
            c,
            Action::Subscribe {
                qos: QoS::AtMostOnce
            },
            "in"
        ),
        Ok(())
    );
    assert_eq!(
        z.check(
            c,
            Action::Subscribe {
                qos: QoS::AtMostOnce
            },
            "out"
        ),
        Err(Denial::NotAuthorized)
    );
    z.replace(Some(acl("topic readwrite in\n")));
    assert_eq!(z.check(c, publish, "in"), Ok(()));
    assert_eq!(z.check(c, publish, "out"), Err(Denial::NotAuthorized));
}
