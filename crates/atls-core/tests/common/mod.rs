//! In-memory harness: two sessions on one simulated TLS connection (a shared exporter), a
//! toy attester whose "evidence" is `binder ‖ aik_pub_hash` (the shape of TDX REPORTDATA) and
//! a toy appraiser that checks both. No sockets, no clocks: time is an `Instant` we step.
// Tests play the host, which owns the clock.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods)]

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atls_core::*;

pub type Claims = String;

/// A self-signed certificate and its key.
#[derive(Clone)]
pub struct Identity {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl Identity {
    pub fn ed25519(name: &str) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        Self::with_key(name, key)
    }

    pub fn p256(name: &str) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        Self::with_key(name, key)
    }

    pub fn p384(name: &str) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        Self::with_key(name, key)
    }

    fn with_key(name: &str, key: rcgen::KeyPair) -> Self {
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
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

    pub fn signing_key(&self) -> Arc<dyn SigningKey> {
        signing_key_from_pkcs8_der(&self.key_der).unwrap()
    }

    /// A verifier that accepts exactly this identity's key.
    pub fn pinned(&self) -> Arc<dyn CertificateVerifier> {
        Arc::new(PinnedKeyVerifier::for_certificate(&self.cert_der).unwrap())
    }

    pub fn spki(&self) -> Vec<u8> {
        spki_der(&self.cert_der).unwrap()
    }
}

/// Errors of the toy appraiser, so tests can assert the specific failure.
#[derive(Debug, PartialEq, Eq)]
pub enum ToyEvidenceError {
    BinderMismatch,
    AikMismatch,
    Malformed,
}

impl fmt::Display for ToyEvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for ToyEvidenceError {}

/// Toy evidence: `binder ‖ aik_pub_hash`.
pub fn toy_evidence(binding: &Binding) -> Vec<u8> {
    [binding.binder(), binding.aik_pub_hash()].concat()
}

/// Toy appraisal: evidence must equal `binder ‖ aik_pub_hash` of the expected binding.
pub fn toy_appraise(evidence: &[u8], binding: &Binding) -> Result<Claims, AppraisalError> {
    let n = binding.binder().len();
    if evidence.len() != n + binding.aik_pub_hash().len() {
        return Err(AppraisalError::Evidence(Box::new(
            ToyEvidenceError::Malformed,
        )));
    }
    let (binder, aik) = evidence.split_at(n);
    if binder != binding.binder() {
        return Err(AppraisalError::Evidence(Box::new(
            ToyEvidenceError::BinderMismatch,
        )));
    }
    if aik != binding.aik_pub_hash() {
        return Err(AppraisalError::Evidence(Box::new(
            ToyEvidenceError::AikMismatch,
        )));
    }
    Ok(format!("attested:{}", hex::encode(&binder[..4])))
}

/// Asserts `err` is an evidence error of the toy kind `kind`.
pub fn assert_toy_evidence_error(err: &Error, kind: ToyEvidenceError) {
    match err {
        Error::Evidence(e) => {
            assert_eq!(e.downcast_ref::<ToyEvidenceError>(), Some(&kind), "{err}")
        }
        other => panic!("expected evidence error {kind:?}, got {other:?}"),
    }
}

/// An exporter that is not available yet (handshake still running).
pub struct NotYet;

impl Exporter for NotYet {
    fn export(&self, _: &[u8], _: &[u8], _: &mut [u8]) -> Result<(), ExporterError> {
        Err(ExporterError::HandshakeNotComplete)
    }
}

pub fn exporter(secret: u8, suite: CipherSuite) -> ExporterMasterSecret {
    let hash = suite.hash().unwrap();
    ExporterMasterSecret::new(hash, &vec![secret; hash.output_len()]).unwrap()
}

/// What a drive of the pair produced.
#[derive(Default, Debug)]
pub struct Outcome {
    pub client_attested: Vec<(Vec<u8>, Claims)>,
    pub server_attested: Vec<(Vec<u8>, Claims)>,
    pub client_events: Vec<String>,
    pub server_events: Vec<String>,
    pub bindings: Vec<Binding>,
}

