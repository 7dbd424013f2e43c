//! EA-01..EA-21: RFC 9261 authenticator integrity at the core level (in memory). Each test
//! asserts the specific error, that the relying party's session is closed, and that it never
//! reports the peer as attested.

#![allow(clippy::disallowed_methods)] // tests play the host, which owns the clock

mod common;

use std::sync::Arc;

use atls_core::*;
use common::*;

const CMW_TYPE: ExtensionType = DEFAULT_CMW_ATTESTATION;

fn server_keys(p: &Pair) -> AuthenticatorKeys {
    AuthenticatorKeys::derive(&p.exporter, HashAlgorithm::Sha256, Role::Server).unwrap()
}

/// Delivers `bytes` to the client and returns the error it must fail with.
fn client_rejects(p: &mut Pair, bytes: &[u8]) -> Error {
    let err = p
        .client
        .handle_message(p.now, bytes, &p.exporter)
        .expect_err("the client must reject this message");
    assert_closed_unattested(&mut p.client);
    err
}

fn assert_closed_unattested(s: &mut Session<Claims>) {
    assert!(!s.is_peer_attested());
    assert!(s.close_alert().is_some(), "session must be closed");
    while let Some(ev) = s.poll_event() {
        assert!(
            !matches!(ev, Event::Attested { .. }),
            "no attestation after failure"
        );
    }
    assert!(s.poll_transmit().is_none(), "nothing sent after failure");
    assert!(matches!(
        s.request_attestation(std::time::Instant::now(), &exporter(0, SUITE)),
        Err(Error::ApiMisuse(ApiMisuse::SessionClosed))
    ));
}

/// Certificate with the server's cert and `exts` on the leaf, answering `request`.
fn certificate_for(p: &Pair, request: &[u8], exts: Vec<Extension>) -> Certificate {
    Certificate {
        context: AuthenticatorRequest::decode(request).unwrap().context,
        entries: vec![CertificateEntry {
            cert_data: p.server_id.cert_der.clone(),
            extensions: exts,
        }],
    }
}

/// Well-formed but unbound evidence: the message-level checks come first.
fn toy_cmw_ext(_: &Pair) -> Extension {
    Extension::cmw_attestation(CMW_TYPE, &[0xa5; 64]).unwrap()
}

/// An authenticator over `cert` signed with the server's key and MACed with the server's
/// keys of `p`'s connection: only the Certificate contents are the attacker's.
fn forge_as_server(p: &Pair, req: &[u8], cert: &Certificate, scheme: SignatureScheme) -> Vec<u8> {
    forge(
        &server_keys(p),
        req,
        cert,
        p.server_id.signing_key().as_ref(),
        scheme,
    )
}

fn mutate(bytes: &[u8], f: impl FnOnce(&mut Authenticator)) -> Vec<u8> {
    let mut a = Authenticator::decode(bytes).unwrap();
    f(&mut a);
    a.to_bytes()
}

#[test]
fn ea_01_flipped_finished_bit_is_bad_finished() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let mut auth = server_answer(&mut p, &req);
    *auth.last_mut().unwrap() ^= 0x01;
    let err = client_rejects(&mut p, &auth);
    assert_peer(&err, PeerMisbehaved::BadFinished);
    assert_eq!(err.alert(), AlertDescription::DecryptError);
}

#[test]
fn ea_02_flipped_signature_bit_is_bad_signature() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let auth = mutate(&server_answer(&mut p, &req), |a| {
        if let Authenticator::Full {
            certificate_verify, ..
        } = a
        {
            certificate_verify.signature[10] ^= 0x01;
        }
    });
    assert_peer(&client_rejects(&mut p, &auth), PeerMisbehaved::BadSignature);
}

#[test]
fn ea_03_changed_evidence_byte_is_bad_signature() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let auth = mutate(&server_answer(&mut p, &req), |a| {
        if let Authenticator::Full { certificate, .. } = a {
            let data = &mut certificate.entries[0].extensions[0].data;
            *data.last_mut().unwrap() ^= 0x80;
        }
    });
    assert_peer(&client_rejects(&mut p, &auth), PeerMisbehaved::BadSignature);
}

