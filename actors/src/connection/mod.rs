//! Connection actor: one per network connection (TCP today; TLS and WebSocket use the same
//! actor over another byte stream). Never restarted: a broken connection closes and its session
//! lives on.
//!
//! It owns the read side (a stream of decoded packets, `reader.rs`), the pre-CONNECT state, the
//! connect timeout and keep-alive. Every packet after CONNECT is handed to the Session with
//! `do_send`, in order, each with a credit (PUBLISHes, and acknowledgements, read together
//! in one message); once `PIPELINE` credits are out reading stops until the session returns
//! one, so a publisher that outruns the broker is slowed by TCP flow control, and no one
//! else is. The session answers in order of receipt (session/answer.rs).
//!
//! - `channel.rs`: where the connection stands in the protocol and what to do next, pure
//! - `protocol.rs`: the protocol rules, pure: what CONNECT settles, CONNACK, DISCONNECT both
//!   ways, which packets a client may send
//! - `connect.rs`: CONNECT: negotiation, authentication, attaching to a session
//! - `enhanced_auth.rs`: MQTT 5.0 enhanced authentication (AUTH), pure;
//!   `auth_exchange.rs` runs the method's steps
//! - `forward.rs`: packets handed to the session, in order, each with a credit
//! - `credit.rs`: the in-flight bound between connection and session
//! - `acks.rs`, `publishes.rs`: acknowledgements and PUBLISHes handed over in batches
//! - `reader.rs`: the read half, a packet stream that holds no buffer while idle
//! - `turns.rs`: how many of its packets the connection handles per turn
//! - `buffers.rs`: spare read and write buffers, a few per worker thread
//! - `outbox.rs`: the bounded queue to the writer, where an idle writer parks
//! - `writer.rs`: the write half, a task started while there is something to write

mod acks;
mod aliases;
pub mod aliases_out;
mod auth_exchange;
mod buffers;
mod channel;
mod connect;
mod credit;
mod deadlines;
mod enhanced_auth;
mod forward;
pub mod outbox;
mod outgoing;
pub mod protocol;
mod publishes;
mod reader;
mod turns;
mod writer;

use crate::close::CloseReason;
use crate::codec::{DecodeError, MqttCodec, Packet, Publish};
use crate::config::BrokerConfig;
use crate::message::ClientId;
use crate::metrics::Metrics;
use crate::registry::SessionRegistry;
use crate::session::messages::{ClientAck, Detach};
use crate::session::Session;
use crate::supervision::{ActorKind, OnStop, Supervise, Supervision};
use crate::trace_hops;
use crate::trace_live::{Reason, Record, RecordedBy};
use actix::prelude::*;
use channel::{Channel, Closing, Effect};
use credit::Credits;
pub use credit::{Credit, HeldCredits};
#[cfg(feature = "fault-injection")]
pub use deadlines::inject_sweep_panic;
use deadlines::{DeadlinePassed, Due, Watch};
pub use outbox::Outbox;
use reader::{PacketReader, Read};
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
pub use writer::Outgoing;
use writer::{WriterTask, WRITER_CAPACITY};

/// What a connection needs from the broker; one copy shared by every connection.
pub struct ConnectionDeps {
    pub registry: Addr<SessionRegistry>,
    /// Who may connect (auth.rs).
    pub security: crate::auth::Security,
    pub cfg: Arc<BrokerConfig>,
    pub metrics: Arc<Metrics>,
}

/// Close this connection (take-over, shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseConnection {
    pub reason: CloseReason,
}

/// The writer task ended on an error or a stalled peer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WriterStopped {
    pub reason: CloseReason,
}

