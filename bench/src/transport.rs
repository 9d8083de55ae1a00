//! How the generator's clients reach the broker: plain TCP or TLS (`--tls-ca`), and the user
//! name and password they give (`--username`, `--password`).

use bytes::BytesMut;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// How every client of a run reaches the broker beyond plain MQTT over TCP: TLS (trusting
/// `--tls-ca`) and a user name and password (`{i}` in the user name becomes the client's
/// number, so that each client can be a user of its own). Set once, before any client.
#[derive(Default)]
pub struct Access {
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub username: Option<String>,
    pub password: Option<String>,
}

static ACCESS: OnceLock<Access> = OnceLock::new();

/// Set the run's [`Access`] (once, from main).
pub fn set_access(access: Access) {
    let _ = ACCESS.set(access);
}

pub fn access() -> &'static Access {
    ACCESS.get_or_init(Access::default)
}

/// A client certificate store trusting only `ca_pem` (a PEM file).
pub fn tls_config(ca_pem: &std::path::Path) -> io::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).map_err(|e| err(e.to_string()))? {
        roots
            .add(cert.map_err(|e| err(e.to_string()))?)
            .map_err(|e| err(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The number at the end of a generated client id ("b123-c42" -> "42").
pub fn client_number(client_id: &str) -> &str {
    let last = client_id.rsplit('-').next().unwrap_or("");
    last.trim_start_matches(|c: char| !c.is_ascii_digit())
}

/// A connection to the broker: plain TCP or TLS.
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    pub async fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(b).await,
            Stream::Tls(s) => {
                s.write_all(b).await?;
                s.flush().await
            }
        }
    }

    pub async fn read_buf(&mut self, b: &mut BytesMut) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read_buf(b).await,
            Stream::Tls(s) => s.read_buf(b).await,
        }
    }

    /// Whatever can be read without waiting (`WouldBlock` when nothing).
    pub fn try_read_buf(&mut self, b: &mut BytesMut) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(b),
            Stream::Tls(s) => {
                let dst = b.spare_capacity_mut();
                let mut rb = ReadBuf::uninit(dst);
                let mut cx = Context::from_waker(Waker::noop());
                match Pin::new(&mut **s).poll_read(&mut cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        // SAFETY: poll_read initialised and filled `n` bytes of the spare capacity.
                        unsafe { b.set_len(b.len() + n) };
                        Ok(n)
                    }
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                }
            }
        }
    }

    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
        }
    }
}
