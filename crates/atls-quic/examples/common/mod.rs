//! Demo fixtures shared by the examples: a throwaway CA made at startup, and the insecure
//! test attester, whose evidence proves nothing outside demos and tests.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use atls_core::CertificateDer;
use atls_evidence::insecure_test::{InsecureTestAttester, InsecureTestVerifier};
use atls_evidence::{Attester, VerifierSet};
use atls_quic::{AtlsConnector, AtlsEndpoint, AtlsError, AttestedConnection};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where `echo_server` listens and `echo_client` connects by default.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4433";
/// The name in the demo server's certificate.
pub const SERVER_NAME: &str = "echo.atls.test";
/// Seed of the demo attestation key: public, so anyone can forge this evidence.
const DEMO_AK_SEED: [u8; 32] = [0x42; 32];

/// Where the server leaves its CA certificate (DER) for clients started separately.
pub fn ca_file() -> PathBuf {
    std::env::temp_dir().join("atls-quic-demo-ca.der")
}

/// A CA generated at startup, issuing demo certificates.
pub struct DemoCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    der: CertificateDer<'static>,
}

impl DemoCa {
    pub fn generate() -> Result<Self, BoxError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "atls demo CA (throwaway)");
        let der = params.self_signed(&key)?.der().clone();
        Ok(Self {
            issuer: rcgen::Issuer::new(params, key),
            der,
        })
    }

    /// A certificate chain and PKCS#8 key for `name`.
    pub fn issue(
        &self,
        name: &str,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), BoxError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert =
            rcgen::CertificateParams::new(vec![name.to_string()])?.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.der.clone()], key))
    }

    pub fn roots(&self) -> Result<rustls::RootCertStore, BoxError> {
        roots_of(self.der.clone())
    }

    pub fn save(&self) -> std::io::Result<PathBuf> {
        let path = ca_file();
        std::fs::write(&path, &self.der)?;
        Ok(path)
    }
}

fn roots_of(ca: CertificateDer<'static>) -> Result<rustls::RootCertStore, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca)?;
    Ok(roots)
}

/// The roots a running `echo_server` saved.
pub fn saved_roots() -> Result<rustls::RootCertStore, BoxError> {
    let der = std::fs::read(ca_file())
        .map_err(|e| format!("{}: {e} (start echo_server first)", ca_file().display()))?;
    roots_of(CertificateDer::from(der))
}

/// The insecure test attester, claiming `platform`.
pub fn demo_attester(platform: &str) -> Arc<dyn Attester> {
    let claims = [("demo.platform".to_string(), serde_json::json!(platform))];
    Arc::new(InsecureTestAttester::new(
        DEMO_AK_SEED,
        claims.into_iter().collect(),
    ))
}

/// Verifies the demo attester's evidence.
pub fn demo_verifiers() -> Result<VerifierSet, BoxError> {
    let ak = InsecureTestAttester::new(DEMO_AK_SEED, Default::default()).public_key();
    Ok(VerifierSet::new().with(Arc::new(InsecureTestVerifier::new(ak)?)))
}

/// Serves echo on every bidirectional stream of every connection, until `limit`
/// connections were served (forever without one).
pub async fn serve_echo(endpoint: AtlsEndpoint, limit: Option<usize>) {
    let mut served = 0;
    while limit.is_none_or(|l| served < l) {
        let Some(accepting) = endpoint.accept().await else {
            return;
        };
        served += 1;
        let remote = accepting.remote_address();
        let task = tokio::spawn(async move {
            let conn = match accepting.attest().await {
                Ok(c) => c,
                Err(e) => return println!("{remote}: attestation failed: {e}"),
            };
            println!("{remote}: attested link open");
            while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                tokio::spawn(async move {
                    if let Ok(data) = recv.read_to_end(64 * 1024).await {
                        let _ = send.write_all(&data).await;
                        let _ = send.finish();
                    }
                });
            }
            println!("{remote}: closed ({:?})", conn.closed().await);
        });
        if limit.is_some() {
            let _ = task.await;
        }
    }
}

/// Connects to `addr` requiring the server's attestation, sends `message` on one stream and
/// prints what comes back.
pub async fn echo_once(
    addr: SocketAddr,
    roots: rustls::RootCertStore,
    message: &str,
) -> Result<(), BoxError> {
    let connector = AtlsConnector::builder()
        .with_root_certificates(roots)
        .require_server_attestation(demo_verifiers()?)
        .build()?;
    let endpoint = AtlsEndpoint::client("127.0.0.1:0".parse()?, connector)?;
    let conn: AttestedConnection = endpoint.connect(addr, SERVER_NAME).await?;
    let attestation = conn
        .peer_attestation()
        .ok_or_else(|| AtlsError::Protocol("server not attested".into()))?;
    println!(
        "server attested: {} claims {}",
        attestation.claims.evidence_type,
        serde_json::to_string(&attestation.claims.get_str("demo.platform"))?
    );
    let (mut send, mut recv) = conn.open_bi().await?;
    send.write_all(message.as_bytes()).await?;
    send.finish()?;
    let reply = recv.read_to_end(64 * 1024).await?;
    println!("echo: {}", String::from_utf8_lossy(&reply));
    conn.close();
    endpoint.wait_idle().await;
    Ok(())
}
