//! One connection of a bridge to its remote, with the broker's own codec as the client side:
//! it already encodes and decodes every packet of 3.1.1 and 5.0 (one model, one set of spec
//! checks), it lets the bridge set Mosquitto's bridge bit in the CONNECT protocol level
//! ([`Connect::bridge`]), which no client crate offers, and it sends the queue's shared messages without copying them.
//!
//! CONNECT, CONNACK, SUBSCRIBE of the `in` filters, then one loop: take deliveries, send what
//! the window allows, read acks and inbound publishes, keep alive. Acks to the remote go out
//! in order of receipt, each once the local broker owns the message.

use super::local::Local;
use super::queue::Next;
use super::topics;
use super::{BridgeSpec, Dial, Transport};
use crate::codec::*;
use bytes::BytesMut;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_util::codec::{Encoder, FramedRead};

/// Largest packet accepted from the remote (the protocol's own limit).
const MAX_PACKET: u32 = 268_435_460;
/// How long the remote has to answer CONNECT.
const CONNACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError {
    /// Unreachable, TLS or I/O failure, timeout.
    Io(String),
    /// The remote answered CONNACK with a refusal.
    Refused { code: u8, reason: String },
    /// The socket closed before a CONNACK (how some brokers refuse the bridge bit).
    Closed,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Io(e) => f.write_str(e),
            ConnectError::Refused { code, reason } => {
                write!(f, "connection refused: {reason} (0x{code:02x})")
            }
            ConnectError::Closed => f.write_str("closed before CONNACK"),
        }
    }
}

pub struct Conn {
    reader: FramedRead<ReadHalf<Box<dyn Transport>>, MqttCodec>,
    writer: WriteHalf<Box<dyn Transport>>,
    codec: MqttCodec,
    pub session_present: bool,
    /// QoS 1/2 messages in flight at once: ours, or the remote's Receive Maximum if lower.
    window: usize,
}

/// The CONNACK refusal in words (3.1.1 return codes, 5.0 reason codes).
fn refusal(version: ProtocolVersion, code: u8) -> String {
    if version == ProtocolVersion::V5 {
        return ReasonCode::from_u8(code).map_or_else(|| "unknown".into(), |r| r.to_string());
    }
    match code {
        connack::UNACCEPTABLE_PROTOCOL_VERSION => "unacceptable protocol version",
        connack::IDENTIFIER_REJECTED => "identifier rejected",
        connack::SERVER_UNAVAILABLE => "server unavailable",
        connack::BAD_USERNAME_OR_PASSWORD => "bad user name or password",
        connack::NOT_AUTHORIZED => "not authorized",
        _ => "unknown return code",
    }
    .into()
}

/// Open a connection to `addr` and complete CONNECT/CONNACK; `bridge_bit` sets 0x80 in the
/// 3.1.1 protocol level (Mosquitto's `try_private`).
pub async fn connect(
    spec: &BridgeSpec,
    dial: &Dial,
    addr: &str,
    bridge_bit: bool,
) -> Result<Conn, ConnectError> {
    let io = |e: std::io::Error| ConnectError::Io(e.to_string());
    let stream = tokio::time::timeout(CONNACK_TIMEOUT, dial(addr))
        .await
        .map_err(|_| ConnectError::Io("connect timed out".into()))?
        .map_err(io)?;
    let (read, mut writer) = tokio::io::split(stream);
    let v5 = spec.protocol == ProtocolVersion::V5;
    let connect = Connect {
        protocol: spec.protocol,
        clean_start: spec.cleansession,
        keep_alive: spec.keepalive,
        client_id: spec.remote_clientid.as_str().into(),
        will: None,
        username: spec.remote_username.as_deref().map(Into::into),
        password: spec.remote_password.clone().map(Into::into),
        properties: ConnectProperties {
            // A 5.0 session without an expiry ends with the connection: keep it as 3.1.1's
            // clean session = false does.
            session_expiry_interval: (v5 && !spec.cleansession).then_some(u32::MAX),
            ..Default::default()
        },
        bridge: bridge_bit && !v5,
    };
    let mut codec = MqttCodec::with_version(spec.protocol, MAX_PACKET);
    let mut buf = BytesMut::new();
    codec
        .encode(&Packet::Connect(Box::new(connect)), &mut buf)
        .map_err(io)?;
    writer.write_all(&buf).await.map_err(io)?;
    let mut reader = FramedRead::new(read, MqttCodec::with_version(spec.protocol, MAX_PACKET));
    let first = tokio::time::timeout(CONNACK_TIMEOUT, reader.next())
        .await
        .map_err(|_| ConnectError::Io("no CONNACK within 10 s".into()))?;
    let ack = match first {
        Some(Ok(Packet::ConnAck(ack))) => ack,
        Some(Ok(p)) => return Err(ConnectError::Io(format!("{} before CONNACK", p.kind()))),
        Some(Err(e)) => return Err(ConnectError::Io(e.to_string())),
        None => return Err(ConnectError::Closed),
    };
    if ack.code != 0 {
        let reason = refusal(spec.protocol, ack.code);
        return Err(ConnectError::Refused {
            code: ack.code,
            reason,
        });
    }
    let remote_max = ack
        .properties
        .as_ref()
        .and_then(|p| p.receive_maximum)
        .map_or(usize::MAX, |m| usize::from(m.get()));
    Ok(Conn {
        reader,
        writer,
        codec,
        session_present: ack.session_present,
        window: usize::from(spec.max_inflight.max(1)).min(remote_max),
    })
}