pub struct Connection {
    id: u64,
    peer: String,
    transport: &'static str,
    /// The user name a verified client certificate gives (TLS listeners with
    /// `use_identity_as_username` / `use_subject_as_username`).
    cert_username: Option<bytestring::ByteString>,
    /// Where the connection stands in the protocol (pure, channel.rs).
    channel: Channel,
    /// The session it is attached to, once CONNACK went out.
    session: Option<(Addr<Session>, ClientId)>,
    writer: Outbox,
    /// The connect or keep-alive deadline, checked by this thread's sweep (deadlines.rs), and
    /// when bytes last arrived: stamped by the reader once per socket read (a clock read per
    /// packet cost ~2 % of the broker's CPU at high packet rates).
    watch: Rc<Watch>,
    deps: Arc<ConnectionDeps>,
    credits: Credits,
    /// Acknowledgements read and not yet handed to the session (acks.rs).
    acks: Vec<ClientAck>,
    /// PUBLISHes read and not yet handed to the session, with their credits (publishes.rs).
    publishes: Vec<(Publish, Credit)>,
    /// A `FlushAcks` is on its way (acks.rs).
    acks_flush_pending: bool,
    /// An enhanced authentication exchange waiting for the client's next AUTH.
    pending_auth: Option<Box<auth_exchange::PendingAuth>>,
    /// When the socket was accepted, unix ms (admin API: "connected since").
    opened_ms: u64,
}

static NEXT_CONNECTION_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Connection {
    /// Start a connection actor on the current arbiter over `reader`/`writer`; with `busy`
    /// (over `max_connections`) its CONNECT is answered "server busy" and it closes.
    pub fn start<R, W>(
        reader: R,
        writer: W,
        peer: String,
        transport: &'static str,
        deps: Arc<ConnectionDeps>,
        busy: bool,
        cert_username: Option<bytestring::ByteString>,
    ) -> Addr<Connection>
    where
        R: AsyncRead + Unpin + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        deps.metrics.connections_open.fetch_add(1, Relaxed);
        deps.metrics.connections_total.fetch_add(1, Relaxed);
        let (tx, rx) = outbox::channel(WRITER_CAPACITY);
        let metrics = deps.metrics.clone();
        let (max, max_connect) = (deps.cfg.max_packet_size, deps.cfg.max_connect_packet_size);
        let connect_timeout = deps.cfg.connect_timeout;
        Supervise::start(move |ctx| {
            let watch = Watch::start(ctx.address().downgrade(), connect_timeout);
            let packets =
                PacketReader::new(reader, MqttCodec::new(max), metrics.clone(), watch.clone());
            ctx.spawn(turns::Turns::new(packets.with_connect_limit(max_connect)));
            WriterTask::start(writer, rx, ctx.address().downgrade(), deps.clone());
            Connection {
                id: NEXT_CONNECTION_ID.fetch_add(1, Relaxed),
                peer,
                transport,
                cert_username,
                channel: Channel::new(busy, deps.cfg.max_topic_alias),
                session: None,
                writer: tx,
                watch,
                deps,
                credits: Credits::default(),
                acks: Vec::new(),
                publishes: Vec::new(),
                acks_flush_pending: false,
                pending_auth: None,
                opened_ms: crate::message::unix_ms(),
            }
        })
    }

    /// The one way a connection ends: tell the session (which decides about the Will), log,
    /// let the writer flush what is queued, stop reading.
    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        self.close_with(reason, None, ctx)
    }

    /// [`Connection::close`], with the Session Expiry Interval a 5.0 DISCONNECT set.
    fn close_with(&mut self, reason: CloseReason, expiry: Option<u32>, ctx: &mut Context<Self>) {
        // Packets read before the end reach the session before its Detach: held PUBLISHes
        // (they hold their credits), and held PUBACKs when a credit is free; otherwise those
        // are dropped like unread ones (a persistent session resends).
        if !self.channel.is_closed() {
            self.flush_publishes();
            if !self.acks.is_empty() {
                self.flush_acks_now();
            }
        }
        let closing = self.channel.close(&reason);
        if !matches!(closing, Closing::AlreadyClosed) {
            self.deps.metrics.count_disconnect(&reason);
        }
        match closing {
            Closing::AlreadyClosed => return,
            Closing::Attached { disconnect } => {
                // A 5.0 client is told why the broker closes [MQTT-4.13.1-1].
                if let Some(p) = disconnect {
                    let _ = self.writer.try_send(Outgoing::packet(p));
                }
                if let Some((session, client_id)) = self.session.take() {
                    log::info!(
                        "client disconnected: client_id={:?} addr={} transport={} reason={}",
                        &*client_id,
                        self.peer,
                        self.transport,
                        reason
                    );
                    let hop = match reason {
                        CloseReason::KeepAliveTimeout => "keep_alive_timeout",
                        _ => "disconnect",
                    };
                    trace_hops::event(
                        &self.deps.cfg,
                        &client_id,
                        hop,
                        RecordedBy::Connection,
                        |r| Record {
                            reason: Some(Box::new(Reason::Text(reason.to_string()))),
                            ..r
                        },
                    );
                    session.do_send(Detach {
                        conn_id: self.id,
                        reason,
                        expiry,
                    });
                }
            }
            Closing::Unattached => log::info!(
                "connection closed before CONNECT completed: addr={} reason={}",
                self.peer,
                reason
            ),
        }
        if self.writer.try_send(Outgoing::close()).is_err() {
            // The peer is not reading (channel full): nothing queued can be delivered anyway.
            self.writer.cancel();
        }
        ctx.stop();
    }
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.deps.metrics.connections_open.fetch_sub(1, Relaxed);
    }
}

