//! CMW wrapper handling through the verifier dispatcher: CM-01, CM-03, CM-04, CM-05, the
//! evidence side of CM-02, and JSON/CBOR equivalence. (CM-06, the `cmw_data` length inside
//! the TLS extension, is an atls-core decoding test.)

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use atls_core::Binding;
use atls_evidence::insecure_test::{InsecureTestAttester, InsecureTestVerifier};
use atls_evidence::*;

const AK: [u8; 32] = [0x33; 32];

fn attester() -> InsecureTestAttester {
    let mut claims = BTreeMap::new();
    claims.insert("test.platform".to_string(), serde_json::json!("p1"));
    InsecureTestAttester::new(AK, claims)
}

fn verifiers() -> VerifierSet {
    VerifierSet::new().with(Arc::new(
        InsecureTestVerifier::new(attester().public_key()).unwrap(),
    ))
}

fn test_type() -> MediaType {
    MediaType::parse(INSECURE_TEST_EVIDENCE_MEDIA_TYPE).unwrap()
}

fn appraise(cmw: &[u8], binding: &Binding) -> Result<Claims, EvidenceError> {
    pollster::block_on(verifiers().appraise(cmw, binding))
}

#[test]
fn control_cbor_and_json_records_appraise_identically() {
    let b = common::binding();
    let record = Record::new(
        test_type(),
        attester().evidence(&b),
        Some(Indicator::EVIDENCE),
    )
    .unwrap();
    let cbor = Cmw::new_cbor(record.clone()).encode();
    let json = Cmw::new_json(record).unwrap().encode();
    assert_eq!(cbor[0], 0x83);
    assert_eq!(json[0], b'[');
    let from_cbor = appraise(&cbor, &b).unwrap();
    let from_json = appraise(&json, &b).unwrap();
    assert_eq!(from_cbor, from_json);
    assert_eq!(from_cbor.get_str("test.platform"), Some("p1"));
}

#[test]
fn cm_01_unknown_media_type_or_content_format_is_unsupported() {
    let b = common::binding();
    let evidence = attester().evidence(&b);
    let other = MediaType::parse("application/vnd.example.unknown-evidence").unwrap();
    let cmw = Cmw::new_cbor(Record::new(other, evidence.clone(), None).unwrap()).encode();
    assert!(
        matches!(appraise(&cmw, &b), Err(EvidenceError::UnsupportedEvidenceType(t)) if t.contains("unknown-evidence"))
    );

    let cf = Cmw::new_cbor(Record::new(RecordType::ContentFormat(64999), evidence, None).unwrap())
        .encode();
    assert!(matches!(
        appraise(&cf, &b),
        Err(EvidenceError::UnsupportedEvidenceType(_))
    ));

    // An empty set accepts nothing, even the test type.
    let cmw = pollster::block_on(attester().attest(&b)).unwrap();
    assert!(matches!(
        pollster::block_on(VerifierSet::new().appraise(&cmw, &b)),
        Err(EvidenceError::UnsupportedEvidenceType(_))
    ));
}

#[test]
fn cm_01_media_type_is_compared_structurally() {
    let b = common::binding();
    let shouted = MediaType::parse("APPLICATION/VND.ATLS.INSECURE-TEST-EVIDENCE").unwrap();
    let cmw = Cmw::new_cbor(Record::new(shouted, attester().evidence(&b), None).unwrap()).encode();
    assert!(appraise(&cmw, &b).is_ok());
}

#[test]
fn cm_02_attestation_result_indicator_where_evidence_expected_is_rejected() {
    let b = common::binding();
    let record = Record::new(
        test_type(),
        attester().evidence(&b),
        Some(Indicator::ATTESTATION_RESULTS),
    )
    .unwrap();
    let cmw = Cmw::new_cbor(record).encode();
    assert!(matches!(
        appraise(&cmw, &b),
        Err(EvidenceError::IndicatorMismatch { .. })
    ));
}

