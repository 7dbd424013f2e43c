//! Connector and acceptor builders, and the transport-neutral parts they produce.
//!
//! One builder per side serves every adapter: [`ConnectorBuilder`] and [`AcceptorBuilder`] are
//! generic over what they build ([`BuildConnector`], [`BuildAcceptor`]), so a QUIC adapter
//! offers the same methods as the TCP one and gets the same rustls rules (TLS 1.3 only, no
//! tickets, no resumption, no early data) and the same attestation settings.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use atls_core::{CertificateDer, CertifiedKey, Config, Profile, spki_der};
use atls_evidence::{Attester, VerifierSet};
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::server::danger::ClientCertVerifier;

use crate::error::AtlsError;
use crate::verify::{ChainCheck, EaChainVerifier};
use crate::{AtlsAcceptor, AtlsConnector, PeerPolicy};

/// The attestation side of a connector or acceptor: what the local side proves, what it
/// requires of the peer, and the deadlines. Built by the builders' methods; read by the
/// [`Engine`](crate::engine::Engine).
pub struct AttestationConfig {
    pub(crate) profile: Profile,
    pub(crate) attester: Option<Arc<dyn Attester>>,
    pub(crate) verifiers: VerifierSet,
    pub(crate) policy: Option<Arc<dyn PeerPolicy>>,
    pub(crate) requires_peer_attestation: bool,
    pub(crate) pin_handshake_key: bool,
    pub(crate) identity: Option<CertifiedKey>,
    pub(crate) attestation_timeout: Duration,
    pub(crate) exchange_timeout: Duration,
    pub(crate) lease: Option<Duration>,
}

impl AttestationConfig {
    fn new() -> Self {
        Self {
            profile: Profile::default(),
            attester: None,
            verifiers: VerifierSet::new(),
            policy: None,
            requires_peer_attestation: false,
            pin_handshake_key: true,
            identity: None,
            attestation_timeout: Duration::from_secs(10),
            exchange_timeout: Duration::from_secs(10),
            lease: None,
        }
    }

    /// Whether the local side requires the peer to attest.
    pub fn requires_peer_attestation(&self) -> bool {
        self.requires_peer_attestation
    }

    /// The attestation lease, if re-attestation is scheduled.
    pub fn lease(&self) -> Option<Duration> {
        self.lease
    }

    fn check(&self) -> Result<(), AtlsError> {
        if self.requires_peer_attestation && self.verifiers.media_types().is_empty() {
            return Err(AtlsError::Config(
                "peer attestation required but no evidence verifier configured".into(),
            ));
        }
        if self.attester.is_some() && self.identity.is_none() {
            return Err(AtlsError::Config(
                "an attester needs a certificate and key to sign authenticators".into(),
            ));
        }
        if self.lease.is_some_and(|l| l < Duration::from_millis(30)) {
            return Err(AtlsError::Config("attestation lease under 30 ms".into()));
        }
        Ok(())
    }

    pub(crate) fn core_config(&self, chain: EaChainVerifier) -> Config {
        let mut cfg = Config::new(Arc::new(chain));
        cfg.profile = self.profile.clone();
        cfg.identity = self.identity.clone();
        cfg.authenticator_timeout = self.exchange_timeout;
        cfg.evidence_timeout = self.exchange_timeout;
        cfg.appraisal_timeout = self.exchange_timeout;
        cfg
    }

    /// The key the authenticator chain is pinned to: the peer's handshake certificate key,
    /// unless key switches are allowed.
    fn pinned_spki(&self, handshake_leaf: Option<&[u8]>) -> Result<Option<Vec<u8>>, AtlsError> {
        match handshake_leaf.filter(|_| self.pin_handshake_key) {
            Some(cert) => spki_der(cert)
                .map(Some)
                .map_err(|e| AtlsError::Protocol(format!("peer handshake certificate: {e}"))),
            None => Ok(None),
        }
    }
}

