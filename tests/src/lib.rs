//! Harness for the cross-crate scenario tests: attested sessions on simulated TLS
//! connections, driven in memory with real attesters and verifiers from `atls-evidence`
//! (and later the TDX backend), plus the tools an attacker would use.
//!
//! No public function of the production crates lets a caller choose the data evidence
//! binds (relay attack RL-03: a "quote oracle"). These must not compile:
//!
//! ```compile_fail
//! // rl_03: no constructor of a Binding from caller-chosen bytes.
//! let b = atls_core::Binding::new(vec![0; 32], vec![0; 32]);
//! ```
//! ```compile_fail
//! let b = atls_core::Binding::from_bytes(&[0; 64]);
//! ```
//! ```compile_fail
//! // rl_03: the test attester only attests to a Binding.
//! let a = atls_evidence::insecure_test::InsecureTestAttester::new([1; 32], Default::default());
//! let _ = a.evidence_for_report_data(&[0u8; 64]);
//! ```
//!
//! Nor can a signing key be exported or persisted (RPL-04):
//!
//! ```compile_fail
//! let key = atls_core::Ed25519SigningKey::from_seed(&[1; 32]);
//! let _secret = key.to_bytes();
//! ```
//! ```compile_fail
//! let key = atls_core::Ed25519SigningKey::from_seed(&[1; 32]);
//! let _secret = key.0;
//! ```
//! ```compile_fail
//! let key = atls_core::Ed25519SigningKey::from_seed(&[1; 32]);
//! let _der = key.to_pkcs8_der();
//! ```
#![allow(missing_docs, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use atls_core::{
    AppraisalError, Binding, CertificateDer, CertificateVerifier, CertifiedKey, CipherSuite,
    Config, Error, Event, ExporterMasterSecret, PinnedKeyVerifier, Role, Session,
    signing_key_from_pkcs8_der, spki_der,
};
use atls_evidence::insecure_test::{InsecureTestAttester, InsecureTestVerifier};
use atls_evidence::{Attester, Claims, EvidenceError, VerifierSet};

pub const SUITE: CipherSuite = CipherSuite::TLS13_AES_128_GCM_SHA256;

/// Seed of the insecure test "attestation key" shared by genuine test attesters.
pub const TEST_AK_SEED: [u8; 32] = [0x7e; 32];

/// A self-signed identity.
#[derive(Clone)]
pub struct Identity {
    pub name: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl Identity {
    pub fn new(name: &str) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            name: name.to_string(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }

    pub fn certified(&self) -> CertifiedKey {
        CertifiedKey {
            chain: vec![CertificateDer::from(self.cert_der.clone())],
            key: signing_key_from_pkcs8_der(&self.key_der).unwrap(),
        }
    }

    pub fn pinned(&self) -> Arc<dyn CertificateVerifier> {
        Arc::new(PinnedKeyVerifier::for_certificate(&self.cert_der).unwrap())
    }

    pub fn spki(&self) -> Vec<u8> {
        spki_der(&self.cert_der).unwrap()
    }
}

/// A genuine (test) attester claiming `platform`.
pub fn test_attester(platform: &str) -> Arc<dyn Attester> {
    let mut claims = BTreeMap::new();
    claims.insert("test.platform".to_string(), serde_json::json!(platform));
    Arc::new(InsecureTestAttester::new(TEST_AK_SEED, claims))
}

/// Verifiers trusting the test attestation key.
pub fn test_verifiers() -> VerifierSet {
    let ak = InsecureTestAttester::new(TEST_AK_SEED, BTreeMap::new()).public_key();
    VerifierSet::new().with(Arc::new(InsecureTestVerifier::new(ak).unwrap()))
}

/// One endpoint: its session, what it attests with, and what it appraises with.
pub struct Endpoint {
    pub session: Session<Claims>,
    pub attester: Option<Arc<dyn Attester>>,
    pub verifiers: VerifierSet,
    pub attested: Vec<(Vec<u8>, Claims)>,
    pub bindings_attested: Vec<Binding>,
    pub evidence_sent: Vec<Vec<u8>>,
}

impl Endpoint {
    pub fn new(
        role: Role,
        identity: &Identity,
        peer_verifier: Arc<dyn CertificateVerifier>,
        attester: Option<Arc<dyn Attester>>,
        seed: [u8; 32],
    ) -> Self {
        let cfg = Config::new(peer_verifier).with_identity(identity.certified());
        Self {
            session: Session::new(Arc::new(cfg), role, SUITE, seed).unwrap(),
            attester,
            verifiers: test_verifiers(),
            attested: Vec::new(),
            bindings_attested: Vec::new(),
            evidence_sent: Vec::new(),
        }
    }

