//! A raw MQTT client connection: one socket, one read buffer, one write buffer. Everything the
//! generator sends is encoded into `out` and written with one `write_all` per batch.

use crate::transport::{access, client_number, Stream};
use crate::wire::{self, Frame};
use bytes::{Buf, BytesMut};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpSocket;

/// Protocol version and per-PUBLISH extras, the same for every client of a run.
#[derive(Clone, Copy, Debug)]
pub struct Proto {
    /// MQTT 5.0 (protocol level 5) instead of 3.1.1.
    pub v5: bool,
    /// User Properties added to every PUBLISH (5.0).
    pub user_properties: usize,
    /// Topic Alias Maximum in CONNECT (5.0): the broker may send topic aliases, which
    /// `wire::Frame::publish` reads past like any property (the payload identifies a message).
    pub topic_alias_max: u16,
}

impl Proto {
    /// Protocol level: 4 (3.1.1) or 5.
    pub fn level(&self) -> u64 {
        if self.v5 {
            5
        } else {
            4
        }
    }
}

/// Session Expiry Interval of a 5.0 persistent session (clean = false): long enough for any
/// run, bounded so that an interrupted run's sessions do not stay forever.
pub const SESSION_EXPIRY_S: u32 = 3600;

pub struct Client {
    pub stream: Stream,
    pub inbuf: BytesMut,
    pub out: BytesMut,
    pub v5: bool,
    /// The 5.0 PUBLISH property block (`None` in 3.1.1).
    pub props: Option<Vec<u8>>,
    /// The broker's Receive Maximum (5.0 CONNACK; 65,535 when absent, and in 3.1.1).
    pub receive_max: u16,
    /// The broker's Maximum QoS (5.0 CONNACK; 2 when absent, and in 3.1.1).
    pub max_qos: u8,
    /// Reason code of a DISCONNECT the broker sent (5.0).
    disconnect_reason: Option<u8>,
}

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

impl Client {
    /// TCP connect (from `local` if given), CONNECT, and wait for a successful CONNACK. In
    /// 5.0, `clean = false` also asks for a session that outlives the connection
    /// ([`SESSION_EXPIRY_S`]), as clean session 0 does in 3.1.1.
    pub async fn connect(
        addr: SocketAddr,
        client_id: &str,
        clean: bool,
        local: Option<IpAddr>,
        proto: Proto,
    ) -> io::Result<Client> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = local {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let tcp = socket.connect(addr).await?;
        tcp.set_nodelay(true)?;
        let access = access();
        let stream = match &access.tls {
            None => Stream::Tcp(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await?;
                Stream::Tls(Box::new(tls))
            }
        };
        let mut c = Client {
            stream,
            inbuf: BytesMut::with_capacity(4096),
            out: BytesMut::with_capacity(4096),
            v5: proto.v5,
            props: wire::publish_properties(proto.v5, proto.user_properties),
            receive_max: u16::MAX,
            max_qos: 2,
            disconnect_reason: None,
        };
        let expiry = proto.v5.then_some(if clean { 0 } else { SESSION_EXPIRY_S });
        // 60 s: some brokers (rumqttd) refuse 0; every run is shorter than 1.5 keep-alives.
        let username = access
            .username
            .as_ref()
            .map(|u| u.replace("{i}", client_number(client_id)));
        let password = access
            .password
            .as_ref()
            .map(|p| p.replace("{i}", client_number(client_id)));
        let credentials = username
            .as_deref()
            .map(|u| (u, password.as_deref().unwrap_or("")));
        wire::connect(
            &mut c.out,
            client_id,
            clean,
            60,
            expiry,
            proto.topic_alias_max,
            credentials,
        );
        c.flush().await?;
        let (kind, body) = c.expect_one(Duration::from_secs(30)).await?;
        if kind != wire::CONNACK || body.get(1) != Some(&0) {
            return Err(err(format!(
                "{client_id}: connection refused ({kind}, {body:?})"
            )));
        }
        if c.v5 {
            (c.receive_max, c.max_qos) = wire::connack_limits(&body);
        }
        Ok(c)
    }

    /// Unacknowledged QoS 1/2 publishes allowed: `want`, within the broker's Receive Maximum.
    pub fn window(&self, want: usize) -> usize {
        want.clamp(1, self.receive_max.max(1) as usize)
    }

    /// Fails if the broker does not accept publishes at `qos` (5.0 Maximum QoS).
    pub fn check_qos(&self, qos: u8) -> io::Result<()> {
        if qos > self.max_qos {
            return Err(err(format!(
                "the broker's Maximum QoS is {}: cannot publish at QoS {qos}",
                self.max_qos
            )));
        }
        Ok(())
    }