fn certified_key(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<CertifiedKey, AtlsError> {
    let signer = atls_core::signing_key_from_pkcs8_der(key.secret_der())
        .map_err(|e| AtlsError::Config(format!("private key: {e}")))?;
    if chain.is_empty() {
        return Err(AtlsError::Config("empty certificate chain".into()));
    }
    Ok(CertifiedKey {
        chain: chain.to_vec(),
        key: signer,
    })
}

/// ring's provider with the SHA-256 TLS 1.3 suites only (TLS_AES_128_GCM_SHA256,
/// TLS_CHACHA20_POLY1305_SHA256).
///
/// The binder and `AIK_pub_hash` use the suite's hash; with SHA-384 they are 48 bytes each
/// and no longer fit a 64-byte TDX REPORTDATA together, so TDX attestation (and every peer
/// using the same layout) needs a SHA-256 suite. Offering only those makes the negotiated
/// suite one that every evidence backend can bind.
pub fn sha256_suites_provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(|s| {
        matches!(
            s.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        )
    });
    Arc::new(provider)
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    sha256_suites_provider()
}

/// What an adapter's connector is built from.
pub trait BuildConnector: Sized {
    /// The crypto provider of the rustls client configuration
    /// ([`sha256_suites_provider`] by default).
    fn crypto_provider() -> Arc<CryptoProvider> {
        provider()
    }

    /// Builds the adapter's connector from checked parts.
    fn from_parts(parts: ConnectorParts) -> Result<Self, AtlsError>;
}

/// What an adapter's acceptor is built from.
pub trait BuildAcceptor: Sized {
    /// The crypto provider of the rustls server configuration (ring's default by default).
    fn crypto_provider() -> Arc<CryptoProvider> {
        provider()
    }

    /// Builds the adapter's acceptor from checked parts.
    fn from_parts(parts: AcceptorParts) -> Result<Self, AtlsError>;
}

/// A checked client configuration: rustls set up as attested TLS requires, and the
/// attestation settings.
pub struct ConnectorParts {
    /// TLS 1.3 only, no resumption, no early data.
    pub tls: rustls::ClientConfig,
    /// Validates the server's handshake chain and its authenticator chains.
    pub verifier: Arc<dyn ServerCertVerifier>,
    /// The attestation side.
    pub attestation: Arc<AttestationConfig>,
}

impl ConnectorParts {
    /// The verifier for the server's authenticator chains on one connection: the handshake
    /// verifier for `server_name`, pinned to the key of `handshake_leaf` (the server's
    /// handshake certificate, DER) unless key switches are allowed.
    pub fn chain_verifier(
        &self,
        server_name: ServerName<'static>,
        handshake_leaf: Option<&[u8]>,
    ) -> Result<EaChainVerifier, AtlsError> {
        Ok(EaChainVerifier {
            check: ChainCheck::Server(self.verifier.clone(), server_name),
            pinned_spki: self.attestation.pinned_spki(handshake_leaf)?,
        })
    }
}

/// A checked server configuration: rustls set up as attested TLS requires, and the
/// attestation settings.
pub struct AcceptorParts {
    /// TLS 1.3 only, no tickets, no resumption, no early data.
    pub tls: rustls::ServerConfig,
    /// Validates client handshake and authenticator chains, if clients authenticate.
    pub client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    /// Whether clients without certificates are accepted.
    pub anonymous_clients: bool,
    /// The attestation side.
    pub attestation: Arc<AttestationConfig>,
}

impl AcceptorParts {
    /// The verifier for the client's authenticator chains on one connection: the client
    /// verifier (or none, for anonymous clients), pinned to the key of `handshake_leaf` (the
    /// client's handshake certificate, DER) unless key switches are allowed.
    pub fn chain_verifier(
        &self,
        handshake_leaf: Option<&[u8]>,
    ) -> Result<EaChainVerifier, AtlsError> {
        let check = match &self.client_verifier {
            Some(v) => ChainCheck::Client(v.clone()),
            None if self.anonymous_clients || !self.attestation.requires_peer_attestation => {
                ChainCheck::Anonymous
            }
            None => {
                return Err(AtlsError::Config(
                    "client attestation required but no client verifier and anonymous clients not allowed"
                        .into(),
                ));
            }
        };
        Ok(EaChainVerifier {
            check,
            pinned_spki: self.attestation.pinned_spki(handshake_leaf)?,
        })
    }
}

