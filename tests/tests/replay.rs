//! Replay (G-RA2): RP-01..RP-04. Evidence and authenticators from an earlier connection or an
//! earlier request never satisfy a new one. (RP-05 is in atls-evidence's EAR tests; RP-06 is a
//! TLS configuration property tested with the adapters.)

use atls_core::{AuthenticatorKeys, Codec, HashAlgorithm, PeerMisbehaved, Role};
use atls_evidence::EvidenceError;
use atls_tests::*;

fn run_once(link: &mut Link) -> (Vec<u8>, Vec<u8>) {
    link.client
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    let request = link.client.session.poll_transmit().unwrap();
    link.server
        .session
        .handle_message(link.now, &request, &link.exporter)
        .unwrap();
    link.server.step().unwrap();
    let auth = link.server.session.poll_transmit().unwrap();
    (request, auth)
}

#[test]
fn rp_01_whole_authenticator_replayed_on_a_later_connection_is_rejected() {
    let server_id = Identity::new("attester.example");
    let mut conn1 = Link::server_attests(&server_id, 0x01);
    let (_, auth1) = run_once(&mut conn1);
    // A later connection to the same server with the same (seeded) request context.
    let mut conn2 = Link::server_attests(&server_id, 0x02);
    conn2
        .client
        .session
        .request_attestation(conn2.now, &conn2.exporter)
        .unwrap();
    conn2.client.session.poll_transmit().unwrap();
    let err = conn2
        .client
        .session
        .handle_message(conn2.now, &auth1, &conn2.exporter)
        .unwrap_err();
    assert!(matches!(
        err,
        atls_core::Error::PeerMisbehaved(PeerMisbehaved::BadSignature)
    ));
    assert!(!conn2.client.session.is_peer_attested());
}

#[test]
fn rp_02_old_evidence_in_a_freshly_signed_authenticator_is_binder_mismatch() {
    let server_id = Identity::new("attester.example");
    let mut conn1 = Link::server_attests(&server_id, 0x01);
    run_once(&mut conn1);
    let old_evidence = conn1.server.evidence_sent[0].clone();

    // The attacker holds the AIK (the server's TLS key) and replays the old quote on conn 2.
    let mut conn2 = Link::server_attests(&server_id, 0x02);
    conn2
        .client
        .session
        .request_attestation(conn2.now, &conn2.exporter)
        .unwrap();
    let request = conn2.client.session.poll_transmit().unwrap();
    let ctx = atls_core::AuthenticatorRequest::decode(&request)
        .unwrap()
        .context;
    let keys =
        AuthenticatorKeys::derive(&conn2.exporter, HashAlgorithm::Sha256, Role::Server).unwrap();
    let ext =
        atls_core::Extension::cmw_attestation(atls_core::DEFAULT_CMW_ATTESTATION, &old_evidence)
            .unwrap();
    let auth = atls_core::build_authenticator(
        HashAlgorithm::Sha256,
        &keys,
        &request,
        &ctx,
        &server_id.certified(),
        vec![ext],
    )
    .unwrap();
    conn2
        .client
        .session
        .handle_message(conn2.now, &auth, &conn2.exporter)
        .unwrap();
    let err = conn2.client.step().unwrap_err();
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::BinderMismatch { .. })
        ),
        "{err}"
    );
    assert!(!conn2.client.session.is_peer_attested());
}

