//! What the admin API reads and does: snapshots of clients, subscriptions and retained
//! messages, and administrative disconnects, as typed messages to the registry, the sessions,
//! their connections and the retained store.
//!
//! Every read is a short message a session answers between deliveries, never a lock held
//! across the message flow: listing 10,000 clients is 10,000 small messages answered in
//! parallel on the worker threads (tests/admin_api.rs times it).

use crate::broker::Broker;
use crate::codec::QoS;
use crate::connection::Connection;
use crate::message::{ClientId, Message};
use crate::retain::{MatchRetained, StoreRetained};
use crate::session::Session;
use crate::trace_live::Selector;
use actix::prelude::*;
use actix::WeakAddr;
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::future::join_all;
use serde::Serialize;
use std::sync::Arc;

/// One client (session) as the admin API lists it.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ClientView {
    pub id: String,
    pub username: Option<String>,
    pub connected: bool,
    /// The session outlives its connection (3.x clean session 0, 5.0 session expiry > 0).
    pub persistent: bool,
    /// "3.1", "3.1.1" or "5.0": of the connection attached, else of the last one.
    pub protocol: String,
    /// The peer address of the connection attached.
    pub address: Option<String>,
    /// "tcp", "tls", "websocket" or "wss".
    pub transport: Option<&'static str>,
    /// Unix time in seconds when the connection attached opened.
    pub connected_since: Option<u64>,
    pub subscriptions: usize,
    pub in_flight: usize,
    pub queued: usize,
    /// Messages dropped for this client since its session started.
    pub dropped: u64,
}

/// One subscription with its options.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionView {
    pub client_id: String,
    pub filter: String,
    pub qos: u8,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
}

/// A client with its subscriptions.
#[derive(Serialize, Clone, Debug)]
pub struct ClientDetail {
    #[serde(flatten)]
    pub client: ClientView,
    pub filters: Vec<SubscriptionView>,
}

/// What the session answers to [`Inspect`]; the connection's part is asked of it next.
pub struct SessionInfo {
    pub view: ClientView,
    pub filters: Vec<SubscriptionView>,
    pub conn: Option<WeakAddr<Connection>>,
}

/// Ask a session for its snapshot; `filters`: with its subscriptions listed.
#[derive(Message)]
#[rtype(result = "SessionInfo")]
pub struct Inspect {
    pub filters: bool,
}

/// Ask a connection for its peer address, transport and opening time (unix ms).
#[derive(Message)]
#[rtype(result = "(String, &'static str, u64)")]
pub struct Describe;

/// Disconnect the client with DISCONNECT 0x98 (5.0); `delete_session`: its session is
/// deleted too, persisted state included.
#[derive(Message)]
#[rtype(result = "Kicked")]
pub struct Kick {
    pub delete_session: bool,
}

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kicked {
    pub was_connected: bool,
    pub session_deleted: bool,
}

/// The registry's sessions whose client id starts with `prefix` and sorts after `after`, in no
/// particular order.
#[derive(Message)]
#[rtype(result = "Vec<(ClientId, Addr<Session>)>")]
pub struct ListSessions {
    pub prefix: Option<String>,
    pub after: Option<String>,
}

/// The session of one client id, if any.
#[derive(Message)]
#[rtype(result = "Option<Addr<Session>>")]
pub struct FindSession(pub ClientId);

/// Which clients [`Broker::clients`] lists; `offset` and `limit` apply after the filters.
#[derive(Default, Clone, Debug)]
pub struct ClientQuery {
    pub prefix: Option<String>,
    pub username: Option<String>,
    pub connected: Option<bool>,
    /// Cursor: only client ids sorting after this one (the `next` of the previous page).
    pub after: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

/// One page of a list: `total` items match, `next` is the cursor of the next page.
#[derive(Serialize, Clone, Debug)]
pub struct Page<T> {
    pub total: usize,
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A retained message as the admin API shows it: the payload as text when it is UTF-8,
/// otherwise only its size.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct RetainedView {
    pub topic: String,
    pub qos: u8,
    pub payload_bytes: usize,
    pub payload: Option<String>,
}

impl RetainedView {
    fn of(m: &Message) -> RetainedView {
        RetainedView {
            topic: m.topic.to_string(),
            qos: m.qos as u8,
            payload_bytes: m.payload.len(),
            payload: std::str::from_utf8(&m.payload).ok().map(str::to_owned),
        }
    }
}

async fn inspect(sessions: Vec<Addr<Session>>, filters: bool) -> Vec<SessionInfo> {
    let asked = sessions.iter().map(|s| s.send(Inspect { filters }));
    // A session that ended meanwhile is left out.
    join_all(asked).await.into_iter().flatten().collect()
}

/// Fill in the connection's part of each view.
async fn describe(infos: Vec<SessionInfo>) -> Vec<SessionInfo> {
    let asked = infos.into_iter().map(|mut info| async move {
        if let Some(conn) = info.conn.as_ref().and_then(WeakAddr::upgrade) {
            if let Ok((peer, transport, since_ms)) = conn.send(Describe).await {
                info.view.address = Some(peer);
                info.view.transport = Some(transport);
                info.view.connected_since = Some(since_ms / 1000);
            }
        }
        info
    });
    join_all(asked).await
}

impl Broker {
    /// The sessions matching, sorted by client id.
    async fn list_sessions(
        &self,
        prefix: Option<String>,
        after: Option<String>,
    ) -> Vec<(ClientId, Addr<Session>)> {
        let mut listed = self
            .registry()
            .send(ListSessions { prefix, after })
            .await
            .unwrap_or_default();
        listed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        listed
    }

