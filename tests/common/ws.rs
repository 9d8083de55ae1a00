//! A blocking MQTT-over-WebSocket test client (tungstenite): frames are chosen by the test, so
//! tests can split a packet across frames or put several packets in one frame.

use super::packets::hex;
use super::raw::RawPacket;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

pub type Handshake = tungstenite::handshake::client::Response;

pub struct WsClient {
    ws: WebSocket<TcpStream>,
    buf: Vec<u8>,
}

/// How a WebSocket ended, as seen by the client.
#[derive(Debug)]
pub enum WsEnd {
    Close(Option<CloseFrame>),
    /// The TCP connection ended without a close frame.
    Dropped,
    Timeout,
}

impl WsClient {
    /// Open `ws://addr{path}` offering `protocol` (or no Sec-WebSocket-Protocol header).
    pub fn open(
        addr: SocketAddr,
        path: &str,
        protocol: Option<&str>,
    ) -> Result<(WsClient, Handshake), tungstenite::Error> {
        let mut req = format!("ws://{addr}{path}").into_client_request()?;
        if let Some(p) = protocol {
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
        }
        let tcp = TcpStream::connect(addr).expect("connect to the HTTP listener");
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let (ws, resp) = tungstenite::client(req, tcp).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => panic!("handshake interrupted"),
        })?;
        Ok((
            WsClient {
                ws,
                buf: Vec::new(),
            },
            resp,
        ))
    }

    /// `/mqtt` with subprotocol "mqtt"; panics on failure.
    pub fn mqtt(addr: SocketAddr) -> WsClient {
        Self::open(addr, "/mqtt", Some("mqtt"))
            .expect("websocket handshake")
            .0
    }

    /// Send `bytes` as one binary frame.
    pub fn send_frame(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::Binary(bytes.to_vec().into()))
            .expect("send frame");
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).expect("send text");
    }

    fn take_packet(&mut self) -> Option<RawPacket> {
        super::packets::split_packet(&mut self.buf)
    }

    /// Next frame-level event within `timeout`: Ok(bytes of a binary frame) or how it ended.
    fn next_binary(&mut self, deadline: Instant) -> Result<Vec<u8>, WsEnd> {
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(Message::Binary(b)) => return Ok(b.to_vec()),
                Ok(Message::Close(frame)) => return Err(WsEnd::Close(frame)),
                Ok(other) => panic!("unexpected frame from the broker: {other:?}"),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return Err(WsEnd::Dropped),
            }
        }
        Err(WsEnd::Timeout)
    }

    pub fn try_read_packet(&mut self, timeout: Duration) -> Result<RawPacket, WsEnd> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.take_packet() {
                return Ok(p);
            }
            let bytes = self.next_binary(deadline)?;
            self.buf.extend(bytes);
        }
    }

    pub fn read_packet(&mut self) -> RawPacket {
        self.try_read_packet(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("expected a packet over websocket, got {e:?}"))
    }

    /// The next packet must be exactly these bytes.
    pub fn expect(&mut self, bytes: &[u8]) {
        let (first, body) = self.read_packet();
        let mut got = vec![first];
        got.extend(super::packets::encode_remaining_length(body.len()));
        got.extend(body);
        assert_eq!(hex(&got), hex(bytes), "packet over websocket");
    }

    /// Read until the WebSocket ends (packets before that are returned).
    pub fn read_until_end(&mut self, timeout: Duration) -> (Vec<RawPacket>, WsEnd) {
        let deadline = Instant::now() + timeout;
        let mut packets = Vec::new();
        loop {
            while let Some(p) = self.take_packet() {
                packets.push(p);
            }
            match self.next_binary(deadline) {
                Ok(b) => self.buf.extend(b),
                Err(end) => return (packets, end),
            }
        }
    }

    /// Drop the TCP connection without a close frame (a client that vanished).
    pub fn vanish(self) {
        let _ = self.ws.get_ref().shutdown(std::net::Shutdown::Both);
    }
}