#[test]
fn ea_04_authenticator_from_another_connection_is_rejected() {
    let (c, s) = (Identity::ed25519("c"), Identity::ed25519("s"));
    let mut a = Pair::with_identities(SUITE, 0xaa, c.clone(), s.clone(), |_| {}, |_| {});
    let mut b = Pair::with_identities(SUITE, 0xbb, c, s, |_| {}, |_| {});
    let req_a = client_request(&mut a);
    let req_b = client_request(&mut b);
    // Same seeds: the contexts collide, only the connection differs.
    assert_eq!(
        AuthenticatorRequest::decode(&req_a).unwrap().context,
        AuthenticatorRequest::decode(&req_b).unwrap().context
    );
    let auth_a = server_answer(&mut a, &req_a);
    // The handshake context enters the signed hash first, so the signature check catches it.
    assert_peer(
        &client_rejects(&mut b, &auth_a),
        PeerMisbehaved::BadSignature,
    );
}

#[test]
fn ea_05_server_authenticator_with_client_labels_is_rejected() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let wrong =
        AuthenticatorKeys::derive(&p.exporter, HashAlgorithm::Sha256, Role::Client).unwrap();
    let cert = certificate_for(&p, &req, vec![toy_cmw_ext(&p)]);
    let auth = forge(
        &wrong,
        &req,
        &cert,
        p.server_id.signing_key().as_ref(),
        SignatureScheme::ED25519,
    );
    // Both HC and FK differ; HC is checked first (inside the signature).
    assert_peer(&client_rejects(&mut p, &auth), PeerMisbehaved::BadSignature);

    // With the right HC but the client's finished key, Finished is what fails.
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let mut client_fk = [0u8; 32];
    p.exporter
        .export(
            b"EXPORTER-client authenticator finished key",
            &[],
            &mut client_fk,
        )
        .unwrap();
    let mixed = AuthenticatorKeys::from_values(server_keys(&p).handshake_context(), &client_fk);
    let cert = certificate_for(&p, &req, vec![toy_cmw_ext(&p)]);
    let auth = forge(
        &mixed,
        &req,
        &cert,
        p.server_id.signing_key().as_ref(),
        SignatureScheme::ED25519,
    );
    assert_peer(&client_rejects(&mut p, &auth), PeerMisbehaved::BadFinished);
}

#[test]
fn ea_06_answer_to_one_request_does_not_satisfy_another() {
    let mut p = Pair::new();
    let r1 = client_request(&mut p);
    let r2 = client_request(&mut p);
    let auth1 = server_answer(&mut p, &r1);

    // Stateless validation against R2.
    let err = validate_as_client(&p, &r2, None, &auth1).unwrap_err();
    assert_peer(&err, PeerMisbehaved::ContextMismatch);

    // In the session: an authenticator whose context matches neither outstanding request.
    let mut cert = certificate_for(&p, &r1, vec![toy_cmw_ext(&p)]);
    cert.context = vec![0x77; 32];
    let auth = forge_as_server(&p, &r1, &cert, SignatureScheme::ED25519);
    assert_peer(
        &client_rejects(&mut p, &auth),
        PeerMisbehaved::ContextMismatch,
    );
}

#[test]
fn ea_07_second_authenticator_for_a_validated_context_is_context_reused() {
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
        panic!("expected an appraisal request");
    };
    p.client
        .handle_appraisal(id, toy_appraise(&evidence, &binding))
        .unwrap();
    assert!(p.client.is_peer_attested());
    let err = client_rejects(&mut p, &auth);
    assert_peer(&err, PeerMisbehaved::ContextReused);
}

#[test]
fn ea_08_unoffered_extension_in_entry_is_unsolicited() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let odd = Extension {
        typ: ExtensionType(0x1234),
        data: vec![1],
    };
    let cert = certificate_for(&p, &req, vec![toy_cmw_ext(&p), odd]);
    let auth = forge_as_server(&p, &req, &cert, SignatureScheme::ED25519);
    assert_peer(
        &client_rejects(&mut p, &auth),
        PeerMisbehaved::UnsolicitedExtension(ExtensionType(0x1234)),
    );
}

#[test]
fn ea_09_cmw_attestation_not_offered_is_unsupported_extension_110() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let auth = server_answer(&mut p, &req);
    // The request as validated offers only signature_algorithms.
    let offered = [ExtensionType::SIGNATURE_ALGORITHMS];
    let err = validate_as_client(&p, &req, Some(&offered), &auth).unwrap_err();
    assert_peer(&err, PeerMisbehaved::UnsupportedExtension(CMW_TYPE));
    assert_eq!(err.alert().get(), 110);

    // A session whose profile uses another codepoint did not offer 0xffff either.
    let mut q = Pair::with(
        SUITE,
        7,
        |c| c.profile.cmw_extension_type = ExtensionType(0xff01),
        |_| {},
    );
    let req = client_request(&mut q);
    let cert = certificate_for(&q, &req, vec![toy_cmw_ext(&q)]);
    let auth = forge_as_server(&q, &req, &cert, SignatureScheme::ED25519);
    let err = client_rejects(&mut q, &auth);
    assert_peer(&err, PeerMisbehaved::UnsolicitedExtension(CMW_TYPE));
    assert_eq!(err.alert().get(), 110);
}

