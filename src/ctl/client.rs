//! A small HTTP/1.1 client over a std `TcpStream`, enough for the broker's API: JSON requests,
//! whole or streamed (chunked) responses. No client library: `ctl` needs plain HTTP to one
//! known server, and a dependency (with its TLS stack) would outweigh these lines.

use super::CtlArgs;
use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// The API of one broker: its address, path prefix and credentials.
pub struct Api {
    host: String,
    prefix: String,
    authorization: Option<String>,
}

/// A response's status and the reader positioned at its body.
pub struct Response {
    pub status: u16,
    chunked: bool,
    length: Option<usize>,
    reader: BufReader<TcpStream>,
}

impl Api {
    pub fn new(args: &CtlArgs) -> Result<Api, String> {
        let rest = args
            .url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url {:?}: only http:// URLs are supported", args.url))?;
        let (host, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(format!("--url {:?}: no host", args.url));
        }
        let authorization = match (&args.token, &args.user, &args.password) {
            (Some(token), _, _) => Some(format!("Bearer {token}")),
            (None, Some(user), Some(password)) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            _ => None,
        };
        Ok(Api {
            host: host.to_owned(),
            prefix: prefix.to_owned(),
            authorization,
        })
    }

    /// Send `method path` with an optional JSON body; the response's body is left to read.
    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> Result<Response, String> {
        let mut s = TcpStream::connect(&self.host)
            .map_err(|e| format!("cannot reach the broker's API at {}: {e}", self.host))?;
        let mut req = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: */*\r\n",
            self.prefix, self.host
        );
        if let Some(a) = &self.authorization {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body.unwrap_or(""));
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {line:?}"))?;
        let (mut chunked, mut length) = (false, None);
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "transfer-encoding" => chunked = value.contains("chunked"),
                    "content-length" => length = value.trim().parse().ok(),
                    _ => {}
                }
            }
        }
        Ok(Response {
            status,
            chunked,
            length,
            reader,
        })
    }

    /// A JSON request whose whole JSON answer is wanted; an error status becomes the error,
    /// with the API's `"error"` message.
    pub fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<serde_json::Value, String> {
        let mut r = self.send(method, path, body)?;
        let status = r.status;
        let text = r.body()?;
        let value: serde_json::Value = match text.trim() {
            "" => serde_json::Value::Null,
            t => serde_json::from_str(t).map_err(|e| format!("answer is not JSON ({e}): {t}"))?,
        };
        if !(200..300).contains(&status) {
            let why = value["error"].as_str().unwrap_or(text.trim());
            return Err(format!("{method} {path}: HTTP {status}: {why}"));
        }
        Ok(value)
    }
}

impl Response {
    /// The whole body.
    pub fn body(&mut self) -> Result<String, String> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk()? {
            out.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The next piece of the body as it arrives (one chunk of a chunked body); `None` at the
    /// end.
    pub fn chunk(&mut self) -> Result<Option<Vec<u8>>, String> {
        let err = |e: std::io::Error| e.to_string();
        if !self.chunked {
            let mut buf = Vec::new();
            match self.length.take() {
                Some(0) => return Ok(None),
                Some(n) => {
                    buf.resize(n, 0);
                    self.reader.read_exact(&mut buf).map_err(err)?;
                    self.length = Some(0);
                }
                None => {
                    self.reader.read_to_end(&mut buf).map_err(err)?;
                    self.length = Some(0);
                }
            }
            return Ok(Some(buf));
        }
        let mut size = String::new();
        if self.reader.read_line(&mut size).map_err(err)? == 0 {
            return Ok(None);
        }
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| format!("bad chunk size {size:?}"))?;
        let mut buf = vec![0; size + 2];
        self.reader.read_exact(&mut buf).map_err(err)?;
        buf.truncate(size);
        Ok((size > 0).then_some(buf))
    }
}
