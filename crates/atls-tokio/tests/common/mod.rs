//! Loopback fixtures: a test CA, server and client identities, and attesters.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use atls_core::{Binding, CertificateDer};
use atls_evidence::insecure_test::{InsecureTestAttester, InsecureTestVerifier};
use atls_evidence::{Attester, BoxFuture, EvidenceError, VerifierSet};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};

pub const AK_SEED: [u8; 32] = [0x5e; 32];

pub struct Pki {
    pub ca_der: CertificateDer<'static>,
    pub server_chain: Vec<CertificateDer<'static>>,
    pub server_key: Vec<u8>,
    pub client_chain: Vec<CertificateDer<'static>>,
    pub client_key: Vec<u8>,
    ca: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "atls test CA");
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let ca_der = ca_cert.der().clone();
        let ca = rcgen::Issuer::new(params, ca_key);
        let (server_chain, server_key) = leaf(&ca, "attested.example", &ca_der);
        let (client_chain, client_key) = leaf(&ca, "client.example", &ca_der);
        Self {
            ca_der,
            server_chain,
            server_key,
            client_chain,
            client_key,
            ca,
        }
    }

    /// Another leaf from the same CA.
    pub fn leaf(&self, name: &str) -> (Vec<CertificateDer<'static>>, Vec<u8>) {
        leaf(&self.ca, name, &self.ca_der)
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        roots
    }

    pub fn client_verifier(&self) -> Arc<dyn rustls::server::danger::ClientCertVerifier> {
        rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.roots()),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap()
    }
}

fn leaf(
    ca: &rcgen::Issuer<'static, rcgen::KeyPair>,
    name: &str,
    ca_der: &CertificateDer<'static>,
) -> (Vec<CertificateDer<'static>>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (
        vec![cert.der().clone(), ca_der.clone()],
        key.serialize_der(),
    )
}

pub fn key(der: &[u8]) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()))
}

pub fn attester(platform: &str) -> Arc<dyn Attester> {
    let mut claims = BTreeMap::new();
    claims.insert("test.platform".to_string(), serde_json::json!(platform));
    Arc::new(InsecureTestAttester::new(AK_SEED, claims))
}

pub fn verifiers() -> VerifierSet {
    let pk = InsecureTestAttester::new(AK_SEED, BTreeMap::new()).public_key();
    VerifierSet::new().with(Arc::new(InsecureTestVerifier::new(pk).unwrap()))
}

/// An attester that records every binder it attests to.
#[derive(Debug, Default)]
pub struct Recording {
    pub binders: Mutex<Vec<Vec<u8>>>,
}

impl Attester for Recording {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        self.binders.lock().unwrap().push(binding.binder().to_vec());
        Box::pin(async move {
            let inner = InsecureTestAttester::new(AK_SEED, BTreeMap::new());
            inner.attest(binding).await
        })
    }
}

/// An attester that succeeds `good` times, then returns evidence bound to nothing.
#[derive(Debug)]
pub struct GoesBad {
    pub good: Mutex<u32>,
}

impl Attester for GoesBad {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        let mut good = self.good.lock().unwrap();
        let ok = *good > 0;
        *good = good.saturating_sub(1);
        Box::pin(async move {
            let inner = InsecureTestAttester::new(AK_SEED, BTreeMap::new());
            match ok {
                true => inner.attest(binding).await,
                // Evidence from a key nobody trusts.
                false => {
                    InsecureTestAttester::new([0x01; 32], BTreeMap::new())
                        .attest(binding)
                        .await
                }
            }
        })
    }
}

pub async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

pub async fn tcp(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

pub fn name() -> rustls::pki_types::ServerName<'static> {
    "attested.example".try_into().unwrap()
}

/// A policy accepting only `test.platform == expected`, saying why it rejects anything else.
pub fn platform_policy(expected: &'static str) -> Arc<dyn atls_tokio::PeerPolicy> {
    Arc::new(
        move |c: &atls_evidence::Claims| -> Result<serde_json::Value, atls_core::BoxError> {
            match c.get_str("test.platform") {
                Some(p) if p == expected => Ok(serde_json::json!({"accepted": true})),
                other => Err(format!("test.platform is {other:?}, expected {expected:?}").into()),
            }
        },
    )
}

/// A connector builder for any adapter, trusting the test CA and requiring the server's
/// attestation.
pub fn connector_requiring_server<C>(pki: &Pki) -> atls_tokio::ConnectorBuilder<C> {
    atls_tokio::ConnectorBuilder::new()
        .with_root_certificates(pki.roots())
        .require_server_attestation(verifiers())
}

/// An acceptor builder for any adapter, with the test server identity, attesting with
/// `attester`.
pub fn acceptor_attesting<A>(
    pki: &Pki,
    attester: Arc<dyn Attester>,
) -> atls_tokio::AcceptorBuilder<A> {
    atls_tokio::AcceptorBuilder::new(pki.server_chain.clone(), key(&pki.server_key))
        .with_attester(attester)
}

/// `local` failed with alert `code` and its peer, `peer`, learned that alert.
pub fn assert_alert_delivered(
    local: &atls_tokio::AtlsError,
    peer: &atls_tokio::AtlsError,
    code: u8,
) {
    assert_eq!(local.alert_code(), code, "{local}");
    assert!(
        matches!(peer, atls_tokio::AtlsError::PeerAlert { code: c, .. } if *c == code),
        "{peer}"
    );
}
