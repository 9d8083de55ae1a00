//! The clients' CA of a TLS listener with `cafile`, which every new handshake verifies client
//! certificates against, so that [`ClientsCa::reload`] (SIGHUP) changes it for new connections
//! without touching open ones.

use super::{fail, read_certs};
use arc_swap::ArcSwap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, Error, RootCertStore, SignatureScheme};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct ClientsCa {
    /// `listeners[index]`, for messages.
    index: usize,
    cafile: PathBuf,
    require_certificate: bool,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<Arc<dyn ClientCertVerifier>>,
}

impl ClientsCa {
    pub fn load(
        index: usize,
        cafile: &Path,
        require_certificate: bool,
        provider: Arc<CryptoProvider>,
    ) -> io::Result<ClientsCa> {
        let verifier = verifier(index, cafile, require_certificate, &provider)?;
        Ok(ClientsCa {
            index,
            cafile: cafile.to_owned(),
            require_certificate,
            provider,
            current: ArcSwap::from_pointee(verifier),
        })
    }

    /// Reads `cafile` again; if it holds no usable CA, keeps the old one and returns why
    /// (listener, key, file, reason).
    pub fn reload(&self) -> io::Result<()> {
        let verifier = verifier(
            self.index,
            &self.cafile,
            self.require_certificate,
            &self.provider,
        )?;
        self.current.store(Arc::new(verifier));
        Ok(())
    }

    /// `listeners[N]` and the CA file, for logs.
    pub fn describe(&self) -> String {
        format!("listeners[{}] {}", self.index, self.cafile.display())
    }
}

/// rustls's WebPKI verifier for the certificates of `cafile`; client certificates are optional
/// unless `require_certificate`.
fn verifier(
    index: usize,
    cafile: &Path,
    require_certificate: bool,
    provider: &Arc<CryptoProvider>,
) -> io::Result<Arc<dyn ClientCertVerifier>> {
    let fail = |why: String| fail(index, "cafile", cafile, why);
    let mut roots = RootCertStore::empty();
    for cert in read_certs(cafile).map_err(fail)? {
        roots
            .add(cert)
            .map_err(|e| fail(format!("not a usable CA: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let verifier = match require_certificate {
        true => verifier,
        false => verifier.allow_unauthenticated(),
    };
    verifier.build().map_err(|e| fail(e.to_string()))
}

impl std::fmt::Debug for ClientsCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Each call asks the CA in force; a handshake that began before a reload may finish with the
/// new one, which is what a reload means for it.
impl ClientCertVerifier for ClientsCa {
    fn offer_client_auth(&self) -> bool {
        self.current.load().offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.current.load().client_auth_mandatory()
    }

    /// None: the list cannot be lent out of a CA that a reload may replace. Clients then offer
    /// the certificate they have (mosquitto_pub, paho and MQTT.js take one).
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        (self.current.load()).verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        (self.current.load()).verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        (self.current.load()).verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current.load().supported_verify_schemes()
    }
}
