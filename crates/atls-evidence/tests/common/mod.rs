//! Bindings for tests, obtained the only way there is: from an in-memory exchange between
//! two `atls_core::Session`s.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Instant;

use atls_core::*;

/// Bindings of `n` successive requests from one client to one server on one connection.
pub fn bindings(n: usize) -> Vec<Binding> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["attester.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let identity = CertifiedKey {
        chain: vec![cert.der().clone()],
        key: signing_key_from_pkcs8_der(&key.serialize_der()).unwrap(),
    };
    let verifier = Arc::new(PinnedKeyVerifier::for_certificate(cert.der()).unwrap());
    let suite = CipherSuite::TLS13_AES_128_GCM_SHA256;
    let exporter = ExporterMasterSecret::new(HashAlgorithm::Sha256, &[9; 32]).unwrap();
    let mut server = Session::<()>::new(
        Arc::new(Config::new(verifier.clone()).with_identity(identity)),
        Role::Server,
        suite,
        [1; 32],
    )
    .unwrap();
    let mut client = Session::<()>::new(
        Arc::new(Config::new(verifier)),
        Role::Client,
        suite,
        [2; 32],
    )
    .unwrap();
    let now = Instant::now();
    let mut out = Vec::new();
    for _ in 0..n {
        client.request_attestation(now, &exporter).unwrap();
        let req = client.poll_transmit().unwrap();
        server.handle_message(now, &req, &exporter).unwrap();
        while let Some(ev) = server.poll_event() {
            if let Event::EvidenceRequested { binding, .. } = ev {
                out.push(binding);
            }
        }
    }
    out
}

/// One binding.
pub fn binding() -> Binding {
    bindings(1).remove(0)
}
