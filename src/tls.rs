//! TLS for listeners, with rustls: the server configuration a `[[listeners]]` table describes
//! (certificate, key, clients' CA, minimum version), the user name a client certificate gives,
//! and the listener's certificate, key and clients' CA, which SIGHUP reads again
//! ([`CertStore`], [`ClientsCa`]).

mod ca;

pub use ca::ClientsCa;

use crate::config::{ListenerSpec, TlsVersion};
use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a verified client certificate says about the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertUser {
    /// The CONNECT's user name and the authenticator decide.
    None,
    /// `use_identity_as_username`: the subject's common name (CN).
    CommonName,
    /// `use_subject_as_username`: the whole subject, RFC 4514 (last RDN first: "CN=x,O=y,C=z"
    /// for a subject written C, O, CN).
    Subject,
}

impl CertUser {
    pub fn of(spec: &ListenerSpec) -> CertUser {
        if spec.use_identity_as_username {
            CertUser::CommonName
        } else if spec.use_subject_as_username {
            CertUser::Subject
        } else {
            CertUser::None
        }
    }

    /// The user name from the peer's certificate chain (leaf first), if this listener takes
    /// one. `Err` when it should and cannot (no certificate, no CN): the client is refused.
    pub fn username(self, chain: Option<&[CertificateDer<'_>]>) -> Result<Option<String>, String> {
        if self == CertUser::None {
            return Ok(None);
        }
        let leaf = chain
            .and_then(|c| c.first())
            .ok_or("no client certificate")?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| format!("client certificate unreadable: {e}"))?;
        let subject = cert.subject();
        match self {
            CertUser::CommonName => subject
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(|cn| Some(cn.to_owned()))
                .ok_or_else(|| "client certificate has no common name (CN)".to_owned()),
            _ => Ok(Some(rfc4514(subject))),
        }
    }
}

/// A distinguished name as RFC 4514 (and OpenSSL's XN_FLAG_RFC2253, which Mosquitto's
/// use_subject_as_username prints): last RDN first, "," between RDNs, "+" inside one.
fn rfc4514(name: &x509_parser::x509::X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type();
                    let key = x509_parser::objects::oid2abbrev(oid, registry)
                        .map(str::to_owned)
                        .unwrap_or_else(|_| oid.to_id_string());
                    let value = atv.as_str().map(escape).unwrap_or_else(|_| {
                        let hex: String =
                            atv.as_slice().iter().map(|b| format!("{b:02x}")).collect();
                        format!("#{hex}")
                    });
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i + 1 == v.chars().count() && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A TLS listener's certificate chain and key, which every new handshake takes from here, so
/// that [`CertStore::reload`] (SIGHUP, after a certificate renewal) changes them for new
/// connections without touching open ones. MQTT and WSS listeners share this one mechanism.
pub struct CertStore {
    /// `listeners[index]`, for messages.
    index: usize,
    certfile: PathBuf,
    keyfile: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
}

impl CertStore {
    fn load(
        index: usize,
        certfile: &Path,
        keyfile: &Path,
        provider: Arc<CryptoProvider>,
    ) -> io::Result<CertStore> {
        let key = certified_key(index, certfile, keyfile, &provider)?;
        Ok(CertStore {
            index,
            certfile: certfile.to_owned(),
            keyfile: keyfile.to_owned(),
            provider,
            current: ArcSwap::from_pointee(key),
        })
    }

    /// Reads the certificate and key files again; if they do not make a usable pair, keeps the
    /// old ones and returns why (listener, key, file, reason).
    pub fn reload(&self) -> io::Result<()> {
        let key = certified_key(self.index, &self.certfile, &self.keyfile, &self.provider)?;
        self.current.store(Arc::new(key));
        Ok(())
    }

    /// `listeners[N]` and the certificate file, for logs.
    pub fn describe(&self) -> String {
        format!("listeners[{}] {}", self.index, self.certfile.display())
    }
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn fail(index: usize, key: &str, path: &Path, why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("listeners[{index}].{key} {}: {why}", path.display()),
    )
}

/// The certificate chain of `certfile` with the key of `keyfile`, checked to belong together.
fn certified_key(
    index: usize,
    certfile: &Path,
    keyfile: &Path,
    provider: &CryptoProvider,
) -> io::Result<CertifiedKey> {
    let certs = read_certs(certfile).map_err(|e| fail(index, "certfile", certfile, e))?;
    let key = PrivateKeyDer::from_pem_file(keyfile).map_err(|e| {
        let why = format!("no usable private key: {e}");
        fail(index, "keyfile", keyfile, why)
    })?;
    CertifiedKey::from_der(certs, key, provider).map_err(|e| {
        let why = format!("does not fit the certificate: {e}");
        fail(index, "keyfile", keyfile, why)
    })
}

/// What SIGHUP reads again for one TLS listener.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub certs: Arc<CertStore>,
    /// With `cafile`.
    pub ca: Option<Arc<ClientsCa>>,
}

/// The rustls configuration of a TLS listener, and its files. Errors name the listener, the
/// key, the file and the reason, and stop start-up.
pub fn server_config(
    index: usize,
    spec: &ListenerSpec,
) -> io::Result<(Arc<ServerConfig>, TlsFiles)> {
    let (Some(certfile), Some(keyfile)) = (&spec.certfile, &spec.keyfile) else {
        return Err(io::Error::other(format!(
            "listeners[{index}]: not a TLS listener"
        )));
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let store = Arc::new(CertStore::load(index, certfile, keyfile, provider.clone())?);
    let versions: &[&rustls::SupportedProtocolVersion] = match spec.tls_version {
        TlsVersion::V12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::V13 => &[&rustls::version::TLS13],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| io::Error::other(format!("listeners[{index}]: {e}")))?;
    let (builder, ca) = match &spec.cafile {
        Some(cafile) => {
            let ca = ClientsCa::load(index, cafile, spec.require_certificate, provider)?;
            let ca = Arc::new(ca);
            (builder.with_client_cert_verifier(ca.clone()), Some(ca))
        }
        None => (builder.with_no_client_auth(), None),
    };
    let config = builder.with_cert_resolver(store.clone());
    Ok((Arc::new(config), TlsFiles { certs: store, ca }))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    match certs.is_empty() {
        true => Err("no certificate (PEM \"BEGIN CERTIFICATE\") in the file".into()),
        false => Ok(certs),
    }
}
