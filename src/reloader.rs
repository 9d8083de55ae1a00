//! What SIGHUP (and `POST /api/v1/reload`) applies to a running server: the password and ACL
//! files, the `[trace]` settings and the TLS listeners' certificates. Reading and checking the
//! new configuration is the caller's (src/main.rs).

use crate::config::Settings;
use crate::security::SecurityFiles;
use courtier_actors::Broker;
use std::io;

/// The parts of a running server a reload replaces: the password and ACL files (users they no
/// longer admit are disconnected) and the TLS listeners' certificates and keys.
#[derive(Clone)]
pub struct Reloader {
    security: SecurityFiles,
    certs: Vec<crate::tls::TlsFiles>,
    broker: Broker,
}

impl Reloader {
    pub(crate) fn new(
        security: SecurityFiles,
        certs: Vec<crate::tls::TlsFiles>,
        broker: Broker,
    ) -> Reloader {
        Reloader {
            security,
            certs,
            broker,
        }
    }

    /// Re-reads the password and ACL files with `settings`' `[security]`; on error the old
    /// ones stay in force. Connected users the new files no longer admit are disconnected.
    pub fn security(&self, settings: &Settings) -> Result<(), crate::security::FileError> {
        if let Some(revoked_by) = self.security.reload(&settings.security)? {
            self.broker.revoke(revoked_by);
        }
        Ok(())
    }

    /// Applies `settings`' `[trace]` to the running broker.
    pub fn trace(&self, settings: &Settings) {
        self.broker
            .set_trace(settings.trace_filter(), settings.trace.log_lines_per_sec);
    }

    /// Reads every TLS listener's certificate and key files and `cafile` again (after a
    /// renewal): new handshakes use them, open connections are not touched. A pair or a CA
    /// that does not load keeps the old one; the errors (what stays in use, listener, key,
    /// file, reason) are returned.
    pub fn certificates(&self) -> Vec<io::Error> {
        let mut errors = Vec::new();
        let stays = |what: &str, e: io::Error| {
            io::Error::new(e.kind(), format!("the old {what} stays in use: {e}"))
        };
        for files in &self.certs {
            match files.certs.reload() {
                Ok(()) => log::info!("TLS certificate reloaded: {}", files.certs.describe()),
                Err(e) => errors.push(stays("certificate", e)),
            }
            match files.ca.as_ref().map(|ca| (ca, ca.reload())) {
                Some((ca, Ok(()))) => log::info!("TLS clients' CA reloaded: {}", ca.describe()),
                Some((_, Err(e))) => errors.push(stays("clients' CA", e)),
                None => {}
            }
        }
        errors
    }
}
