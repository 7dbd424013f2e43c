//! Relay (G-C2; the CVE-2026-33697 class): RL-01, RL-02, RL-04, RL-05. A genuine TEE's
//! evidence, obtained over another connection, never attests the relaying party.
//! (RL-03, "no quote oracle", is a set of compile-fail checks in the harness's docs.)

use atls_core::{AuthenticatorRequest, Codec, Error, PeerMisbehaved, RequestKind, Role};
use atls_evidence::EvidenceError;
use atls_tests::*;

/// V (client) ↔ M on connection A; V accepts M's certificate (M holds a valid cert).
fn victim_to_mitm(m: &Identity) -> Link {
    let v_id = Identity::new("victim.example");
    let v = Endpoint::new(Role::Client, &v_id, m.pinned(), None, [1; 32]);
    let m_end = Endpoint::new(Role::Server, m, v_id.pinned(), None, [2; 32]);
    Link::new(v, m_end, 0xa1)
}

/// M (client) ↔ genuine G on connection B.
fn mitm_to_genuine(m: &Identity, g: &Identity) -> Link {
    let m_end = Endpoint::new(Role::Client, m, g.pinned(), None, [3; 32]);
    let g_end = Endpoint::new(
        Role::Server,
        g,
        m.pinned(),
        Some(test_attester("genuine")),
        [4; 32],
    );
    Link::new(m_end, g_end, 0xb2)
}

/// Sends `request` to G on connection B and returns G's authenticator.
fn ask_genuine(b: &mut Link, request: &[u8]) -> Vec<u8> {
    b.server
        .session
        .handle_message(b.now, request, &b.exporter)
        .unwrap();
    b.server.step().unwrap();
    b.server.session.poll_transmit().unwrap()
}

#[test]
fn rl_01_genuine_evidence_rewrapped_by_the_relay_is_binder_mismatch() {
    let (m, g) = (
        Identity::new("attacker.example"),
        Identity::new("genuine.example"),
    );
    let mut a = victim_to_mitm(&m);
    let mut b = mitm_to_genuine(&m, &g);
    let v_request = client_request(&mut a);
    // M copies V's context into its own request to G.
    let v_ctx = AuthenticatorRequest::decode(&v_request).unwrap();
    let m_request = AuthenticatorRequest::new(
        RequestKind::ClientCertificateRequest,
        v_ctx.context.clone(),
        v_ctx.extensions.clone(),
    )
    .unwrap();
    let g_auth = ask_genuine(&mut b, &m_request.to_bytes());
    // G's evidence, wrapped in an authenticator M signs on connection A.
    let forged = answer_as_server(&a.exporter, &v_request, &m, &cmw_of(&g_auth));
    let err = client_rejects(&mut a, &forged);
    assert!(
        matches!(
            evidence_error(&err),
            Some(EvidenceError::BinderMismatch { .. })
        ),
        "{err}"
    );
}

#[test]
fn rl_02_genuine_authenticator_forwarded_unchanged_is_rejected() {
    let (m, g) = (
        Identity::new("attacker.example"),
        Identity::new("genuine.example"),
    );
    let mut a = victim_to_mitm(&m);
    let mut b = mitm_to_genuine(&m, &g);
    let v_request = client_request(&mut a);
    let g_auth = ask_genuine(&mut b, &v_request);
    let err = client_rejects(&mut a, &g_auth);
    assert!(
        matches!(err, Error::PeerMisbehaved(PeerMisbehaved::BadSignature)),
        "{err}"
    );
}

#[test]
fn rl_04_tls_terminating_proxy_forwarding_ea_messages_is_rejected() {
    // V expects G (pins G's key); a proxy P terminates V's TLS and opens its own to G,
    // forwarding the EA messages both ways.
    let (p, g) = (
        Identity::new("proxy.example"),
        Identity::new("genuine.example"),
    );
    let v_id = Identity::new("victim.example");
    let v = Endpoint::new(Role::Client, &v_id, g.pinned(), None, [1; 32]);
    let p_end = Endpoint::new(Role::Server, &p, v_id.pinned(), None, [2; 32]);
    let mut a = Link::new(v, p_end, 0xa4);
    let mut b = mitm_to_genuine(&p, &g);
    let v_request = client_request(&mut a);
    let g_auth = ask_genuine(&mut b, &v_request);
    let err = client_rejects(&mut a, &g_auth);
    assert!(
        matches!(err, Error::PeerMisbehaved(PeerMisbehaved::BadSignature)),
        "{err}"
    );
}

