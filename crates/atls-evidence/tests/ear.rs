//! Attestation results in the passport model (EAR in a CWT, CMW indicator 8), appraised by
//! the relying party against the binding of its own request. Catalogue ids: RP-05
//! (passport result must carry this request's binder) and CM-02 (result vs. evidence
//! indicator).
//!
//! Bindings come from real in-memory exchanges between two `atls_core::Session`s: a
//! binding cannot be made any other way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atls_core::{
    Binding, CertificateDer, CertifiedKey, CipherSuite, Config, Event, ExporterMasterSecret,
    OperationId, PinnedKeyVerifier, Role, Session, signing_key_from_pkcs8_der,
};
use atls_evidence::insecure_test::{InsecureTestAttester, InsecureTestVerifier};
use atls_evidence::{
    AttestationResult, Claims, Cmw, EAR_CWT_MEDIA_TYPE, EarAlgorithm, EarIssuer, EarStatus,
    EarVerifier, EarVerifyingKey, EvidenceError, INSECURE_TEST_EVIDENCE_MEDIA_TYPE, Indicator,
    MAX_EAR_LEN, MediaType, Record, Submod, TrustedKey, Verifier, VerifierSet,
    decode_attestation_result,
};

const SUITE: CipherSuite = CipherSuite::TLS13_AES_128_GCM_SHA256;
const NOW: i64 = 1_767_225_600;

// ---- harness ----

/// One simulated TLS connection: the client (relying party) requests attestation, the
/// server (attester) answers with whatever CMW the test gives it.
struct Connection {
    client: Session<Claims>,
    server: Session<Claims>,
    exporter: ExporterMasterSecret,
    now: Instant,
}

impl Connection {
    /// `secret` stands for the connection's exporter secret: different secrets are
    /// different connections.
    fn new(secret: u8) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["attester.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_der = cert.der().to_vec();
        let identity = CertifiedKey {
            chain: vec![CertificateDer::from(cert_der.clone())],
            key: signing_key_from_pkcs8_der(&key.serialize_der()).unwrap(),
        };
        let pinned = Arc::new(PinnedKeyVerifier::for_certificate(&cert_der).unwrap());
        let server_cfg = Config::new(pinned.clone()).with_identity(identity);
        let client_cfg = Config::new(pinned);
        let hash = SUITE.hash().unwrap();
        Self {
            client: Session::new(Arc::new(client_cfg), Role::Client, SUITE, [1; 32]).unwrap(),
            server: Session::new(Arc::new(server_cfg), Role::Server, SUITE, [2; 32]).unwrap(),
            exporter: ExporterMasterSecret::new(hash, &vec![secret; hash.output_len()]).unwrap(),
            now: Instant::now(),
        }
    }

    /// The client requests attestation; returns the server's evidence request: the id to
    /// answer and the binding the attester (and its verifier service) sees.
    fn request(&mut self) -> (OperationId, Binding) {
        self.client
            .request_attestation(self.now, &self.exporter)
            .unwrap();
        let request = self.client.poll_transmit().unwrap();
        self.server
            .handle_message(self.now, &request, &self.exporter)
            .unwrap();
        while let Some(event) = self.server.poll_event() {
            if let Event::EvidenceRequested { id, binding } = event {
                return (id, binding);
            }
        }
        panic!("expected an evidence request");
    }

    /// The server answers `id` with `cmw`; returns the client's appraisal request: the id,
    /// the CMW as received and the binding the relying party recomputed.
    fn answer(&mut self, id: OperationId, cmw: Vec<u8>) -> (OperationId, Vec<u8>, Binding) {
        self.server.handle_evidence(id, Ok(cmw)).unwrap();
        let authenticator = self.server.poll_transmit().unwrap();
        self.client
            .handle_message(self.now, &authenticator, &self.exporter)
            .unwrap();
        while let Some(event) = self.client.poll_event() {
            if let Event::AppraisalRequested {
                id,
                evidence,
                binding,
                ..
            } = event
            {
                return (id, evidence, binding);
            }
        }
        panic!("expected an appraisal request");
    }
}

/// The relying party's binding for one request on a fresh connection.
fn binding() -> Binding {
    Connection::new(0x42).request().1
}

