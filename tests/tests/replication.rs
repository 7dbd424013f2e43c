//! Replication (project-defined, security-goals §3.5): RPL-03 and RPL-04. (RPL-01 and RPL-02
//! are atls-core tests.)

use std::sync::Arc;

use atls_core::{AuthenticatorRequest, Codec, Ed25519SigningKey, SigningKey};
use atls_evidence::EvidenceError;
use atls_tests::*;

#[test]
fn rpl_03_parallel_connections_each_accept_only_their_own_evidence() {
    let server_id = Identity::new("attester.example");
    let mut links: Vec<Link> = (0..5u8)
        .map(|i| Link::server_attests(&server_id, 0x30 + i))
        .collect();
    let mut requests = Vec::new();
    let mut evidence = Vec::new();
    for link in &mut links {
        let request = client_request(link);
        link.server
            .session
            .handle_message(link.now, &request, &link.exporter)
            .unwrap();
        link.server.step().unwrap();
        link.server.session.poll_transmit().unwrap();
        evidence.push(link.server.evidence_sent[0].clone());
        requests.push(request);
    }
    assert_eq!(
        evidence
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        evidence.len(),
        "every connection's evidence differs"
    );
    for (i, link) in links.iter_mut().enumerate() {
        // Another connection's evidence, in an authenticator correctly signed for this one.
        let other = &evidence[(i + 1) % evidence.len()];
        let forged = answer_as_server(&link.exporter, &requests[i], &server_id, other);
        let err = match link
            .client
            .session
            .handle_message(link.now, &forged, &link.exporter)
        {
            Err(e) => e,
            Ok(()) => link.client.step().unwrap_err(),
        };
        assert!(
            matches!(
                evidence_error(&err),
                Some(EvidenceError::BinderMismatch { .. })
            ),
            "{err}"
        );
    }
    // Control: each connection's own evidence is accepted there.
    let mut links: Vec<Link> = (0..3u8)
        .map(|i| Link::server_attests(&server_id, 0x40 + i))
        .collect();
    for link in &mut links {
        link.client
            .session
            .request_attestation(link.now, &link.exporter)
            .unwrap();
        link.drive().unwrap();
        assert!(link.client.session.is_peer_attested());
    }
    let _ = AuthenticatorRequest::decode(&requests[0]).unwrap();
}

#[test]
fn rpl_04_signing_keys_do_not_reveal_their_secret() {
    // No API exports key material (compile-fail checks below); Debug output carries none.
    let key = Ed25519SigningKey::from_seed(&[0x42; 32]);
    let shown = format!("{key:?}");
    assert!(!shown.contains("42") && !shown.contains("66"), "{shown}");
    let identity = Identity::new("attester.example").certified();
    let shown = format!("{identity:?}");
    assert!(!shown.to_lowercase().contains("private"), "{shown}");
    let signer: Arc<dyn SigningKey> = Arc::new(key);
    assert_eq!(signer.sign(b"x").unwrap().len(), 64);
}
