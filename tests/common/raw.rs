//! A raw-bytes MQTT client on a blocking `std::net::TcpStream`. It frames packets itself (fixed
//! header + remaining length) and never uses the broker's codec, so it can send anything.

use super::packets::{connect as connect_bytes, hex, subscribe, unhex, Connect, Publish};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long `read_packet`/`expect_*` wait by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One packet as framed on the wire: the first byte (type and flags) and the body.
pub type RawPacket = (u8, Vec<u8>);

/// Why a read ended without a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// Nothing (complete) arrived within the time given.
    Timeout,
    /// The peer closed or reset the connection; `partial` bytes were left unparsed.
    Closed { partial: usize },
}

pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect_timeout(&addr, DEFAULT_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        RawClient::from_stream(stream)
    }

    /// Wrap a connected socket (for tests that set socket options before connecting).
    pub fn from_stream(stream: TcpStream) -> RawClient {
        stream.set_nodelay(true).unwrap();
        RawClient {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connect, send a 3.1.1 CONNECT and expect CONNACK 0; returns the client and session present.
    pub fn handshake(addr: SocketAddr, client_id: &str, clean: bool) -> (RawClient, bool) {
        Self::handshake_with(addr, &Connect::v311(client_id).clean(clean))
    }

    pub fn handshake_with(addr: SocketAddr, c: &Connect) -> (RawClient, bool) {
        let mut cl = RawClient::connect(addr);
        cl.send(&c.to_bytes());
        let (first, body) = cl.read_packet();
        assert_eq!(first, 0x20, "expected CONNACK, got {}", hex(&[first]));
        assert_eq!(body.len(), 2, "CONNACK body {}", hex(&body));
        assert_eq!(body[1], 0, "CONNACK return code {}", body[1]);
        (cl, body[0] & 1 == 1)
    }

    /// Clean-session client, connected.
    pub fn connected(addr: SocketAddr, client_id: &str) -> RawClient {
        Self::handshake(addr, client_id, true).0
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write {}: {e}", hex(bytes)));
    }

    /// Like `send` but tolerates a connection the broker already closed.
    pub fn send_lossy(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    pub fn send_hex(&mut self, h: &str) {
        self.send(&unhex(h));
    }

    /// Send CONNECT 3.1.1 only (no wait).
    pub fn send_connect(&mut self, client_id: &str, clean: bool) {
        self.send(&connect_bytes(client_id, clean));
    }

    /// Split one packet at the given offsets into several writes, `delay` apart.
    pub fn send_split(&mut self, bytes: &[u8], cuts: &[usize], delay: Duration) {
        let mut start = 0;
        for &c in cuts.iter().chain(std::iter::once(&bytes.len())) {
            self.send(&bytes[start..c]);
            start = c;
            if c != bytes.len() {
                std::thread::sleep(delay);
            }
        }
    }

    fn take_packet(&mut self) -> Option<RawPacket> {
        super::packets::split_packet(&mut self.buf)
    }

    /// Read one packet, waiting at most `timeout`.
    pub fn try_read_packet(&mut self, timeout: Duration) -> Result<RawPacket, ReadEnd> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.take_packet() {
                return Ok(p);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReadEnd::Timeout);
            }
            self.stream
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(ReadEnd::Closed {
                        partial: self.buf.len(),
                    })
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    return Err(ReadEnd::Closed {
                        partial: self.buf.len(),
                    })
                }
            }
        }
    }

    /// Read one packet or panic (timeout: `DEFAULT_TIMEOUT`).
    pub fn read_packet(&mut self) -> RawPacket {
        match self.try_read_packet(DEFAULT_TIMEOUT) {
            Ok(p) => p,
            Err(e) => panic!("expected a packet, got {e:?}"),
        }
    }

    /// The next packet must be exactly these bytes.
    pub fn expect(&mut self, bytes: &[u8]) {
        let (first, body) = self.read_packet();
        let mut got = vec![first];
        got.extend(super::packets::encode_remaining_length(body.len()));
        got.extend(body);
        assert_eq!(hex(&got), hex(bytes), "unexpected packet");
    }

    /// The next `expected.len()` packets must be exactly these, in any order (a broker may send
    /// a PUBACK and a delivery for the same client in either order).
    pub fn expect_unordered(&mut self, expected: &[Vec<u8>]) {
        let mut want: Vec<String> = expected.iter().map(|b| hex(b)).collect();
        let mut got_all = Vec::new();
        for _ in 0..expected.len() {
            let (first, body) = self.read_packet();
            let mut got = vec![first];
            got.extend(super::packets::encode_remaining_length(body.len()));
            got.extend(body);
            let h = hex(&got);
            match want.iter().position(|w| *w == h) {
                Some(i) => {
                    want.remove(i);
                }
                None => panic!(
                    "unexpected packet {h}; still expecting {want:?} (already got {got_all:?})"
                ),
            }
            got_all.push(h);
        }
    }

    pub fn expect_hex(&mut self, h: &str) {
        self.expect(&unhex(h));
    }

    /// The next packet must be a PUBLISH; returns it decoded.
    pub fn recv_publish(&mut self) -> Publish {
        let (first, body) = self.read_packet();
        Publish::parse(first, &body)
            .unwrap_or_else(|| panic!("expected PUBLISH, got {:02x} {}", first, hex(&body)))
    }

    /// The broker must close the connection within `timeout` without sending any packet.
    pub fn expect_closed(&mut self, timeout: Duration) {
        match self.try_read_packet(timeout) {
            Err(ReadEnd::Closed { partial: 0 }) => {}
            Err(e) => panic!("expected the broker to close the connection, got {e:?}"),
            Ok((f, b)) => panic!(
                "expected the connection closed, got packet {:02x} {}",
                f,
                hex(&b)
            ),
        }
    }

    /// The broker must close the connection within `timeout`; packets before the close are
    /// returned (e.g. a CONNACK with an error code).
    pub fn expect_closed_after_packets(&mut self, timeout: Duration) -> Vec<RawPacket> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            match self.try_read_packet(deadline.saturating_duration_since(Instant::now())) {
                Ok(p) => got.push(p),
                Err(ReadEnd::Closed { .. }) => return got,
                Err(ReadEnd::Timeout) => {
                    panic!("connection still open after {timeout:?}; got {got:?}")
                }
            }
        }
    }

    /// Nothing must arrive (and the connection must stay open) for `dur`.
    pub fn expect_silence(&mut self, dur: Duration) {
        match self.try_read_packet(dur) {
            Err(ReadEnd::Timeout) => {}
            Err(e) => panic!("expected silence, connection ended: {e:?}"),
            Ok((f, b)) => panic!("expected silence, got packet {:02x} {}", f, hex(&b)),
        }
    }

    /// SUBSCRIBE and wait for the SUBACK; returns the return codes.
    pub fn subscribe(&mut self, packet_id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
        self.send(&subscribe(packet_id, filters));
        let (first, body) = self.read_packet();
        assert_eq!(
            first,
            0x90,
            "expected SUBACK, got {:02x} {}",
            first,
            hex(&body)
        );
        assert_eq!(&body[..2], &packet_id.to_be_bytes(), "SUBACK packet id");
        body[2..].to_vec()
    }

    /// Close the socket without DISCONNECT.
    pub fn drop_connection(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}
