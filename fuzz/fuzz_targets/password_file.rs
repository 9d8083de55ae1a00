//! The password file parser (mosquitto_passwd's format) on arbitrary text: a line error or the
//! users, never a panic; the editor's line model (`lines`/`render`) keeps every line.
#![no_main]

use courtier::security::password_file::{lines, render, Passwords};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Passwords::parse(&text) {
        Ok(passwords) => {
            // Checking a password against a parsed hash does not panic (cheap hashes only:
            // the iteration count comes from the input).
            for line in text.lines() {
                if let Some((user, _)) = courtier::security::password_file::split_entry(line) {
                    if let Some(hash) = passwords.get(user) {
                        if !hash.is_expensive() {
                            let _ = hash.verify(b"password");
                        }
                    }
                }
            }
        }
        Err((line, reason)) => {
            assert!(line >= 1 && line <= text.lines().count().max(1), "line {line}: {reason}");
        }
    }
    // Every line survives a read and write by `courtier passwd` (trailing whitespace and line
    // endings aside).
    let rendered = render(&lines(&text));
    assert_eq!(rendered.lines().count(), text.lines().count());
});
