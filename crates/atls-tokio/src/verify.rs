//! Validation of authenticator certificate chains with the TLS stack's own verifiers, and the
//! handshake-key pin (compound authentication: the attested key is the key the peer proved
//! in the TLS handshake).

use std::fmt;
use std::sync::Arc;

use atls_core::{CertificateDer, CertificateError, CertificateVerifier, spki_der};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier;

/// Which verifier checks the peer's authenticator chain.
#[derive(Clone)]
pub enum ChainCheck {
    /// The server's chain, for `server_name`, with the client's handshake verifier.
    Server(Arc<dyn ServerCertVerifier>, ServerName<'static>),
    /// The client's chain, with the server's client-certificate verifier.
    Client(Arc<dyn ClientCertVerifier>),
    /// No PKIX check: an anonymous client, explicitly allowed by the acceptor's
    /// configuration. The key pin (if any) still applies.
    Anonymous,
}

/// Runs the chain check, then requires the end-entity key to equal `pinned_spki` if set.
#[derive(Clone)]
pub struct EaChainVerifier {
    pub(crate) check: ChainCheck,
    pub(crate) pinned_spki: Option<Vec<u8>>,
}

impl EaChainVerifier {
    /// Runs `check`, then requires the end-entity key (DER SubjectPublicKeyInfo) to equal
    /// `pinned_spki` if set.
    pub fn new(check: ChainCheck, pinned_spki: Option<Vec<u8>>) -> Self {
        Self { check, pinned_spki }
    }
}

impl fmt::Debug for EaChainVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.check {
            ChainCheck::Server(..) => "server",
            ChainCheck::Client(_) => "client",
            ChainCheck::Anonymous => "anonymous",
        };
        f.debug_struct("EaChainVerifier")
            .field("check", &kind)
            .field("pinned", &self.pinned_spki.is_some())
            .finish()
    }
}

fn map(e: rustls::Error) -> CertificateError {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => CertificateError::UnknownIssuer,
            C::Expired | C::NotValidYet => CertificateError::Expired,
            C::Revoked => CertificateError::Revoked,
            C::NotValidForName => CertificateError::NotValidForName {
                expected: String::new(),
            },
            other => CertificateError::Other(format!("{other:?}")),
        },
        other => CertificateError::Other(other.to_string()),
    }
}

impl CertificateVerifier for EaChainVerifier {
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), CertificateError> {
        // The adapter is not sans-IO: reading the wall clock for certificate validity here is
        // what rustls itself does for the handshake.
        let now = UnixTime::now();
        match &self.check {
            ChainCheck::Server(v, name) => v
                .verify_server_cert(end_entity, intermediates, name, &[], now)
                .map(|_| ())
                .map_err(|e| match map(e) {
                    CertificateError::NotValidForName { .. } => CertificateError::NotValidForName {
                        expected: name.to_str().into_owned(),
                    },
                    other => other,
                })?,
            ChainCheck::Client(v) => v
                .verify_client_cert(end_entity, intermediates, now)
                .map(|_| ())
                .map_err(map)?,
            ChainCheck::Anonymous => {}
        }
        if let Some(pinned) = &self.pinned_spki {
            let spki = spki_der(end_entity).map_err(|e| CertificateError::Other(e.to_string()))?;
            if &spki != pinned {
                return Err(CertificateError::IdentitySwitch);
            }
        }
        Ok(())
    }
}
