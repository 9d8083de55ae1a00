//! MQTT 5.0 enhanced authentication in the Connection actor: finds the method, runs each step
//! of its exchange (at once, or off the actor threads while reading waits) and does what
//! enhanced_auth.rs decides. The CONNECT's exchange runs under the connect deadline: the
//! connection stays in the connecting stage until the CONNACK.

use super::enhanced_auth::{AuthStep, Reply};
use super::protocol::Negotiated;
use super::{Connection, Outgoing};
use crate::auth::{
    AuthFailure, AuthOutcome, ConnectRequest, Exchange, ExchangeCheck, ExchangeStep,
};
use crate::close::{CloseReason, Refusal};
use crate::codec::{Connect, ProtocolVersion};
use actix::prelude::*;

/// What a connection keeps while an exchange waits for the client's next AUTH.
#[derive(Default)]
pub(super) struct PendingAuth {
    /// The CONNECT being authenticated, until its CONNACK.
    connect: Option<Box<(Connect, Negotiated)>>,
    /// The method's state for the client's next AUTH 0x18.
    next: Option<Box<dyn Exchange>>,
}

impl Connection {
    /// A CONNECT with an Authentication Method: start the method's exchange, or refuse with
    /// CONNACK 0x8C if the broker does not offer it [MQTT-4.12.0-1].
    pub(super) fn start_exchange(
        &mut self,
        c: Connect,
        n: Negotiated,
        req: ConnectRequest,
        ctx: &mut Context<Self>,
    ) {
        let name = req.auth_method.clone().unwrap_or_default();
        let method = match self.cert_username {
            // The certificate already names the user on this listener: no method is offered.
            Some(_) => None,
            None => self.deps.security.authenticator.method(&name),
        };
        let Some(method) = method else {
            let refusal = Refusal::Auth(AuthFailure::BadAuthenticationMethod);
            return self.refuse_for(refusal, &c, ctx);
        };
        self.channel.auth().begin(name);
        self.pending_auth = Some(Box::new(PendingAuth {
            connect: Some(Box::new((c, n))),
            next: None,
        }));
        self.run_step(method.start(&req), ctx);
    }

    /// A client's AUTH, which the channel found in turn.
    pub(super) fn on_auth(&mut self, step: AuthStep, ctx: &mut Context<Self>) {
        match step {
            AuthStep::Continue(data) => {
                match self.pending_auth.as_mut().and_then(|p| p.next.take()) {
                    Some(next) => self.run_step(next.step(data), ctx),
                    None => self.close(
                        CloseReason::Protocol(
                            "MQTT-4.12.0-3",
                            "AUTH 0x18 while the broker has not asked for more".into(),
                        ),
                        ctx,
                    ),
                }
            }
            AuthStep::Reauthenticate(data) => {
                let auth = self.channel.auth();
                let name = auth.method().cloned().unwrap_or_default();
                let user = auth.user().cloned();
                // The method may have been switched off by a reload since CONNECT.
                let Some(method) = self.deps.security.authenticator.method(&name) else {
                    let failure = AuthFailure::BadAuthenticationMethod;
                    return self.close(CloseReason::ReauthFailed(failure), ctx);
                };
                let Some((_, client_id)) = &self.session else {
                    return;
                };
                let req = ConnectRequest {
                    client_id: client_id.clone(),
                    username: user,
                    password: None,
                    peer: self.peer.clone(),
                    transport: self.transport,
                    protocol: ProtocolVersion::V5,
                    auth_method: Some(name),
                    auth_data: data,
                };
                self.run_step(method.start(&req), ctx);
            }
        }
    }

    /// Runs a step now, or waits for it without blocking the thread (reading this connection
    /// waits meanwhile, so no AUTH can arrive before the step's answer is out).
    fn run_step(&mut self, check: ExchangeCheck, ctx: &mut Context<Self>) {
        match check {
            ExchangeCheck::Done(step) => self.step_done(step, ctx),
            ExchangeCheck::Pending(step) => {
                ctx.wait(step.into_actor(self).map(|step, act, ctx| {
                    if !act.channel.is_closed() {
                        act.step_done(step, ctx);
                    }
                }))
            }
        }
    }

    fn step_done(&mut self, step: ExchangeStep, ctx: &mut Context<Self>) {
        let continues = matches!(step, ExchangeStep::Continue { .. });
        let auth = self.channel.auth();
        let reply = match step {
            ExchangeStep::Continue { data, next } => {
                self.pending_auth.get_or_insert_with(Default::default).next = Some(next);
                auth.on_continue(data)
            }
            ExchangeStep::Success { identity, data } => auth.on_success(identity, data),
            ExchangeStep::Failure(failure) => auth.on_failure(failure),
        };
        // The exchange is over unless it continues: nothing more to keep.
        let connect = match continues {
            true => None,
            false => self.pending_auth.take().and_then(|p| p.connect),
        };
        match reply {
            Reply::Send(packet) => {
                if self.writer.try_send(Outgoing::packet(packet)).is_err() {
                    // Full: the client is not reading what the broker sends it.
                    self.close(CloseReason::WriteTimeout, ctx);
                }
            }
            Reply::Attach(identity) => {
                if let Some((c, n)) = connect.map(|c| *c) {
                    self.authenticated(c, n, AuthOutcome::Allow(identity), ctx);
                }
            }
            Reply::Refuse(failure) => {
                if let Some((c, _)) = connect.map(|c| *c) {
                    self.refuse_for(Refusal::Auth(failure), &c, ctx);
                }
            }
            Reply::Close(reason) => {
                log::info!(
                    "re-authentication failed: addr={} user={:?} reason={}",
                    self.peer,
                    self.channel.auth().user().map(|u| &**u).unwrap_or(""),
                    reason
                );
                self.close(reason, ctx);
            }
        }
    }
}
