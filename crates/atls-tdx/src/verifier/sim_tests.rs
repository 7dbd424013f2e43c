//! The verifier against simulated quotes: chosen REPORTDATA and attributes, the same
//! appraisal path as real quotes under the simulator's test root.

use std::sync::{Arc, OnceLock};

use atls_evidence::{EvidenceError, Verifier};

use super::{TdxVerifier, report_data_for};
use crate::TcbStatus;
use crate::appraisal::{AppraisalError, Appraiser};
use crate::collateral_source::StaticCollateral;
use crate::quote::{QuoteError, TD_ATTRIBUTE_MIGRATABLE};
use crate::sim::{QuoteVariant, SimulatedTd, SimulatorConfig, TdxSimulator};
use crate::test_binding::sha256_binding;

const NOW: u64 = 1_800_000_000;

fn sim() -> &'static TdxSimulator {
    static SIM: OnceLock<TdxSimulator> = OnceLock::new();
    SIM.get_or_init(|| {
        TdxSimulator::new(SimulatorConfig::new([42; 32], NOW).without_generation_delay()).unwrap()
    })
}

fn verifier_with(appraiser: Appraiser) -> TdxVerifier {
    let collateral = StaticCollateral::new(sim().collateral().clone());
    TdxVerifier::new(appraiser, Arc::new(collateral), || NOW)
}

fn verifier() -> TdxVerifier {
    verifier_with(Appraiser::with_test_root_ca_for_testing(
        sim().test_root_ca_der().to_vec(),
    ))
}

fn verify(
    v: &TdxVerifier,
    quote: &[u8],
    binding: &atls_core::Binding,
) -> Result<atls_evidence::Claims, EvidenceError> {
    pollster::block_on(v.verify(quote, binding))
}

fn appraisal_error(e: EvidenceError) -> AppraisalError {
    match e {
        EvidenceError::Backend(b) => *b
            .downcast::<AppraisalError>()
            .unwrap_or_else(|b| panic!("not an AppraisalError: {b}")),
        other => panic!("not a backend error: {other:?}"),
    }
}

fn quote_for(binding: &atls_core::Binding, variant: QuoteVariant) -> Vec<u8> {
    let rd = report_data_for(binding).unwrap();
    sim().quote_variant(&SimulatedTd::default(), &rd, variant)
}

#[test]
fn pc_genuine_simulated_quote_is_accepted_with_its_claims() {
    let binding = sha256_binding();
    let td = SimulatedTd::default().with_mr_td([0xab; 48]);
    let quote = sim().quote(&td, &report_data_for(&binding).unwrap());
    let claims = verify(&verifier(), &quote, &binding).unwrap();
    assert_eq!(claims.get_str("tdx.tcb_status"), Some("UpToDate"));
    assert_eq!(claims.get_str("tdx.mr_td"), Some("ab".repeat(48).as_str()));
    assert_eq!(
        claims.get_str("tdx.report_data"),
        Some(hex::encode(report_data_for(&binding).unwrap()).as_str())
    );
    assert_eq!(
        claims.get_str("tdx.fmspc"),
        Some(hex::encode(sim().fmspc()).as_str())
    );
    assert_eq!(
        claims.get_str("tdx.ppid"),
        Some(hex::encode(sim().ppid()).as_str())
    );
    assert_eq!(claims.get("tdx.debug"), Some(&serde_json::json!(false)));
}

#[test]
fn default_verifier_reuses_platform_work_and_gives_the_cold_outcomes() {
    let binding = sha256_binding();
    let rd = report_data_for(&binding).unwrap();
    let hot = verifier();
    let cold = TdxVerifier::with_appraiser(
        Arc::new(Appraiser::with_test_root_ca_for_testing(
            sim().test_root_ca_der().to_vec(),
        )),
        Arc::new(StaticCollateral::new(sim().collateral().clone())),
        || NOW,
    );
    for i in 0..5u8 {
        let quote = sim().quote(&SimulatedTd::default().with_mr_td([i; 48]), &rd);
        // Clones share the cache.
        let claims = verify(&hot.clone(), &quote, &binding).unwrap();
        assert_eq!(claims, verify(&cold, &quote, &binding).unwrap());
        assert_eq!(
            claims.get_str("tdx.mr_td"),
            Some(hex::encode([i; 48]).as_str())
        );
    }
    let stats = hot.appraisal_cache_stats().unwrap();
    assert_eq!((stats.hits, stats.misses), (4, 1));
    for variant in QuoteVariant::ALL {
        let quote = quote_for(&binding, variant);
        match (
            verify(&hot, &quote, &binding),
            verify(&cold, &quote, &binding),
        ) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{variant:?}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{variant:?}"),
            (a, b) => panic!("{variant:?}: cached {a:?}, cold {b:?}"),
        }
    }
}

#[test]
fn td_01_report_data_one_bit_off_is_rejected() {
    let binding = sha256_binding();
    let good = report_data_for(&binding).unwrap();
    for (bit, binder_part) in [(0usize, true), (255, true), (256, false), (511, false)] {
        let mut rd = good;
        rd[bit / 8] ^= 1 << (bit % 8);
        let quote = sim().quote(&SimulatedTd::default(), &rd);
        let err = verify(&verifier(), &quote, &binding).unwrap_err();
        match (binder_part, err) {
            (true, EvidenceError::BinderMismatch { .. }) => {}
            (false, EvidenceError::AikMismatch { .. }) => {}
            (_, other) => panic!("bit {bit}: {other:?}"),
        }
    }
}