fn ed25519_issuer() -> EarIssuer {
    EarIssuer::ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x5e; 32])).with_kid(*b"vs-ed")
}

fn es256_issuer() -> EarIssuer {
    EarIssuer::es256(p256::ecdsa::SigningKey::from_slice(&[0x26; 32]).unwrap())
        .with_kid(*b"vs-p256")
}

/// What a verifier service returns after appraising evidence that carried `binder`.
fn result_for(binder: &[u8]) -> AttestationResult {
    AttestationResult::new(NOW - 5)
        .with_nonce(binder)
        .with_verifier_id("https://verifier.example", "vs 1.0")
        .with_submod(
            "tdx",
            Submod::new(EarStatus::Affirming)
                .with_claim("tdx.mr_td", "9f2c")
                .with_claim("tdx.tcb_status", "UpToDate"),
        )
}

fn ear_verifier(issuer: &EarIssuer) -> EarVerifier {
    EarVerifier::new([issuer.trusted_key()])
}

fn set_with(verifier: impl Verifier + 'static) -> VerifierSet {
    VerifierSet::new().with(Arc::new(verifier))
}

fn appraise(set: &VerifierSet, cmw: &[u8], binding: &Binding) -> Result<Claims, EvidenceError> {
    pollster::block_on(set.appraise(cmw, binding))
}

#[track_caller]
fn assert_unbound(err: EvidenceError, binding: &Binding, seen: Option<&[u8]>) {
    match err {
        EvidenceError::UnboundAttestationResult {
            expected,
            seen: actual,
        } => {
            assert_eq!(expected, binding.binder());
            assert_eq!(actual.as_deref(), seen);
        }
        other => panic!("expected UnboundAttestationResult, got {other:?}"),
    }
}

#[track_caller]
fn assert_untrusted(err: EvidenceError) -> String {
    match err {
        EvidenceError::UntrustedAttestationResult(why) => why,
        other => panic!("expected UntrustedAttestationResult, got {other:?}"),
    }
}

// ---- RP-05: the passport result must be bound to this request ----

#[test]
fn rp_05_result_without_nonce_is_unbound() {
    let issuer = ed25519_issuer();
    let binding = binding();
    let result = AttestationResult {
        eat_nonce: None,
        ..result_for(binding.binder())
    };
    let cmw = issuer.issue_cmw(&result).unwrap();
    let err = appraise(&set_with(ear_verifier(&issuer)), &cmw, &binding).unwrap_err();
    assert_unbound(err, &binding, None);
}

#[test]
fn rp_05_result_with_other_binder_is_unbound() {
    let issuer = ed25519_issuer();
    let set = set_with(ear_verifier(&issuer));

    // A result obtained for an earlier request on the same connection.
    let mut conn = Connection::new(0x42);
    let (_, first) = conn.request();
    let (second_id, second) = conn.request();
    assert_ne!(first.binder(), second.binder());
    let stale = issuer.issue_cmw(&result_for(first.binder())).unwrap();
    let (_, received, rp_binding) = conn.answer(second_id, stale);
    let err = appraise(&set, &received, &rp_binding).unwrap_err();
    assert_unbound(err, &rp_binding, Some(first.binder()));

    // A result obtained for a request on another connection (a relay).
    let (_, elsewhere) = Connection::new(0x43).request();
    let mut conn = Connection::new(0x42);
    let (id, _) = conn.request();
    let relayed = issuer.issue_cmw(&result_for(elsewhere.binder())).unwrap();
    let (_, received, rp_binding) = conn.answer(id, relayed);
    assert_ne!(elsewhere.binder(), rp_binding.binder());
    let err = appraise(&set, &received, &rp_binding).unwrap_err();
    assert_unbound(err, &rp_binding, Some(elsewhere.binder()));
}