/// Two sessions on one simulated connection.
pub struct Pair {
    pub client: Session<Claims>,
    pub server: Session<Claims>,
    pub exporter: ExporterMasterSecret,
    pub now: Instant,
    pub client_id: Identity,
    pub server_id: Identity,
}

pub const SUITE: CipherSuite = CipherSuite::TLS13_AES_128_GCM_SHA256;

impl Pair {
    /// Both sides have Ed25519 identities and pin each other's key.
    pub fn new() -> Self {
        Self::with(SUITE, 0x42, |_| {}, |_| {})
    }

    pub fn with(
        suite: CipherSuite,
        secret: u8,
        client_cfg: impl FnOnce(&mut Config),
        server_cfg: impl FnOnce(&mut Config),
    ) -> Self {
        let client_id = Identity::ed25519("client.example");
        let server_id = Identity::ed25519("attester.example");
        Self::with_identities(suite, secret, client_id, server_id, client_cfg, server_cfg)
    }

    pub fn with_identities(
        suite: CipherSuite,
        secret: u8,
        client_id: Identity,
        server_id: Identity,
        client_cfg: impl FnOnce(&mut Config),
        server_cfg: impl FnOnce(&mut Config),
    ) -> Self {
        let mut c = Config::new(server_id.pinned()).with_identity(client_id.certified());
        client_cfg(&mut c);
        let mut s = Config::new(client_id.pinned()).with_identity(server_id.certified());
        server_cfg(&mut s);
        Self {
            client: Session::new(Arc::new(c), Role::Client, suite, [1; 32]).unwrap(),
            server: Session::new(Arc::new(s), Role::Server, suite, [2; 32]).unwrap(),
            exporter: exporter(secret, suite),
            now: Instant::now(),
            client_id,
            server_id,
        }
    }

    /// Moves every queued client message to the server.
    pub fn deliver_to_server(&mut self) -> Result<(), Error> {
        while let Some(m) = self.client.poll_transmit() {
            self.server.handle_message(self.now, &m, &self.exporter)?;
        }
        Ok(())
    }

    /// Moves every queued server message to the client.
    pub fn deliver_to_client(&mut self) -> Result<(), Error> {
        while let Some(m) = self.server.poll_transmit() {
            self.client.handle_message(self.now, &m, &self.exporter)?;
        }
        Ok(())
    }

