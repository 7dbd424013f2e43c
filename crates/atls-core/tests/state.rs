//! Ordering, downgrade and duplication at the core level: ST-03, ST-04, ST-06, ST-07,
//! RPL-01, RPL-02, and deadline behaviour. Socket-level ordering (ST-01/02/05) is tested in the
//! adapters.

mod common;

use std::time::Duration;

use atls_core::*;
use common::*;

#[test]
fn st_03_unanswered_request_times_out_and_fails_closed() {
    let mut p = Pair::new();
    client_request(&mut p);
    let (deadline, reason) = p.client.poll_timeout().unwrap();
    assert_eq!(reason, TimeoutReason::AwaitingAuthenticator);
    assert_eq!(deadline, p.now + Duration::from_secs(30));
    p.client
        .handle_timeout(deadline - Duration::from_millis(1))
        .unwrap();
    let err = p.client.handle_timeout(deadline).unwrap_err();
    assert!(matches!(
        err,
        Error::Timeout(TimeoutReason::AwaitingAuthenticator)
    ));
    assert!(!p.client.is_peer_attested());
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn st_03_slow_local_attester_and_verifier_time_out() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    p.server.handle_message(p.now, &req, &p.exporter).unwrap();
    let (deadline, reason) = p.server.poll_timeout().unwrap();
    assert_eq!(reason, TimeoutReason::AwaitingEvidence);
    assert!(matches!(
        p.server.handle_timeout(deadline),
        Err(Error::Timeout(TimeoutReason::AwaitingEvidence))
    ));

    let mut p = Pair::new();
    let req = client_request(&mut p);
    let auth = server_answer(&mut p, &req);
    p.client.handle_message(p.now, &auth, &p.exporter).unwrap();
    let (deadline, reason) = p.client.poll_timeout().unwrap();
    assert_eq!(reason, TimeoutReason::AwaitingAppraisal);
    assert!(matches!(
        p.client.handle_timeout(deadline),
        Err(Error::Timeout(TimeoutReason::AwaitingAppraisal))
    ));
    assert!(!p.client.is_peer_attested());
}

#[test]
fn st_04_valid_authenticator_without_evidence_is_attestation_missing() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let ctx = AuthenticatorRequest::decode(&req).unwrap().context;
    let keys = AuthenticatorKeys::derive(&p.exporter, HashAlgorithm::Sha256, Role::Server).unwrap();
    let auth = build_authenticator(
        HashAlgorithm::Sha256,
        &keys,
        &req,
        &ctx,
        &p.server_id.certified(),
        vec![],
    )
    .unwrap();
    let err = p
        .client
        .handle_message(p.now, &auth, &p.exporter)
        .unwrap_err();
    assert!(matches!(err, Error::AttestationMissing));
    assert_eq!(err.alert(), AlertDescription::MissingExtension);
    assert!(!p.client.is_peer_attested());
}

#[test]
fn st_06_swapped_answers_are_matched_by_context_never_cross_validated() {
    let mut p = Pair::new();
    let r1 = client_request(&mut p);
    let r2 = client_request(&mut p);
    let a1 = server_answer(&mut p, &r1);
    let a2 = server_answer(&mut p, &r2);
    // Delivered in the opposite order: each still validates against its own request.
    p.client.handle_message(p.now, &a2, &p.exporter).unwrap();
    p.client.handle_message(p.now, &a1, &p.exporter).unwrap();
    let mut contexts = Vec::new();
    while let Some(ev) = p.client.poll_event() {
        match ev {
            Event::AppraisalRequested {
                id,
                evidence,
                binding,
                ..
            } => {
                let verdict = toy_appraise(&evidence, &binding);
                p.client.handle_appraisal(id, verdict).unwrap();
            }
            Event::Attested { context, .. } => contexts.push(context),
            _ => {}
        }
    }
    let c1 = AuthenticatorRequest::decode(&r1).unwrap().context;
    let c2 = AuthenticatorRequest::decode(&r2).unwrap().context;
    assert_eq!(contexts, vec![c2, c1]);
}

