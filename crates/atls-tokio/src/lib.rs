//! Attested TLS over TCP for Tokio.
//!
//! [`AtlsConnector`] and [`AtlsAcceptor`] wrap tokio-rustls. After the TLS 1.3 handshake they
//! run post-handshake attestation (RFC 9261 Exported Authenticators carrying evidence, per
//! draft-fossati-seat-expat) in the directions configured, appraise the peer's evidence with
//! a [`VerifierSet`](atls_evidence::VerifierSet) and a [`PeerPolicy`], and only then return
//! an [`AttestedStream`]. No application byte moves in either direction before that (see
//! `docs/wire.md`).
//!
//! rustls is configured as the draft requires: TLS 1.3 only, no tickets, no resumption, no
//! early data. The authenticator's certificate chain is checked with the same verifier as the
//! handshake, and by default its key must be the handshake certificate's key.
//!
//! The attestation logic itself is transport-independent ([`engine`]): other adapters
//! (QUIC) build on the same builders, engine, frames and chain checks.
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

mod config;
mod driver;
pub mod engine;
mod error;
mod frame;
mod shared;
mod verify;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use atls_core::{CertificateDer, CipherSuite, Role};
use atls_evidence::Claims;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

pub use config::{AcceptorBuilder, ConnectorBuilder, sha256_suites_provider};
pub use error::AtlsError;

use engine::{
    AcceptorParts, AttestationConfig, BuildAcceptor, BuildConnector, ConnectorParts,
    EaChainVerifier, Engine,
};

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

/// Opens attested connections as a TLS client.
#[derive(Clone)]
pub struct AtlsConnector {
    tls: tokio_rustls::TlsConnector,
    parts: Arc<ConnectorParts>,
}

impl AtlsConnector {
    /// A builder; the server's attestation is required once verifiers are given.
    pub fn builder() -> ConnectorBuilder {
        ConnectorBuilder::new()
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
        let leaf = shared.peer_certificates().into_iter().next();
        let chain = self.parts.chain_verifier(server_name, leaf.as_deref())?;
        start(shared, chain, &self.parts.attestation, Role::Client).await
    }
}

impl BuildConnector for AtlsConnector {
    fn from_parts(parts: ConnectorParts) -> Result<Self, AtlsError> {
        Ok(Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(parts.tls.clone())),
            parts: Arc::new(parts),
        })
    }
}

/// Accepts attested connections as a TLS server.
#[derive(Clone)]
pub struct AtlsAcceptor {
    tls: tokio_rustls::TlsAcceptor,
    parts: Arc<AcceptorParts>,
}

impl AtlsAcceptor {
    /// A builder for a server with certificate `chain` and `key` (Ed25519, ECDSA P-256 or
    /// P-384 PKCS#8): the same identity signs its authenticators.
    pub fn builder(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> AcceptorBuilder {
        AcceptorBuilder::new(chain, key)
    }

    /// Accepts one connection: TLS handshake, then attestation.
    pub async fn accept(&self, tcp: TcpStream) -> Result<AttestedStream, AtlsError> {
        let tls = self.tls.accept(tcp).await?;
        let shared = shared::Shared::new(tokio_rustls::TlsStream::Server(tls));
        let leaf = shared.peer_certificates().into_iter().next();
        let chain = self.parts.chain_verifier(leaf.as_deref())?;
        start(shared, chain, &self.parts.attestation, Role::Server).await
    }
}

impl BuildAcceptor for AtlsAcceptor {
    fn from_parts(parts: AcceptorParts) -> Result<Self, AtlsError> {
        Ok(Self {
            tls: tokio_rustls::TlsAcceptor::from(Arc::new(parts.tls.clone())),
            parts: Arc::new(parts),
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

async fn start<IO>(
    shared: shared::Shared<IO>,
    chain: EaChainVerifier,
    attestation: &Arc<AttestationConfig>,
    role: Role,
) -> Result<AttestedStream, AtlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let suite = shared
        .cipher_suite()
        .ok_or_else(|| AtlsError::Protocol("no cipher suite negotiated".into()))?;
    let (engine, established) = Engine::new(attestation.clone(), chain, role, CipherSuite(suite))?;
    let (io, status, commands) = driver::run(shared, engine, established).await?;
    Ok(AttestedStream {
        io,
        status,
        commands,
        requires_peer: attestation.requires_peer_attestation(),
    })
}

/// An attested connection: read and write application bytes; the peer's attestation and the
/// link's status are readable at any time. When the link fails (e.g. a re-attestation is
/// rejected), reads and writes return an error carrying the reason.
#[derive(Debug)]
pub struct AttestedStream {
    io: DuplexStream,
    status: watch::Receiver<LinkStatus>,
    commands: tokio::sync::mpsc::UnboundedSender<driver::Command>,
    requires_peer: bool,
}

impl AttestedStream {
    /// Re-attests the peer now, on the live connection: a new request with a new context;
    /// application data keeps flowing. The outcome arrives through [`Self::watch_status`]:
    /// a new [`LinkStatus::Attested`], or [`LinkStatus::Failed`] and the link torn down.
    pub fn reattest(&self) -> Result<(), AtlsError> {
        if !self.requires_peer {
            return Err(AtlsError::Config(
                "this side does not attest its peer (no verifiers configured)".into(),
            ));
        }
        if let LinkStatus::Failed(e) = &*self.status.borrow() {
            return Err(AtlsError::Protocol(format!("link already failed: {e}")));
        }
        self.commands
            .send(driver::Command::Reattest)
            .map_err(|_| AtlsError::Closed)
    }

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
