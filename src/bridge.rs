//! The server shell's part of `[[bridges]]`: how each bridge reaches its remote (TCP, or TLS
//! with rustls: the remote's CA, an optional client certificate, the server name), and starting
//! the bridges on the broker. The bridge itself is `courtier_actors::bridge`.

use crate::config::BridgeSettings;
use courtier_actors::bridge::{Dial, Transport};
use courtier_actors::Broker;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::io;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The CA bundle of Debian's `ca-certificates`, used for TLS bridges without `cafile`.
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Build every bridge's dialer (reading its TLS files, so a bad file stops start-up with the
/// bridge, key and reason), then start them all.
pub async fn start_all(broker: &Broker, bridges: &[BridgeSettings]) -> io::Result<()> {
    let dials = bridges
        .iter()
        .enumerate()
        .map(|(i, b)| {
            dialer(b).map_err(|e| io::Error::other(format!("bridges[{i}] ({}): {e}", b.name)))
        })
        .collect::<io::Result<Vec<_>>>()?;
    for (b, dial) in bridges.iter().zip(dials) {
        let spec = b.spec();
        log::info!(
            "bridge {}: to {} ({}), {} topic entries",
            spec.name,
            spec.addresses.join(", "),
            if b.uses_tls() { "TLS" } else { "TCP" },
            spec.topics.len()
        );
        // Subscribed before the listeners accept anyone (the caller starts them after this).
        broker.start_bridge(spec, dial).1.await;
    }
    for name in broker.unclaimed_bridge_queues() {
        log::warn!(
            "the store holds a queue of bridge {name:?}, which is no longer configured; it is kept \
             (configure the bridge again to send it)"
        );
    }
    Ok(())
}

/// How a bridge opens a connection to one of its addresses.
pub fn dialer(b: &BridgeSettings) -> io::Result<Dial> {
    if !b.uses_tls() {
        return Ok(Arc::new(|addr: &str| {
            let addr = addr.to_owned();
            Box::pin(async move {
                let tcp = TcpStream::connect(&addr).await?;
                tcp.set_nodelay(true)?;
                Ok(Box::new(tcp) as Box<dyn Transport>)
            })
        }));
    }
    let connector = TlsConnector::from(Arc::new(client_config(b)?));
    let server_name = b.tls_server_name.clone();
    Ok(Arc::new(move |addr: &str| {
        let addr = addr.to_owned();
        let connector = connector.clone();
        let host = server_name
            .clone()
            .unwrap_or_else(|| host_of(&addr).to_owned());
        Box::pin(async move {
            let name = ServerName::try_from(host.clone())
                .map_err(|_| io::Error::other(format!("{host:?} is not a TLS server name")))?;
            let tcp = TcpStream::connect(&addr).await?;
            tcp.set_nodelay(true)?;
            let tls = connector.connect(name, tcp).await?;
            Ok(Box::new(tls) as Box<dyn Transport>)
        })
    }))
}

/// The host of "host:port" or "[v6]:port".
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn client_config(b: &BridgeSettings) -> io::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cafile = b.cafile.as_deref().unwrap_or(Path::new(SYSTEM_CAS));
    let mut roots = RootCertStore::empty();
    for cert in read_certs(cafile, "cafile")? {
        roots
            .add(cert)
            .map_err(|e| io::Error::other(format!("cafile {cafile:?}: {e}")))?;
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots);
    match (&b.certfile, &b.keyfile) {
        (Some(certfile), Some(keyfile)) => {
            let certs = read_certs(certfile, "certfile")?;
            let key = PrivateKeyDer::from_pem_file(keyfile)
                .map_err(|e| io::Error::other(format!("keyfile {keyfile:?}: {e}")))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| io::Error::other(format!("certfile/keyfile: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn read_certs(path: &Path, key: &str) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| io::Error::other(format!("{key} {path:?}: {e}")))?;
    if certs.is_empty() {
        return Err(io::Error::other(format!("{key} {path:?}: no certificate")));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_of_strips_the_port_and_brackets() {
        assert_eq!(super::host_of("example.com:8883"), "example.com");
        assert_eq!(super::host_of("[::1]:1883"), "::1");
    }
}