type AckFuture = Pin<Box<dyn Future<Output = Option<Packet>>>>;

/// Run a connected link until it ends; returns why it ended.
pub async fn run(mut conn: Conn, local: &mut Local) -> String {
    match serve(&mut conn, local).await {
        Ok(()) => "closed by the remote".into(),
        Err(e) => e,
    }
}

async fn serve(conn: &mut Conn, local: &mut Local) -> Result<(), String> {
    let spec = local.spec.clone();
    let v5 = spec.protocol == ProtocolVersion::V5;
    let mut buf = BytesMut::new();
    let filters: Vec<_> = spec
        .topics
        .iter()
        .filter(|t| t.direction.is_in())
        .map(|t| {
            let options = SubscriptionOptions {
                qos: t.qos,
                // 5.0: what the bridge publishes on the remote does not come back.
                no_local: v5,
                retain_as_published: v5,
                retain_handling: 0,
            };
            (t.remote_filter().into(), options)
        })
        .collect();
    if !filters.is_empty() {
        let sub = Packet::Subscribe(Subscribe {
            pkid: 1,
            filters,
            properties: None,
        });
        encode(&mut conn.codec, &sub, &mut buf)?;
    }
    local.queue.requeue(conn.session_present);
    let notify = local.notify.clone();
    let mut acks: FuturesOrdered<AckFuture> = FuturesOrdered::new();
    let mut awaiting_rel: HashSet<u16> = HashSet::new();
    let keepalive = Duration::from_secs(u64::from(spec.keepalive.max(1)));
    let mut tick = tokio::time::interval(keepalive);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_read = Instant::now();
    loop {
        local.drain();
        while let Some(next) = local.queue.next(conn.window) {
            match next {
                Next::Publish(o) => {
                    let Some(remote) = topics::to_remote(&spec.topics, &o.msg.topic) else {
                        // The configuration no longer sends this topic.
                        local.completed(o);
                        continue;
                    };
                    // A resend carries DUP [MQTT-3.3.1-1].
                    let mut p = o.msg.as_publish(o.pkid, o.qos, o.dup, o.retain);
                    p.topic = &remote;
                    if !v5 {
                        p.properties = None;
                    }
                    conn.codec
                        .encode_publish(&p, &mut buf)
                        .map_err(|e| e.to_string())?;
                    if o.qos == QoS::AtMostOnce {
                        local.completed(o);
                    }
                }
                Next::Release(pkid) => {
                    encode(&mut conn.codec, &Packet::PubRel(Ack::new(pkid)), &mut buf)?
                }
            }
        }
        local.update_gauges();
        if !buf.is_empty() {
            conn.writer
                .write_all(&buf)
                .await
                .map_err(|e| e.to_string())?;
            buf.clear();
        }
        tokio::select! {
            packet = conn.reader.next() => {
                last_read = Instant::now();
                let packet = match packet {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(format!("protocol error from the remote: {e}")),
                    Some(Ok(p)) => p,
                };
                handle(packet, local, &mut acks, &mut awaiting_rel, &mut conn.codec, &mut buf)?;
            }
            Some(ack) = acks.next(), if !acks.is_empty() => {
                match ack {
                    Some(p) => encode(&mut conn.codec, &p, &mut buf)?,
                    None => return Err("the local broker did not take a message".into()),
                }
            }
            _ = notify.notified() => {}
            _ = tick.tick() => {
                if spec.keepalive > 0 {
                    if last_read.elapsed() > keepalive * 2 {
                        return Err("keep-alive timeout: the remote stopped answering".into());
                    }
                    encode(&mut conn.codec, &Packet::PingReq, &mut buf)?;
                }
            }
        }
    }
}

