//! Attested TLS over QUIC (quinn).
//!
//! After the QUIC handshake, each side runs post-handshake attestation (RFC 9261 Exported
//! Authenticators carrying evidence, per draft-fossati-seat-expat) on dedicated streams, in
//! the directions its configuration requires; only then does the application get an
//! [`AttestedConnection`], through which it opens and accepts application streams. Peer
//! application streams that arrive earlier are held unread and never delivered if
//! attestation fails. The stream layout is in `docs/wire.md` §3.
//!
//! The builders, the attestation engine (evidence, appraisal, policy, READY, lease renewal),
//! the frames and the authenticator chain checks are those of `atls-tokio`: [`AtlsConnector`]
//! and [`AtlsAcceptor`] are built with the same [`ConnectorBuilder`] and [`AcceptorBuilder`].
//! rustls is configured as the draft requires: TLS 1.3 only, no tickets, no resumption, no
//! 0-RTT (quinn's `into_0rtt` is never used), and only SHA-256 cipher suites.
//!
//! An [`AtlsEndpoint`] serves connections, opens them, or both: [`AtlsEndpoint::peer`] is a
//! node of a mesh that accepts and connects, attesting each peer on one connection (mutual).
//!
//! ```no_run
//! # async fn run(
//! #     roots: rustls::RootCertStore,
//! #     verifiers: atls_evidence::VerifierSet,
//! #     server: std::net::SocketAddr,
//! # ) -> Result<(), atls_quic::AtlsError> {
//! let connector = atls_quic::AtlsConnector::builder()
//!     .with_root_certificates(roots)
//!     .require_server_attestation(verifiers)
//!     .build()?;
//! let endpoint = atls_quic::AtlsEndpoint::client("127.0.0.1:0".parse().unwrap(), connector)?;
//! let conn = endpoint.connect(server, "attested.example").await?;
//! println!("peer claims: {:?}", conn.peer_attestation().map(|a| a.claims.clone()));
//! let (mut send, _recv) = conn.open_bi().await?;
//! send.write_all(b"hello").await.map_err(std::io::Error::from)?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod connection;
mod driver;
mod stream;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use atls_core::{CertificateDer, Role};
use atls_tokio::engine::{AcceptorParts, BuildAcceptor, BuildConnector, ConnectorParts};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::{PrivateKeyDer, ServerName};

pub use atls_tokio::{
    AcceptorBuilder, AtlsError, ConnectorBuilder, LinkStatus, PeerAttestation, PeerPolicy,
};
pub use connection::AttestedConnection;

/// Application error codes from this value up to `0x1ff` close a connection with a TLS alert
/// (`0x100 + alert`); 0 is a graceful close.
pub const ALERT_ERROR_CODE_BASE: u32 = driver::ALERT_BASE;

/// QUIC transport parameters for attested connections: quinn's defaults without DATAGRAM
/// frames, which would bypass the attestation gate on streams.
fn transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.datagram_receive_buffer_size(None);
    Arc::new(transport)
}

fn config_error(e: impl std::fmt::Display) -> AtlsError {
    AtlsError::Config(e.to_string())
}

/// The peer's handshake end-entity certificate, DER.
fn handshake_leaf(conn: &quinn::Connection) -> Option<Vec<u8>> {
    let certs = conn
        .peer_identity()?
        .downcast::<Vec<CertificateDer<'static>>>()
        .ok()?;
    certs.first().map(|c| c.to_vec())
}

/// Opens attested QUIC connections as a TLS client.
#[derive(Clone)]
pub struct AtlsConnector {
    client: quinn::ClientConfig,
    parts: Arc<ConnectorParts>,
}

impl AtlsConnector {
    /// A builder; the server's attestation is required once verifiers are given.
    pub fn builder() -> ConnectorBuilder<Self> {
        ConnectorBuilder::new()
    }

    /// Replaces the QUIC transport parameters (DATAGRAM frames are disabled whatever
    /// `transport` says).
    pub fn with_transport_config(mut self, mut transport: quinn::TransportConfig) -> Self {
        transport.datagram_receive_buffer_size(None);
        self.client.transport_config(Arc::new(transport));
        self
    }

    /// Connects from `endpoint` to `addr`, runs the QUIC handshake and attestation, and
    /// returns the connection once every required direction is attested.
    pub async fn connect(
        &self,
        endpoint: &quinn::Endpoint,
        addr: SocketAddr,
        server_name: &str,
    ) -> Result<AttestedConnection, AtlsError> {
        let name = ServerName::try_from(server_name.to_string()).map_err(config_error)?;
        let connecting = endpoint
            .connect_with(self.client.clone(), addr, server_name)
            .map_err(|e| AtlsError::Io(io::Error::other(e)))?;
        // Never `into_0rtt`: attestation runs on the 1-RTT connection only.
        let conn = connecting.await.map_err(|e| AtlsError::Io(e.into()))?;
        let chain = self
            .parts
            .chain_verifier(name, handshake_leaf(&conn).as_deref())?;
        driver::establish(conn, chain, &self.parts.attestation, Role::Client).await
    }
}

impl BuildConnector for AtlsConnector {
    fn from_parts(parts: ConnectorParts) -> Result<Self, AtlsError> {
        let crypto =
            QuicClientConfig::try_from(Arc::new(parts.tls.clone())).map_err(config_error)?;
        let mut client = quinn::ClientConfig::new(Arc::new(crypto));
        client.transport_config(transport());
        Ok(Self {
            client,
            parts: Arc::new(parts),
        })
    }
}

/// Accepts attested QUIC connections as a TLS server.
#[derive(Clone)]
pub struct AtlsAcceptor {
    server: Arc<quinn::ServerConfig>,
    parts: Arc<AcceptorParts>,
}