    /// Runs both sides with the toy attester and appraiser until nothing moves.
    /// Errors are tagged with the side that raised them.
    pub fn drive(&mut self) -> Result<Outcome, (Side, Error)> {
        let mut out = Outcome::default();
        loop {
            let mut progressed = false;
            while let Some(m) = self.client.poll_transmit() {
                progressed = true;
                self.server
                    .handle_message(self.now, &m, &self.exporter)
                    .map_err(|e| (Side::Server, e))?;
            }
            while let Some(m) = self.server.poll_transmit() {
                progressed = true;
                self.client
                    .handle_message(self.now, &m, &self.exporter)
                    .map_err(|e| (Side::Client, e))?;
            }
            progressed |= step_events(&mut self.client, &mut out, Side::Client)
                .map_err(|e| (Side::Client, e))?;
            progressed |= step_events(&mut self.server, &mut out, Side::Server)
                .map_err(|e| (Side::Server, e))?;
            if !progressed {
                return Ok(out);
            }
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

fn step_events(s: &mut Session<Claims>, out: &mut Outcome, side: Side) -> Result<bool, Error> {
    let mut progressed = false;
    while let Some(ev) = s.poll_event() {
        progressed = true;
        let log = match side {
            Side::Client => &mut out.client_events,
            Side::Server => &mut out.server_events,
        };
        match ev {
            Event::EvidenceRequested { id, binding } => {
                log.push("evidence-requested".into());
                out.bindings.push(binding.clone());
                s.handle_evidence(id, Ok(toy_evidence(&binding)))?;
            }
            Event::AppraisalRequested {
                id,
                evidence,
                binding,
                ..
            } => {
                log.push("appraisal-requested".into());
                s.handle_appraisal(id, toy_appraise(&evidence, &binding))?;
            }
            Event::Attested {
                context, claims, ..
            } => {
                log.push("attested".into());
                match side {
                    Side::Client => out.client_attested.push((context, claims)),
                    Side::Server => out.server_attested.push((context, claims)),
                }
            }
            Event::PeerAuthenticated { .. } => log.push("peer-authenticated".into()),
            Event::Answered { refused, .. } => {
                log.push(if refused { "refused" } else { "answered" }.into())
            }
            _ => log.push("other".into()),
        }
    }
    Ok(progressed)
}

/// Forges an authenticator over arbitrary Certificate contents, signed with `key` and
/// MACed with `keys`: the tool an attacker holding a key would use.
pub fn forge(
    keys: &AuthenticatorKeys,
    request_in_transcript: &[u8],
    certificate: &Certificate,
    key: &dyn SigningKey,
    scheme: SignatureScheme,
) -> Vec<u8> {
    let hash = HashAlgorithm::Sha256;
    let cert = certificate.to_bytes();
    let content =
        certificate_verify_content(hash, keys.handshake_context(), request_in_transcript, &cert);
    let cv = CertificateVerify {
        scheme,
        signature: key.sign(&content).unwrap(),
    }
    .to_bytes();
    let fin = Finished {
        verify_data: finished_verify_data(hash, keys, request_in_transcript, &cert, &cv),
    };
    [cert, cv, fin.to_bytes()].concat()
}

/// Asserts a peer-misbehaviour error.
#[track_caller]
pub fn assert_peer(err: &Error, expected: PeerMisbehaved) {
    match err {
        Error::PeerMisbehaved(p) => assert_eq!(p, &expected, "{err}"),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// The next `EvidenceRequested` event, skipping others.
pub fn next_evidence_request(s: &mut Session<Claims>) -> (OperationId, Binding) {
    while let Some(ev) = s.poll_event() {
        if let Event::EvidenceRequested { id, binding } = ev {
            return (id, binding);
        }
    }
    panic!("expected an evidence request");
}

/// The next `AppraisalRequested` event, skipping others.
pub fn next_appraisal_request(s: &mut Session<Claims>) -> (OperationId, Vec<u8>, Binding) {
    while let Some(ev) = s.poll_event() {
        if let Event::AppraisalRequested {
            id,
            evidence,
            binding,
            ..
        } = ev
        {
            return (id, evidence, binding);
        }
    }
    panic!("expected an appraisal request");
}

/// The client's attestation request, as sent.
pub fn client_request(p: &mut Pair) -> Vec<u8> {
    p.client.request_attestation(p.now, &p.exporter).unwrap();
    p.client.poll_transmit().unwrap()
}

/// The server's honest answer to `request`, with toy evidence.
pub fn server_answer(p: &mut Pair, request: &[u8]) -> Vec<u8> {
    p.server
        .handle_message(p.now, request, &p.exporter)
        .unwrap();
    let (id, binding) = next_evidence_request(&mut p.server);
    p.server
        .handle_evidence(id, Ok(toy_evidence(&binding)))
        .unwrap();
    p.server.poll_transmit().unwrap()
}

/// Validates `authenticator` statelessly as the client would for `request` (as sent) on
/// `p`'s connection; `offered` overrides the extension types the request offered.
pub fn validate_as_client(
    p: &Pair,
    request: &[u8],
    offered: Option<&[ExtensionType]>,
    authenticator: &[u8],
) -> Result<Validation, Error> {
    let req = AuthenticatorRequest::decode(request).unwrap();
    let all: Vec<_> = req.extensions.iter().map(|e| e.typ).collect();
    let expect = Expectation {
        request_in_transcript: request,
        context: Some(&req.context),
        offered_extensions: offered.unwrap_or(&all),
        offered_schemes: &req.signature_schemes(),
        cmw_extension_type: DEFAULT_CMW_ATTESTATION,
    };
    let keys = AuthenticatorKeys::derive(&p.exporter, HashAlgorithm::Sha256, Role::Server).unwrap();
    validate_authenticator(
        HashAlgorithm::Sha256,
        &keys,
        &expect,
        &Authenticator::decode(authenticator).unwrap(),
        p.server_id.pinned().as_ref(),
    )
}
