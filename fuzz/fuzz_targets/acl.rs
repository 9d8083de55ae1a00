//! The ACL parser (Mosquitto's acl_file format) on arbitrary text: a line error or rules, never
//! a panic; checking topics against parsed rules never panics either.
//!
//! Input: the file, optionally followed by 0x00 and a topic to check for reading, writing and
//! subscribing, as anonymous and as each user the file names.
#![no_main]

use courtier::security::acl::Acl;
use courtier::security::acl::Access;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (file, topic) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"home/kitchen/light"[..]),
    };
    let text = String::from_utf8_lossy(file);
    let topic = String::from_utf8_lossy(topic);
    match Acl::parse(&text) {
        Ok(acl) => {
            let users: Vec<&str> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("user "))
                .map(str::trim)
                .collect();
            for user in users.iter().map(|u| Some(*u)).chain([None]) {
                for access in [Access::Read, Access::Write, Access::Subscribe] {
                    let _ = acl.allows("client", user, access, &topic);
                }
            }
        }
        Err((line, reason)) => {
            assert!(line >= 1 && line <= text.lines().count().max(1), "line {line}: {reason}");
        }
    }
});