#[test]
fn rp_05_result_bound_to_this_request_is_accepted() {
    let issuer = ed25519_issuer();
    let set = set_with(
        ear_verifier(&issuer)
            .with_max_age(Duration::from_secs(60))
            .with_time(NOW),
    );
    let mut conn = Connection::new(0x42);
    let (id, attester_binding) = conn.request();
    // The verifier service echoes the binder found in the evidence it appraised.
    let cmw = issuer
        .issue_cmw(&result_for(attester_binding.binder()))
        .unwrap();
    let (appraisal_id, received, rp_binding) = conn.answer(id, cmw);

    let claims = appraise(&set, &received, &rp_binding).unwrap();
    conn.client
        .handle_appraisal(appraisal_id, Ok(claims))
        .unwrap();
    let Some(Event::Attested { claims, .. }) = conn.client.poll_event() else {
        panic!("expected Attested");
    };
    assert!(conn.client.is_peer_attested());
    assert_eq!(claims.evidence_type, EAR_CWT_MEDIA_TYPE);
    assert_eq!(claims.get("ear.iat"), Some(&serde_json::json!(NOW - 5)));
    assert_eq!(
        claims.get_str("ear.profile"),
        Some("tag:github.com,2023:veraison/ear")
    );
    assert_eq!(
        claims.get("ear.verifier_id"),
        Some(&serde_json::json!({"developer": "https://verifier.example", "build": "vs 1.0"}))
    );
    let tdx = &claims.submods["tdx"];
    assert_eq!(tdx.get_str("ear.status"), Some("affirming"));
    assert_eq!(tdx.get_str("tdx.mr_td"), Some("9f2c"));
    assert_eq!(tdx.get_str("tdx.tcb_status"), Some("UpToDate"));
}

#[test]
fn rp_05_rejected_result_fails_the_session() {
    let issuer = ed25519_issuer();
    let set = set_with(ear_verifier(&issuer));
    let mut conn = Connection::new(0x42);
    let (id, _) = conn.request();
    let unbound = issuer
        .issue_cmw(&AttestationResult {
            eat_nonce: None,
            ..result_for(&[0; 32])
        })
        .unwrap();
    let (appraisal_id, received, rp_binding) = conn.answer(id, unbound);
    let err = appraise(&set, &received, &rp_binding).unwrap_err();
    assert!(
        conn.client
            .handle_appraisal(appraisal_id, Err(err.into()))
            .is_err()
    );
    assert!(!conn.client.is_peer_attested());
}

// ---- CM-02: attestation result vs. evidence ----

#[test]
fn cm_02_attestation_result_where_evidence_expected_is_rejected() {
    // The relying party expects evidence of this type; the record says it is a result.
    let attester = InsecureTestAttester::new([3; 32], BTreeMap::new());
    let set = set_with(InsecureTestVerifier::new(attester.public_key()).unwrap());
    let binding = binding();
    let result = ed25519_issuer().issue(&result_for(binding.binder()));
    let media_type = MediaType::parse(INSECURE_TEST_EVIDENCE_MEDIA_TYPE).unwrap();
    let record = Record::new(media_type, result, Some(Indicator::ATTESTATION_RESULTS)).unwrap();
    let err = appraise(&set, &Cmw::new_cbor(record).encode(), &binding).unwrap_err();
    assert!(
        matches!(
            err,
            EvidenceError::IndicatorMismatch { expected, seen }
                if expected == Indicator::EVIDENCE && seen == Indicator::ATTESTATION_RESULTS
        ),
        "{err:?}"
    );
}

#[test]
fn cm_02_evidence_where_attestation_result_expected_is_rejected() {
    let issuer = ed25519_issuer();
    let set = set_with(ear_verifier(&issuer));
    let binding = binding();
    let result = issuer.issue(&result_for(binding.binder()));
    let media_type = MediaType::parse(EAR_CWT_MEDIA_TYPE).unwrap();
    let record = Record::new(media_type, result, Some(Indicator::EVIDENCE)).unwrap();
    let err = appraise(&set, &Cmw::new_cbor(record).encode(), &binding).unwrap_err();
    assert!(
        matches!(
            err,
            EvidenceError::IndicatorMismatch { expected, seen }
                if expected == Indicator::ATTESTATION_RESULTS && seen == Indicator::EVIDENCE
        ),
        "{err:?}"
    );
}

