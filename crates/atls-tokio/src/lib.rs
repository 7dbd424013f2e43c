//! Attested TLS over TCP for Tokio.
//!
//! [`AtlsConnector`] and [`AtlsAcceptor`] wrap tokio-rustls. After the TLS 1.3 handshake they
//! run post-handshake attestation (RFC 9261 Exported Authenticators carrying evidence, per
//! draft-fossati-seat-expat) in the directions configured, appraise the peer's evidence with a
//! [`VerifierSet`] and a [`PeerPolicy`], and only then return an [`AttestedStream`]. No
//! application byte moves in either direction before that (see `docs/wire.md`).
//!
//! rustls is configured as the draft requires: TLS 1.3 only, no tickets, no resumption, no
//! early data. The authenticator's certificate chain is checked with the same verifier as the
//! handshake, and by default its key must be the handshake certificate's key.
//!
//! ```no_run
//! # async fn run(
//! #     roots: rustls::RootCertStore,
//! #     verifiers: atls_evidence::VerifierSet,
//! #     tcp: tokio::net::TcpStream,
//! # ) -> Result<(), atls_tokio::AtlsError> {
//! use tokio::io::AsyncWriteExt;
//! let connector = atls_tokio::AtlsConnector::builder()
//!     .with_root_certificates(roots)
//!     .require_server_attestation(verifiers)
//!     .build()?;
//! let name = "attested.example".try_into().expect("valid name");
//! let mut stream = connector.connect(name, tcp).await?;
//! println!("peer claims: {:?}", stream.peer_attestation().map(|a| a.claims.clone()));
//! stream.write_all(b"hello").await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod driver;
mod error;
mod frame;
mod shared;
mod verify;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use atls_core::{CertificateDer, CertifiedKey, CipherSuite, Config, Profile, Session, spki_der};
use atls_evidence::{Attester, Claims, VerifierSet};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::server::danger::ClientCertVerifier;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

pub use error::AtlsError;

/// What the local side knows about its attested peer.
#[derive(Clone, Debug)]
pub struct PeerAttestation {
    /// Claims the verifier appraised.
    pub claims: Claims,
    /// The policy verdict, if a policy is configured (its JSON form).
    pub policy_verdict: Option<serde_json::Value>,
    /// The peer's authenticator certificate chain.
    pub peer_chain: Vec<CertificateDer<'static>>,
}

/// The state of an attested link, readable from the stream at any time.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum LinkStatus {
    /// Attestation in progress.
    Attesting,
    /// Open without peer attestation (this side does not require it).
    Open,
    /// The peer's latest attestation (first or renewed) was accepted.
    Attested(Arc<PeerAttestation>),
    /// The link failed; nothing more is delivered.
    Failed(Arc<AtlsError>),
    /// The peer closed the connection.
    Closed,
}

/// Decides whether appraised claims are acceptable. Implemented by the policy engine; any
/// closure `Fn(&Claims) -> Result<serde_json::Value, BoxError>` works too.
pub trait PeerPolicy: Send + Sync {
    /// Returns the verdict (as JSON, for logs) when the claims are acceptable.
    fn check(&self, claims: &Claims) -> Result<serde_json::Value, atls_core::BoxError>;
}

impl<F> PeerPolicy for F
where
    F: Fn(&Claims) -> Result<serde_json::Value, atls_core::BoxError> + Send + Sync,
{
    fn check(&self, claims: &Claims) -> Result<serde_json::Value, atls_core::BoxError> {
        self(claims)
    }
}

/// Shared configuration of the attestation side of a connector or acceptor.
pub(crate) struct Inner {
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

impl Inner {
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

