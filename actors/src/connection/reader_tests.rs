use super::*;
use crate::codec::{Ack, ProtocolVersion, Publish, QoS};
use futures_util::StreamExt;
use std::collections::VecDeque;
use tokio::io::ReadBuf;
use tokio_util::codec::Encoder;

/// A socket that returns the given chunks one read each (a `None` chunk is one `Pending`),
/// then end of stream.
struct Chunks(VecDeque<Option<Vec<u8>>>);

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.0.pop_front() {
            None => Poll::Ready(Ok(())),
            Some(None) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Some(mut chunk)) => {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.0.push_front(Some(chunk.split_off(n)));
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

fn encode(packets: &[Packet]) -> Vec<u8> {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, u32::MAX);
    let mut out = BytesMut::new();
    for p in packets {
        codec.encode(p, &mut out).unwrap();
    }
    out.to_vec()
}

fn publish(payload_len: usize) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "a/b".into(),
        pkid: Some(7),
        payload: vec![0x5a; payload_len].into(),
        properties: Default::default(),
    })
}

fn reader(chunks: Vec<Option<Vec<u8>>>) -> PacketReader<Chunks> {
    let codec = MqttCodec::with_version(ProtocolVersion::V311, u32::MAX);
    let watch = super::super::deadlines::Watch::unwatched();
    PacketReader::new(Chunks(chunks.into()), codec, Arc::default(), watch)
}

/// Everything the reader yields until the end: packets and errors (`Drained` left out).
async fn collect(r: &mut PacketReader<Chunks>) -> Vec<Result<Packet, DecodeError>> {
    let mut out = Vec::new();
    while let Some(item) = r.next().await {
        match item {
            Ok(Read::Packet(p)) => out.push(Ok(p)),
            Ok(Read::Drained) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

/// The next item, which must be a packet.
async fn next_packet(r: &mut PacketReader<Chunks>) -> Packet {
    match r.next().await {
        Some(Ok(Read::Packet(p))) => p,
        other => panic!("expected a packet, got {other:?}"),
    }
}

#[tokio::test]
async fn several_packets_in_one_read_and_one_packet_over_many_reads() {
    let packets = vec![
        Packet::PingReq,
        publish(10),
        Packet::PubAck(Ack::new(3)),
        publish(100_000),
        Packet::PingReq,
    ];
    let bytes = encode(&packets);
    // Odd chunk sizes split headers and bodies alike; `None` is a socket with nothing yet.
    let chunks = bytes
        .chunks(1000)
        .flat_map(|c| [Some(c[..1].to_vec()), None, Some(c[1..].to_vec())])
        .collect();
    let mut r = reader(chunks);
    let got: Vec<Packet> = collect(&mut r)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, packets);
    assert_eq!(r.metrics.bytes_received.load(Relaxed), bytes.len() as u64);
}

#[tokio::test]
async fn no_buffer_is_kept_between_packets() {
    let bytes = encode(&[Packet::PingReq, Packet::PingReq]);
    let mut r = reader(vec![Some(bytes), None]);
    assert_eq!(next_packet(&mut r).await, Packet::PingReq);
    assert_eq!(next_packet(&mut r).await, Packet::PingReq);
    assert_eq!(r.buf.capacity(), 0, "no read buffer between packets");
    // The next poll finds the socket empty; the buffer it took went back to the pool.
    let spares = buffers::spares();
    assert!(spares >= 1);
    let waker = futures_util::task::noop_waker();
    assert!(Pin::new(&mut r)
        .poll_next(&mut Context::from_waker(&waker))
        .is_pending());
    assert_eq!(
        r.buf.capacity(),
        0,
        "an idle connection holds no read buffer"
    );
    assert_eq!(
        buffers::spares(),
        spares,
        "the read took a spare and gave it back"
    );
}

#[tokio::test]
async fn a_partial_packet_keeps_only_its_own_bytes() {
    let mut bytes = encode(&[Packet::PingReq, publish(10)]);
    bytes.truncate(bytes.len() - 4);
    let partial = bytes.len() - 2;
    let mut r = reader(vec![Some(bytes), None, None]);
    assert_eq!(next_packet(&mut r).await, Packet::PingReq);
    // The next poll decodes nothing, reads `Pending` and compacts what is left.
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut r).poll_next(&mut cx).is_pending());
    assert_eq!(r.buf.len(), partial);
    assert!(r.buf.capacity() < 64, "capacity {}", r.buf.capacity());
}

