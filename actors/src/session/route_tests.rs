//! The router's promises that need actors around it.

use super::*;
use crate::codec::QoS;
use crate::metrics::Metrics;
use crate::retain::MatchRetained;
use crate::topics::{TopicIndex, TopicRouter};
use bytes::Bytes;
use courtier_storage::memory::MemoryStore;
use courtier_storage::{CommitWriter, Store, SyncPolicy};
use std::time::Duration;

/// [MQTT-3.3.1-5]: the last of many rapid updates of a retained topic is the one kept, however
/// the publisher polls the completions it waits for. The completions are awaited last first:
/// with `Addr::send`, an update that met a full RetainStore mailbox was only enqueued when
/// its request was polled, so this order stored an early update last.
#[actix_rt::test]
async fn rapid_retained_updates_reach_the_store_in_publish_order() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let metrics = Arc::new(Metrics::default());
    let writer = CommitWriter::start(store.clone(), SyncPolicy::Periodic, Duration::from_secs(1));
    let (s, w, m) = (store.clone(), writer.clone(), metrics.clone());
    let retain = RetainStore::create(move |_| RetainStore::new(s, w, m, None, Vec::new()));
    let index = Arc::new(TopicIndex::default());
    let (i, m) = (index.clone(), metrics.clone());
    let topics = TopicRouter::create(move |_| TopicRouter::new(i, Vec::new(), m, None));
    let router = Router::new(topics, index, retain.clone(), Some(writer));

    let completions: Vec<_> = (0..200)
        .map(|n| {
            let msg = Message::new(
                "rapid/t".into(),
                Bytes::from(n.to_string()),
                QoS::AtMostOnce,
                true,
            );
            router.publish(&Arc::new(msg), None).completion()
        })
        .collect();
    for done in completions.into_iter().rev() {
        done.await.expect("stored");
    }
    let kept = retain
        .send(MatchRetained {
            filters: vec!["rapid/t".into()],
        })
        .await
        .unwrap();
    assert_eq!(kept[0].len(), 1);
    assert_eq!(
        kept[0][0].payload,
        Bytes::from("199"),
        "an older update stayed retained"
    );
}
