//! A reader of `/api/v1/traces/{id}/stream` on a plain socket.

use super::*;

/// A live reader of `/api/v1/traces/{id}/stream`: (event name, JSON data) as they arrive.
pub struct Sse {
    events: mpsc::Receiver<(String, Value)>,
}

impl Sse {
    /// Connected and past the opening `trace` event.
    pub fn open(http: SocketAddr, id: u64) -> Sse {
        let mut s = TcpStream::connect(http).unwrap();
        write!(
            s,
            "GET /api/v1/traces/{id}/stream HTTP/1.1\r\nHost: {http}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.contains(" 200 "), "{line}");
        let mut chunked = false;
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            let l = line.to_lowercase();
            chunked |= l.starts_with("transfer-encoding") && l.contains("chunked");
            if l.starts_with("content-type") {
                assert!(l.contains("text/event-stream"), "{l}");
            }
        }
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            loop {
                let mut piece = String::new();
                if chunked {
                    let mut size = String::new();
                    if r.read_line(&mut size).unwrap_or(0) == 0 {
                        return;
                    }
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    let mut buf = vec![0; n + 2];
                    if r.read_exact(&mut buf).is_err() {
                        return;
                    }
                    piece.push_str(&String::from_utf8_lossy(&buf[..n]));
                } else if r.read_line(&mut piece).unwrap_or(0) == 0 {
                    return;
                }
                text.push_str(&piece);
                while let Some(end) = text.find("\n\n") {
                    let ev: String = text.drain(..end + 2).collect();
                    let mut name = "message".to_owned();
                    let mut data = String::new();
                    for l in ev.lines() {
                        if let Some(n) = l.strip_prefix("event: ") {
                            name = n.to_owned();
                        } else if let Some(d) = l.strip_prefix("data: ") {
                            data.push_str(d);
                        }
                    }
                    if !data.is_empty() {
                        let _ = tx.send((name, serde_json::from_str(&data).unwrap()));
                    }
                }
            }
        });
        let sse = Sse { events };
        let (name, v) = sse.next();
        assert_eq!(name, "trace");
        assert_eq!(v["id"], id);
        sse
    }

    pub fn next(&self) -> (String, Value) {
        self.events
            .recv_timeout(Duration::from_secs(10))
            .expect("an event within 10 s")
    }

    /// Records until one has hop `hop`; all of them, in order.
    pub fn records_until(&self, hop: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let (name, v) = self.next();
            assert_eq!(name, "message", "{v} after {seen:#?}");
            let done = v["hop"] == hop;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }
}