macro_rules! attestation_builder_methods {
    () => {
        /// Attests the local side with `attester` when the peer asks.
        pub fn with_attester(mut self, attester: Arc<dyn Attester>) -> Self {
            self.inner.attester = Some(attester);
            self
        }

        /// Applies `policy` to the peer's appraised claims.
        pub fn with_policy(mut self, policy: Arc<dyn PeerPolicy>) -> Self {
            self.inner.policy = Some(policy);
            self
        }

        /// Uses a draft profile other than the latest.
        pub fn with_profile(mut self, profile: Profile) -> Self {
            self.inner.profile = profile;
            self
        }

        /// Time allowed for the whole initial attestation (default 10 s).
        pub fn with_attestation_timeout(mut self, timeout: Duration) -> Self {
            self.inner.attestation_timeout = timeout;
            self
        }

        /// Time allowed for each exchange: peer answer, local evidence, appraisal
        /// (default 10 s).
        pub fn with_exchange_timeout(mut self, timeout: Duration) -> Self {
            self.inner.exchange_timeout = timeout;
            self
        }

        /// Re-attests the peer every two thirds of `lease` on the live connection; the link
        /// fails if no re-attestation succeeds within `lease`.
        pub fn with_attestation_lease(mut self, lease: Duration) -> Self {
            self.inner.lease = Some(lease);
            self
        }

        /// Accepts an authenticator key different from the handshake certificate's key
        /// (it must still pass the certificate verifier). Off by default (DV-03).
        pub fn allow_authenticator_key_switch(mut self) -> Self {
            self.inner.pin_handshake_key = false;
            self
        }
    };
}

/// Builds a connector: an [`AtlsConnector`] by default, or another adapter's
/// ([`BuildConnector`]).
pub struct ConnectorBuilder<C = AtlsConnector> {
    verifier: Option<Arc<dyn ServerCertVerifier>>,
    client_identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    alpn: Vec<Vec<u8>>,
    inner: AttestationConfig,
    adapter: PhantomData<fn() -> C>,
}

impl<C> Default for ConnectorBuilder<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> ConnectorBuilder<C> {
    /// A builder; the server's attestation is required once verifiers are given.
    pub fn new() -> Self {
        Self {
            verifier: None,
            client_identity: None,
            alpn: Vec::new(),
            inner: AttestationConfig::new(),
            adapter: PhantomData,
        }
    }

    /// Validates servers (handshake and authenticator chains) against `roots` (webpki).
    pub fn with_root_certificates(mut self, roots: rustls::RootCertStore) -> Self {
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>);
        self.verifier = verifier.ok();
        self
    }

    /// Validates servers with a custom rustls verifier.
    pub fn with_server_verifier(mut self, verifier: Arc<dyn ServerCertVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Requires the server to attest, appraising its evidence with `verifiers`.
    pub fn require_server_attestation(mut self, verifiers: VerifierSet) -> Self {
        self.inner.verifiers = verifiers;
        self.inner.requires_peer_attestation = true;
        self
    }

    /// Presents `chain`/`key` in the handshake (client authentication) and signs the client's
    /// authenticators with them.
    pub fn with_client_identity(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.client_identity = Some((chain, key));
        self
    }

    /// ALPN protocols to offer.
    pub fn with_alpn(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols;
        self
    }

    attestation_builder_methods!();
}