    /// Clients matching `q`, sorted by client id.
    pub async fn clients(&self, q: &ClientQuery) -> Page<ClientView> {
        let listed = self.list_sessions(q.prefix.clone(), q.after.clone()).await;
        let by_session = q.username.is_some() || q.connected.is_some();
        let (total, infos) = if by_session {
            let all = inspect(listed.into_iter().map(|(_, a)| a).collect(), false).await;
            let matching: Vec<_> = all
                .into_iter()
                .filter(|i| q.connected.is_none_or(|c| i.view.connected == c))
                .filter(|i| {
                    q.username
                        .as_deref()
                        .is_none_or(|u| i.view.username.as_deref() == Some(u))
                })
                .collect();
            let total = matching.len();
            let page = matching.into_iter().skip(q.offset).take(q.limit).collect();
            (total, page)
        } else {
            let total = listed.len();
            let page: Vec<_> = listed
                .into_iter()
                .skip(q.offset)
                .take(q.limit)
                .map(|(_, a)| a)
                .collect();
            (total, inspect(page, false).await)
        };
        let items: Vec<ClientView> = describe(infos).await.into_iter().map(|i| i.view).collect();
        let next = (q.offset + items.len() < total)
            .then(|| items.last().map(|c| c.id.clone()))
            .flatten();
        Page { total, items, next }
    }

    /// The connected clients that a username or address trace selects, by client id (a client
    /// or topic trace selects by name: none to look up).
    pub async fn connected_selected_by(&self, selector: &Selector) -> Vec<String> {
        let username = match selector {
            Selector::Username(u) => Some(u.clone()),
            Selector::Address(_) => None,
            Selector::Client(_) | Selector::Topic(_) => return Vec::new(),
        };
        let q = ClientQuery {
            username,
            connected: Some(true),
            limit: usize::MAX,
            ..ClientQuery::default()
        };
        let connected = self.clients(&q).await.items;
        connected
            .into_iter()
            .filter(|c| {
                let peer = c.address.as_deref().unwrap_or_default();
                selector.selects_connection(&c.id, c.username.as_deref(), peer)
            })
            .map(|c| c.id)
            .collect()
    }

    /// One client with its subscriptions.
    pub async fn client(&self, id: &str) -> Option<ClientDetail> {
        let session = self.find_session(id).await?;
        let info = session.send(Inspect { filters: true }).await.ok()?;
        let info = describe(vec![info]).await.pop()?;
        Some(ClientDetail {
            client: info.view,
            filters: info.filters,
        })
    }

    /// Every subscription of the sessions whose client id starts with `client_prefix`.
    pub async fn subscriptions(&self, client_prefix: Option<String>) -> Vec<SubscriptionView> {
        let listed = self.list_sessions(client_prefix, None).await;
        let infos = inspect(listed.into_iter().map(|(_, a)| a).collect(), true).await;
        infos.into_iter().flat_map(|i| i.filters).collect()
    }

    /// Disconnect a client (DISCONNECT 0x98 for 5.0), and with `delete_session` delete its
    /// session; `None`: no such client.
    pub async fn kick(&self, id: &str, delete_session: bool) -> Option<Kicked> {
        let session = self.find_session(id).await?;
        session.send(Kick { delete_session }).await.ok()
    }

    async fn find_session(&self, id: &str) -> Option<Addr<Session>> {
        self.registry()
            .send(FindSession(ClientId::from(id)))
            .await
            .ok()
            .flatten()
    }

    /// Retained messages matching `filter` (a topic filter; a topic name gives at most one).
    pub async fn retained(&self, filter: &str) -> Vec<RetainedView> {
        let found = self
            .retain()
            .send(MatchRetained {
                filters: vec![ByteString::from(filter)],
            })
            .await
            .unwrap_or_default();
        let mut out: Vec<RetainedView> = found
            .into_iter()
            .flatten()
            .map(|m| RetainedView::of(&m))
            .collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }

    /// Delete the retained message of `topic` (as an empty retained PUBLISH would
    /// [MQTT-3.3.1-10]), in memory and in the store; whether there was one.
    pub async fn delete_retained(&self, topic: &str) -> bool {
        if self.retained(topic).await.is_empty() {
            return false;
        }
        let msg = Arc::new(Message::new(
            ByteString::from(topic),
            Bytes::new(),
            QoS::AtMostOnce,
            true,
        ));
        let (stored, written) = tokio::sync::oneshot::channel();
        self.retain().do_send(StoreRetained { msg, stored });
        if let Ok(commit) = written.await {
            if let Err(e) = commit.wait().await {
                log::error!("retained message on {topic:?} deleted, but not from the store: {e}");
            }
        }
        true
    }
}
