//! Attested servers and clients over TCP or QUIC for the demo and the proxies, and the
//! throwaway demo PKI.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use atls_core::CertificateDer;
use atls_evidence::{Attester, VerifierSet};
use atls_tokio::{
    AtlsAcceptor, AtlsConnector, AtlsError, AttestedStream, PeerAttestation, PeerPolicy,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which transport carries the attested connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Tcp,
    Quic,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "TCP (TLS 1.3)",
            Self::Quic => "QUIC",
        })
    }
}

/// A certificate chain and its PKCS#8 key.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: Vec<u8>,
}

impl Identity {
    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }
}

/// A throwaway CA and the identities the demo needs.
#[derive(Clone)]
pub(crate) struct Pki {
    pub(crate) ca: CertificateDer<'static>,
    /// `attested.example`: the server the client expects.
    pub(crate) server: Identity,
    /// Another valid certificate for `attested.example` (the genuine TEE in the relay
    /// attack, where the relay holds `server`).
    pub(crate) genuine: Identity,
    /// `attacker.example`.
    pub(crate) attacker: Identity,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pki { .. }")
    }
}

impl Pki {
    pub(crate) fn new() -> Result<Self, String> {
        let err = |e: rcgen::Error| e.to_string();
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "atls demo CA (INSECURE, throwaway)",
        );
        let ca_cert = params.self_signed(&ca_key).map_err(err)?;
        let ca = ca_cert.der().clone();
        let issuer = rcgen::Issuer::new(params, ca_key);
        let leaf = |name: &str| -> Result<Identity, String> {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
            let params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(err)?;
            let cert = params.signed_by(&key, &issuer).map_err(err)?;
            Ok(Identity {
                chain: vec![cert.der().clone(), ca.clone()],
                key: key.serialize_der(),
            })
        };
        Ok(Self {
            server: leaf("attested.example")?,
            genuine: leaf("attested.example")?,
            attacker: leaf("attacker.example")?,
            ca,
        })
    }

    pub(crate) fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        let _ = roots.add(self.ca.clone());
        roots
    }
}

/// An attested stream on either transport.
pub(crate) enum Stream {
    Tcp(AttestedStream),
    /// One application stream of an attested QUIC connection (kept alive with it).
    Quic(Box<QuicStream>),
}

/// A bidirectional application stream and the attested connection (and endpoint) it lives on.
pub(crate) struct QuicStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    conn: atls_quic::AttestedConnection,
    _endpoint: Option<Arc<atls_quic::AtlsEndpoint>>,
}

impl Stream {
    pub(crate) fn peer_attestation(&self) -> Option<Arc<PeerAttestation>> {
        match self {
            Self::Tcp(s) => s.peer_attestation(),
            Self::Quic(q) => q.conn.peer_attestation(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Quic(q) => Pin::new(&mut q.recv).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Quic(q) => Pin::new(&mut q.send)
                .poll_write(cx, buf)
                .map_err(std::io::Error::other),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Quic(q) => Pin::new(&mut q.send).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Quic(q) => Pin::new(&mut q.send).poll_shutdown(cx),
        }
    }
}

/// The client side of the demo and the proxies.
pub(crate) type Client = Stream;

impl Stream {
    /// Connects to `addr`, expecting `name` under the demo PKI, requiring its attestation.
    pub(crate) async fn connect(
        pki: &Pki,
        name: &str,
        addr: SocketAddr,
        verifiers: VerifierSet,
        policy: Arc<dyn PeerPolicy>,
        transport: Transport,
    ) -> Result<Self, AtlsError> {
        Self::connect_with_roots(pki.roots(), name, addr, verifiers, policy, transport).await
    }

    /// Connects to `addr`, expecting `name` under `roots`, requiring its attestation.
    pub(crate) async fn connect_with_roots(
        roots: rustls::RootCertStore,
        name: &str,
        addr: SocketAddr,
        verifiers: VerifierSet,
        policy: Arc<dyn PeerPolicy>,
        transport: Transport,
    ) -> Result<Self, AtlsError> {
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|e| AtlsError::Config(format!("server name {name:?}: {e}")))?;
        match transport {
            Transport::Tcp => {
                let connector = AtlsConnector::builder()
                    .with_root_certificates(roots)
                    .require_server_attestation(verifiers)
                    .with_policy(policy)
                    .build()?;
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                connector.connect(server_name, tcp).await.map(Self::Tcp)
            }
            Transport::Quic => {
                let connector = atls_quic::AtlsConnector::builder()
                    .with_root_certificates(roots)
                    .require_server_attestation(verifiers)
                    .with_policy(policy)
                    .build()?;
                let local = SocketAddr::from(([127, 0, 0, 1], 0));
                let endpoint = Arc::new(atls_quic::AtlsEndpoint::client(local, connector)?);
                let conn = endpoint.connect(addr, name).await?;
                let (send, recv) = conn.open_bi().await?;
                Ok(Self::Quic(Box::new(QuicStream {
                    send,
                    recv,
                    conn,
                    _endpoint: Some(endpoint),
                })))
            }
        }
    }
}

/// An attested server on loopback, serving each stream with a handler until dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Starts on an ephemeral loopback port.
    pub(crate) async fn start<F, Fut>(
        identity: &Identity,
        attester: Arc<dyn Attester>,
        transport: Transport,
        handler: F,
    ) -> Result<Self, AtlsError>
    where
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_on(loopback, identity, attester, transport, handler).await
    }

    /// Runs until the task ends (it does not, unless the listener fails).
    pub(crate) async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }

    /// Starts on `listen`.
    pub(crate) async fn start_on<F, Fut>(
        listen: SocketAddr,
        identity: &Identity,
        attester: Arc<dyn Attester>,
        transport: Transport,
        handler: F,
    ) -> Result<Self, AtlsError>
    where
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        match transport {
            Transport::Tcp => {
                let acceptor = AtlsAcceptor::builder(identity.chain.clone(), identity.key())
                    .with_attester(attester)
                    .build()?;
                let listener = tokio::net::TcpListener::bind(listen).await?;
                let addr = listener.local_addr()?;
                let task = tokio::spawn(async move {
                    while let Ok((tcp, _)) = listener.accept().await {
                        let (acceptor, handler) = (acceptor.clone(), handler.clone());
                        tokio::spawn(async move {
                            match acceptor.accept(tcp).await {
                                Ok(s) => handler(Stream::Tcp(s)).await,
                                Err(e) => tracing::info!(error = %e, "attested accept failed"),
                            }
                        });
                    }
                });
                Ok(Self { addr, task })
            }
            Transport::Quic => {
                let acceptor =
                    atls_quic::AtlsAcceptor::builder(identity.chain.clone(), identity.key())
                        .with_attester(attester)
                        .build()?;
                let endpoint = atls_quic::AtlsEndpoint::server(listen, acceptor)?;
                let addr = endpoint.local_addr()?;
                let task = tokio::spawn(async move {
                    while let Some(accepting) = endpoint.accept().await {
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let conn = match accepting.attest().await {
                                Ok(c) => c,
                                Err(e) => {
                                    return tracing::info!(error = %e, "attested accept failed");
                                }
                            };
                            while let Ok((send, recv)) = conn.accept_bi().await {
                                let stream = Stream::Quic(Box::new(QuicStream {
                                    send,
                                    recv,
                                    conn: conn.clone(),
                                    _endpoint: None,
                                }));
                                tokio::spawn(handler(stream));
                            }
                        });
                    }
                });
                Ok(Self { addr, task })
            }
        }
    }
}
