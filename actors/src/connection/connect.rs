//! CONNECT: validation, authentication, then attaching to the client's session.

use super::{Connection, Due, Outgoing, Phase};
use crate::auth::{AuthCheck, AuthFailure, AuthOutcome, ConnectRequest};
use crate::close::{refusal_code, CloseReason};
use crate::codec::{connack, ConnAck, Connect, Packet, ProtocolVersion};
use crate::message::ClientId;
use crate::registry::Connect as RegistryConnect;
use crate::session::messages::{Attach, Attached};
use crate::session::Session;
use actix::prelude::*;
use std::time::Duration;

/// How often a CONNECT retries when its session ended between lookup and attach.
const ATTACH_ATTEMPTS: usize = 5;

impl Connection {
    /// Refuse the CONNECT with a CONNACK code, then close [MQTT-3.2.2-5].
    pub(super) fn refuse(&mut self, code: u8, ctx: &mut Context<Self>) {
        let _ = self
            .writer
            .try_send(Outgoing::packet(Packet::ConnAck(ConnAck {
                session_present: false,
                code,
                properties: None,
            })));
        self.close(CloseReason::Refused(code), ctx);
    }

    pub(super) fn on_connect(&mut self, c: Connect, ctx: &mut Context<Self>) {
        if c.protocol == ProtocolVersion::V5 {
            // The codec decodes 5.0 but sessions do not speak it yet: refuse as 3.1.1 does
            // [MQTT-3.1.2-2], before the writer switches to the 5.0 encoding.
            return self.refuse(connack::UNACCEPTABLE_PROTOCOL_VERSION, ctx);
        }
        let _ = self.writer.try_send(Outgoing::version(c.protocol));
        let client_id = match self.client_id_for(&c) {
            Ok(id) => id,
            Err(code) => {
                log::info!(
                    "connection refused: addr={} client_id={:?} reason=identifier rejected",
                    self.peer,
                    &*c.client_id
                );
                return self.refuse(code, ctx);
            }
        };
        if let Some(will) = &c.will {
            if let Err(e) = crate::topic::validate_topic_name(&will.topic) {
                return self.close(CloseReason::InvalidTopic(e), ctx);
            }
        }
        self.phase = Phase::Connecting;
        let request = ConnectRequest {
            client_id: client_id.clone(),
            username: c.username.clone(),
            password: c.password.clone(),
            peer: self.peer.clone(),
            transport: self.transport,
            protocol: c.protocol,
            auth_method: None,
            auth_data: None,
        };
        match self.deps.security.authenticator.authenticate(&request) {
            AuthCheck::Done(outcome) => self.authenticated(c, client_id, outcome, ctx),
            // Hashing or I/O runs elsewhere; reading this connection waits meanwhile.
            AuthCheck::Pending(decision) => {
                ctx.wait(decision.into_actor(self).map(move |outcome, act, ctx| {
                    if !matches!(act.phase, Phase::Closed) {
                        act.authenticated(c, client_id, outcome, ctx);
                    }
                }))
            }
        }
    }

    /// The authenticator decided: attach to the session, or refuse.
    fn authenticated(
        &mut self,
        c: Connect,
        client_id: ClientId,
        outcome: AuthOutcome,
        ctx: &mut Context<Self>,
    ) {
        let identity = match outcome {
            AuthOutcome::Allow(identity) => identity,
            AuthOutcome::Deny(failure) => {
                log::info!(
                    "connection refused: addr={} client_id={:?} username={:?} reason={}",
                    self.peer,
                    &*client_id,
                    c.username.as_deref().unwrap_or(""),
                    failure.name()
                );
                return self.refuse(refusal_code(failure, c.protocol), ctx);
            }
            // No enhanced authentication exchange is offered yet: nothing asks to continue.
            AuthOutcome::Continue { .. } => {
                return self.refuse(
                    refusal_code(AuthFailure::BadAuthenticationMethod, c.protocol),
                    ctx,
                )
            }
        };
        let attach = Attach {
            conn_id: self.id,
            conn: ctx.address().downgrade(),
            writer: self.writer.clone(),
            clean_start: c.clean_start,
            protocol: c.protocol,
            will: c.will.clone(),
            username: identity.username,
        };
        let registry = self.deps.registry.clone();
        let cid = client_id.clone();
        let work = async move { attach_session(registry, cid, attach).await };
        ctx.wait(work.into_actor(self).map(move |res, act, ctx| {
            let (session, attached) = match res {
                Ok(r) => r,
                Err(e) => {
                    log::error!("client {:?}: no session could be attached: {e}", &*client_id);
                    return act.refuse(connack::SERVER_UNAVAILABLE, ctx);
                }
            };
            if matches!(act.phase, Phase::Closed) {
                return;
            }
            log::info!(
                "client connected: addr={} transport={} client_id={:?} protocol={} clean_session={} keep_alive={} username={:?} session_present={}",
                act.peer,
                act.transport,
                &*client_id,
                c.protocol,
                c.clean_start,
                c.keep_alive,
                c.username.as_deref().unwrap_or(""),
                attached.session_present
            );
            act.phase = Phase::Attached { session, client_id };
            // [MQTT-3.1.2-24]: 1.5 x the keep-alive without a packet closes; 0 means never.
            act.watch.set_due(match c.keep_alive {
                0 => Due::Nothing,
                secs => Due::KeepAlive(Duration::from_secs(secs as u64) * 3 / 2),
            });
        }));
    }

    /// Client identifier rules [MQTT-3.1.3-6..9]: 3.1.1 lets an empty id connect with a clean
    /// session and the broker assigns one; otherwise CONNACK 0x02. MQTT 3.1 requires an id.
    fn client_id_for(&self, c: &Connect) -> Result<ClientId, u8> {
        if !c.client_id.is_empty() {
            return Ok(c.client_id.clone());
        }
        if c.protocol == ProtocolVersion::V31 || !c.clean_start {
            return Err(connack::IDENTIFIER_REJECTED);
        }
        Ok(ClientId::from(format!("auto-{:016x}", rand_u64())))
    }
}

/// Find the session and attach to it, retrying if it ended in between.
async fn attach_session(
    registry: Addr<crate::registry::SessionRegistry>,
    client_id: ClientId,
    attach: Attach,
) -> Result<(Addr<Session>, Attached), String> {
    let mut replace = None;
    for _ in 0..ATTACH_ATTEMPTS {
        let found = registry
            .send(RegistryConnect {
                client_id: client_id.clone(),
                replace,
                worker: crate::registry::current_worker(),
            })
            .await
            .map_err(|e| format!("registry: {e}"))?;
        match found.session.send(attach.clone()).await {
            Ok(Ok(attached)) => return Ok((found.session, attached)),
            // Ended (or stopped) before our Attach: ask for a fresh session.
            Ok(Err(_)) | Err(_) => replace = Some(found.session_id),
        }
    }
    Err("session kept ending while attaching".into())
}

/// A random 64-bit number for assigned client ids, without a dependency: std's hasher is seeded
/// randomly per process, and the counter makes each call different.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