    fn closed(&self) -> io::Error {
        match self.disconnect_reason {
            Some(rc) => err(format!(
                "connection closed by the broker (DISCONNECT, reason code 0x{rc:02X})"
            )),
            None => err("connection closed by the broker".into()),
        }
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Await more bytes. Errors on end of stream.
    pub async fn read_more(&mut self) -> io::Result<()> {
        self.inbuf.reserve(64 * 1024);
        if self.stream.read_buf(&mut self.inbuf).await? == 0 {
            return Err(self.closed());
        }
        Ok(())
    }

    /// Read whatever is there without waiting; Ok(false) when nothing was.
    pub fn try_read_more(&mut self) -> io::Result<bool> {
        self.inbuf.reserve(64 * 1024);
        match self.stream.try_read_buf(&mut self.inbuf) {
            Ok(0) => Err(self.closed()),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Hand every complete frame in the read buffer to `f`, then drop them from the buffer.
    /// A DISCONNECT from the broker (5.0) is remembered for the error that follows.
    pub fn drain_frames(&mut self, mut f: impl FnMut(&Frame<'_>, &mut BytesMut)) {
        let mut at = 0;
        while let Some((frame, n)) = wire::parse(&self.inbuf[at..]) {
            if frame.kind == wire::DISCONNECT {
                self.disconnect_reason = Some(frame.ack_reason());
            }
            f(&frame, &mut self.out);
            at += n;
        }
        self.inbuf.advance(at);
    }

    /// Wait for one packet (used during set-up only): its type and a copy of its body.
    async fn expect_one(&mut self, timeout: Duration) -> io::Result<(u8, Vec<u8>)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((f, n)) = wire::parse(&self.inbuf) {
                let r = (f.kind, f.body.to_vec());
                self.inbuf.advance(n);
                return Ok(r);
            }
            tokio::time::timeout_at(deadline, self.read_more())
                .await
                .map_err(|_| err("timed out waiting for the broker".into()))??;
        }
    }

    /// SUBSCRIBE and wait for its SUBACK. Messages arriving before the SUBACK (retained ones)
    /// stay in the read buffer for the caller.
    pub async fn subscribe(&mut self, filters: &[(&str, u8)]) -> io::Result<()> {
        wire::subscribe(&mut self.out, 1, filters, self.v5);
        self.flush().await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut at = 0;
            while let Some((f, n)) = wire::parse(&self.inbuf[at..]) {
                if f.kind == wire::SUBACK {
                    if let Some(rc) = f.suback_codes(self.v5).iter().find(|&&c| c >= 0x80) {
                        return Err(err(format!("subscription refused (0x{rc:02X})")));
                    }
                    // Remove the SUBACK, keep what came around it.
                    let after = self.inbuf.split_off(at + n);
                    self.inbuf.truncate(at);
                    self.inbuf.unsplit(after);
                    return Ok(());
                }
                at += n;
            }
            tokio::time::timeout_at(deadline, self.read_more())
                .await
                .map_err(|_| err("timed out waiting for SUBACK".into()))??;
        }
    }

    /// Publish `n` messages (topic of message i from `topic_of`) with at most `window`
    /// unacknowledged (and within the broker's Receive Maximum); returns the number
    /// acknowledged (all of them at QoS 0). A 5.0 acknowledgement with a failure reason code
    /// (0x80 and above) is an error.
    pub async fn publish_many(
        &mut self,
        n: usize,
        topic_of: impl Fn(usize) -> String,
        qos: u8,
        retain: bool,
        payload: &[u8],
        window: usize,
    ) -> io::Result<u64> {
        self.check_qos(qos)?;
        let window = self.window(window);
        let (mut next, mut inflight, mut acked, mut refused) = (0usize, 0usize, 0u64, None);
        while next < n || inflight > 0 {
            while next < n && (qos == 0 || inflight < window) {
                let pkid = (next % 65535) as u16 + 1;
                let (topic, props) = (topic_of(next), self.props.as_deref());
                wire::publish(&mut self.out, &topic, qos, retain, pkid, props, payload);
                next += 1;
                if qos > 0 {
                    inflight += 1;
                }
            }
            self.flush().await?;
            if inflight == 0 {
                continue;
            }
            tokio::time::timeout(Duration::from_secs(10), self.read_more())
                .await
                .map_err(|_| err("timed out waiting for acknowledgements".into()))??;
            let v5 = self.v5;
            self.drain_frames(|f, out| match f.kind {
                wire::PUBACK | wire::PUBCOMP | wire::PUBREC if v5 && f.ack_reason() >= 0x80 => {
                    inflight -= 1;
                    refused.get_or_insert(f.ack_reason());
                }
                wire::PUBACK | wire::PUBCOMP => {
                    inflight -= 1;
                    acked += 1;
                }
                wire::PUBREC => wire::ack(out, wire::PUBREL, f.pkid()),
                _ => {}
            });
            if let Some(rc) = refused {
                return Err(err(format!("publish refused by the broker (0x{rc:02X})")));
            }
        }
        Ok(if qos == 0 { n as u64 } else { acked })
    }

    /// Receive (and acknowledge) PUBLISHes until `n` have arrived, or nothing arrives for
    /// `idle`. Returns how many arrived.
    pub async fn receive(&mut self, n: u64, idle: Duration) -> io::Result<u64> {
        if self.v5 {
            self.receive_v::<true>(n, idle).await
        } else {
            self.receive_v::<false>(n, idle).await
        }
    }

    async fn receive_v<const V5: bool>(&mut self, n: u64, idle: Duration) -> io::Result<u64> {
        let (mut got, mut malformed) = (0u64, false);
        loop {
            self.drain_frames(|f, out| match f.kind {
                wire::PUBLISH => {
                    got += 1;
                    let Some((pkid, _)) = f.publish::<V5>() else {
                        malformed = true;
                        return;
                    };
                    match f.qos() {
                        1 => wire::ack(out, wire::PUBACK, pkid),
                        2 => wire::ack(out, wire::PUBREC, pkid),
                        _ => {}
                    }
                }
                wire::PUBREL => wire::ack(out, wire::PUBCOMP, f.pkid()),
                _ => {}
            });
            if malformed {
                return Err(err("malformed PUBLISH from the broker".into()));
            }
            self.flush().await?;
            if got >= n {
                return Ok(got);
            }
            match tokio::time::timeout(idle, self.read_more()).await {
                Ok(r) => r?,
                Err(_) => return Ok(got),
            }
        }
    }

    /// DISCONNECT and close.
    pub async fn disconnect(mut self) {
        wire::disconnect(&mut self.out);
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}