#[test]
fn ear_verifier_declares_its_media_type_and_indicator() {
    let v = ear_verifier(&ed25519_issuer());
    assert_eq!(
        v.media_type(),
        MediaType::parse(EAR_CWT_MEDIA_TYPE).unwrap()
    );
    assert_eq!(v.indicator(), Indicator::ATTESTATION_RESULTS);
    let cmw = Cmw::decode(&ed25519_issuer().issue_cmw(&result_for(&[1; 32])).unwrap()).unwrap();
    let record = cmw.node().as_record().unwrap();
    assert_eq!(record.indicator(), Some(Indicator::ATTESTATION_RESULTS));
    assert_eq!(record.media_type(), Some(&v.media_type()));
}

// ---- signature and trust ----

#[test]
fn ed25519_and_es256_results_round_trip() {
    let binding = binding();
    for issuer in [ed25519_issuer(), es256_issuer()] {
        let result = result_for(binding.binder());
        let signed = issuer.issue(&result);
        assert_eq!(signed.first(), Some(&0xd2), "tagged COSE_Sign1 (18)");
        let (decoded, header) = decode_attestation_result(&signed).unwrap();
        assert_eq!(decoded, result);
        assert_eq!(header.algorithm, issuer.algorithm());
        assert_eq!(header.kid.as_deref(), issuer.trusted_key().kid());
        let claims = ear_verifier(&issuer).appraise(&signed, &binding).unwrap();
        assert_eq!(
            claims.submods["tdx"].get_str("ear.status"),
            Some("affirming")
        );
    }
    assert_eq!(es256_issuer().algorithm(), EarAlgorithm::Es256);
    assert_eq!(ed25519_issuer().algorithm(), EarAlgorithm::EdDsa);
}

#[test]
fn result_signed_by_an_untrusted_key_is_rejected() {
    let binding = binding();
    let trusted = ed25519_issuer();
    let rogue =
        EarIssuer::ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x66; 32])).with_kid(*b"vs-ed");
    let signed = rogue.issue(&result_for(binding.binder()));
    let why = assert_untrusted(
        ear_verifier(&trusted)
            .appraise(&signed, &binding)
            .unwrap_err(),
    );
    assert!(why.contains("does not verify"), "{why}");

    // Trusting only keys of the other algorithm, or none, is no better.
    let why = assert_untrusted(
        ear_verifier(&es256_issuer())
            .appraise(&signed, &binding)
            .unwrap_err(),
    );
    assert!(why.contains("0 of 1 tried"), "{why}");
    assert_untrusted(
        EarVerifier::new([])
            .appraise(&signed, &binding)
            .unwrap_err(),
    );
}

#[test]
fn result_with_a_bad_signature_is_rejected() {
    let binding = binding();
    for issuer in [ed25519_issuer(), es256_issuer()] {
        let mut signed = issuer.issue(&result_for(binding.binder()));
        let last = signed.len() - 1;
        signed[last] ^= 1;
        assert_untrusted(
            ear_verifier(&issuer)
                .appraise(&signed, &binding)
                .unwrap_err(),
        );
    }
}

#[test]
fn result_with_a_tampered_payload_is_rejected() {
    let binding = binding();
    let issuer = ed25519_issuer();
    let signed = issuer.issue(&result_for(binding.binder()));
    // Change the status code that follows the first `ear.status` key (1000 = 19 03 e8):
    // any change to the signed payload breaks the signature.
    let at = signed
        .windows(3)
        .position(|w| w == [0x19, 0x03, 0xe8])
        .unwrap()
        + 3;
    let mut tampered = signed.clone();
    tampered[at] ^= 0x01;
    assert_untrusted(
        ear_verifier(&issuer)
            .appraise(&tampered, &binding)
            .unwrap_err(),
    );
}

#[test]
fn kid_selects_among_trusted_keys() {
    let binding = binding();
    let issuer = ed25519_issuer();
    let signed = issuer.issue(&result_for(binding.binder()));
    let key = issuer.trusted_key().key().clone();

    // Same key under another kid: not tried.
    let other_kid = EarVerifier::new([TrustedKey::new(key.clone()).with_kid(*b"other")]);
    let why = assert_untrusted(other_kid.appraise(&signed, &binding).unwrap_err());
    assert!(why.contains("0 of 1 tried"), "{why}");

    // A key without kid applies to any kid; keys are tried in turn.
    let decoy = EarVerifyingKey::ed25519_from_bytes(
        &ed25519_dalek::SigningKey::from_bytes(&[0x77; 32])
            .verifying_key()
            .to_bytes(),
    )
    .unwrap();
    let in_turn = EarVerifier::new([TrustedKey::new(decoy), TrustedKey::new(key)]);
    in_turn.appraise(&signed, &binding).unwrap();
}

