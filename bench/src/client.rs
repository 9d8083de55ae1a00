//! A raw MQTT client connection: one socket, one read buffer, one write buffer. Everything the
//! generator sends is encoded into `out` and written with one `write_all` per batch.

use crate::wire::{self, Frame};
use bytes::{Buf, BytesMut};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub struct Client {
    pub stream: TcpStream,
    pub inbuf: BytesMut,
    pub out: BytesMut,
}

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

impl Client {
    /// TCP connect (from `local` if given), CONNECT, and wait for a successful CONNACK.
    pub async fn connect(
        addr: SocketAddr,
        client_id: &str,
        clean: bool,
        local: Option<IpAddr>,
    ) -> io::Result<Client> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = local {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut c = Client {
            stream,
            inbuf: BytesMut::with_capacity(4096),
            out: BytesMut::with_capacity(4096),
        };
        // 60 s: some brokers (rumqttd) refuse 0; every run is shorter than 1.5 keep-alives.
        wire::connect(&mut c.out, client_id, clean, 60);
        c.flush().await?;
        let (kind, body) = c.expect_one(Duration::from_secs(30)).await?;
        if kind != wire::CONNACK || body.get(1) != Some(&0) {
            return Err(err(format!(
                "{client_id}: connection refused ({kind}, {body:?})"
            )));
        }
        Ok(c)
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
            return Err(err("connection closed by the broker".into()));
        }
        Ok(())
    }

    /// Read whatever is there without waiting; Ok(false) when nothing was.
    pub fn try_read_more(&mut self) -> io::Result<bool> {
        self.inbuf.reserve(64 * 1024);
        match self.stream.try_read_buf(&mut self.inbuf) {
            Ok(0) => Err(err("connection closed by the broker".into())),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Hand every complete frame in the read buffer to `f`, then drop them from the buffer.
    pub fn drain_frames(&mut self, mut f: impl FnMut(&Frame<'_>, &mut BytesMut)) {
        let mut at = 0;
        while let Some((frame, n)) = wire::parse(&self.inbuf[at..]) {
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
        wire::subscribe(&mut self.out, 1, filters);
        self.flush().await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut at = 0;
            while let Some((f, n)) = wire::parse(&self.inbuf[at..]) {
                if f.kind == wire::SUBACK {
                    if f.body[2..].contains(&0x80) {
                        return Err(err("subscription refused".into()));
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
    /// unacknowledged; returns the number acknowledged (all of them at QoS 0).
    pub async fn publish_many(
        &mut self,
        n: usize,
        topic_of: impl Fn(usize) -> String,
        qos: u8,
        retain: bool,
        payload: &[u8],
        window: usize,
    ) -> io::Result<u64> {
        let (mut next, mut inflight, mut acked) = (0usize, 0usize, 0u64);
        while next < n || inflight > 0 {
            while next < n && (qos == 0 || inflight < window.max(1)) {
                let pkid = (next % 65535) as u16 + 1;
                wire::publish(&mut self.out, &topic_of(next), qos, retain, pkid, payload);
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
            self.drain_frames(|f, out| match f.kind {
                wire::PUBACK | wire::PUBCOMP => {
                    inflight -= 1;
                    acked += 1;
                }
                wire::PUBREC => wire::ack(out, wire::PUBREL, f.pkid()),
                _ => {}
            });
        }
        Ok(if qos == 0 { n as u64 } else { acked })
    }

    /// Receive (and acknowledge) PUBLISHes until `n` have arrived, or nothing arrives for
    /// `idle`. Returns how many arrived.
    pub async fn receive(&mut self, n: u64, idle: Duration) -> io::Result<u64> {
        let mut got = 0u64;
        loop {
            self.drain_frames(|f, out| match f.kind {
                wire::PUBLISH => {
                    got += 1;
                    let (pkid, _) = f.publish();
                    match f.qos() {
                        1 => wire::ack(out, wire::PUBACK, pkid),
                        2 => wire::ack(out, wire::PUBREC, pkid),
                        _ => {}
                    }
                }
                wire::PUBREL => wire::ack(out, wire::PUBCOMP, f.pkid()),
                _ => {}
            });
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
