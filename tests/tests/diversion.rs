//! Diversion (G-TLS1, G-C1): DV-01..DV-03. Evidence that verifies never overrides the peer's
//! identity. (DV-04 instance pinning and DV-05 revoked/out-of-date platforms are policy and
//! TDX tests.)

use atls_core::{AuthenticatorRequest, CertificateError, Codec, Error, Role};
use atls_tests::*;

/// V expects `target` (pins its key, as after PKIX validation of the handshake certificate)
/// but is connected to `actual`, which attests with `attester`.
fn diverted(target: &Identity, actual: &Identity, attester: Option<&str>) -> Link {
    let v_id = Identity::new("victim.example");
    let v = Endpoint::new(Role::Client, &v_id, target.pinned(), None, [1; 32]);
    let m = Endpoint::new(
        Role::Server,
        actual,
        v_id.pinned(),
        attester.map(test_attester),
        [2; 32],
    );
    Link::new(v, m, 0xd1)
}

#[test]
fn dv_01_genuine_tee_with_same_measurements_but_other_identity_is_rejected() {
    let target = Identity::new("target.example");
    let attacker = Identity::new("attacker.example");
    // The attacker runs a genuine TEE: the evidence is fresh, correctly bound and verifies.
    let mut link = diverted(&target, &attacker, Some("genuine"));
    let err = link.client_attestation_fails();
    assert!(
        matches!(err, Error::Certificate(CertificateError::IdentitySwitch)),
        "{err}"
    );
    assert!(!link.client.session.is_peer_attested());
    assert!(link.client.attested.is_empty());
}

#[test]
fn dv_02_leaked_attestation_key_without_target_identity_is_rejected() {
    let target = Identity::new("target.example");
    let attacker = Identity::new("attacker.example");
    let mut link = diverted(&target, &attacker, None);
    let request = client_request(&mut link);
    let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
    // Forged evidence with the leaked platform key, correctly bound to the attacker's
    // connection and key.
    let aik = atls_core::HashAlgorithm::Sha256.hash(&[&attacker.spki()]);
    let evidence = forge_test_evidence(
        &expected_binder(&link.exporter, &ctx, &attacker.spki()),
        &aik,
    );
    let auth = answer_as_server(&link.exporter, &request, &attacker, &evidence);
    let err = client_rejects(&mut link, &auth);
    assert!(
        matches!(err, Error::Certificate(CertificateError::IdentitySwitch)),
        "{err}"
    );
}

#[test]
fn dv_03_authenticator_key_other_than_handshake_key_is_identity_switch() {
    // The handshake proved K1 (target); the EA uses K2, a valid certificate for the same
    // name, with genuine evidence bound to K2.
    let k1 = Identity::new("target.example");
    let k2 = Identity::new("target.example");
    let mut link = diverted(&k1, &k2, Some("genuine"));
    link.client
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    let (_, err) = link.drive().unwrap_err();
    assert!(
        matches!(err, Error::Certificate(CertificateError::IdentitySwitch)),
        "{err}"
    );
}

#[test]
fn dv_control_same_identity_is_accepted() {
    let target = Identity::new("target.example");
    let mut link = diverted(&target, &target, Some("genuine"));
    link.client
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    link.drive().unwrap();
    assert!(link.client.session.is_peer_attested());
}