impl Supervision for Connection {
    const KIND: ActorKind = ActorKind::Connection;
    const ON_STOP: OnStop = OnStop::End;
}

/// Runs only after a panic in one of its handlers (connections are started with
/// `OnStop::End`): the connection closes as a broken one would, its session decides about
/// the Will, and nothing else is touched.
impl Supervised for Connection {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        crate::supervision::count_panic::<Self>(&self.deps.metrics);
        log::error!("connection {}: panicked; closing it", self.peer);
        self.close(CloseReason::InternalError, ctx);
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectPanic> for Connection {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectPanic, _ctx: &mut Context<Self>) {
        panic!("Connection {}: injected panic", self.peer);
    }
}

impl StreamHandler<Result<Read, DecodeError>> for Connection {
    fn handle(&mut self, item: Result<Read, DecodeError>, ctx: &mut Context<Self>) {
        let effect = match item {
            Ok(Read::Drained) => return self.flush_publishes(),
            Ok(Read::Packet(packet)) => {
                self.deps.metrics.packets_received.fetch_add(1, Relaxed);
                if let Packet::Publish(p) = &packet {
                    self.deps.metrics.publish_in.count(p.qos, p.payload.len());
                }
                self.channel.handle_in(packet)
            }
            Err(e) => {
                if let DecodeError::UnsupportedProtocolLevel { level, client_id } = &e {
                    log::info!(
                        "connection refused: addr={} client_id={:?} reason=unsupported protocol level {level}",
                        self.peer,
                        client_id.as_deref().unwrap_or("")
                    );
                }
                self.channel.on_decode_error(&e)
            }
        };
        match effect {
            Effect::Connect(c) => self.on_connect(*c, ctx),
            Effect::RefuseBusy(c) => self.refuse_busy(*c, ctx),
            Effect::Refuse(connack, version) => {
                let _ = self.writer.try_send(Outgoing::peer(version, None));
                self.refuse(connack, ctx);
            }
            Effect::Forward(p) => self.forward(p, ctx),
            Effect::Auth(step) => self.on_auth(step, ctx),
            Effect::Close { reason, expiry } => self.close_with(reason, expiry, ctx),
            Effect::Ignore => {}
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.close(CloseReason::PeerClosed, ctx);
    }
}

impl Handler<CloseConnection> for Connection {
    type Result = ();
    fn handle(&mut self, msg: CloseConnection, ctx: &mut Context<Self>) {
        self.close(msg.reason, ctx);
    }
}

/// The sweep found this connection's deadline passed: no CONNECT in time, or silent for
/// 1.5 x its keep-alive [MQTT-3.1.2-24]. Which deadline it was matters: a connect deadline
/// found passed while the CONNECT was being attached reaches the handler only after the attach
/// finished (`ctx.wait`), and must not then close an attached client.
impl Handler<DeadlinePassed> for Connection {
    type Result = ();
    fn handle(&mut self, msg: DeadlinePassed, ctx: &mut Context<Self>) {
        if let Some(reason) = self.channel.deadline_passed(msg.0) {
            self.close(reason, ctx);
        }
    }
}

impl Handler<crate::admin::Describe> for Connection {
    type Result = MessageResult<crate::admin::Describe>;
    fn handle(&mut self, _: crate::admin::Describe, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult((self.peer.clone(), self.transport, self.opened_ms))
    }
}

impl Handler<WriterStopped> for Connection {
    type Result = ();
    fn handle(&mut self, msg: WriterStopped, ctx: &mut Context<Self>) {
        self.close(msg.reason, ctx);
    }
}
