//! Connection actor: one per network connection (TCP today; TLS and WebSocket use the same
//! actor over another byte stream). Never restarted: a broken connection closes and its session
//! lives on.
//!
//! It owns the read side (a stream of decoded packets, `reader.rs`), the pre-CONNECT state, the
//! connect timeout and keep-alive. Every packet after CONNECT is handed to the Session; up to
//! `PIPELINE` may be in flight (SUBSCRIBE and UNSUBSCRIBE are *awaited* before the next packet
//! is read, `ctx.wait`), and a full window stops reading: a publisher that outruns the broker
//! is slowed by TCP flow control, and no one else is. Replies are written in order of receipt.
//!
//! - `connect.rs`: CONNECT validation and attaching to a session
//! - `reader.rs`: the read half, a packet stream that holds no buffer while idle
//! - `buffers.rs`: spare read and write buffers, a few per worker thread
//! - `writer.rs`: the write half, a task fed by a bounded channel

mod buffers;
mod connect;
mod reader;
mod writer;

use crate::close::CloseReason;
use crate::codec::{DecodeError, MqttCodec, Packet};
use crate::config::BrokerConfig;
use crate::message::ClientId;
use crate::metrics::Metrics;
use crate::registry::SessionRegistry;
use crate::session::messages::{Detach, Inbound};
use crate::session::Session;
use actix::prelude::*;
use reader::PacketReader;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
pub use writer::Outgoing;
use writer::{WriterTask, WRITER_CAPACITY};