#[test]
fn rp_03_reattestation_answered_with_first_requests_evidence_is_binder_mismatch() {
    let server_id = Identity::new("attester.example");
    let mut link = Link::server_attests(&server_id, 0x03);
    link.client
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    link.drive().unwrap();
    assert!(link.client.session.is_peer_attested());
    let first = link.server.evidence_sent[0].clone();

    // Second request: the attester (compromised host) answers with the first evidence.
    let (request, _) = {
        link.client
            .session
            .request_attestation(link.now, &link.exporter)
            .unwrap();
        let request = link.client.session.poll_transmit().unwrap();
        (request, ())
    };
    link.server.attester = Some(std::sync::Arc::new(Replaying(first)));
    link.server
        .session
        .handle_message(link.now, &request, &link.exporter)
        .unwrap();
    link.server.step().unwrap();
    let auth = link.server.session.poll_transmit().unwrap();
    link.client
        .session
        .handle_message(link.now, &auth, &link.exporter)
        .unwrap();
    let err = link.client.step().unwrap_err();
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::BinderMismatch { .. })
        ),
        "{err}"
    );
    assert!(
        !link.client.session.is_peer_attested(),
        "failed re-attestation revokes trust"
    );
}

#[test]
fn rp_04_attester_chosen_nonce_is_binder_mismatch() {
    // RA-TLS style: REPORTDATA = hash(AIK) only, no request binder.
    let server_id = Identity::new("attester.example");
    let aik = HashAlgorithm::Sha256.hash(&[&server_id.spki()]);
    let mut link = Link::server_attests(&server_id, 0x04);
    link.server.attester = Some(std::sync::Arc::new(Replaying(forge_test_evidence(
        &aik, &aik,
    ))));
    let err = link.client_attestation_fails();
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::BinderMismatch { .. })
        ),
        "{err}"
    );
}

/// A compromised attester that answers every request with the same evidence.
#[derive(Debug)]
struct Replaying(Vec<u8>);

impl atls_evidence::Attester for Replaying {
    fn attest<'a>(
        &'a self,
        _: &'a atls_core::Binding,
    ) -> atls_evidence::BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// A background-check verifier that issued `nonce` for this request.
#[derive(Debug)]
struct BackgroundCheck {
    nonce: Vec<u8>,
    inner: std::sync::Arc<dyn atls_evidence::Verifier>,
}

impl atls_evidence::Verifier for BackgroundCheck {
    fn media_type(&self) -> atls_evidence::MediaType {
        self.inner.media_type()
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a atls_core::Binding,
    ) -> atls_evidence::BoxFuture<'a, Result<atls_evidence::Claims, EvidenceError>> {
        Box::pin(async move {
            atls_evidence::check_verifier_nonce(binding, &self.nonce)?;
            self.inner.verify(value, binding).await
        })
    }
}

fn background_check(link: &mut Link, nonce: &[u8]) {
    use atls_evidence::insecure_test::{InsecureTestAttester, InsecureTestVerifier};
    let ak = InsecureTestAttester::new(TEST_AK_SEED, Default::default()).public_key();
    let inner = std::sync::Arc::new(InsecureTestVerifier::new(ak).unwrap());
    link.client.verifiers =
        atls_evidence::VerifierSet::new().with(std::sync::Arc::new(BackgroundCheck {
            nonce: nonce.to_vec(),
            inner,
        }));
}

#[test]
fn rp_07_evidence_for_a_context_without_the_verifiers_nonce_is_rejected() {
    let server_id = Identity::new("attester.example");
    let nonce = b"verifier-nonce-1234".to_vec();

    // Control: the relying party puts the verifier's nonce in the context.
    let mut link = Link::server_attests(&server_id, 0x07);
    background_check(&mut link, &nonce);
    let ctx = link
        .client
        .session
        .request_attestation_with_nonce(link.now, &link.exporter, &nonce)
        .unwrap();
    assert!(ctx.starts_with(&nonce) && ctx.len() == nonce.len() + 32);
    link.drive().unwrap();
    assert!(link.client.session.is_peer_attested());

    // Evidence fresh for the connection, but for a context without the nonce.
    let mut link = Link::server_attests(&server_id, 0x08);
    background_check(&mut link, &nonce);
    let err = link.client_attestation_fails();
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::NonceMismatch { .. })
        ),
        "{err}"
    );
    assert!(!link.client.session.is_peer_attested());
}