#[test]
fn es256_key_from_sec1_is_trusted() {
    let binding = binding();
    let signing = p256::ecdsa::SigningKey::from_slice(&[0x26; 32]).unwrap();
    let sec1 = signing.verifying_key().to_sec1_bytes();
    let key = EarVerifyingKey::es256_from_sec1(&sec1).unwrap();
    let signed = EarIssuer::es256(signing).issue(&result_for(binding.binder()));
    EarVerifier::new([TrustedKey::new(key)])
        .appraise(&signed, &binding)
        .unwrap();
    assert!(EarVerifyingKey::es256_from_sec1(&[4; 65]).is_err());
}

// ---- status and age ----

#[test]
fn contraindicated_status_is_rejected() {
    let binding = binding();
    let issuer = es256_issuer();
    for status in [
        EarStatus::Contraindicated,
        EarStatus::Warning,
        EarStatus::None,
    ] {
        let result = result_for(binding.binder()).with_submod("gpu", Submod::new(status));
        let cmw = issuer.issue_cmw(&result).unwrap();
        let err = appraise(&set_with(ear_verifier(&issuer)), &cmw, &binding).unwrap_err();
        match err {
            EvidenceError::AttestationResultStatus { submod, status: s } => {
                assert_eq!(submod, "gpu");
                assert_eq!(s, status.as_str());
            }
            other => panic!("expected AttestationResultStatus, got {other:?}"),
        }
    }
}

#[test]
fn non_affirming_overall_status_is_rejected() {
    let binding = binding();
    let issuer = es256_issuer();
    let result = AttestationResult {
        status: Some(EarStatus::Warning),
        ..result_for(binding.binder())
    };
    let err = ear_verifier(&issuer)
        .appraise(&issuer.issue(&result), &binding)
        .unwrap_err();
    assert!(
        matches!(err, EvidenceError::AttestationResultStatus { ref status, .. } if status == "warning"),
        "{err:?}"
    );
}

#[test]
fn expired_result_is_rejected() {
    let binding = binding();
    let issuer = ed25519_issuer();
    let signed = issuer.issue(&result_for(binding.binder())); // iat = NOW - 5
    let verifier = |now: i64| {
        ear_verifier(&issuer)
            .with_max_age(Duration::from_secs(60))
            .with_time(now)
    };
    verifier(NOW).appraise(&signed, &binding).unwrap();
    verifier(NOW + 55).appraise(&signed, &binding).unwrap();
    let why = assert_untrusted(verifier(NOW + 56).appraise(&signed, &binding).unwrap_err());
    assert!(why.contains("maximum age is 60 s"), "{why}");
    // Issued in the future beyond the allowed skew.
    let why = assert_untrusted(verifier(NOW - 120).appraise(&signed, &binding).unwrap_err());
    assert!(why.contains("later than the current time"), "{why}");
    // Without a maximum age, the age is not checked.
    ear_verifier(&issuer)
        .with_time(NOW + 1_000_000)
        .appraise(&signed, &binding)
        .unwrap();
}

#[test]
fn max_age_without_time_fails_closed() {
    let binding = binding();
    let issuer = ed25519_issuer();
    let signed = issuer.issue(&result_for(binding.binder()));
    let err = ear_verifier(&issuer)
        .with_max_age(Duration::from_secs(3600))
        .appraise(&signed, &binding)
        .unwrap_err();
    let why = assert_untrusted(err);
    assert!(why.contains("no current time"), "{why}");
}

#[test]
fn clock_is_read_at_each_appraisal() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let binding = binding();
    let issuer = ed25519_issuer();
    let signed = issuer.issue(&result_for(binding.binder()));
    let now = Arc::new(AtomicI64::new(NOW));
    let clock = now.clone();
    let verifier = ear_verifier(&issuer)
        .with_max_age(Duration::from_secs(60))
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    verifier.appraise(&signed, &binding).unwrap();
    now.store(NOW + 3600, Ordering::SeqCst);
    assert_untrusted(verifier.appraise(&signed, &binding).unwrap_err());
}

