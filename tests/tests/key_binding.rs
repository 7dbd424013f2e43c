//! Key binding and compound authentication (G-C1, seat-expat §5.2): CB-01..CB-04.
//! (CB-05, the SHA-384 TDX layout, is tested with the TDX backend.)

use atls_core::{AuthenticatorRequest, Codec, Error, HashAlgorithm};
use atls_evidence::EvidenceError;
use atls_tests::*;

/// A fresh server-attests connection with the client's request outstanding.
struct Case {
    host: Identity,
    link: Link,
    request: Vec<u8>,
    ctx: Vec<u8>,
}

impl Case {
    fn new() -> Self {
        let host = Identity::new("attester.example");
        let mut link = Link::server_attests(&host, 0xcb);
        let request = client_request(&mut link);
        let ctx = AuthenticatorRequest::decode(&request).unwrap().context;
        Self {
            host,
            link,
            request,
            ctx,
        }
    }

    /// The binder the client expects for `key` (SPKI DER unless a test says otherwise).
    fn binder_for(&self, key: &[u8]) -> Vec<u8> {
        expected_binder(&self.link.exporter, &self.ctx, key)
    }

    fn aik(&self) -> Vec<u8> {
        HashAlgorithm::Sha256.hash(&[&self.host.spki()])
    }

    /// The host answers, signing with its key, with evidence carrying `binder` and `aik`;
    /// the client's outcome.
    fn present(mut self, binder: &[u8], aik: &[u8]) -> Result<(), Error> {
        let evidence = forge_test_evidence(binder, aik);
        let auth = answer_as_server(&self.link.exporter, &self.request, &self.host, &evidence);
        let client = &mut self.link.client;
        let result = client
            .session
            .handle_message(self.link.now, &auth, &self.link.exporter)
            .and_then(|()| client.step().map(|_| ()));
        // Attested exactly when nothing failed.
        assert_eq!(client.session.is_peer_attested(), result.is_ok());
        result
    }
}

fn assert_evidence(result: Result<(), Error>, expected: fn(&EvidenceError) -> bool) {
    let err = result.expect_err("the client must reject this evidence");
    assert!(evidence_error(&err).is_some_and(expected), "{err}");
}

#[test]
fn cb_01_evidence_binding_the_tds_key_under_an_outside_key_is_aik_mismatch() {
    // Split deployment: TLS and the EA signature come from a host key outside the TD; the
    // genuine TD copies the binder it is given but binds its own key's hash.
    let case = Case::new();
    let td_key = Identity::new("td.internal");
    let binder = case.binder_for(&case.host.spki());
    let td_aik = HashAlgorithm::Sha256.hash(&[&td_key.spki()]);
    assert_evidence(case.present(&binder, &td_aik), |e| {
        matches!(e, EvidenceError::AikMismatch { .. })
    });
}

#[test]
fn cb_02_wrong_binder_or_wrong_key_hash_is_rejected_specifically() {
    // Binder right, key hash one bit off.
    let case = Case::new();
    let binder = case.binder_for(&case.host.spki());
    let mut aik = case.aik();
    aik[0] ^= 1;
    assert_evidence(case.present(&binder, &aik), |e| {
        matches!(e, EvidenceError::AikMismatch { .. })
    });

    // Key hash right, binder one bit off.
    let case = Case::new();
    let mut binder = case.binder_for(&case.host.spki());
    binder[31] ^= 1;
    let aik = case.aik();
    assert_evidence(case.present(&binder, &aik), |e| {
        matches!(e, EvidenceError::BinderMismatch { .. })
    });

    // Control: both right is accepted.
    let case = Case::new();
    let binder = case.binder_for(&case.host.spki());
    let aik = case.aik();
    case.present(&binder, &aik).unwrap();
}

#[test]
fn cb_03_binder_over_raw_key_instead_of_spki_is_binder_mismatch() {
    let case = Case::new();
    let spki = case.host.spki();
    let raw_key = &spki[spki.len() - 32..]; // Ed25519: the last 32 bytes of the SPKI
    let binder = case.binder_for(raw_key);
    let aik = case.aik();
    assert_evidence(case.present(&binder, &aik), |e| {
        matches!(e, EvidenceError::BinderMismatch { .. })
    });
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
