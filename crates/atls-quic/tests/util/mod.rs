//! QUIC fixtures: endpoints on loopback, raw quinn peers that can misbehave, an echo service.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use atls_quic::{AtlsAcceptor, AtlsConnector, AtlsEndpoint, AtlsError, AttestedConnection};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};

use crate::common::{Pki, key};

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn server(acceptor: AtlsAcceptor) -> (AtlsEndpoint, SocketAddr) {
    let endpoint = AtlsEndpoint::server(loopback(), acceptor).unwrap();
    let addr = endpoint.local_addr().unwrap();
    (endpoint, addr)
}

pub fn client(connector: AtlsConnector) -> AtlsEndpoint {
    AtlsEndpoint::client(loopback(), connector).unwrap()
}

/// Connects from a fresh client endpoint to the test server at `addr`.
pub async fn connect(
    connector: AtlsConnector,
    addr: SocketAddr,
) -> Result<AttestedConnection, AtlsError> {
    within(20, client(connector).connect(addr, "attested.example")).await
}

/// Accepts and attests the next connection of `server`, in a task.
pub fn accept_one(
    server: AtlsEndpoint,
) -> tokio::task::JoinHandle<Result<AttestedConnection, AtlsError>> {
    tokio::spawn(async move {
        let accepting = server.accept().await.ok_or(AtlsError::Closed)?;
        accepting.attest().await
    })
}

/// Fails the test instead of hanging.
pub async fn within<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("timed out")
}

/// Echoes every bidirectional stream of `conn` until the peer closes the connection.
pub async fn serve_echo(conn: AttestedConnection) {
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        tokio::spawn(async move {
            let Ok(data) = recv.read_to_end(1 << 20).await else {
                return;
            };
            let _ = send.write_all(&data).await;
            let _ = send.finish();
        });
    }
}

/// Sends `msg` on a fresh stream and returns the echo.
pub async fn echo(conn: &AttestedConnection, msg: &[u8]) -> Vec<u8> {
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(msg).await.unwrap();
    send.finish().unwrap();
    recv.read_to_end(1 << 20).await.unwrap()
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A plain quinn client endpoint trusting the test CA: no attestation, no rules.
pub fn raw_client(pki: &Pki) -> quinn::Endpoint {
    let tls = rustls::ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(pki.roots())
        .with_no_client_auth();
    let mut endpoint = quinn::Endpoint::client(loopback()).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(
        QuicClientConfig::try_from(tls).unwrap(),
    )));
    endpoint
}

/// A plain quinn client connection to the test server at `addr`.
pub async fn raw_connect(pki: &Pki, addr: SocketAddr) -> quinn::Connection {
    let connecting = raw_client(pki).connect(addr, "attested.example").unwrap();
    within(20, connecting).await.unwrap()
}

/// A plain quinn server endpoint with the test server identity.
pub fn raw_server(pki: &Pki) -> (quinn::Endpoint, SocketAddr) {
    let tls = rustls::ServerConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), key(&pki.server_key))
        .unwrap();
    let config =
        quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls).unwrap()));
    let endpoint = quinn::Endpoint::server(config, loopback()).unwrap();
    let addr = endpoint.local_addr().unwrap();
    (endpoint, addr)
}

/// The application error code a connection was closed with.
pub fn close_code(e: &quinn::ConnectionError) -> Option<u64> {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => Some(c.error_code.into_inner()),
        _ => None,
    }
}

/// An application stream's first bytes as a raw peer writes them.
pub fn app_stream_bytes(payload: &[u8]) -> Vec<u8> {
    [&[0x02u8][..], payload].concat()
}

/// A control stream carrying READY, as a raw peer writes it.
pub const CONTROL_READY: &[u8] = &[0x00, 0x03, 0, 0, 0];