// ---- malformed input ----

#[track_caller]
fn assert_malformed(err: EvidenceError) {
    assert!(
        matches!(err, EvidenceError::Malformed { ref evidence_type, .. } if evidence_type == EAR_CWT_MEDIA_TYPE),
        "expected Malformed, got {err:?}"
    );
}

#[test]
fn truncated_results_are_rejected_without_panic() {
    let binding = binding();
    let issuer = es256_issuer();
    let verifier = ear_verifier(&issuer);
    let signed = issuer.issue(&result_for(binding.binder()));
    for len in 0..signed.len() {
        let prefix = &signed[..len];
        assert_malformed(verifier.appraise(prefix, &binding).unwrap_err());
        assert_malformed(decode_attestation_result(prefix).unwrap_err());
    }
}

#[test]
fn malformed_results_never_panic() {
    let binding = binding();
    let issuer = ed25519_issuer();
    let verifier = ear_verifier(&issuer);
    let signed = issuer.issue(&result_for(binding.binder()));
    // Every single-bit flip and every byte replaced by a few interesting values.
    for at in 0..signed.len() {
        for mutation in [0x01u8, 0x80, 0xff] {
            let mut bytes = signed.clone();
            bytes[at] ^= mutation;
            let _ = verifier.appraise(&bytes, &binding);
            let _ = decode_attestation_result(&bytes);
        }
        for value in [0x00u8, 0x1b, 0x5b, 0x9f, 0xbf, 0xff] {
            let mut bytes = signed.clone();
            bytes[at] = value;
            let _ = verifier.appraise(&bytes, &binding);
            let _ = decode_attestation_result(&bytes);
        }
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let binding = binding();
    let issuer = ed25519_issuer();
    let mut signed = issuer.issue(&result_for(binding.binder()));
    signed.push(0x00);
    assert_malformed(
        ear_verifier(&issuer)
            .appraise(&signed, &binding)
            .unwrap_err(),
    );
}

#[test]
fn untagged_oversized_and_non_cose_inputs_are_rejected() {
    let binding = binding();
    let issuer = ed25519_issuer();
    let verifier = ear_verifier(&issuer);
    let signed = issuer.issue(&result_for(binding.binder()));
    // Without tag 18 (0xd2).
    assert_malformed(verifier.appraise(&signed[1..], &binding).unwrap_err());
    // Larger than a CMW can carry.
    let mut big = signed.clone();
    big.resize(MAX_EAR_LEN + 1, 0);
    assert_malformed(verifier.appraise(&big, &binding).unwrap_err());
    // A CMW where the record's value was expected, and plain garbage.
    let cmw = issuer.issue_cmw(&result_for(binding.binder())).unwrap();
    assert_malformed(verifier.appraise(&cmw, &binding).unwrap_err());
    assert_malformed(verifier.appraise(b"not cbor at all", &binding).unwrap_err());
}

#[test]
fn unprotected_alg_and_detached_payload_are_rejected() {
    use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable as _, iana};
    let binding = binding();
    let issuer = ed25519_issuer();
    let verifier = ear_verifier(&issuer);
    let (_, _) = decode_attestation_result(&issuer.issue(&result_for(binding.binder()))).unwrap();

    // alg only in the unprotected header.
    let unprotected_alg = CoseSign1Builder::new()
        .unprotected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
        )
        .payload(vec![0xa0])
        .signature(vec![0; 64])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_malformed(verifier.appraise(&unprotected_alg, &binding).unwrap_err());

    // Detached payload.
    let detached = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::EdDSA)
                .build(),
        )
        .signature(vec![0; 64])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_malformed(verifier.appraise(&detached, &binding).unwrap_err());

    // An algorithm we do not support.
    let other_alg = CoseSign1Builder::new()
        .protected(
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES384)
                .build(),
        )
        .payload(vec![0xa0])
        .signature(vec![0; 96])
        .build()
        .to_tagged_vec()
        .unwrap();
    assert_malformed(verifier.appraise(&other_alg, &binding).unwrap_err());
}
