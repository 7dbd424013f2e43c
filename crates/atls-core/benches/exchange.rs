//! The cost of the Exported Authenticator machinery, against a baseline measured in the same
//! run: one bare Ed25519 signature verification (the unavoidable cryptographic work of
//! validating an authenticator).
//!
//! - `validate`: decode + validate one authenticator (context, extensions, scheme,
//!   signature, Finished, chain pin);
//! - `build`: build one authenticator (sign + MAC);
//! - `exchange`: a whole in-memory server-attests exchange between two sessions (request,
//!   evidence, authenticator, appraisal), with toy evidence.
//!
//! Run: `cargo bench -p atls-core --bench exchange`.
#![allow(missing_docs, clippy::disallowed_methods)] // a bench is a host: it owns the clock

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atls_core::*;
use criterion::Criterion;

struct Fixture {
    identity: CertifiedKey,
    verifier: PinnedKeyVerifier,
    exporter: ExporterMasterSecret,
    request: Vec<u8>,
    authenticator: Vec<u8>,
    spki: Vec<u8>,
}

fn fixture() -> Fixture {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["attester.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let identity = CertifiedKey {
        chain: vec![cert.der().clone()],
        key: signing_key_from_pkcs8_der(&key.serialize_der()).unwrap(),
    };
    let verifier = PinnedKeyVerifier::for_certificate(cert.der()).unwrap();
    let exporter = ExporterMasterSecret::new(HashAlgorithm::Sha256, &[7; 32]).unwrap();
    let request = AuthenticatorRequest::new(
        RequestKind::ClientCertificateRequest,
        vec![9; 32],
        vec![
            Extension::signature_algorithms(&[SignatureScheme::ED25519]),
            Extension::cmw_attestation_offer(DEFAULT_CMW_ATTESTATION),
        ],
    )
    .unwrap()
    .to_bytes();
    let keys = AuthenticatorKeys::derive(&exporter, HashAlgorithm::Sha256, Role::Server).unwrap();
    let cmw = Extension::cmw_attestation(DEFAULT_CMW_ATTESTATION, &[0xa5; 600]).unwrap();
    let authenticator = build_authenticator(
        HashAlgorithm::Sha256,
        &keys,
        &request,
        &[9; 32],
        &identity,
        vec![cmw],
    )
    .unwrap();
    let spki = spki_der(cert.der()).unwrap();
    Fixture {
        identity,
        verifier,
        exporter,
        request,
        authenticator,
        spki,
    }
}

fn validate(f: &Fixture) {
    let keys = AuthenticatorKeys::derive(&f.exporter, HashAlgorithm::Sha256, Role::Server).unwrap();
    let offered = [ExtensionType::SIGNATURE_ALGORITHMS, DEFAULT_CMW_ATTESTATION];
    let expect = Expectation {
        request_in_transcript: &f.request,
        context: Some(&[9; 32]),
        offered_extensions: &offered,
        offered_schemes: &[SignatureScheme::ED25519],
        cmw_extension_type: DEFAULT_CMW_ATTESTATION,
    };
    let auth = decode_authenticator(black_box(&f.authenticator)).unwrap();
    let v = validate_authenticator(HashAlgorithm::Sha256, &keys, &expect, &auth, &f.verifier);
    assert!(matches!(v, Ok(Validation::Authenticated(_))));
}

fn build(f: &Fixture) {
    let keys = AuthenticatorKeys::derive(&f.exporter, HashAlgorithm::Sha256, Role::Server).unwrap();
    let cmw = Extension::cmw_attestation(DEFAULT_CMW_ATTESTATION, &[0xa5; 600]).unwrap();
    black_box(
        build_authenticator(
            HashAlgorithm::Sha256,
            &keys,
            &f.request,
            &[9; 32],
            &f.identity,
            vec![cmw],
        )
        .unwrap(),
    );
}

fn exchange(f: &Fixture) {
    let verifier: Arc<dyn CertificateVerifier> = Arc::new(f.verifier.clone());
    let suite = CipherSuite::TLS13_AES_128_GCM_SHA256;
    let server_cfg = Arc::new(Config::new(verifier.clone()).with_identity(f.identity.clone()));
    let mut server = Session::<()>::new(server_cfg, Role::Server, suite, [1; 32]).unwrap();
    let mut client = Session::<()>::new(
        Arc::new(Config::new(verifier)),
        Role::Client,
        suite,
        [2; 32],
    )
    .unwrap();
    let now = Instant::now();
    client.request_attestation(now, &f.exporter).unwrap();
    let req = client.poll_transmit().unwrap();
    server.handle_message(now, &req, &f.exporter).unwrap();
    let Some(Event::EvidenceRequested { id, binding }) = server.poll_event() else {
        unreachable!()
    };
    let evidence = [binding.binder(), binding.aik_pub_hash()].concat();
    server.handle_evidence(id, Ok(evidence)).unwrap();
    let auth = server.poll_transmit().unwrap();
    client.handle_message(now, &auth, &f.exporter).unwrap();
    let Some(Event::AppraisalRequested {
        id,
        evidence,
        binding,
        ..
    }) = client.poll_event()
    else {
        unreachable!()
    };
    assert_eq!(
        evidence,
        [binding.binder(), binding.aik_pub_hash()].concat()
    );
    client.handle_appraisal(id, Ok(())).unwrap();
    assert!(client.is_peer_attested());
}

/// The baseline: verify one Ed25519 signature over CertificateVerify-sized content.
fn baseline(f: &Fixture, msg: &[u8], sig: &[u8]) {
    use ed25519_dalek::Verifier as _;
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let key = ed25519_dalek::VerifyingKey::from_public_key_der(&f.spki).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(sig).unwrap();
    key.verify(black_box(msg), &sig).unwrap();
}

fn mean(iterations: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed() / iterations
}

fn main() {
    let f = fixture();
    let msg = [0x20u8; 119];
    let sig = f.identity.key.sign(&msg).unwrap();
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("authenticator");
    g.bench_function("baseline_ed25519_verify", |b| {
        b.iter(|| baseline(&f, &msg, &sig))
    });
    g.bench_function("validate", |b| b.iter(|| validate(&f)));
    g.bench_function("build", |b| b.iter(|| build(&f)));
    g.bench_function("exchange", |b| b.iter(|| exchange(&f)));
    g.finish();
    c.final_summary();

    let n = 500;
    let base = mean(n, || baseline(&f, &msg, &sig));
    for (name, t) in [
        ("validate", mean(n, || validate(&f))),
        ("build", mean(n, || build(&f))),
        ("exchange", mean(n, || exchange(&f))),
    ] {
        println!(
            "{name}: {t:?}, {:.1}x one Ed25519 verification ({base:?})",
            t.as_secs_f64() / base.as_secs_f64().max(f64::MIN_POSITIVE)
        );
    }
}
