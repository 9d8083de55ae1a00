//! CONNECT: validation, authentication, then attaching to the client's session.

use super::channel::Settled;
use super::protocol::{self, Negotiated};
use super::{Connection, Due, Outgoing};
use crate::auth::{AuthCheck, AuthOutcome, ConnectRequest, Identity};
use crate::close::{CloseReason, Refusal};
use crate::codec::{ConnAck, Connect, Packet, ProtocolVersion};
use crate::message::ClientId;
use crate::registry::Connect as RegistryConnect;
use crate::session::messages::{Attach, Attached};
use crate::session::Session;
use crate::trace_hops;
use actix::prelude::*;
use std::time::Duration;

/// How often a CONNECT retries when its session ended between lookup and attach.
const ATTACH_ATTEMPTS: usize = 5;

impl Connection {
    /// Refuse the CONNECT with a CONNACK, then close [MQTT-3.2.2-5], [MQTT-3.2.2-7].
    pub(super) fn refuse(&mut self, connack: ConnAck, ctx: &mut Context<Self>) {
        let code = connack.code;
        let _ = self
            .writer
            .try_send(Outgoing::packet(Packet::ConnAck(connack)));
        self.close(CloseReason::Refused(code), ctx);
    }

    /// Refuse for `refusal`, logged with the client's address, id and the reason.
    pub(super) fn refuse_for(&mut self, refusal: Refusal, c: &Connect, ctx: &mut Context<Self>) {
        let level = match refusal {
            // Every authentication failure is a WARN and counted (courtier_auth_denied_total).
            Refusal::Auth(_) => {
                self.deps
                    .metrics
                    .count_denied(crate::metrics::Denied::Connect);
                log::Level::Warn
            }
            _ => log::Level::Info,
        };
        log::log!(
            level,
            "connection refused: addr={} client_id={:?} protocol={} username={:?} reason={}",
            self.peer,
            &*c.client_id,
            c.protocol,
            c.username.as_deref().unwrap_or(""),
            refusal.describe()
        );
        if let Refusal::Auth(failure) = refusal {
            self.deps.metrics.count_auth_refusal(failure);
        }
        let problem_info = c.properties.request_problem_information.unwrap_or(true);
        let connack = protocol::refusal_connack(refusal, c.protocol, problem_info);
        let username = c.username.as_deref();
        trace_hops::on_connect(
            &self.deps.cfg,
            &c.client_id,
            username,
            &self.peer,
            connack.code,
            || format!("protocol={} refused={}", c.protocol, refusal.describe()),
        );
        self.refuse(connack, ctx);
    }

    /// Over `max_connections`: CONNACK "server busy" (5.0 0x89; 3.x 3, server unavailable).
    pub(super) fn refuse_busy(&mut self, c: Connect, ctx: &mut Context<Self>) {
        let _ = self.writer.try_send(Outgoing::peer(c.protocol, None));
        self.refuse_for(Refusal::ServerBusy, &c, ctx);
    }

    pub(super) fn on_connect(&mut self, c: Connect, ctx: &mut Context<Self>) {
        let negotiated = match protocol::negotiate(&c, &self.deps.cfg, assign_client_id) {
            Ok(n) => n,
            Err(refusal) => {
                let _ = self.writer.try_send(Outgoing::peer(c.protocol, None));
                return self.refuse_for(refusal, &c, ctx);
            }
        };
        let _ = self
            .writer
            .try_send(Outgoing::peer(c.protocol, negotiated.max_packet_size));
        if negotiated.topic_aliases_out > 0 {
            let aliases = Outgoing::topic_aliases(negotiated.topic_aliases_out);
            let _ = self.writer.try_send(aliases);
        }
        if let Some(will) = &c.will {
            let levels = self.deps.cfg.max_topic_levels;
            if let Err(e) = crate::topic::validate_topic_name(&will.topic)
                .and_then(|_| crate::topic::check_levels(&will.topic, levels))
            {
                return self.close(CloseReason::InvalidTopic(e), ctx);
            }
            // A retained Will without retained messages: 5.0 CONNACK 0x9A [MQTT-3.2.2-13];
            // 3.x has no code for it and is closed without CONNACK, as Mosquitto does.
            if will.retain && !self.deps.cfg.retain_available {
                return match c.protocol {
                    ProtocolVersion::V5 => self.refuse_for(Refusal::RetainNotSupported, &c, ctx),
                    _ => self.close(CloseReason::RetainNotSupported, ctx),
                };
            }
        }
        if c.properties.authentication_method.is_some() {
            let request = self.connect_request(&c, &negotiated);
            return self.start_exchange(c, negotiated, request, ctx);
        }
        // A verified client certificate names the user: the CONNECT's user name and password
        // are not used, as with Mosquitto's use_identity_as_username (the certificate was
        // checked against the listener's CA during the handshake). Authorization then sees
        // this user name.
        if let Some(name) = &self.cert_username {
            let identity = Identity {
                username: Some(name.clone()),
            };
            return self.authenticated(c, negotiated, AuthOutcome::Allow(identity), ctx);
        }
        let request = self.connect_request(&c, &negotiated);
        match self.deps.security.authenticator.authenticate(&request) {
            AuthCheck::Done(outcome) => self.authenticated(c, negotiated, outcome, ctx),
            // Hashing or I/O runs elsewhere; reading this connection waits meanwhile.
            AuthCheck::Pending(decision) => {
                ctx.wait(decision.into_actor(self).map(move |outcome, act, ctx| {
                    if !act.channel.is_closed() {
                        act.authenticated(c, negotiated, outcome, ctx);
                    }
                }))
            }
        }
    }

