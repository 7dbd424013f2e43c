//! Loopback fixtures: a test CA, server and client identities, and TDX attesters.
//!
//! Evidence is real TDX evidence from the project's simulator: quotes signed through a test
//! PKI and appraised by the same DCAP path as hardware quotes (`TdxVerifier` under the
//! simulator's test root), REPORTDATA = binder ‖ AIK_pub_hash. Each simulated "platform" is a
//! TD with its own MRTD; the fixture verifier names the platform in `test.platform` after
//! appraisal so tests can say which peer they reached.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};

use atls_core::{Binding, CertificateDer};
use atls_evidence::{Attester, BoxFuture, Claims, EvidenceError, MediaType, Verifier, VerifierSet};
use atls_tdx::sim::{
    QuoteVariant, SimulatedTd, SimulatedTdxAttester, SimulatorConfig, TdxSimulator,
};
use atls_tdx::{Appraiser, StaticCollateral, TdxVerifier};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::Digest;
use tokio::net::{TcpListener, TcpStream};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One simulated TDX platform for the whole test binary (no generation delay).
static SIM: LazyLock<Arc<TdxSimulator>> = LazyLock::new(|| {
    let config = SimulatorConfig::new([0x5e; 32], unix_now() - 3600).without_generation_delay();
    Arc::new(TdxSimulator::new(config).unwrap())
});

/// Platform names by the hex MRTD of their TD.
static PLATFORMS: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Default::default);

fn td(platform: &str) -> SimulatedTd {
    let mr_td: [u8; 48] = sha2::Sha384::digest(format!("platform {platform}")).into();
    PLATFORMS
        .lock()
        .unwrap()
        .insert(hex::encode(mr_td), platform.to_string());
    SimulatedTd::default().with_mr_td(mr_td)
}

fn simulated(platform: &str, variant: QuoteVariant) -> SimulatedTdxAttester {
    SimulatedTdxAttester::new(SIM.clone(), td(platform)).with_variant(variant)
}

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

/// A TD on the simulated platform, measured as `platform`.
pub fn attester(platform: &str) -> Arc<dyn Attester> {
    Arc::new(simulated(platform, QuoteVariant::Genuine))
}

/// The TDX verifier (DCAP under the simulator's test root, collateral, binder check), with
/// the platform named in the claims.
pub fn verifiers() -> VerifierSet {
    let appraiser = Appraiser::with_test_root_ca_for_testing(SIM.test_root_ca_der().to_vec());
    let collateral = Arc::new(StaticCollateral::new(SIM.collateral().clone()));
    let tdx = TdxVerifier::new(appraiser, collateral, unix_now);
    VerifierSet::new().with(Arc::new(NamesPlatform(tdx)))
}

/// Adds `test.platform` to the claims of evidence the TDX verifier accepted.
#[derive(Debug)]
struct NamesPlatform(TdxVerifier);

impl Verifier for NamesPlatform {
    fn media_type(&self) -> MediaType {
        self.0.media_type()
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>> {
        Box::pin(async move {
            let mut claims = self.0.verify(value, binding).await?;
            let name = claims
                .get_str("tdx.mr_td")
                .and_then(|m| PLATFORMS.lock().unwrap().get(m).cloned());
            if let Some(name) = name {
                claims.insert("test.platform", name);
            }
            Ok(claims)
        })
    }
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
            simulated("recorded", QuoteVariant::Genuine)
                .attest(binding)
                .await
        })
    }
}

/// An attester that succeeds `good` times, then returns quotes whose signature does not
/// verify.
#[derive(Debug)]
pub struct GoesBad {
    pub good: Mutex<u32>,
}

impl Attester for GoesBad {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        let mut good = self.good.lock().unwrap();
        let ok = *good > 0;
        *good = good.saturating_sub(1);
        let variant = match ok {
            true => QuoteVariant::Genuine,
            false => QuoteVariant::TamperedQuoteSignature,
        };
        Box::pin(async move { simulated("goes-bad", variant).attest(binding).await })
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
        move |c: &Claims| -> Result<serde_json::Value, atls_core::BoxError> {
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