impl<C: BuildConnector> ConnectorBuilder<C> {
    /// Checks the configuration and builds the connector.
    pub fn build(mut self) -> Result<C, AtlsError> {
        let verifier = self
            .verifier
            .ok_or_else(|| AtlsError::Config("no server certificate verifier or roots".into()))?;
        let builder = rustls::ClientConfig::builder_with_provider(C::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| AtlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let mut tls = match &self.client_identity {
            Some((chain, key)) => {
                self.inner.identity = Some(certified_key(chain, key)?);
                builder
                    .with_client_auth_cert(chain.clone(), key.clone_key())
                    .map_err(|e| AtlsError::Config(e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        // draft-fossati-seat-expat §8: no resumption, no 0-RTT on attested connections.
        tls.resumption = rustls::client::Resumption::disabled();
        tls.enable_early_data = false;
        tls.alpn_protocols = self.alpn;
        self.inner.check()?;
        C::from_parts(ConnectorParts {
            tls,
            verifier,
            attestation: Arc::new(self.inner),
        })
    }
}

/// Builds an acceptor: an [`AtlsAcceptor`] by default, or another adapter's
/// ([`BuildAcceptor`]).
pub struct AcceptorBuilder<A = AtlsAcceptor> {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    anonymous_clients: bool,
    alpn: Vec<Vec<u8>>,
    inner: AttestationConfig,
    adapter: PhantomData<fn() -> A>,
}

impl<A> AcceptorBuilder<A> {
    /// A builder for a server with certificate `chain` and `key` (Ed25519, ECDSA P-256 or
    /// P-384 PKCS#8): the same identity signs its authenticators.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self {
            chain,
            key,
            client_verifier: None,
            anonymous_clients: false,
            alpn: Vec::new(),
            inner: AttestationConfig::new(),
            adapter: PhantomData,
        }
    }

    /// Requires the client to attest, appraising its evidence with `verifiers`.
    pub fn require_client_attestation(mut self, verifiers: VerifierSet) -> Self {
        self.inner.verifiers = verifiers;
        self.inner.requires_peer_attestation = true;
        self
    }

    /// Requires TLS client authentication with `verifier`, which also validates the
    /// client's authenticator chains.
    pub fn with_client_verifier(mut self, verifier: Arc<dyn ClientCertVerifier>) -> Self {
        self.client_verifier = Some(verifier);
        self
    }

    /// Accepts clients without certificates: a client that attests is then known only by
    /// the key its evidence binds, not by any PKI name. Explicit, never a default.
    pub fn allow_anonymous_clients(mut self) -> Self {
        self.anonymous_clients = true;
        self
    }

    /// ALPN protocols to accept.
    pub fn with_alpn(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols;
        self
    }

    attestation_builder_methods!();
}

impl<A: BuildAcceptor> AcceptorBuilder<A> {
    /// Checks the configuration and builds the acceptor.
    pub fn build(mut self) -> Result<A, AtlsError> {
        self.inner.identity = Some(certified_key(&self.chain, &self.key)?);
        let builder = rustls::ServerConfig::builder_with_provider(A::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| AtlsError::Config(e.to_string()))?;
        let builder = match &self.client_verifier {
            Some(v) => builder.with_client_cert_verifier(v.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut tls = builder
            .with_single_cert(self.chain, self.key)
            .map_err(|e| AtlsError::Config(e.to_string()))?;
        // draft-fossati-seat-expat §8: no tickets, no resumption, no early data.
        tls.send_tls13_tickets = 0;
        tls.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        tls.max_early_data_size = 0;
        tls.alpn_protocols = self.alpn;
        if self.inner.requires_peer_attestation
            && self.client_verifier.is_none()
            && !self.anonymous_clients
        {
            return Err(AtlsError::Config(
                "client attestation needs a client verifier or allow_anonymous_clients()".into(),
            ));
        }
        self.inner.check()?;
        A::from_parts(AcceptorParts {
            tls,
            client_verifier: self.client_verifier,
            anonymous_clients: self.anonymous_clients,
            attestation: Arc::new(self.inner),
        })
    }
}
