//! The core's in-memory exchange end to end with the software (insecure test) backend:
//! the server attests, the client appraises, claims reach the caller.

use atls_evidence::EvidenceError;
use atls_tests::*;

#[test]
fn server_attests_with_software_backend_and_claims_reach_the_client() {
    let server_id = Identity::new("attester.example");
    let mut link = Link::server_attests(&server_id, 1);
    let ctx = link
        .client
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    link.drive().unwrap();
    assert!(link.client.session.is_peer_attested());
    let (context, claims) = &link.client.attested[0];
    assert_eq!(context, &ctx);
    assert_eq!(claims.get_str("test.platform"), Some("genuine"));
    assert_eq!(claims.get("test.insecure"), Some(&serde_json::json!(true)));
    assert_eq!(
        claims.evidence_type,
        atls_evidence::INSECURE_TEST_EVIDENCE_MEDIA_TYPE
    );
}

#[test]
fn client_attests_and_mutual_attestation_with_software_backend() {
    let server_id = Identity::new("attester.example");
    let mut link = Link::server_attests(&server_id, 2);
    link.client.attester = Some(test_attester("client-tee"));
    link.client
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    link.server
        .session
        .request_attestation(link.now, &link.exporter)
        .unwrap();
    link.drive().unwrap();
    assert!(link.client.session.is_peer_attested());
    assert!(link.server.session.is_peer_attested());
    assert_eq!(
        link.server.attested[0].1.get_str("test.platform"),
        Some("client-tee")
    );
}

#[test]
fn evidence_from_an_untrusted_attestation_key_is_rejected() {
    let server_id = Identity::new("attester.example");
    let mut link = Link::server_attests(&server_id, 3);
    link.server.attester = Some(std::sync::Arc::new(
        atls_evidence::insecure_test::InsecureTestAttester::new([0x11; 32], Default::default()),
    ));
    let err = link.client_attestation_fails();
    assert!(matches!(
        evidence_error(&err),
        Some(EvidenceError::Backend(_))
    ));
    assert!(!link.client.session.is_peer_attested());
}