#[test]
fn ea_10_cmw_attestation_outside_the_leaf_is_rejected() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let mut cert = certificate_for(&p, &req, vec![]);
    cert.entries.push(CertificateEntry {
        cert_data: p.client_id.cert_der.clone(),
        extensions: vec![toy_cmw_ext(&p)],
    });
    let auth = forge_as_server(&p, &req, &cert, SignatureScheme::ED25519);
    assert_peer(
        &client_rejects(&mut p, &auth),
        PeerMisbehaved::ExtensionNotInLeaf(CMW_TYPE),
    );
}

#[test]
fn ea_11_duplicate_extension_in_entry_is_rejected() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let cert = certificate_for(&p, &req, vec![toy_cmw_ext(&p), toy_cmw_ext(&p)]);
    let auth = forge_as_server(&p, &req, &cert, SignatureScheme::ED25519);
    assert!(matches!(
        client_rejects(&mut p, &auth),
        Error::InvalidMessage(InvalidMessage::DuplicateExtension(CMW_TYPE))
    ));
}

#[test]
fn ea_12_scheme_not_offered_or_not_allowed_is_rejected() {
    let server_id = Identity::p256("s");
    let mut p = Pair::with_identities(
        SUITE,
        8,
        Identity::ed25519("c"),
        server_id,
        |c| c.signature_schemes = vec![SignatureScheme::ED25519],
        |_| {},
    );
    let req = client_request(&mut p);
    let cert = certificate_for(&p, &req, vec![toy_cmw_ext(&p)]);
    let auth = forge_as_server(&p, &req, &cert, SignatureScheme::ECDSA_NISTP256_SHA256);
    assert_peer(
        &client_rejects(&mut p, &auth),
        PeerMisbehaved::SchemeNotOffered {
            used: SignatureScheme::ECDSA_NISTP256_SHA256,
            offered: vec![SignatureScheme::ED25519],
        },
    );

    let mut p = Pair::new();
    let req = client_request(&mut p);
    let cert = certificate_for(&p, &req, vec![toy_cmw_ext(&p)]);
    let auth = forge_as_server(&p, &req, &cert, SignatureScheme::RSA_PKCS1_SHA256);
    assert_peer(
        &client_rejects(&mut p, &auth),
        PeerMisbehaved::SchemeNotAllowed(SignatureScheme::RSA_PKCS1_SHA256),
    );

    // An honest attester whose key was not offered refuses instead of answering.
    let mut p = Pair::with_identities(
        SUITE,
        8,
        Identity::ed25519("c"),
        Identity::p256("s"),
        |c| c.signature_schemes = vec![SignatureScheme::ED25519],
        |_| {},
    );
    p.client.request_attestation(p.now, &p.exporter).unwrap();
    let (_, err) = p.drive().unwrap_err();
    assert!(matches!(err, Error::PeerRefused));
}