impl AtlsAcceptor {
    /// A builder for a server with certificate `chain` and `key` (Ed25519, ECDSA P-256 or
    /// P-384 PKCS#8): the same identity signs its authenticators.
    pub fn builder(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> AcceptorBuilder<Self> {
        AcceptorBuilder::new(chain, key)
    }

    /// Replaces the QUIC transport parameters (DATAGRAM frames are disabled whatever
    /// `transport` says).
    pub fn with_transport_config(mut self, mut transport: quinn::TransportConfig) -> Self {
        transport.datagram_receive_buffer_size(None);
        let mut server = (*self.server).clone();
        server.transport_config(Arc::new(transport));
        self.server = Arc::new(server);
        self
    }

    /// The quinn server configuration, for an endpoint of your own.
    pub fn server_config(&self) -> quinn::ServerConfig {
        (*self.server).clone()
    }

    /// Accepts one incoming connection with this acceptor's configuration (whatever the
    /// endpoint's default): QUIC handshake, then attestation.
    pub async fn accept(&self, incoming: quinn::Incoming) -> Result<AttestedConnection, AtlsError> {
        let connecting = incoming
            .accept_with(self.server.clone())
            .map_err(|e| AtlsError::Io(e.into()))?;
        // Resolves once the handshake is complete, client Finished verified (RFC 9261 §9);
        // never `into_0rtt`.
        let conn = connecting.await.map_err(|e| AtlsError::Io(e.into()))?;
        let chain = match self.parts.chain_verifier(handshake_leaf(&conn).as_deref()) {
            Ok(c) => c,
            Err(e) => {
                driver::close_with_alert(&conn, e.alert_code(), &e.to_string());
                return Err(e);
            }
        };
        driver::establish(conn, chain, &self.parts.attestation, Role::Server).await
    }
}

impl BuildAcceptor for AtlsAcceptor {
    fn from_parts(parts: AcceptorParts) -> Result<Self, AtlsError> {
        atls_tokio::check_server_config(&parts.tls)?;
        let crypto =
            QuicServerConfig::try_from(Arc::new(parts.tls.clone())).map_err(config_error)?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        server.transport_config(transport());
        Ok(Self {
            server: Arc::new(server),
            parts: Arc::new(parts),
        })
    }
}

/// A UDP socket serving attested QUIC connections, opening them, or both.
#[derive(Debug, Clone)]
pub struct AtlsEndpoint {
    endpoint: quinn::Endpoint,
    connector: Option<AtlsConnector>,
    acceptor: Option<AtlsAcceptor>,
}

impl AtlsEndpoint {
    /// An endpoint on `addr` that accepts connections.
    pub fn server(addr: SocketAddr, acceptor: AtlsAcceptor) -> Result<Self, AtlsError> {
        let endpoint = quinn::Endpoint::server(acceptor.server_config(), addr)?;
        Ok(Self {
            endpoint,
            connector: None,
            acceptor: Some(acceptor),
        })
    }

    /// An endpoint on `addr` that opens connections.
    pub fn client(addr: SocketAddr, connector: AtlsConnector) -> Result<Self, AtlsError> {
        let endpoint = quinn::Endpoint::client(addr)?;
        Ok(Self {
            endpoint,
            connector: Some(connector),
            acceptor: None,
        })
    }

    /// A mesh node on `addr`: accepts connections with `acceptor` and opens them with
    /// `connector` on the same socket. With both requiring the peer's attestation, every
    /// link between two nodes is mutually attested on one connection.
    pub fn peer(
        addr: SocketAddr,
        acceptor: AtlsAcceptor,
        connector: AtlsConnector,
    ) -> Result<Self, AtlsError> {
        let endpoint = quinn::Endpoint::server(acceptor.server_config(), addr)?;
        Ok(Self {
            endpoint,
            connector: Some(connector),
            acceptor: Some(acceptor),
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr, AtlsError> {
        Ok(self.endpoint.local_addr()?)
    }

    /// Connects to `addr`, which must present a certificate for `server_name`, and attests.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        server_name: &str,
    ) -> Result<AttestedConnection, AtlsError> {
        let connector = self
            .connector
            .as_ref()
            .ok_or_else(|| AtlsError::Config("this endpoint has no connector".into()))?;
        connector.connect(&self.endpoint, addr, server_name).await
    }

    /// The next incoming connection, or `None` once the endpoint is closed (or it has no
    /// acceptor). Attest it with [`Accepting::attest`], typically in a task of its own.
    pub async fn accept(&self) -> Option<Accepting> {
        let acceptor = self.acceptor.clone()?;
        let incoming = self.endpoint.accept().await?;
        Some(Accepting { incoming, acceptor })
    }

    /// Closes every connection (application error code 0) and stops accepting.
    pub fn close(&self) {
        self.endpoint.close(quinn::VarInt::from_u32(0), b"");
    }

    /// Waits until every connection of the endpoint is closed and its packets are sent.
    pub async fn wait_idle(&self) {
        self.endpoint.wait_idle().await;
    }
}

/// An incoming connection, before its handshake and attestation.
#[derive(Debug)]
pub struct Accepting {
    incoming: quinn::Incoming,
    acceptor: AtlsAcceptor,
}

impl Accepting {
    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.incoming.remote_address()
    }

    /// Runs the handshake and attestation; the connection once every required direction is
    /// attested.
    pub async fn attest(self) -> Result<AttestedConnection, AtlsError> {
        self.acceptor.accept(self.incoming).await
    }

    /// Refuses the connection.
    pub fn refuse(self) {
        self.incoming.refuse();
    }
}

impl std::fmt::Debug for AtlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlsConnector").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AtlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlsAcceptor").finish_non_exhaustive()
    }
}