#[test]
fn st_06_evidence_of_one_request_in_the_answer_to_another_is_binder_mismatch() {
    let mut p = Pair::new();
    let r1 = client_request(&mut p);
    let r2 = client_request(&mut p);
    p.server.handle_message(p.now, &r1, &p.exporter).unwrap();
    p.server.handle_message(p.now, &r2, &p.exporter).unwrap();
    let Some(Event::EvidenceRequested {
        id: id1,
        binding: b1,
    }) = p.server.poll_event()
    else {
        panic!()
    };
    let Some(Event::EvidenceRequested {
        id: id2,
        binding: b2,
    }) = p.server.poll_event()
    else {
        panic!()
    };
    // The attester swaps the evidence between the two answers.
    p.server
        .handle_evidence(id1, Ok(toy_evidence(&b2)))
        .unwrap();
    p.server
        .handle_evidence(id2, Ok(toy_evidence(&b1)))
        .unwrap();
    let a1 = p.server.poll_transmit().unwrap();
    p.client.handle_message(p.now, &a1, &p.exporter).unwrap();
    let Some(Event::AppraisalRequested {
        id,
        evidence,
        binding,
        ..
    }) = p.client.poll_event()
    else {
        panic!()
    };
    let err = p
        .client
        .handle_appraisal(id, toy_appraise(&evidence, &binding))
        .unwrap_err();
    assert_toy_evidence_error(&err, ToyEvidenceError::BinderMismatch);
}

#[test]
fn st_07_unknown_extensions_in_a_request_are_ignored_by_the_attester() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let mut request = AuthenticatorRequest::decode(&req).unwrap();
    request.extensions.push(Extension {
        typ: ExtensionType(0x4242),
        data: vec![1, 2, 3],
    });
    let req = request.to_bytes();
    // The attester answers; the relying party validates against the request as sent.
    let auth = server_answer(&mut p, &req);
    let v = validate_as_client(&p, &req, None, &auth).unwrap();
    assert!(matches!(v, Validation::Authenticated(a) if a.cmw.is_some()));
}

#[test]
fn rpl_01_same_authenticator_twice_is_context_reused() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let auth = server_answer(&mut p, &req);
    p.client.handle_message(p.now, &auth, &p.exporter).unwrap();
    // Still awaiting appraisal of the first copy.
    let err = p
        .client
        .handle_message(p.now, &auth, &p.exporter)
        .unwrap_err();
    assert_peer(&err, PeerMisbehaved::ContextReused);
    assert!(!p.client.is_peer_attested());
}

#[test]
fn rpl_02_one_evidence_for_two_requests_fails_the_second() {
    let mut p = Pair::new();
    let r1 = client_request(&mut p);
    let a1 = server_answer(&mut p, &r1);
    p.client.handle_message(p.now, &a1, &p.exporter).unwrap();
    let Some(Event::AppraisalRequested {
        id,
        evidence: ev1,
        binding,
        ..
    }) = p.client.poll_event()
    else {
        panic!()
    };
    p.client
        .handle_appraisal(id, toy_appraise(&ev1, &binding))
        .unwrap();

    let r2 = client_request(&mut p);
    p.server.handle_message(p.now, &r2, &p.exporter).unwrap();
    let (id, _) = next_evidence_request(&mut p.server);
    p.server.handle_evidence(id, Ok(ev1)).unwrap();
    p.deliver_to_client().unwrap();
    let Some(Event::AppraisalRequested {
        id,
        evidence,
        binding,
        ..
    }) = std::iter::from_fn(|| p.client.poll_event())
        .find(|e| matches!(e, Event::AppraisalRequested { .. }))
    else {
        panic!()
    };
    let err = p
        .client
        .handle_appraisal(id, toy_appraise(&evidence, &binding))
        .unwrap_err();
    assert_toy_evidence_error(&err, ToyEvidenceError::BinderMismatch);
    assert!(
        !p.client.is_peer_attested(),
        "a failed re-attestation revokes the attested state"
    );
}

#[test]
fn failed_local_evidence_generation_refuses_the_request() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    p.server.handle_message(p.now, &req, &p.exporter).unwrap();
    let Some(Event::EvidenceRequested { id, .. }) = p.server.poll_event() else {
        panic!()
    };
    p.server
        .handle_evidence(id, Err("quote generation failed".into()))
        .unwrap();
    let answer = p.server.poll_transmit().unwrap();
    assert_eq!(answer[0], 20, "an empty authenticator");
    assert!(matches!(
        p.client.handle_message(p.now, &answer, &p.exporter),
        Err(Error::PeerRefused)
    ));
}

#[test]
fn answers_for_unknown_ids_are_api_misuse_and_keep_the_session() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let auth = server_answer(&mut p, &req);
    p.client.handle_message(p.now, &auth, &p.exporter).unwrap();
    let Some(Event::AppraisalRequested {
        id,
        evidence,
        binding,
        ..
    }) = p.client.poll_event()
    else {
        panic!()
    };
    assert!(matches!(
        p.client.handle_evidence(id, Ok(vec![1])),
        Err(Error::ApiMisuse(ApiMisuse::UnknownId(_)))
    ));
    p.client
        .handle_appraisal(id, toy_appraise(&evidence, &binding))
        .unwrap();
    assert!(p.client.is_peer_attested());
}