/// What a connection needs from the broker; one copy shared by every connection.
pub struct ConnectionDeps {
    pub registry: Addr<SessionRegistry>,
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

enum Phase {
    /// Waiting for CONNECT [MQTT-3.1.0-1].
    AwaitingConnect,
    /// CONNECT received; attaching to a session.
    Connecting,
    Attached {
        session: Addr<Session>,
        client_id: ClientId,
    },
    Closed,
}

pub struct Connection {
    id: u64,
    peer: String,
    transport: &'static str,
    phase: Phase,
    writer: mpsc::Sender<Outgoing>,
    cancel: writer::Cancel,
    last_received: Instant,
    keep_alive: Duration,
    /// Cancelled once attached: it would otherwise hold its timer (~110 bytes) until it fires.
    connect_timer: SpawnHandle,
    deps: Arc<ConnectionDeps>,
    /// Completion of the latest packet handed to the session (replies are written in order).
    last_reply: Option<oneshot::Receiver<()>>,
    pipe: Rc<Pipeline>,
}

/// Packets a connection may have in flight to its session.
const PIPELINE: usize = 16;

/// Shared by a connection and its in-flight reply tasks (same thread).
#[derive(Default)]
struct Pipeline {
    outstanding: Cell<usize>,
    /// A reply closed the connection: later replies are not written.
    closing: Cell<bool>,
}

static NEXT_CONNECTION_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Connection {
    /// Start a connection actor on the current arbiter over `reader`/`writer`.
    pub fn start<R, W>(
        reader: R,
        writer: W,
        peer: String,
        transport: &'static str,
        deps: Arc<ConnectionDeps>,
    ) -> Addr<Connection>
    where
        R: AsyncRead + Unpin + 'static,
        W: AsyncWrite + Unpin + 'static,
    {
        deps.metrics.connections_open.fetch_add(1, Relaxed);
        deps.metrics.connections_total.fetch_add(1, Relaxed);
        let (tx, rx) = mpsc::channel(WRITER_CAPACITY);
        let (cancel, cancelled) = writer::Cancel::new();
        let metrics = deps.metrics.clone();
        let max = deps.cfg.max_packet_size;
        let write_timeout = deps.cfg.write_timeout;
        Connection::create(move |ctx| {
            ctx.add_stream(PacketReader::new(
                reader,
                MqttCodec::new(max),
                metrics.clone(),
            ));
            actix_rt::spawn(
                WriterTask {
                    io: writer,
                    rx,
                    cancel: cancelled,
                    conn: ctx.address().downgrade(),
                    write_timeout,
                    metrics,
                }
                .run(),
            );
            Connection {
                id: NEXT_CONNECTION_ID.fetch_add(1, Relaxed),
                peer,
                transport,
                phase: Phase::AwaitingConnect,
                writer: tx,
                cancel,
                last_received: Instant::now(),
                keep_alive: Duration::ZERO,
                connect_timer: SpawnHandle::default(),
                deps,
                last_reply: None,
                pipe: Rc::default(),
            }
        })
    }

    /// The one way a connection ends: tell the session (which decides about the Will), log,
    /// let the writer flush what is queued, stop reading.
    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Closed);
        match phase {
            Phase::Closed => return,
            Phase::Attached { session, client_id } => {
                log::info!(
                    "client disconnected: client_id={:?} addr={} transport={} reason={}",
                    &*client_id,
                    self.peer,
                    self.transport,
                    reason
                );
                session.do_send(Detach {
                    conn_id: self.id,
                    reason,
                });
            }
            _ => log::info!(
                "connection closed before CONNECT completed: addr={} reason={}",
                self.peer,
                reason
            ),
        }
        if self.writer.try_send(Outgoing::close()).is_err() {
            // The peer is not reading (channel full): nothing queued can be delivered anyway.
            self.cancel.cancel();
        }
        ctx.stop();
    }

    /// Close once every packet already received is handled: a client that publishes and then
    /// disconnects (mosquitto_pub does) must have its messages routed before its session
    /// learns the connection is gone, since a clean session then ends at once.
    fn close_after_pipeline(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        match self.last_reply.take() {
            Some(last) => ctx.wait(
                async move {
                    let _ = last.await;
                }
                .into_actor(self)
                .map(move |_, act, ctx| act.close(reason, ctx)),
            ),
            None => self.close(reason, ctx),
        }
    }

    /// Hand a packet to the session. Up to `PIPELINE` packets (publishes, acknowledgements,
    /// pings) are in flight at once, each in its own task; their replies are written strictly in order of receipt (each task waits for
    /// the previous one). Once the window is full, and for every other packet, reading stops
    /// (`ctx.wait`) until the reply is written, so a publisher that outruns the broker is still
    /// slowed by TCP flow control, with at most `PIPELINE` publishes buffered per connection.
    fn forward(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        let Phase::Attached { session, .. } = &self.phase else {
            return;
        };
        // SUBSCRIBE, UNSUBSCRIBE and PINGREQ reach the session only once everything before them
        // is routed (a PINGRESP stays behind the messages already routed to this client
        // [MQTT-3.12.4-1]; a subscription does not see earlier publishes), and reading waits.
        let pipelined = !matches!(
            packet,
            Packet::Subscribe(_) | Packet::Unsubscribe(_) | Packet::PingReq
        );
        let inbound = Inbound {
            conn_id: self.id,
            packet,
        };
        let (session, early) = match pipelined {
            true => (None, Some(session.send(inbound))),
            false => (Some((session.clone(), inbound)), None),
        };
        let (done, next) = oneshot::channel();
        let prev = self.last_reply.replace(next);
        let writer = self.writer.clone();
        let pipe = self.pipe.clone();
        let me = ctx.address();
        pipe.outstanding.set(pipe.outstanding.get() + 1);
        let (signal, finished) = oneshot::channel();
        actix_rt::spawn(async move {
            let reply = match early {
                Some(request) => {
                    let reply = request.await;
                    if let Some(prev) = prev {
                        let _ = prev.await;
                    }
                    reply
                }
                None => {
                    if let Some(prev) = prev {
                        let _ = prev.await;
                    }
                    let (session, inbound) = session.expect("a late packet keeps its session");
                    session.send(inbound).await
                }
            };
            let close = match reply {
                _ if pipe.closing.get() => None,
                Ok(reply) => {
                    if let Some(p) = reply.reply {
                        // Awaiting room here is the back-pressure on a client that does not
                        // read its acknowledgements.
                        let _ = writer.send(Outgoing::packet(p)).await;
                    }
                    reply.close
                }
                Err(_) => Some(CloseReason::SessionGone),
            };
            if let Some(reason) = close {
                // Replies to packets received after this one are not written.
                pipe.closing.set(true);
                me.do_send(CloseConnection { reason });
            }
            pipe.outstanding.set(pipe.outstanding.get() - 1);
            let _ = done.send(());
            let _ = signal.send(());
        });
        if !pipelined || self.pipe.outstanding.get() >= PIPELINE {
            ctx.wait(
                async move {
                    let _ = finished.await;
                }
                .into_actor(self),
            );
        }
    }

    /// [MQTT-3.1.2-24]: close after one and a half keep-alive periods without a packet. One
    /// timer, set for the moment that could first happen and set again from the latest packet
    /// when it fires, so an idle connection wakes once per 1.5 keep-alives instead of polling
    /// every second (100,000 idle connections were 100,000 wake-ups a second).
    fn schedule_keep_alive(&mut self, ctx: &mut Context<Self>) {
        let limit = self.keep_alive * 3 / 2;
        let due = (self.last_received + limit).saturating_duration_since(Instant::now());
        ctx.run_later(due, move |act, ctx| {
            if matches!(act.phase, Phase::Closed) {
                return;
            }
            if act.last_received.elapsed() >= limit {
                act.close(CloseReason::KeepAliveTimeout, ctx);
            } else {
                act.schedule_keep_alive(ctx);
            }
        });
    }
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.connect_timer = ctx.run_later(self.deps.cfg.connect_timeout, |act, ctx| {
            if matches!(act.phase, Phase::AwaitingConnect | Phase::Connecting) {
                act.close(CloseReason::ConnectTimeout, ctx);
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.deps.metrics.connections_open.fetch_sub(1, Relaxed);
    }
}

impl StreamHandler<Result<Packet, DecodeError>> for Connection {
    fn handle(&mut self, item: Result<Packet, DecodeError>, ctx: &mut Context<Self>) {
        let packet = match item {
            Ok(p) => p,
            Err(e) => {
                if e.is_unsupported_protocol_level() {
                    // [MQTT-3.1.2-2]: CONNACK 0x01, then close.
                    return self.refuse(crate::codec::connack::UNACCEPTABLE_PROTOCOL_VERSION, ctx);
                }
                return self.close(CloseReason::from_decode(&e), ctx);
            }
        };
        self.last_received = Instant::now();
        self.deps.metrics.packets_received.fetch_add(1, Relaxed);
        if let Packet::Publish(p) = &packet {
            self.deps.metrics.publish_in.count(p.qos, p.payload.len());
        }
        match (&self.phase, packet) {
            (Phase::Closed, _) => {}
            (Phase::AwaitingConnect, Packet::Connect(c)) => self.on_connect(*c, ctx),
            (Phase::AwaitingConnect, other) => self.close(
                CloseReason::Protocol(
                    "MQTT-3.1.0-1",
                    format!("first packet was {}, not CONNECT", other.kind()),
                ),
                ctx,
            ),
            (_, Packet::Connect(_)) => self.close(
                CloseReason::Protocol("MQTT-3.1.0-2", "second CONNECT".into()),
                ctx,
            ),
            (_, Packet::Disconnect(_)) => {
                self.close_after_pipeline(CloseReason::ClientDisconnect, ctx)
            }
            (
                _,
                p @ (Packet::ConnAck(_)
                | Packet::SubAck(_)
                | Packet::UnsubAck(_)
                | Packet::PingResp
                | Packet::Auth { .. }),
            ) => self.close(
                CloseReason::Protocol(
                    "MQTT-4.8.0-1",
                    format!("{} may only be sent by a server", p.kind()),
                ),
                ctx,
            ),
            (_, p) => self.forward(p, ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.close_after_pipeline(CloseReason::PeerClosed, ctx);
    }
}

impl Handler<CloseConnection> for Connection {
    type Result = ();
    fn handle(&mut self, msg: CloseConnection, ctx: &mut Context<Self>) {
        self.close(msg.reason, ctx);
    }
}

impl Handler<WriterStopped> for Connection {
    type Result = ();
    fn handle(&mut self, msg: WriterStopped, ctx: &mut Context<Self>) {
        self.close(msg.reason, ctx);
    }
}