fn encode(codec: &mut MqttCodec, p: &Packet, buf: &mut BytesMut) -> Result<(), String> {
    codec.encode(p, buf).map_err(|e| e.to_string())
}

/// One packet from the remote.
fn handle(
    packet: Packet,
    local: &mut Local,
    acks: &mut FuturesOrdered<AckFuture>,
    awaiting_rel: &mut HashSet<u16>,
    codec: &mut MqttCodec,
    buf: &mut BytesMut,
) -> Result<(), String> {
    match packet {
        Packet::PubAck(a) | Packet::PubComp(a) => {
            if let Some(done) = local.queue.complete(a.pkid) {
                local.completed(done);
            }
        }
        Packet::PubRec(a) if a.reason.is_error() => {
            // 5.0: the remote refused the message; it will not take it on a resend either.
            if let Some(done) = local.queue.complete(a.pkid) {
                log::warn!(
                    "bridge {}: the remote refused a message on {}: {}",
                    local.spec.name,
                    done.msg.topic,
                    a.reason
                );
                local.completed(done);
            }
        }
        Packet::PubRec(a) => {
            local.queue.received(a.pkid);
            // PUBREL also for an unknown id, so the remote can complete its side.
            encode(codec, &Packet::PubRel(Ack::new(a.pkid)), buf)?;
        }
        Packet::Publish(p) => inbound(p, local, acks, awaiting_rel),
        Packet::PubRel(a) => {
            awaiting_rel.remove(&a.pkid);
            let comp = Packet::PubComp(Ack::new(a.pkid));
            acks.push_back(Box::pin(async move { Some(comp) }));
        }
        Packet::SubAck(s) => {
            for (code, t) in s
                .return_codes
                .iter()
                .zip(local.spec.topics.iter().filter(|t| t.direction.is_in()))
            {
                if code.is_error() {
                    log::warn!(
                        "bridge {}: the remote refused the subscription {}: {code}",
                        local.spec.name,
                        t.remote_filter()
                    );
                }
            }
        }
        Packet::PingResp | Packet::UnsubAck(_) => {}
        Packet::Disconnect(d) => return Err(format!("disconnected by the remote: {}", d.reason)),
        p => return Err(format!("unexpected {} from the remote", p.kind())),
    }
    Ok(())
}

/// A PUBLISH from the remote: published locally under its mapped topic; its PUBACK/PUBREC
/// waits until the local broker owns it.
fn inbound(
    p: Publish,
    local: &mut Local,
    acks: &mut FuturesOrdered<AckFuture>,
    awaiting_rel: &mut HashSet<u16>,
) {
    let pkid = p.pkid.unwrap_or(0);
    if p.qos == QoS::ExactlyOnce && awaiting_rel.contains(&pkid) {
        // A resend of a message already taken: only the PUBREC again, no second delivery.
        acks.push_back(Box::pin(
            async move { Some(Packet::PubRec(Ack::new(pkid))) },
        ));
        return;
    }
    let routed = match topics::to_local(&local.spec.topics, &p.topic) {
        Some(topic) => Some(local.publish(topic, p.payload, p.qos, p.retain, p.properties)),
        None => None,
    };
    let reply = match p.qos {
        QoS::AtMostOnce => return,
        QoS::AtLeastOnce => Packet::PubAck(Ack::new(pkid)),
        QoS::ExactlyOnce => {
            awaiting_rel.insert(pkid);
            Packet::PubRec(Ack::new(pkid))
        }
    };
    acks.push_back(Box::pin(async move {
        match routed {
            Some(r) => r.completion().await.ok().map(|_| reply),
            None => Some(reply),
        }
    }));
}