#[test]
fn td_01_quote_for_another_request_is_rejected() {
    let quote = quote_for(&sha256_binding(), QuoteVariant::Genuine);
    assert!(matches!(
        verify(&verifier(), &quote, &sha256_binding()),
        Err(EvidenceError::BinderMismatch { .. })
    ));
}

#[test]
fn td_02_invalid_signatures_and_chains_are_rejected() {
    let binding = sha256_binding();
    for variant in [
        QuoteVariant::TamperedQuoteSignature,
        QuoteVariant::TamperedQeReport,
        QuoteVariant::UntrustedPckChain,
    ] {
        let err = verify(&verifier(), &quote_for(&binding, variant), &binding).unwrap_err();
        match appraisal_error(err) {
            AppraisalError::QuoteSignature(_) => {}
            other => panic!("{variant:?}: {other:?}"),
        }
    }
}

#[test]
fn dv_05_revoked_platform_is_rejected_as_pck_revoked() {
    let binding = sha256_binding();
    let err = verify(
        &verifier(),
        &quote_for(&binding, QuoteVariant::RevokedPck),
        &binding,
    )
    .unwrap_err();
    match appraisal_error(err) {
        AppraisalError::PckRevoked { depth, serial } => {
            assert_eq!(depth, 0);
            assert!(!serial.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn td_03_debug_td_is_rejected() {
    let binding = sha256_binding();
    let err = verify(
        &verifier(),
        &quote_for(&binding, QuoteVariant::DebugTd),
        &binding,
    )
    .unwrap_err();
    match appraisal_error(err) {
        AppraisalError::DebugTd { td_attributes } => assert_eq!(td_attributes[0] & 1, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn migratable_td_is_rejected() {
    let binding = sha256_binding();
    let mut td = SimulatedTd::default();
    td.td_attributes |= TD_ATTRIBUTE_MIGRATABLE;
    let quote = sim().quote(&td, &report_data_for(&binding).unwrap());
    let err = verify(&verifier(), &quote, &binding).unwrap_err();
    assert!(matches!(
        appraisal_error(err),
        AppraisalError::MigratableTd { .. }
    ));
}

#[test]
fn td_04_measurements_reach_policy_unjudged() {
    // Allow-listing MRTD / RTMRs is policy's job: the verifier reports them exactly.
    let binding = sha256_binding();
    let mut td = SimulatedTd::default().with_mr_td([0x11; 48]);
    td.rtmr = [[0x21; 48], [0x22; 48], [0x23; 48], [0x24; 48]];
    let quote = sim().quote(&td, &report_data_for(&binding).unwrap());
    let claims = verify(&verifier(), &quote, &binding).unwrap();
    assert_eq!(claims.get_str("tdx.mr_td"), Some("11".repeat(48).as_str()));
    for (i, b) in ["21", "22", "23", "24"].iter().enumerate() {
        assert_eq!(
            claims.get_str(&format!("tdx.rtmr{i}")),
            Some(b.repeat(48).as_str())
        );
    }
}

#[test]
fn td_05_simulated_sgx_quote_is_rejected() {
    let binding = sha256_binding();
    let err = verify(
        &verifier(),
        &quote_for(&binding, QuoteVariant::SgxQuote),
        &binding,
    )
    .unwrap_err();
    assert!(matches!(
        appraisal_error(err),
        AppraisalError::QuoteFormat(QuoteError::NotTdx { tee_type: 0 })
    ));
}

#[test]
fn out_of_date_tcb_is_reported_not_rejected() {
    let binding = sha256_binding();
    let claims = verify(
        &verifier(),
        &quote_for(&binding, QuoteVariant::OutOfDateTcb),
        &binding,
    )
    .unwrap();
    assert_eq!(
        claims.get_str("tdx.tcb_status"),
        Some(TcbStatus::OutOfDate.to_string().as_str())
    );
    assert_eq!(
        claims.get("tdx.advisory_ids"),
        Some(&serde_json::json!(["SIM-SA-00001"]))
    );
}

#[test]
fn simulated_quotes_fail_under_intel_root_and_outside_the_window() {
    let binding = sha256_binding();
    let quote = quote_for(&binding, QuoteVariant::Genuine);
    let err = verify(
        &verifier_with(Appraiser::intel_production()),
        &quote,
        &binding,
    )
    .unwrap_err();
    assert!(matches!(
        appraisal_error(err),
        AppraisalError::Collateral(_)
    ));
    for now in [sim().valid_from() - 1, sim().valid_until() + 1] {
        let err = verify(&verifier().with_time(now), &quote, &binding).unwrap_err();
        assert!(
            matches!(appraisal_error(err), AppraisalError::Collateral(_)),
            "{now}"
        );
    }
    assert!(verify(&verifier().with_time(sim().valid_from()), &quote, &binding).is_ok());
    assert!(verify(&verifier().with_time(sim().valid_until()), &quote, &binding).is_ok());
}