    /// Handles all pending events with the real attester and verifiers.
    pub fn step(&mut self) -> Result<bool, Error> {
        let mut progressed = false;
        while let Some(ev) = self.session.poll_event() {
            progressed = true;
            match ev {
                Event::EvidenceRequested { id, binding } => {
                    let evidence = match &self.attester {
                        Some(a) => pollster::block_on(a.attest(&binding))
                            .map_err(|e| -> atls_core::BoxError { Box::new(e) }),
                        None => Err("no attester".into()),
                    };
                    if let Ok(e) = &evidence {
                        self.evidence_sent.push(e.clone());
                    }
                    self.bindings_attested.push(binding);
                    self.session.handle_evidence(id, evidence)?;
                }
                Event::AppraisalRequested {
                    id,
                    evidence,
                    binding,
                    ..
                } => {
                    let verdict = pollster::block_on(self.verifiers.appraise(&evidence, &binding))
                        .map_err(AppraisalError::from);
                    self.session.handle_appraisal(id, verdict)?;
                }
                Event::Attested {
                    context, claims, ..
                } => self.attested.push((context, claims)),
                _ => {}
            }
        }
        Ok(progressed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// Two endpoints on one simulated TLS connection.
pub struct Link {
    pub client: Endpoint,
    pub server: Endpoint,
    pub exporter: ExporterMasterSecret,
    pub now: Instant,
}

impl Link {
    /// A connection with its own exporter secret `secret`.
    pub fn new(client: Endpoint, server: Endpoint, secret: u8) -> Self {
        Self {
            client,
            server,
            exporter: ExporterMasterSecret::new(atls_core::HashAlgorithm::Sha256, &[secret; 32])
                .unwrap(),
            now: Instant::now(),
        }
    }

    /// The usual deployment: the server attests with a genuine test attester; the client
    /// pins the server's key and trusts the test attestation key.
    pub fn server_attests(server_id: &Identity, secret: u8) -> Self {
        let client_id = Identity::new("client.example");
        let client = Endpoint::new(Role::Client, &client_id, server_id.pinned(), None, [1; 32]);
        let server = Endpoint::new(
            Role::Server,
            server_id,
            client_id.pinned(),
            Some(test_attester("genuine")),
            [2; 32],
        );
        Self::new(client, server, secret)
    }

    /// The client requests the server's attestation and the exchange runs; returns the
    /// client's error, checking that the client (not the server) failed and is not attested.
    pub fn client_attestation_fails(&mut self) -> Error {
        self.client
            .session
            .request_attestation(self.now, &self.exporter)
            .unwrap();
        let (side, err) = self.drive().expect_err("the client must reject the server");
        assert_eq!(side, Side::Client, "{err}");
        assert!(!self.client.session.is_peer_attested());
        err
    }

    /// Runs both sides until nothing moves; errors are tagged with the side raising them.
    pub fn drive(&mut self) -> Result<(), (Side, Error)> {
        loop {
            let mut progressed = false;
            while let Some(m) = self.client.session.poll_transmit() {
                progressed = true;
                self.server
                    .session
                    .handle_message(self.now, &m, &self.exporter)
                    .map_err(|e| (Side::Server, e))?;
            }
            while let Some(m) = self.server.session.poll_transmit() {
                progressed = true;
                self.client
                    .session
                    .handle_message(self.now, &m, &self.exporter)
                    .map_err(|e| (Side::Client, e))?;
            }
            progressed |= self.client.step().map_err(|e| (Side::Client, e))?;
            progressed |= self.server.step().map_err(|e| (Side::Server, e))?;
            if !progressed {
                return Ok(());
            }
        }
    }
}

/// The evidence error inside a session error, if that is what it is.
pub fn evidence_error(err: &Error) -> Option<&EvidenceError> {
    match err {
        Error::Evidence(e) => e.downcast_ref::<EvidenceError>(),
        _ => None,
    }
}

/// Test evidence with arbitrary binder and key hash, signed with the test attestation key:
/// what an attacker who leaked a platform's attestation key (or a compromised attester) can
/// produce. Same format as `InsecureTestAttester`.
pub fn forge_test_evidence(binder: &[u8], aik_pub_hash: &[u8]) -> Vec<u8> {
    use atls_evidence::{Cmw, Indicator, MediaType, Record};
    use ed25519_dalek::Signer;
    let body = serde_json::to_vec(&serde_json::json!({
        "binder": hex::encode(binder),
        "aik_pub_hash": hex::encode(aik_pub_hash),
        "claims": {"test.platform": "forged"},
    }))
    .unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&TEST_AK_SEED);
    let value = [key.sign(&body).to_bytes().as_slice(), &body].concat();
    let mt = MediaType::parse(atls_evidence::INSECURE_TEST_EVIDENCE_MEDIA_TYPE).unwrap();
    let record = Record::new(mt, value, Some(Indicator::EVIDENCE)).unwrap();
    Cmw::new_cbor(record).encode()
}

/// An authenticator answering `request` (server role) on the connection of `exporter`,
/// signed by `identity` and carrying `cmw`: what any party holding `identity`'s key can build.
pub fn answer_as_server(
    exporter: &ExporterMasterSecret,
    request: &[u8],
    identity: &Identity,
    cmw: &[u8],
) -> Vec<u8> {
    use atls_core::Codec;
    let hash = atls_core::HashAlgorithm::Sha256;
    let keys = atls_core::AuthenticatorKeys::derive(exporter, hash, Role::Server).unwrap();
    let ctx = atls_core::AuthenticatorRequest::decode(request)
        .unwrap()
        .context;
    let ext =
        atls_core::Extension::cmw_attestation(atls_core::DEFAULT_CMW_ATTESTATION, cmw).unwrap();
    atls_core::build_authenticator(hash, &keys, request, &ctx, &identity.certified(), vec![ext])
        .unwrap()
}

/// The CMW inside a full authenticator.
pub fn cmw_of(authenticator: &[u8]) -> Vec<u8> {
    use atls_core::{Authenticator, Codec, Extension};
    let Authenticator::Full { certificate, .. } = Authenticator::decode(authenticator).unwrap()
    else {
        panic!("expected a full authenticator");
    };
    Extension::parse_cmw_attestation(&certificate.entries[0].extensions[0].data)
        .unwrap()
        .to_vec()
}

/// The binder the verifier expects on `exporter`'s connection for `ctx` and key `spki`,
/// computed the way draft -04 defines it.
pub fn expected_binder(exporter: &ExporterMasterSecret, ctx: &[u8], spki: &[u8]) -> Vec<u8> {
    use atls_core::Exporter;
    let mut exported = [0u8; 32];
    exporter
        .export(b"EXPORTER-cmw-attestation", ctx, &mut exported)
        .unwrap();
    atls_core::HashAlgorithm::Sha256.hash(&[spki, &exported])
}

/// The client's attestation request on `link`, as sent.
pub fn client_request(link: &mut Link) -> Vec<u8> {
    link.client
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    link.client.session.poll_transmit().unwrap()
}

/// Delivers `authenticator` to the client, appraises, and returns the client's error.
pub fn client_rejects(link: &mut Link, authenticator: &[u8]) -> Error {
    let err = match link
        .client
        .session
        .handle_message(link.now, authenticator, &link.exporter)
    {
        Err(e) => e,
        Ok(()) => link.client.step().expect_err("the client must reject this"),
    };
    assert!(!link.client.session.is_peer_attested());
    assert!(link.client.session.close_alert().is_some());
    assert!(link.client.attested.is_empty());
    err
}