#[test]
fn cm_03_malformed_cmw_is_a_decode_error_without_panic() {
    let b = common::binding();
    let good = pollster::block_on(attester().attest(&b)).unwrap();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut indefinite = good.clone();
    indefinite[0] = 0x9f; // indefinite-length array
    indefinite.push(0xff);
    let mut count = good.clone();
    count[0] = 0x84; // array of 4 declared, 3 present
    let deep = {
        let mut v = vec![0xa1u8; 0]; // maps nested beyond the depth cap
        for _ in 0..20 {
            v.extend_from_slice(&[0xa1, 0x01]);
        }
        v.extend_from_slice(&good);
        v
    };
    let oversized = {
        let mut v = vec![0x83, 0x61, b'a', 0x5a, 0x00, 0x01, 0x00, 0x00];
        v.extend(std::iter::repeat_n(0u8, 0x10000));
        v
    };
    let padded_json = br#"["application/vnd.atls.insecure-test-evidence","AAA="]"#.to_vec();
    for (name, bytes) in [
        ("trailing", trailing),
        ("indefinite", indefinite),
        ("count", count),
        ("deep", deep),
        ("oversized", oversized),
        ("json padding", padded_json),
    ] {
        assert!(
            matches!(appraise(&bytes, &b), Err(EvidenceError::CmwDecode(_))),
            "{name}"
        );
    }
    for cut in 0..good.len() {
        assert!(appraise(&good[..cut], &b).is_err());
    }
}

#[test]
fn cm_04_collection_item_bound_to_another_request_is_rejected() {
    let bs = common::bindings(2);
    let a = attester();
    let item = |b: &Binding| -> CmwNode {
        Record::new(test_type(), a.evidence(b), Some(Indicator::EVIDENCE))
            .unwrap()
            .into()
    };
    let good = Collection::new(
        None,
        [
            (Label::from("cpu"), item(&bs[0])),
            (Label::from("gpu"), item(&bs[0])),
        ],
    )
    .unwrap();
    let claims =
        pollster::block_on(verifiers().appraise(&Cmw::new_cbor(good).encode(), &bs[0])).unwrap();
    assert_eq!(claims.submods.len(), 2);

    let mixed = Collection::new(
        None,
        [
            (Label::from("cpu"), item(&bs[0])),
            (Label::from("gpu"), item(&bs[1])),
        ],
    )
    .unwrap();
    let err = pollster::block_on(verifiers().appraise(&Cmw::new_cbor(mixed).encode(), &bs[0]))
        .unwrap_err();
    match err {
        EvidenceError::CollectionItem { label, source } => {
            assert_eq!(label, "gpu");
            assert!(matches!(*source, EvidenceError::BinderMismatch { .. }));
        }
        other => panic!("expected a collection item error, got {other:?}"),
    }
}

/// A second evidence type, to re-wrap evidence under.
#[derive(Debug)]
struct OtherVerifier;

impl Verifier for OtherVerifier {
    fn media_type(&self) -> MediaType {
        MediaType::parse("application/vnd.example.other-evidence+json").unwrap()
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        _: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>> {
        Box::pin(async move {
            serde_json::from_slice::<serde_json::Value>(value)
                .map(|_| Claims::new("other"))
                .map_err(|e| EvidenceError::Malformed {
                    evidence_type: "other".into(),
                    detail: e.to_string(),
                })
        })
    }
}

#[test]
fn cm_05_evidence_rewrapped_under_another_type_fails_that_types_parser() {
    let b = common::binding();
    let set = verifiers().with(Arc::new(OtherVerifier));
    let rewrapped = Record::new(
        OtherVerifier.media_type(),
        attester().evidence(&b),
        Some(Indicator::EVIDENCE),
    )
    .unwrap();
    let err = pollster::block_on(set.appraise(&Cmw::new_cbor(rewrapped).encode(), &b)).unwrap_err();
    assert!(matches!(err, EvidenceError::Malformed { .. }), "{err}");
}