    fn core_config(&self, chain: verify::EaChainVerifier) -> Config {
        let mut cfg = Config::new(Arc::new(chain));
        cfg.profile = self.profile.clone();
        cfg.identity = self.identity.clone();
        cfg.authenticator_timeout = self.exchange_timeout;
        cfg.evidence_timeout = self.exchange_timeout;
        cfg.appraisal_timeout = self.exchange_timeout;
        cfg
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

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn random_seed() -> Result<[u8; 32], AtlsError> {
    let mut seed = [0u8; 32];
    provider()
        .secure_random
        .fill(&mut seed)
        .map_err(|_| AtlsError::Config("no secure randomness".into()))?;
    Ok(seed)
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

/// Opens attested connections as a TLS client.
#[derive(Clone)]
pub struct AtlsConnector {
    tls: tokio_rustls::TlsConnector,
    verifier: Arc<dyn ServerCertVerifier>,
    inner: Arc<Inner>,
}

/// Builds an [`AtlsConnector`].
pub struct ConnectorBuilder {
    verifier: Option<Arc<dyn ServerCertVerifier>>,
    client_identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    alpn: Vec<Vec<u8>>,
    inner: Inner,
}

impl AtlsConnector {
    /// A builder; the server's attestation is required once verifiers are given.
    pub fn builder() -> ConnectorBuilder {
        ConnectorBuilder {
            verifier: None,
            client_identity: None,
            alpn: Vec::new(),
            inner: Inner::new(),
        }
    }

    /// Connects over `tcp`, runs the TLS handshake and attestation, and returns the stream
    /// once every required direction is attested.
    pub async fn connect(
        &self,
        server_name: ServerName<'static>,
        tcp: TcpStream,
    ) -> Result<AttestedStream, AtlsError> {
        let tls = self.tls.connect(server_name.clone(), tcp).await?;
        let shared = shared::Shared::new(tokio_rustls::TlsStream::Client(tls));
        let pinned = match self.inner.pin_handshake_key {
            true => handshake_spki(&shared)?,
            false => None,
        };
        let chain = verify::EaChainVerifier {
            check: verify::ChainCheck::Server(self.verifier.clone(), server_name),
            pinned_spki: pinned,
        };
        start(shared, chain, self.inner.clone(), true).await
    }
}

impl ConnectorBuilder {
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

    /// Checks the configuration and builds the connector.
    pub fn build(mut self) -> Result<AtlsConnector, AtlsError> {
        let verifier = self
            .verifier
            .ok_or_else(|| AtlsError::Config("no server certificate verifier or roots".into()))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| AtlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let mut config = match &self.client_identity {
            Some((chain, key)) => {
                self.inner.identity = Some(certified_key(chain, key)?);
                builder
                    .with_client_auth_cert(chain.clone(), key.clone_key())
                    .map_err(|e| AtlsError::Config(e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        // draft-fossati-seat-expat §8: no resumption, no 0-RTT on attested connections.
        config.resumption = rustls::client::Resumption::disabled();
        config.enable_early_data = false;
        config.alpn_protocols = self.alpn;
        self.inner.check()?;
        Ok(AtlsConnector {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            verifier,
            inner: Arc::new(self.inner),
        })
    }
}

/// Accepts attested connections as a TLS server.
#[derive(Clone)]
pub struct AtlsAcceptor {
    tls: tokio_rustls::TlsAcceptor,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    anonymous_clients: bool,
    inner: Arc<Inner>,
}

/// Builds an [`AtlsAcceptor`].
pub struct AcceptorBuilder {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    anonymous_clients: bool,
    alpn: Vec<Vec<u8>>,
    inner: Inner,
}

impl AtlsAcceptor {
    /// A builder for a server with certificate `chain` and `key` (Ed25519, ECDSA P-256 or
    /// P-384 PKCS#8): the same identity signs its authenticators.
    pub fn builder(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> AcceptorBuilder {
        AcceptorBuilder {
            chain,
            key,
            client_verifier: None,
            anonymous_clients: false,
            alpn: Vec::new(),
            inner: Inner::new(),
        }
    }

    /// Accepts one connection: TLS handshake, then attestation.
    pub async fn accept(&self, tcp: TcpStream) -> Result<AttestedStream, AtlsError> {
        let tls = self.tls.accept(tcp).await?;
        let shared = shared::Shared::new(tokio_rustls::TlsStream::Server(tls));
        let pinned = match self.inner.pin_handshake_key {
            true => handshake_spki(&shared)?,
            false => None,
        };
        let check = match (&self.client_verifier, pinned.is_some()) {
            (Some(v), _) => verify::ChainCheck::Client(v.clone()),
            (None, _) if self.anonymous_clients => verify::ChainCheck::Anonymous,
            (None, _) if self.inner.requires_peer_attestation => {
                return Err(AtlsError::Config(
                    "client attestation required but no client verifier and anonymous clients not allowed"
                        .into(),
                ));
            }
            (None, _) => verify::ChainCheck::Anonymous,
        };
        let chain = verify::EaChainVerifier {
            check,
            pinned_spki: pinned,
        };
        start(shared, chain, self.inner.clone(), false).await
    }
}

impl AcceptorBuilder {
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

    /// Checks the configuration and builds the acceptor.
    pub fn build(mut self) -> Result<AtlsAcceptor, AtlsError> {
        self.inner.identity = Some(certified_key(&self.chain, &self.key)?);
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| AtlsError::Config(e.to_string()))?;
        let builder = match &self.client_verifier {
            Some(v) => builder.with_client_cert_verifier(v.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(self.chain, self.key)
            .map_err(|e| AtlsError::Config(e.to_string()))?;
        // draft-fossati-seat-expat §8: no tickets, no resumption, no early data.
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.max_early_data_size = 0;
        config.alpn_protocols = self.alpn;
        if self.inner.requires_peer_attestation
            && self.client_verifier.is_none()
            && !self.anonymous_clients
        {
            return Err(AtlsError::Config(
                "client attestation needs a client verifier or allow_anonymous_clients()".into(),
            ));
        }
        self.inner.check()?;
        Ok(AtlsAcceptor {
            tls: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            client_verifier: self.client_verifier,
            anonymous_clients: self.anonymous_clients,
            inner: Arc::new(self.inner),
        })
    }
}

/// Checks a server configuration built elsewhere against the attested-TLS rules
/// (draft-fossati-seat-expat §8): no tickets, no resumption, no early data.
pub fn check_server_config(config: &rustls::ServerConfig) -> Result<(), AtlsError> {
    if config.send_tls13_tickets != 0 {
        return Err(AtlsError::Config(format!(
            "send_tls13_tickets is {}: attested connections must not send session tickets",
            config.send_tls13_tickets
        )));
    }
    if config.max_early_data_size != 0 {
        return Err(AtlsError::Config(
            "max_early_data_size is not 0: attested connections must not accept 0-RTT".into(),
        ));
    }
    if config.session_storage.can_cache() {
        return Err(AtlsError::Config(
            "session storage caches sessions: attested connections must not resume".into(),
        ));
    }
    Ok(())
}

fn handshake_spki<IO>(shared: &shared::Shared<IO>) -> Result<Option<Vec<u8>>, AtlsError> {
    match shared.peer_certificates().first() {
        Some(cert) => spki_der(cert)
            .map(Some)
            .map_err(|e| AtlsError::Protocol(format!("peer handshake certificate: {e}"))),
        None => Ok(None),
    }
}

async fn start<IO>(
    shared: shared::Shared<IO>,
    chain: verify::EaChainVerifier,
    inner: Arc<Inner>,
    client: bool,
) -> Result<AttestedStream, AtlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let suite = shared
        .cipher_suite()
        .ok_or_else(|| AtlsError::Protocol("no cipher suite negotiated".into()))?;
    let session = Session::new(
        Arc::new(inner.core_config(chain)),
        driver::role_of(client),
        CipherSuite(suite),
        random_seed()?,
    )?;
    let (io, status) = driver::run(shared, session, inner).await?;
    Ok(AttestedStream { io, status })
}

/// An attested connection: read and write application bytes; the peer's attestation and the
/// link's status are readable at any time. When the link fails (e.g. a re-attestation is
/// rejected), reads and writes return an error carrying the reason.
#[derive(Debug)]
pub struct AttestedStream {
    io: DuplexStream,
    status: watch::Receiver<LinkStatus>,
}

impl AttestedStream {
    /// The current link status.
    pub fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// The peer's latest accepted attestation, if this side required one.
    pub fn peer_attestation(&self) -> Option<Arc<PeerAttestation>> {
        match &*self.status.borrow() {
            LinkStatus::Attested(a) => Some(a.clone()),
            _ => None,
        }
    }

    /// A receiver that is notified of every later status change (re-attestation, failure);
    /// the current status counts as seen.
    pub fn watch_status(&self) -> watch::Receiver<LinkStatus> {
        let mut rx = self.status.clone();
        rx.borrow_and_update();
        rx
    }

    fn failure(&self) -> Option<io::Error> {
        match &*self.status.borrow() {
            LinkStatus::Failed(e) => Some(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                e.to_string(),
            )),
            _ => None,
        }
    }
}

impl AsyncRead for AttestedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            // End of stream after a failure is the failure, not a clean close.
            Poll::Ready(Ok(())) if buf.filled().len() == before => match self.failure() {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Ready(Ok(())),
            },
            other => other,
        }
    }
}

impl AsyncWrite for AttestedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.failure() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
