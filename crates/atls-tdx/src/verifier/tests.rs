use std::sync::atomic::{AtomicUsize, Ordering};

use atls_evidence::{Cmw, Indicator, Record, VerifierSet};
use dcap_qvl::QuoteCollateralV3;

use super::*;
use crate::appraisal::AppraisalError;
use crate::collateral_source::{CollateralError, StaticCollateral};
use crate::quote::QuoteError;
use crate::test_binding::{sha256_binding, sha384_binding};

const V4: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote");
const V4_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_collateral.json");
const SGX: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/sgx_quote");
const V4_NOW: u64 = 1_751_328_000;

fn verifier() -> TdxVerifier {
    let collateral = StaticCollateral::from_json(V4_COLLATERAL).unwrap();
    TdxVerifier::new(Appraiser::intel_production(), Arc::new(collateral), || {
        V4_NOW
    })
}

fn appraisal_error(e: &EvidenceError) -> &AppraisalError {
    match e {
        EvidenceError::Backend(b) => b
            .downcast_ref::<AppraisalError>()
            .unwrap_or_else(|| panic!("not an AppraisalError: {b}")),
        other => panic!("not a backend error: {other:?}"),
    }
}

#[test]
fn genuine_quote_for_another_request_is_a_binder_mismatch() {
    let binding = sha256_binding();
    let err = pollster::block_on(verifier().verify(V4, &binding)).unwrap_err();
    match err {
        EvidenceError::BinderMismatch { expected, seen } => {
            assert_eq!(expected, binding.binder());
            assert_eq!(seen, &V4[48 + 520..48 + 552]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cb_05_sha384_binding_is_refused_by_verifier() {
    let err = pollster::block_on(verifier().verify(V4, &sha384_binding())).unwrap_err();
    assert!(
        matches!(&err, EvidenceError::UnsupportedSuiteForProfile(d) if d.contains("48-byte")),
        "{err:?}"
    );
}

#[test]
fn td_05_sgx_quote_is_rejected_by_verifier() {
    let err = pollster::block_on(verifier().verify(SGX, &sha256_binding())).unwrap_err();
    assert!(matches!(
        appraisal_error(&err),
        AppraisalError::QuoteFormat(QuoteError::NotTdx { tee_type: 0 })
    ));
}

#[test]
fn td_05_truncated_quote_is_rejected_by_verifier() {
    let err = pollster::block_on(verifier().verify(&V4[..600], &sha256_binding())).unwrap_err();
    assert!(matches!(
        appraisal_error(&err),
        AppraisalError::QuoteFormat(QuoteError::Truncated { .. })
    ));
}

#[test]
fn td_02_tampered_quote_is_a_signature_error_not_a_binder_error() {
    let mut q = V4.to_vec();
    q[48 + 136] ^= 1; // MRTD
    let err = pollster::block_on(verifier().verify(&q, &sha256_binding())).unwrap_err();
    assert!(matches!(
        appraisal_error(&err),
        AppraisalError::QuoteSignature(_)
    ));
}

#[test]
fn appraises_at_the_time_the_caller_gives() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let collateral = StaticCollateral::from_json(V4_COLLATERAL).unwrap();
    // After the collateral's window.
    let v = TdxVerifier::new(
        Appraiser::intel_production(),
        Arc::new(collateral),
        move || {
            seen.fetch_add(1, Ordering::SeqCst);
            1_760_000_000
        },
    );
    let err = pollster::block_on(v.verify(V4, &sha256_binding())).unwrap_err();
    assert!(matches!(
        appraisal_error(&err),
        AppraisalError::Collateral(_)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A fixed time inside the window gets past appraisal to the binding check.
    let err = pollster::block_on(v.with_time(V4_NOW).verify(V4, &sha256_binding())).unwrap_err();
    assert!(matches!(err, EvidenceError::BinderMismatch { .. }));
}

#[derive(Debug)]
struct NoCollateral;

impl CollateralSource for NoCollateral {
    fn collateral<'a>(
        &'a self,
        _quote: &'a Quote,
        _now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>> {
        Box::pin(async { Err(CollateralError::NotFound("FMSPC b0c06f000000".into())) })
    }
}

#[test]
fn missing_collateral_is_a_typed_error() {
    let v = TdxVerifier::new(
        Appraiser::intel_production(),
        Arc::new(NoCollateral),
        || V4_NOW,
    );
    let err = pollster::block_on(v.verify(V4, &sha256_binding())).unwrap_err();
    assert!(matches!(
        appraisal_error(&err),
        AppraisalError::CollateralUnavailable(CollateralError::NotFound(_))
    ));
}

#[test]
fn report_data_is_binder_then_aik_hash() {
    let binding = sha256_binding();
    let rd = report_data_for(&binding).unwrap();
    assert_eq!(&rd[..32], binding.binder());
    assert_eq!(&rd[32..], binding.aik_pub_hash());
    assert!(check_report_data(&rd, &binding).is_ok());
}

#[test]
fn report_data_one_bit_off_is_rejected_with_the_field_that_differs() {
    let binding = sha256_binding();
    let good = report_data_for(&binding).unwrap();
    for bit in [0usize, 7, 255] {
        let mut rd = good;
        rd[bit / 8] ^= 1 << (bit % 8);
        assert!(matches!(
            check_report_data(&rd, &binding),
            Err(EvidenceError::BinderMismatch { .. })
        ));
    }
    for bit in [256usize, 300, 511] {
        let mut rd = good;
        rd[bit / 8] ^= 1 << (bit % 8);
        assert!(matches!(
            check_report_data(&rd, &binding),
            Err(EvidenceError::AikMismatch { .. })
        ));
    }
    // Another request's binding on the same connection does not match either.
    assert!(matches!(
        check_report_data(&good, &sha256_binding()),
        Err(EvidenceError::BinderMismatch { .. })
    ));
}

#[test]
fn verifier_set_dispatches_tdx_records() {
    let set = VerifierSet::new().with(Arc::new(verifier()));
    let record = Record::new(
        MediaType::parse(TDX_QUOTE_MEDIA_TYPE).unwrap(),
        V4.to_vec(),
        Some(Indicator::EVIDENCE),
    )
    .unwrap();
    let cmw = Cmw::new_cbor(record).encode();
    let err = pollster::block_on(set.appraise(&cmw, &sha256_binding())).unwrap_err();
    assert!(
        matches!(err, EvidenceError::BinderMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(verifier().media_type().as_str(), TDX_QUOTE_MEDIA_TYPE);
}
