//! A minimal blocking HTTP/1.1 client for `courtier ctl`: one request per connection, plain
//! HTTP (the admin API is on loopback by default; reach a remote one through a tunnel).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `http://host:port` with an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host_port: String,
    pub prefix: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "{url}: only http:// is supported (the admin API listens on loopback; \
                     use an SSH tunnel for a remote broker), not {scheme}://"
                ))
            }
            None => url,
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let host_port = match host.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_ok() && !host.ends_with(']') => {
                host.to_owned()
            }
            _ => format!("{host}:80"),
        };
        Ok(Endpoint {
            host_port,
            prefix: format!("/{}", path.trim_end_matches('/'))
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}

/// Percent-encode everything but unreserved characters (and `/` with `keep_slash`).
pub fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Send `method path` with an `Authorization` header if given; the status and the body.
pub fn request(
    ep: &Endpoint,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> Result<(u16, String), String> {
    let fail = |e: std::io::Error| format!("{}: {e}", ep.host_port);
    let mut s = TcpStream::connect(&ep.host_port).map_err(fail)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(fail)?;
    let mut req = format!(
        "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\
         Accept: application/json\r\nUser-Agent: courtier-ctl\r\n",
        ep.prefix, ep.host_port
    );
    if let Some(a) = authorization {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(fail)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(fail)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the server's answer is not HTTP")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("the server's answer has no status")?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_encoding() {
        let ep = Endpoint::parse("http://127.0.0.1:9001").unwrap();
        assert_eq!(
            (ep.host_port.as_str(), ep.prefix.as_str()),
            ("127.0.0.1:9001", "")
        );
        let ep = Endpoint::parse("http://broker/admin/").unwrap();
        assert_eq!(
            (ep.host_port.as_str(), ep.prefix.as_str()),
            ("broker:80", "/admin")
        );
        assert!(Endpoint::parse("https://x:1").is_err());
        assert_eq!(encode("homeassistant/#", false), "homeassistant%2F%23");
        assert_eq!(encode("a b/+", true), "a%20b/%2B");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, "abcde".to_owned()));
    }
}
