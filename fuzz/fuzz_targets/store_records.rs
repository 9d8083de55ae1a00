//! Arbitrary bytes decoded as each stored record type, schema header included: a corrupt record
//! is an error, never a panic. A record that decodes encodes again to a record that decodes to
//! an equal value.
#![no_main]

use courtier_storage::encoding::{decode, encode, Versioned};
use courtier_storage::records::{MessageBody, QueuedRef, RetainedRecord, SessionMeta};
use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;

fn check<T: Versioned + serde::Serialize + PartialEq + Debug>(data: &[u8], what: &str) {
    match decode::<T>(data, what) {
        Ok(value) => {
            let bytes = encode(&value);
            let again = decode::<T>(&bytes, what)
                .unwrap_or_else(|e| panic!("{what}: re-encoded record does not decode: {e}"));
            assert_eq!(again, value, "{what}: decode(encode(r)) != r");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(meta) = decode::<SessionMeta>(data, "session meta") {
        // The expiry of a restored session is computed from stored fields: saturating, no panic.
        for default in [None, Some(0), Some(u64::MAX)] {
            let _ = meta.expires_at_ms(default);
        }
    }
    // The whole input as every record type, so corpus records of one type feed the others.
    check::<SessionMeta>(data, "session meta");
    check::<MessageBody>(data, "message body");
    check::<QueuedRef>(data, "queued ref");
    check::<RetainedRecord>(data, "retained record");
});