    fn connect_request(&self, c: &Connect, n: &Negotiated) -> ConnectRequest {
        ConnectRequest {
            client_id: n.client_id.clone(),
            username: c.username.clone(),
            password: c.password.clone(),
            peer: self.peer.clone(),
            transport: self.transport,
            protocol: c.protocol,
            auth_method: c.properties.authentication_method.clone(),
            auth_data: c.properties.authentication_data.clone(),
        }
    }

    /// The authenticator (or the enhanced authentication exchange) decided: attach to the
    /// session, or refuse.
    pub(super) fn authenticated(
        &mut self,
        c: Connect,
        n: Negotiated,
        outcome: AuthOutcome,
        ctx: &mut Context<Self>,
    ) {
        let identity = match outcome {
            AuthOutcome::Allow(identity) => identity,
            AuthOutcome::Deny(failure) => return self.refuse_for(Refusal::Auth(failure), &c, ctx),
        };
        let mut connack = protocol::connack_properties(&n, &self.deps.cfg);
        if let Some(p) = connack.as_deref_mut() {
            self.channel.auth().connack_properties(p);
        }
        let attach = Attach {
            conn_id: self.id,
            conn: ctx.address().downgrade(),
            writer: self.writer.clone(),
            clean_start: c.clean_start,
            persistent: n.persistent(c.clean_start),
            protocol: c.protocol,
            session_expiry: n.session_expiry,
            connack,
            will: c.will.clone(),
            username: identity.username.clone(),
            peer: (self.deps.security.authorizer.checks_receive())
                .then(|| self.peer.as_str().into()),
            max_packet_size: n.max_packet_size,
            receive_maximum: n.receive_maximum,
        };
        let registry = self.deps.registry.clone();
        let cid = n.client_id.clone();
        let work = async move { attach_session(registry, cid, attach).await };
        ctx.wait(work.into_actor(self).map(move |res, act, ctx| {
            let (session, attached) = match res {
                Ok(r) => r,
                Err(e) => {
                    log::error!("client {:?}: no session could be attached: {e}", &*n.client_id);
                    return act.refuse_for(Refusal::ServerUnavailable, &c, ctx);
                }
            };
            if act.channel.is_closed() {
                return;
            }
            log::info!(
                "client connected: addr={} transport={} client_id={:?} protocol={} clean_session={} keep_alive={} username={:?} session_present={}{}",
                act.peer,
                act.transport,
                &*n.client_id,
                c.protocol,
                c.clean_start,
                n.keep_alive,
                identity.username.as_deref().unwrap_or(""),
                attached.session_present,
                match n.session_expiry {
                    Some(secs) => format!(" session_expiry={secs}"),
                    None => String::new(),
                }
            );
            let username = identity.username.as_deref();
            trace_hops::on_connect(&act.deps.cfg, &n.client_id, username, &act.peer, 0, || {
                format!(
                    "addr={} transport={} protocol={} clean_start={} keep_alive={} session_present={}",
                    act.peer, act.transport, c.protocol, c.clean_start, n.keep_alive,
                    attached.session_present
                )
            });
            act.session = Some((session, n.client_id));
            act.channel.attached(Settled {
                protocol: c.protocol,
                connect_expiry_zero: n.session_expiry == Some(0),
                problem_information: n.problem_information,
            });
            // [MQTT-3.1.2-24]: 1.5 x the keep-alive without a packet closes; 0 means never.
            // A Server Keep Alive replaces the client's [MQTT-3.2.2-22].
            act.watch.set_due(match n.keep_alive {
                0 => Due::Nothing,
                secs => Due::KeepAlive(Duration::from_secs(secs as u64) * 3 / 2),
            });
        }));
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

/// A client id for a CONNECT that had none [MQTT-3.1.3-6].
fn assign_client_id() -> ClientId {
    ClientId::from(format!("auto-{:016x}", rand_u64()))
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
