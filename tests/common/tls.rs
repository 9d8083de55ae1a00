//! Certificates made at test time (rcgen) and TLS clients for them: a CA, a server certificate
//! for localhost and 127.0.0.1, client certificates signed by the CA, and a second CA whose
//! clients the broker must refuse. Nothing here is a real key.

#![allow(dead_code)]

use super::http;
use super::process::BrokerProcess;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SignatureAlgorithm,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Ca {
    pub pem: String,
    pub der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    fn sign(&self, params: CertificateParams, alg: &'static SignatureAlgorithm) -> Leaf {
        let key = KeyPair::generate_for(alg).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A server certificate for localhost and 127.0.0.1 with a key of `alg`.
    pub fn server(&self, alg: &'static SignatureAlgorithm) -> Leaf {
        let mut p = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "localhost");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(p, alg)
    }

    /// A client certificate with this common name (and organisation, for subjects).
    pub fn client(&self, cn: &str) -> Leaf {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(DnType::OrganizationName, "Courtier Tests");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(p, &rcgen::PKCS_ECDSA_P256_SHA256)
    }
}

/// Writes `text` into `dir/name`; returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A client trusting `ca`, with `client` as its certificate if given, TLS 1.2 only if `tls12`.
pub fn client_config(ca: &Ca, client: Option<&Leaf>, tls12: bool) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(ca.der.clone()).unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = match tls12 {
        true => &[&rustls::version::TLS12],
        false => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(leaf) => {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone()));
            builder
                .with_client_auth_cert(vec![leaf.der.clone()], key)
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// A raw TLS connection to `addr` (name "localhost"); the error says why the handshake failed.
pub async fn connect(
    addr: std::net::SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// The files of one test: a CA, another CA, a server certificate, the config directory.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    pub other_ca: Ca,
}

impl Setup {
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let ca = Ca::new("Courtier Test CA");
        let server = ca.server(&rcgen::PKCS_ECDSA_P256_SHA256);
        write(dir.path(), "server.pem", &server.cert_pem);
        write(dir.path(), "server.key", &server.key_pem);
        write(dir.path(), "ca.pem", &ca.pem);
        Setup {
            dir,
            ca,
            other_ca: Ca::new("Someone Else's CA"),
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A `[[listeners]]` table on 127.0.0.1, port 0, with the server certificate and `extra`.
    pub fn tls_listener(&self, extra: &str) -> String {
        format!(
            "[[listeners]]\nport = 0\nbind = \"127.0.0.1\"\ncertfile = {:?}\nkeyfile = {:?}\n{extra}\n",
            self.path("server.pem"),
            self.path("server.key")
        )
    }

    /// Start the broker with `conf`; returns it and every MQTT listener's address, in order.
    pub fn start(&self, conf: &str, mqtt_listeners: usize) -> (BrokerProcess, Vec<SocketAddr>) {
        write(&self.dir.path().join("conf"), "10-test.toml", conf);
        let b = BrokerProcess::start(
            &self.dir.path().join("data"),
            &["--config-dir", &self.path("conf")],
            &[],
        );
        let mut addrs = vec![b.addr];
        while addrs.len() < mqtt_listeners {
            let line = b.log.recv_timeout(Duration::from_secs(10)).unwrap();
            if let Some(rest) = line.split("listening for MQTT on ").nth(1) {
                addrs.push(rest.split_whitespace().next().unwrap().parse().unwrap());
            }
        }
        (b, addrs)
    }
}

/// The address in a start-up line "listening for {what} on ADDR".
pub fn logged_addr(b: &BrokerProcess, what: &str) -> SocketAddr {
    let line = b
        .startup_log
        .iter()
        .find_map(|l| l.split(&format!("listening for {what} on ")).nth(1))
        .unwrap_or_else(|| panic!("no {what} listener in {:#?}", b.startup_log));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

/// Wait until a log line contains every one of `parts`.
pub fn wait_log(b: &BrokerProcess, seen: &mut Vec<String>, parts: &[&str]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(l) = seen.iter().find(|l| parts.iter().all(|p| l.contains(p))) {
            return l.clone();
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match b.log.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no log line with {parts:?} in {seen:#?}"),
        }
    }
}

/// CONNECT over a TLS connection and return the first 4 bytes answered (CONNACK), or the error.
pub async fn tls_connect(
    addr: SocketAddr,
    ca: &Ca,
    client: Option<&Leaf>,
    tls12: bool,
) -> std::io::Result<Vec<u8>> {
    let mut s = connect(addr, client_config(ca, client, tls12)).await?;
    s.write_all(&super::connect("tls-raw", true)).await?;
    let mut buf = vec![0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .map_err(|_| std::io::Error::other("no CONNACK in 5 s"))??;
    Ok(buf)
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

pub fn metric(b: &BrokerProcess, name: &str) -> f64 {
    let http = logged_addr(b, "HTTP");
    let body = http::get(http, "/metrics").body;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}
