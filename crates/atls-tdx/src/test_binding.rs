//! Bindings for tests, obtained the only way there is: from an in-memory exchange between
//! two `atls_core::Session`s.

use std::sync::Arc;
use std::time::Instant;

use atls_core::*;

/// The binding of one request from a client to a server on a connection with `suite`.
pub(crate) fn binding_for(suite: CipherSuite) -> Binding {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["attester.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let identity = CertifiedKey {
        chain: vec![cert.der().clone()],
        key: signing_key_from_pkcs8_der(&key.serialize_der()).unwrap(),
    };
    let verifier = Arc::new(PinnedKeyVerifier::for_certificate(cert.der()).unwrap());
    let hash = suite.hash().unwrap();
    let exporter = ExporterMasterSecret::new(hash, &vec![9; hash.output_len()]).unwrap();
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
    client.request_attestation(now, &exporter).unwrap();
    let req = client.poll_transmit().unwrap();
    server.handle_message(now, &req, &exporter).unwrap();
    while let Some(ev) = server.poll_event() {
        if let Event::EvidenceRequested { binding, .. } = ev {
            return binding;
        }
    }
    panic!("no evidence request")
}

/// A SHA-256 binding.
pub(crate) fn sha256_binding() -> Binding {
    binding_for(CipherSuite::TLS13_AES_128_GCM_SHA256)
}

/// A SHA-384 binding (48-byte binder and key hash).
pub(crate) fn sha384_binding() -> Binding {
    binding_for(CipherSuite::TLS13_AES_256_GCM_SHA384)
}