#[test]
fn ea_13_malformed_authenticators_are_decode_errors_without_panic() {
    let (c, s) = (Identity::ed25519("c"), Identity::ed25519("s"));
    let fresh = || {
        let mut p = Pair::with_identities(SUITE, 1, c.clone(), s.clone(), |_| {}, |_| {});
        let req = client_request(&mut p);
        (p, req)
    };
    let (mut p, req) = fresh();
    let auth = server_answer(&mut p, &req);

    for cut in 0..auth.len() {
        let (mut p, _) = fresh();
        let err = client_rejects(&mut p, &auth[..cut]);
        assert!(
            matches!(err, Error::InvalidMessage(_)),
            "cut {cut}: {err:?}"
        );
    }

    let mut trailing = auth.clone();
    trailing.push(0);
    let (mut p, _) = fresh();
    assert!(matches!(
        client_rejects(&mut p, &trailing),
        Error::InvalidMessage(InvalidMessage::TrailingBytes { .. })
    ));

    let mut long = auth.clone();
    long[3] = long[3].wrapping_add(1); // Certificate's 24-bit length one too large
    let (mut p, _) = fresh();
    assert!(matches!(
        client_rejects(&mut p, &long),
        Error::InvalidMessage(_)
    ));

    let Authenticator::Full {
        certificate,
        certificate_verify,
        finished,
    } = Authenticator::decode(&auth).unwrap()
    else {
        unreachable!()
    };
    let swapped = [
        certificate_verify.to_bytes(),
        certificate.to_bytes(),
        finished.to_bytes(),
    ]
    .concat();
    let (mut p, _) = fresh();
    assert!(matches!(
        client_rejects(&mut p, &swapped),
        Error::InvalidMessage(InvalidMessage::UnexpectedMessage { .. })
    ));

    let extra = [auth.clone(), finished.to_bytes()].concat();
    let (mut p, _) = fresh();
    assert!(matches!(
        client_rejects(&mut p, &extra),
        Error::InvalidMessage(InvalidMessage::TrailingBytes { .. })
    ));

    // The client's own request reflected back at it.
    let (mut p, req) = fresh();
    assert_peer(
        &client_rejects(&mut p, &req),
        PeerMisbehaved::WrongRequestType {
            expected: HandshakeType::CertificateRequest,
            got: HandshakeType::ClientCertificateRequest,
        },
    );
}

#[test]
fn ea_14_empty_authenticator_is_a_refusal_never_a_success() {
    let mut p = Pair::new();
    let mut cfg = Config::new(p.client_id.pinned());
    cfg.identity = None;
    p.server = Session::new(Arc::new(cfg), Role::Server, SUITE, [2; 32]).unwrap();
    let req = client_request(&mut p);
    p.server.handle_message(p.now, &req, &p.exporter).unwrap();
    let empty = p.server.poll_transmit().unwrap();
    assert_eq!(empty.len(), 36);
    let err = client_rejects(&mut p, &empty);
    assert!(matches!(err, Error::PeerRefused));
    assert_eq!(err.alert(), AlertDescription::CertificateRequired);
}

#[test]
fn ea_15_empty_authenticator_with_wrong_hmac_is_bad_finished() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let ctx = AuthenticatorRequest::decode(&req).unwrap().context;
    let mut empty = build_empty_authenticator(HashAlgorithm::Sha256, &server_keys(&p), &req, &ctx);
    empty[20] ^= 0x04;
    assert_peer(&client_rejects(&mut p, &empty), PeerMisbehaved::BadFinished);
}

#[test]
fn ea_16_header_less_request_transcript_is_rejected_unless_both_opt_in() {
    let fizz = Profile {
        unframed_request_transcript: true,
        ..Profile::LATEST
    };
    let f = fizz.clone();
    let mut p = Pair::with(SUITE, 4, |_| {}, |s| s.profile = f);
    let req = client_request(&mut p);
    let auth = server_answer(&mut p, &req);
    assert_peer(&client_rejects(&mut p, &auth), PeerMisbehaved::BadSignature);

    let f = fizz.clone();
    let mut p = Pair::with(SUITE, 4, |c| c.profile = f, |s| s.profile = fizz);
    p.client.request_attestation(p.now, &p.exporter).unwrap();
    assert_eq!(p.drive().unwrap().client_attested.len(), 1);
}

#[test]
fn ea_17_authenticator_keyed_from_another_secret_is_rejected() {
    let mut p = Pair::new();
    let req = client_request(&mut p);
    // The attester derives its keys from a different (e.g. early) exporter secret.
    let early = exporter(0xee, SUITE);
    p.server.handle_message(p.now, &req, &early).unwrap();
    let Some(Event::EvidenceRequested { id, binding }) = p.server.poll_event() else {
        panic!("expected an evidence request");
    };
    p.server
        .handle_evidence(id, Ok(toy_evidence(&binding)))
        .unwrap();
    let auth = p.server.poll_transmit().unwrap();
    assert_peer(&client_rejects(&mut p, &auth), PeerMisbehaved::BadSignature);
}