/// How a weak design computes its "binder" from the request context.
type BinderFn<'a> = Box<dyn Fn(&[u8]) -> Vec<u8> + 'a>;

#[test]
fn rl_05_intra_handshake_binder_variants_are_binder_mismatch() {
    let m = Identity::new("attacker.example");
    let aik = atls_core::HashAlgorithm::Sha256.hash(&[&m.spki()]);
    let early = atls_core::ExporterMasterSecret::new(atls_core::HashAlgorithm::Sha256, &[0xee; 32])
        .unwrap();
    let variants: Vec<(&str, BinderFn<'_>)> = vec![
        ("client random only", Box::new(|_| vec![0x5c; 32])),
        ("request nonce only", Box::new(|ctx| ctx.to_vec())),
        ("server public key only", Box::new(|_| aik.clone())),
        (
            "early exporter",
            Box::new(|ctx| expected_binder(&early, ctx, &m.spki())),
        ),
        (
            "nonce + public key",
            Box::new(|ctx| atls_core::HashAlgorithm::Sha256.hash(&[ctx, &m.spki()])),
        ),
    ];
    for (name, binder) in variants {
        let mut a = victim_to_mitm(&m);
        let request = client_request(&mut a);
        let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
        // Evidence signed by a (leaked) genuine attestation key, bound the weak way.
        let evidence = forge_test_evidence(&binder(&ctx), &aik);
        let auth = answer_as_server(&a.exporter, &request, &m, &evidence);
        let err = client_rejects(&mut a, &auth);
        assert!(
            matches!(
                evidence_error(&err),
                Some(EvidenceError::BinderMismatch { .. })
            ),
            "{name}: {err}"
        );
    }
}

#[test]
fn rl_05_control_the_correct_binder_is_accepted() {
    // The same construction with the post-handshake binder passes: the tests above fail
    // only because of the binder.
    let m = Identity::new("attacker.example");
    let aik = atls_core::HashAlgorithm::Sha256.hash(&[&m.spki()]);
    let mut a = victim_to_mitm(&m);
    let request = client_request(&mut a);
    let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
    let evidence = forge_test_evidence(&expected_binder(&a.exporter, &ctx, &m.spki()), &aik);
    let auth = answer_as_server(&a.exporter, &request, &m, &evidence);
    a.client
        .session
        .handle_message(a.now, &auth, &a.exporter)
        .unwrap();
    a.client.step().unwrap();
    assert!(a.client.session.is_peer_attested());
}

/// Parameter lists of the public functions in `src`.
fn public_signatures(src: &std::path::Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The simulator is an insecure test tool, documented as such, that exists to make
        // quotes with chosen contents; tests are not API.
        if name == "sim" || name == "sim.rs" || name.contains("test") {
            continue;
        }
        if path.is_dir() {
            public_signatures(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("pub fn ").or_else(|| rest.find("pub async fn ")) {
            let sig = &rest[at..];
            let end = sig
                .find('{')
                .unwrap_or(sig.len())
                .min(sig.find(';').unwrap_or(sig.len()));
            let params = sig[..end]
                .split("->")
                .next()
                .unwrap_or_default()
                .to_string();
            out.push((path.display().to_string(), params));
            rest = &rest[at + 4..];
        }
    }
}

#[test]
fn rl_03_no_public_function_takes_caller_chosen_report_data() {
    // A "quote oracle" is what the relay attack needs: an attester API that quotes data the
    // caller chooses. Attesters take only a `Binding`, which has no public constructor (the
    // compile-fail checks in the harness docs); this scan catches a new public function that
    // takes REPORTDATA, a configfs inblob, or a 64-byte array.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut sigs = Vec::new();
    for krate in std::fs::read_dir(&root).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            public_signatures(&src, &mut sigs);
        }
    }
    assert!(
        sigs.len() > 100,
        "the scan must see the public API ({} found)",
        sigs.len()
    );
    let offending: Vec<_> = sigs
        .iter()
        .filter(|(_, params)| {
            let p = params.to_lowercase();
            p.contains("report_data")
                || p.contains("reportdata")
                || p.contains("inblob")
                || p.contains("[u8; 64]")
        })
        .collect();
    assert!(
        offending.is_empty(),
        "public functions taking caller-chosen report data: {offending:#?}"
    );
}
