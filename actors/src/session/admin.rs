//! The admin API's view of a session (`crate::admin`): its snapshot, and an administrator's
//! disconnect.

use super::Session;
use crate::admin::{ClientView, Inspect, Kick, Kicked, SessionInfo, SubscriptionView};
use crate::close::CloseReason;
use crate::connection::CloseConnection;
use actix::prelude::*;

impl Handler<Inspect> for Session {
    type Result = MessageResult<Inspect>;
    fn handle(&mut self, msg: Inspect, _ctx: &mut Context<Self>) -> Self::Result {
        let filters = match msg.filters {
            true => {
                let mut v: Vec<SubscriptionView> = self
                    .state
                    .subscriptions
                    .iter()
                    .map(|(f, o)| SubscriptionView {
                        client_id: self.client_id.to_string(),
                        filter: f.to_string(),
                        qos: o.qos as u8,
                        no_local: o.no_local,
                        retain_as_published: o.retain_as_published,
                        retain_handling: o.retain_handling,
                    })
                    .collect();
                v.sort_by(|a, b| a.filter.cmp(&b.filter));
                v
            }
            false => Vec::new(),
        };
        let link = self.link.as_ref();
        MessageResult(SessionInfo {
            view: ClientView {
                id: self.client_id.to_string(),
                username: link.and_then(|l| l.username()).map(str::to_owned),
                connected: link.is_some(),
                persistent: self.persistent,
                protocol: self.protocol.to_string(),
                address: None,
                transport: None,
                connected_since: None,
                subscriptions: self.state.subscriptions.len(),
                in_flight: self.state.inflight_len(),
                queued: self.state.queued(),
                dropped: self.state.dropped,
            },
            filters,
            conn: link.map(|l| l.conn.clone()),
        })
    }
}

/// The connection goes with DISCONNECT 0x98 "Administrative action" for 5.0 clients
/// [MQTT-3.14.2-1]; its Will is published as for any close the client did not ask for
/// [MQTT-3.1.2-8]. With `delete_session` the session ends at once, its stored copy with it,
/// whatever its expiry: the client's next CONNECT finds no session [MQTT-3.2.2-3 ff].
impl Handler<Kick> for Session {
    type Result = MessageResult<Kick>;
    fn handle(&mut self, msg: Kick, ctx: &mut Context<Self>) -> Self::Result {
        let was_connected = self.link.is_some();
        if !msg.delete_session {
            if let Some(conn) = self.link.as_ref().and_then(|l| l.conn.upgrade()) {
                conn.do_send(CloseConnection {
                    reason: CloseReason::Administrative,
                });
            }
            return MessageResult(Kicked {
                was_connected,
                session_deleted: false,
            });
        }
        // Detached here rather than when the connection reports back, so the session ends
        // now; the connection's own Detach then finds no link and is ignored.
        if let Some(mut link) = self.detach_link() {
            if let Some(conn) = link.conn.upgrade() {
                conn.do_send(CloseConnection {
                    reason: CloseReason::Administrative,
                });
            }
            let will = link
                .take_will()
                .and_then(|w| self.permitted_will(w, link.username()));
            if let Some(will) = will {
                self.publish_will(will);
            }
        }
        self.end(ctx);
        MessageResult(Kicked {
            was_connected,
            session_deleted: true,
        })
    }
}
