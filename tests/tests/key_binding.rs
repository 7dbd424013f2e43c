//! Key binding and compound authentication (G-C1, seat-expat §5.2): CB-01..CB-04.
//! (CB-05, the SHA-384 TDX layout, is tested with the TDX backend.)

use atls_core::{AuthenticatorRequest, Codec, HashAlgorithm};
use atls_evidence::EvidenceError;
use atls_tests::*;

fn setup() -> (Identity, Link, Vec<u8>, Vec<u8>) {
    let host = Identity::new("attester.example");
    let mut link = Link::server_attests(&host, 0xcb);
    let request = client_request(&mut link);
    let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
    (host, link, request, ctx)
}

#[test]
fn cb_01_evidence_binding_the_tds_key_under_an_outside_key_is_aik_mismatch() {
    // Split deployment: TLS and the EA signature come from a host key outside the TD; the
    // genuine TD copies the binder it is given but binds its own key's hash.
    let (host, mut link, request, ctx) = setup();
    let td_key = Identity::new("td.internal");
    let binder = expected_binder(&link.exporter, &ctx, &host.spki());
    let evidence = forge_test_evidence(&binder, &HashAlgorithm::Sha256.hash(&[&td_key.spki()]));
    let auth = answer_as_server(&link.exporter, &request, &host, &evidence);
    let err = client_rejects(&mut link, &auth);
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::AikMismatch { .. })
        ),
        "{err}"
    );
}

#[test]
fn cb_02_wrong_binder_or_wrong_key_hash_is_rejected_specifically() {
    let (host, mut link, request, ctx) = setup();
    let good_binder = expected_binder(&link.exporter, &ctx, &host.spki());
    let good_aik = HashAlgorithm::Sha256.hash(&[&host.spki()]);
    let mut bad_aik = good_aik.clone();
    bad_aik[0] ^= 1;
    let auth = answer_as_server(
        &link.exporter,
        &request,
        &host,
        &forge_test_evidence(&good_binder, &bad_aik),
    );
    let err = client_rejects(&mut link, &auth);
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::AikMismatch { .. })
        ),
        "{err}"
    );

    let (host, mut link, request, ctx) = setup();
    let mut bad_binder = expected_binder(&link.exporter, &ctx, &host.spki());
    bad_binder[31] ^= 1;
    let auth = answer_as_server(
        &link.exporter,
        &request,
        &host,
        &forge_test_evidence(&bad_binder, &good_aik),
    );
    let err = client_rejects(&mut link, &auth);
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::BinderMismatch { .. })
        ),
        "{err}"
    );

    // Control: both right is accepted.
    let (host, mut link, request, ctx) = setup();
    let binder = expected_binder(&link.exporter, &ctx, &host.spki());
    let aik = HashAlgorithm::Sha256.hash(&[&host.spki()]);
    let auth = answer_as_server(
        &link.exporter,
        &request,
        &host,
        &forge_test_evidence(&binder, &aik),
    );
    link.client
        .session
        .handle_message(link.now, &auth, &link.exporter)
        .unwrap();
    link.client.step().unwrap();
    assert!(link.client.session.is_peer_attested());
}

#[test]
fn cb_03_binder_over_raw_key_instead_of_spki_is_binder_mismatch() {
    let (host, mut link, request, ctx) = setup();
    let spki = host.spki();
    let raw_key = &spki[spki.len() - 32..]; // Ed25519: the last 32 bytes of the SPKI
    let binder = expected_binder(&link.exporter, &ctx, raw_key);
    let evidence = forge_test_evidence(&binder, &HashAlgorithm::Sha256.hash(&[&spki]));
    let auth = answer_as_server(&link.exporter, &request, &host, &evidence);
    let err = client_rejects(&mut link, &auth);
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::BinderMismatch { .. })
        ),
        "{err}"
    );
}

#[test]
fn cb_04_stolen_aik_without_a_tee_cannot_produce_bound_evidence() {
    // The attacker stole the AIK and kept evidence from an earlier connection; it has no TEE
    // to produce a fresh quote.
    let host = Identity::new("attester.example");
    let mut earlier = Link::server_attests(&host, 0x10);
    earlier
        .client
        .session
        .request_attestation(earlier.now, &earlier.exporter)
        .unwrap();
    earlier.drive().unwrap();
    let old = earlier.server.evidence_sent[0].clone();

    let mut link = Link::server_attests(&host, 0x11);
    let request = client_request(&mut link);
    let auth = answer_as_server(&link.exporter, &request, &host, &old);
    let err = client_rejects(&mut link, &auth);
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::BinderMismatch { .. })
        ),
        "{err}"
    );
}