#[test]
fn ea_18_unsolicited_client_authenticator_is_rejected_by_server() {
    let mut p = Pair::new();
    let keys = AuthenticatorKeys::derive(&p.exporter, HashAlgorithm::Sha256, Role::Client).unwrap();
    let cert = Certificate {
        context: vec![0x31; 32],
        entries: vec![CertificateEntry {
            cert_data: p.client_id.cert_der.clone(),
            extensions: vec![],
        }],
    };
    let auth = forge(
        &keys,
        &[],
        &cert,
        p.client_id.signing_key().as_ref(),
        SignatureScheme::ED25519,
    );
    let err = p
        .server
        .handle_message(p.now, &auth, &p.exporter)
        .unwrap_err();
    assert_peer(&err, PeerMisbehaved::UnsolicitedAuthenticator);
    assert_closed_unattested(&mut p.server);
    // And a client session cannot send one.
    assert!(matches!(
        p.client.send_spontaneous_authenticator(&p.exporter),
        Err(Error::ApiMisuse(ApiMisuse::SpontaneousFromClient))
    ));
}

#[test]
fn ea_19_no_exchange_before_the_handshake_completes() {
    let mut p = Pair::new();
    assert!(matches!(
        p.server.request_attestation(p.now, &NotYet),
        Err(Error::ApiMisuse(ApiMisuse::HandshakeNotComplete))
    ));
    let req = client_request(&mut p);
    let mut p2 = Pair::new();
    assert!(matches!(
        p2.server.handle_message(p2.now, &req, &NotYet),
        Err(Error::ApiMisuse(ApiMisuse::HandshakeNotComplete))
    ));
}

#[derive(Debug)]
struct Rejects(CertificateError);

impl CertificateVerifier for Rejects {
    fn verify_chain(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
    ) -> Result<(), CertificateError> {
        Err(self.0.clone())
    }
}

#[test]
fn ea_20_valid_evidence_never_overrides_a_rejected_chain() {
    for (verifier, expected) in [
        (
            Arc::new(Rejects(CertificateError::Expired)) as Arc<dyn CertificateVerifier>,
            CertificateError::Expired,
        ),
        (
            Arc::new(Rejects(CertificateError::NotValidForName {
                expected: "target.example".into(),
            })),
            CertificateError::NotValidForName {
                expected: "target.example".into(),
            },
        ),
        (
            Identity::ed25519("other").pinned(),
            CertificateError::IdentitySwitch,
        ),
    ] {
        let mut p = Pair::with(SUITE, 2, |c| c.chain_verifier = verifier, |_| {});
        let req = client_request(&mut p);
        let auth = server_answer(&mut p, &req);
        match client_rejects(&mut p, &auth) {
            Error::Certificate(e) => assert_eq!(e, expected),
            other => panic!("expected a certificate error, got {other:?}"),
        }
    }
}

#[test]
fn ea_21_empty_or_reused_contexts_are_refused() {
    assert_eq!(
        AuthenticatorRequest::new(
            RequestKind::CertificateRequest,
            vec![],
            vec![Extension::signature_algorithms(&[SignatureScheme::ED25519])],
        ),
        Err(InvalidMessage::EmptyContext)
    );

    // The server reuses the context of the client's ClientCertificateRequest in its own
    // CertificateRequest: the client refuses it.
    let mut p = Pair::new();
    let req = client_request(&mut p);
    let ctx = AuthenticatorRequest::decode(&req).unwrap().context;
    let reused = AuthenticatorRequest::new(
        RequestKind::CertificateRequest,
        ctx,
        vec![
            Extension::signature_algorithms(&[SignatureScheme::ED25519]),
            Extension::cmw_attestation_offer(CMW_TYPE),
        ],
    )
    .unwrap();
    assert_peer(
        &client_rejects(&mut p, &reused.to_bytes()),
        PeerMisbehaved::ContextReused,
    );

    // A request with an empty context on the wire is a decode error.
    let mut p = Pair::new();
    client_request(&mut p);
    let empty_ctx = hex::decode("0d00000b 00 0008 000d000400020807".replace(' ', "")).unwrap();
    assert!(matches!(
        client_rejects(&mut p, &empty_ctx),
        Error::InvalidMessage(InvalidMessage::EmptyContext)
    ));
}

#[test]
fn cm_06_cmw_data_length_mismatch_or_empty_is_a_decode_error() {
    for data in [vec![0, 3, 0xa0, 0xa1], vec![0, 0], vec![0, 1, 0xa0, 0xa1]] {
        let mut p = Pair::new();
        let req = client_request(&mut p);
        let ext = Extension {
            typ: CMW_TYPE,
            data,
        };
        let cert = certificate_for(&p, &req, vec![ext]);
        let auth = forge_as_server(&p, &req, &cert, SignatureScheme::ED25519);
        let err = client_rejects(&mut p, &auth);
        assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
        assert_eq!(err.alert(), AlertDescription::DecodeError);
    }
}
