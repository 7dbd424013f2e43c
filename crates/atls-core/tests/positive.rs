//! Positive controls PC-01..PC-04: attestation succeeds in every supported direction.

mod common;

use atls_core::*;
use common::*;

#[test]
fn pc_01_server_attests_to_client_sha256() {
    let mut p = Pair::new();
    let ctx = p.client.request_attestation(p.now, &p.exporter).unwrap();
    let out = p.drive().unwrap();
    assert_eq!(out.client_attested.len(), 1);
    assert_eq!(out.client_attested[0].0, ctx);
    assert!(out.client_attested[0].1.starts_with("attested:"));
    assert!(p.client.is_peer_attested());
    assert!(!p.server.is_peer_attested());
    assert_eq!(out.bindings[0].binder().len(), 32);
    assert_eq!(
        out.bindings[0].aik_pub_hash(),
        HashAlgorithm::Sha256.hash(&[&p.server_id.spki()])
    );
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn pc_01_server_attests_with_ecdsa_keys_and_sha384_suite() {
    for (id, suite) in [
        (
            Identity::p256("a.example"),
            CipherSuite::TLS13_AES_256_GCM_SHA384,
        ),
        (
            Identity::p384("a.example"),
            CipherSuite::TLS13_AES_128_GCM_SHA256,
        ),
        (
            Identity::ed25519("a.example"),
            CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ),
    ] {
        let mut p = Pair::with_identities(suite, 9, Identity::ed25519("c"), id, |_| {}, |_| {});
        p.client.request_attestation(p.now, &p.exporter).unwrap();
        let out = p.drive().unwrap();
        assert_eq!(out.client_attested.len(), 1, "{suite:?}");
        assert_eq!(
            out.bindings[0].binder().len(),
            suite.hash().unwrap().output_len()
        );
    }
}

#[test]
fn pc_02_client_attests_to_server_with_certificate_request() {
    let mut p = Pair::new();
    p.server.request_attestation(p.now, &p.exporter).unwrap();
    let request = p.server.poll_transmit().unwrap();
    assert_eq!(
        request[0], 13,
        "a server-built request is a CertificateRequest"
    );
    p.client
        .handle_message(p.now, &request, &p.exporter)
        .unwrap();
    let out = p.drive().unwrap();
    assert_eq!(out.server_attested.len(), 1);
    assert!(p.server.is_peer_attested());
    assert_eq!(
        out.bindings[0].aik_pub_hash(),
        HashAlgorithm::Sha256.hash(&[&p.client_id.spki()])
    );
}

#[test]
fn pc_03_mutual_attestation_uses_independent_contexts_and_binders() {
    let mut p = Pair::new();
    let c_ctx = p.client.request_attestation(p.now, &p.exporter).unwrap();
    let s_ctx = p.server.request_attestation(p.now, &p.exporter).unwrap();
    assert_ne!(c_ctx, s_ctx);
    let out = p.drive().unwrap();
    assert_eq!(out.client_attested.len(), 1);
    assert_eq!(out.server_attested.len(), 1);
    assert!(p.client.is_peer_attested() && p.server.is_peer_attested());
    assert_eq!(out.bindings.len(), 2);
    assert_ne!(out.bindings[0].binder(), out.bindings[1].binder());
}

#[test]
fn pc_04_reattestation_uses_a_new_context_and_old_evidence_fails() {
    let mut p = Pair::new();
    let first = p.client.request_attestation(p.now, &p.exporter).unwrap();
    let out1 = p.drive().unwrap();
    let old_binding = out1.bindings[0].clone();

    let second = p.client.request_attestation(p.now, &p.exporter).unwrap();
    assert_ne!(first, second);
    let out2 = p.drive().unwrap();
    assert_eq!(out2.client_attested.len(), 1);
    assert_eq!(out2.client_attested[0].0, second);
    assert_ne!(out2.bindings[0].binder(), old_binding.binder());

    // Third round: the attester answers with the first round's evidence.
    p.client.request_attestation(p.now, &p.exporter).unwrap();
    p.deliver_to_server().unwrap();
    let Some(Event::EvidenceRequested { id, .. }) = p.server.poll_event() else {
        panic!("expected an evidence request");
    };
    p.server
        .handle_evidence(id, Ok(toy_evidence(&old_binding)))
        .unwrap();
    p.deliver_to_client().unwrap();
    let Some(Event::AppraisalRequested {
        id,
        evidence,
        binding,
        ..
    }) = p.client.poll_event()
    else {
        panic!("expected an appraisal request");
    };
    let err = p
        .client
        .handle_appraisal(id, toy_appraise(&evidence, &binding))
        .unwrap_err();
    assert_toy_evidence_error(&err, ToyEvidenceError::BinderMismatch);
    assert!(!p.client.is_peer_attested());
}

#[test]
fn older_draft_profiles_interoperate_with_themselves() {
    for profile in [Profile::DRAFT_01, Profile::DRAFT_02] {
        let pr = profile.clone();
        let mut p = Pair::with(
            SUITE,
            3,
            |c| c.profile = pr.clone(),
            |s| s.profile = profile,
        );
        p.client.request_attestation(p.now, &p.exporter).unwrap();
        assert_eq!(p.drive().unwrap().client_attested.len(), 1);
    }
}

#[test]
fn plain_authentication_without_evidence_when_not_required() {
    let mut p = Pair::with(SUITE, 5, |c| c.require_evidence = false, |_| {});
    p.client.request_attestation(p.now, &p.exporter).unwrap();
    let request = p.client.poll_transmit().unwrap();
    let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
    // The server authenticates without cmw_attestation.
    let keys = AuthenticatorKeys::derive(&p.exporter, HashAlgorithm::Sha256, Role::Server).unwrap();
    let auth = build_authenticator(
        HashAlgorithm::Sha256,
        &keys,
        &request,
        &ctx,
        &p.server_id.certified(),
        vec![],
    )
    .unwrap();
    p.client.handle_message(p.now, &auth, &p.exporter).unwrap();
    assert!(matches!(
        p.client.poll_event(),
        Some(Event::PeerAuthenticated { .. })
    ));
    assert!(!p.client.is_peer_attested());
}

#[test]
fn spontaneous_server_authenticator_is_accepted_only_when_configured() {
    let mut p = Pair::with(SUITE, 6, |c| c.accept_spontaneous = true, |_| {});
    p.server
        .send_spontaneous_authenticator(&p.exporter)
        .unwrap();
    let out = p.drive().unwrap();
    assert_eq!(out.client_events, vec!["peer-authenticated".to_string()]);
    assert!(
        !p.client.is_peer_attested(),
        "spontaneous never counts as attestation"
    );

    let mut p = Pair::new();
    p.server
        .send_spontaneous_authenticator(&p.exporter)
        .unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Client);
    assert_peer(&err, PeerMisbehaved::UnsolicitedAuthenticator);
}
