//! The mosquitto.db parser and the import plan on arbitrary bytes: an error naming the byte
//! offset, or a db whose plan writes no more than the file holds, never a panic and never an
//! allocation beyond the input's size (libFuzzer's memory limit catches one).
#![no_main]

use courtier::mosquitto_db::{parse, DbError};
use courtier::mosquitto_import::plan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(db) => {
            let p = plan(&db, 1_700_000_000_000);
            let c = &p.counts;
            assert!(c.retained <= db.retained.len());
            assert!(c.sessions <= db.clients.len());
            assert!(c.subscriptions <= db.subs.len());
            assert!(c.queued <= db.client_msgs.len());
            assert_eq!(p.ops.len(), c.retained + c.sessions + c.queued);
        }
        Err(DbError::Damaged { offset, .. }) => assert!(offset <= data.len()),
        Err(_) => {}
    }
});