#[tokio::test]
async fn drained_comes_once_after_a_read_that_brought_publishes_when_the_socket_has_nothing_more() {
    let first = encode(&[publish(10), publish(10), Packet::PingReq]);
    // The second read ends in the middle of a packet: drained after the whole ones only.
    let mut second = encode(&[publish(10), publish(10)]);
    let tail = second.split_off(second.len() - 3);
    let ping = encode(&[Packet::PingReq]);
    let chunks = vec![
        None,
        Some(first),
        None,
        None,
        Some(second),
        None,
        None,
        Some(tail),
        None,
        None,
        Some(ping),
        None,
    ];
    let mut r = reader(chunks);
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut poll = || match Pin::new(&mut r).poll_next(&mut cx) {
        Poll::Ready(Some(Ok(Read::Packet(p)))) => p.kind().to_string(),
        Poll::Ready(Some(Ok(Read::Drained))) => "drained".to_string(),
        Poll::Ready(other) => format!("{other:?}"),
        Poll::Pending => "pending".to_string(),
    };
    let got: Vec<String> = std::iter::from_fn(|| Some(poll())).take(15).collect();
    let want = [
        "pending", // nothing read yet: nothing to hand over
        "PUBLISH", "PUBLISH", "PINGREQ", "drained", "pending", // once, not again
        "PUBLISH", "drained", "pending", // a partial packet left
        "PUBLISH", "drained", "pending", // completed by the next read
        "PINGREQ", "pending", // no PUBLISH read: nothing held, no word
        "None",
    ];
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_truncated_last_packet_is_an_error_then_the_end() {
    let mut bytes = encode(&[publish(10)]);
    bytes.pop();
    let mut r = reader(vec![Some(bytes)]);
    let got = collect(&mut r).await;
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], Err(DecodeError::Io(_))), "{got:?}");
}

#[tokio::test]
async fn a_malformed_packet_ends_the_stream() {
    let mut bytes = encode(&[Packet::PingReq]);
    bytes.extend_from_slice(&[0x00, 0x00]); // packet type 0 is reserved
    bytes.extend_from_slice(&encode(&[Packet::PingReq]));
    let got = collect(&mut reader(vec![Some(bytes)])).await;
    assert_eq!(got.len(), 2);
    assert!(got[1].is_err());
}

#[tokio::test]
async fn after_a_large_packet_the_rest_moves_to_a_small_buffer() {
    let mut bytes = encode(&[publish(1_000_000)]);
    let next = encode(&[publish(2_000)]);
    bytes.extend_from_slice(&next[..1_500]);
    let mut r = reader(vec![Some(bytes), None, None]);
    assert_eq!(next_packet(&mut r).await, publish(1_000_000));
    let waker = futures_util::task::noop_waker();
    let drained = Pin::new(&mut r).poll_next(&mut Context::from_waker(&waker));
    assert!(matches!(drained, Poll::Ready(Some(Ok(Read::Drained)))));
    assert_eq!(r.buf.len(), 1_500);
    assert!(
        r.buf.capacity() <= 2 * buffers::BUF_LEN,
        "the megabyte buffer is kept: capacity {}",
        r.buf.capacity()
    );
}

#[test]
fn a_buffer_advanced_past_a_large_packet_is_not_pooled() {
    // What the reader holds after decoding a packet of 1 MB less 8 KB: the allocation is
    // whole, but `capacity()` counts only the 8 KB of room after the packet.
    let mut big = BytesMut::with_capacity(1 << 20);
    big.resize((1 << 20) - 8 * 1024, 0);
    bytes::Buf::advance(&mut big, (1 << 20) - 8 * 1024);
    assert!(big.capacity() <= 128 * 1024);
    let before = buffers::spares();
    buffers::give(big);
    assert_eq!(
        buffers::spares(),
        before,
        "a 1 MB allocation went to the pool"
    );
    let mut small = buffers::take();
    small.extend_from_slice(&[1; 100]);
    bytes::Buf::advance(&mut small, 100);
    buffers::give(small);
    assert_eq!(buffers::spares(), before + 1, "a pool-sized buffer is kept");
}

#[tokio::test]
async fn before_connect_the_connect_limit_applies_and_after_it_max_packet_size() {
    // A CONNECT announcing 256 MB (remaining length 268,435,455), with its protocol level:
    // refused from its first bytes, nothing reserved for it.
    let head = vec![
        0x10, 0xff, 0xff, 0xff, 0x7f, 0, 4, b'M', b'Q', b'T', b'T', 5,
    ];
    let mut r = PacketReader::new(
        Chunks(vec![Some(head), None].into()),
        MqttCodec::new(1 << 20),
        Arc::default(),
        super::super::deadlines::Watch::unwatched(),
    )
    .with_connect_limit(100);
    let got = r.next().await.unwrap();
    assert!(
        matches!(
            got,
            Err(DecodeError::ConnectTooLarge {
                size: 268_435_460,
                max: 100,
                level: 5
            })
        ),
        "{got:?}"
    );

    // A CONNECT within the limit, then a 10 KB PUBLISH within max_packet_size.
    let connect = Packet::Connect(Box::new(crate::codec::Connect {
        protocol: ProtocolVersion::V311,
        clean_start: true,
        keep_alive: 60,
        client_id: "c".into(),
        will: None,
        username: None,
        password: None,
        properties: Default::default(),
        bridge: false,
    }));
    let mut bytes = encode(std::slice::from_ref(&connect));
    assert!(bytes.len() <= 100);
    bytes.extend(encode(&[publish(10_000)]));
    let mut r = PacketReader::new(
        Chunks(vec![Some(bytes)].into()),
        MqttCodec::new(1 << 20),
        Arc::default(),
        super::super::deadlines::Watch::unwatched(),
    )
    .with_connect_limit(100);
    assert_eq!(next_packet(&mut r).await, connect);
    assert_eq!(next_packet(&mut r).await, publish(10_000));
}
