use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use atls_evidence::{Attester, Cmw, EvidenceError, Verifier};

use super::*;
use crate::test_binding::{sha256_binding, sha384_binding};
use crate::verifier::report_data_for;
use crate::{AppraisalError, Appraiser, StaticCollateral, TcbStatus, TdxVerifier};

const NOW: u64 = 1_800_000_000;

fn sim() -> &'static TdxSimulator {
    static SIM: OnceLock<TdxSimulator> = OnceLock::new();
    SIM.get_or_init(|| {
        TdxSimulator::new(SimulatorConfig::new([42; 32], NOW).without_generation_delay()).unwrap()
    })
}

fn test_appraiser() -> Appraiser {
    Appraiser::with_test_root_ca_for_testing(sim().test_root_ca_der().to_vec())
}

fn appraise(variant: QuoteVariant) -> Result<crate::Verdict, AppraisalError> {
    let quote = sim().quote_variant(&SimulatedTd::default(), &[7; 64], variant);
    test_appraiser().appraise(&quote, sim().collateral(), NOW)
}

#[test]
fn genuine_quote_verifies_under_test_root() {
    let td = SimulatedTd::default().with_mr_td([0xab; 48]);
    let quote = sim().quote(&td, &[9; 64]);
    let verdict = test_appraiser()
        .appraise(&quote, sim().collateral(), NOW)
        .unwrap();
    assert_eq!(verdict.tcb_status, TcbStatus::UpToDate);
    assert!(verdict.advisory_ids.is_empty());
    assert_eq!(verdict.fmspc, DEFAULT_FMSPC);
    assert_eq!(verdict.ppid.as_deref(), Some(&sim().ppid()[..]));
    assert_eq!(verdict.tcb_date, sim().config().up_to_date_tcb_date);
    assert_eq!(verdict.collateral_next_update, sim().valid_until() + 1);
    let report = verdict.quote.report();
    assert_eq!(report.report_data, [9; 64]);
    assert_eq!(report.mr_td, [0xab; 48]);
    // The claims carry the measurements (TD-04 is then a policy decision).
    let claims = verdict.claims();
    assert_eq!(
        claims.get_str("tdx.mr_td"),
        Some(hex::encode([0xab; 48]).as_str())
    );
    assert_eq!(claims.get_str("tdx.tcb_status"), Some("UpToDate"));
}

#[test]
fn genuine_quote_verifies_across_the_collateral_window_only() {
    let quote = sim().quote(&SimulatedTd::default(), &[1; 64]);
    let a = test_appraiser();
    assert!(
        a.appraise(&quote, sim().collateral(), sim().valid_from())
            .is_ok()
    );
    assert!(
        a.appraise(&quote, sim().collateral(), sim().valid_until())
            .is_ok()
    );
    for t in [sim().valid_from() - 1, sim().valid_until() + 1] {
        match a.appraise(&quote, sim().collateral(), t) {
            Err(AppraisalError::Collateral(_)) => {}
            other => panic!("at {t}: expected a collateral error, got {other:?}"),
        }
    }
}

#[test]
fn simulated_quotes_fail_under_production_root() {
    for variant in QuoteVariant::ALL {
        let quote = sim().quote_variant(&SimulatedTd::default(), &[7; 64], variant);
        let r = Appraiser::intel_production().appraise(&quote, sim().collateral(), NOW);
        assert!(r.is_err(), "{variant:?} verified under Intel's root");
    }
}

#[test]
fn debug_td_is_rejected_as_debug() {
    match appraise(QuoteVariant::DebugTd) {
        Err(AppraisalError::DebugTd { td_attributes }) => {
            assert_eq!(td_attributes[0] & 1, 1);
        }
        other => panic!("expected DebugTd, got {other:?}"),
    }
}

#[test]
fn out_of_date_tcb_is_reported_with_its_date() {
    let v = appraise(QuoteVariant::OutOfDateTcb).unwrap();
    assert_eq!(v.tcb_status, TcbStatus::OutOfDate);
    assert_eq!(v.advisory_ids, ["SIM-SA-00001"]);
    assert_eq!(v.tcb_date, sim().config().out_of_date_tcb_date);
}

#[test]
fn out_of_date_tcb_date_is_configurable() {
    let tcb_date = NOW - 20 * 86_400;
    let sim = TdxSimulator::new(
        SimulatorConfig::new([3; 32], NOW)
            .without_generation_delay()
            .with_out_of_date_tcb_date(tcb_date),
    )
    .unwrap();
    let quote = sim.quote_variant(
        &SimulatedTd::default(),
        &[0; 64],
        QuoteVariant::OutOfDateTcb,
    );
    let v = Appraiser::with_test_root_ca_for_testing(sim.test_root_ca_der().to_vec())
        .appraise(&quote, sim.collateral(), NOW)
        .unwrap();
    assert_eq!((v.tcb_status, v.tcb_date), (TcbStatus::OutOfDate, tcb_date));
}

fn expect_signature_error(variant: QuoteVariant, needle: &str) {
    match appraise(variant) {
        Err(AppraisalError::QuoteSignature(detail)) => {
            assert!(detail.contains(needle), "{variant:?}: {detail}");
        }
        other => panic!("{variant:?}: expected QuoteSignature, got {other:?}"),
    }
}

#[test]
fn revoked_pck_is_rejected_as_platform_revoked() {
    match appraise(QuoteVariant::RevokedPck) {
        Err(AppraisalError::PckRevoked { depth, serial }) => {
            assert_eq!((depth, serial), (0, vec![pki::serial::REVOKED_PCK]));
        }
        other => panic!("expected PckRevoked, got {other:?}"),
    }
}

#[test]
fn tampered_quote_signature_is_rejected() {
    expect_signature_error(
        QuoteVariant::TamperedQuoteSignature,
        "ISV enclave report signature",
    );
}

#[test]
fn tampered_qe_report_is_rejected() {
    expect_signature_error(QuoteVariant::TamperedQeReport, "qe_report");
}

#[test]
fn untrusted_pck_chain_is_rejected() {
    expect_signature_error(QuoteVariant::UntrustedPckChain, "certificate chain");
}

#[test]
fn sgx_quote_is_not_tdx_evidence() {
    match appraise(QuoteVariant::SgxQuote) {
        Err(AppraisalError::QuoteFormat(_)) => {}
        other => panic!("expected QuoteFormat, got {other:?}"),
    }
    // It is a well-formed SGX quote as far as dcap-qvl is concerned.
    let quote = sim().quote_variant(&SimulatedTd::default(), &[7; 64], QuoteVariant::SgxQuote);
    let parsed = dcap_qvl::quote::Quote::parse(&quote).unwrap();
    assert_eq!(parsed.header.tee_type, 0);
}

#[test]
fn same_seed_and_time_give_identical_evidence() {
    let a =
        TdxSimulator::new(SimulatorConfig::new([5; 32], NOW).without_generation_delay()).unwrap();
    let b =
        TdxSimulator::new(SimulatorConfig::new([5; 32], NOW).without_generation_delay()).unwrap();
    let c =
        TdxSimulator::new(SimulatorConfig::new([6; 32], NOW).without_generation_delay()).unwrap();
    assert_eq!(a.test_root_ca_der(), b.test_root_ca_der());
    assert_eq!(a.collateral(), b.collateral());
    let td = SimulatedTd::default();
    assert_eq!(a.quote(&td, &[1; 64]), b.quote(&td, &[1; 64]));
    assert_ne!(a.test_root_ca_der(), c.test_root_ca_der());
    // Another seed is another (untrusted) PKI.
    let quote = c.quote(&td, &[1; 64]);
    assert!(
        Appraiser::with_test_root_ca_for_testing(a.test_root_ca_der().to_vec())
            .appraise(&quote, c.collateral(), NOW)
            .is_err()
    );
}

#[test]
fn collateral_json_loads_as_static_collateral() {
    let json = sim().collateral_json();
    let back: dcap_qvl::QuoteCollateralV3 = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, sim().collateral());
    StaticCollateral::from_json(json.as_bytes()).unwrap();
}

#[test]
fn event_log_replays_to_simulated_rtmrs() {
    let mut log = EventLog::new();
    log.push_runtime_event("app-id", b"demo").unwrap();
    log.push_runtime_event("system-ready", b"").unwrap();
    let quote = sim().quote(&SimulatedTd::default().with_event_log(&log), &[0; 64]);
    let verdict = test_appraiser()
        .appraise(&quote, sim().collateral(), NOW)
        .unwrap();
    let verified = log.verify(&verdict.quote.report().rtmr).unwrap();
    assert_eq!(verified.events().len(), 2);
}

#[test]
fn generation_is_delayed_and_serialised() {
    let delay = Duration::from_millis(25);
    let sim = Arc::new(
        TdxSimulator::new(SimulatorConfig::new([8; 32], NOW).with_generation_delay(delay)).unwrap(),
    );
    let start = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let sim = Arc::clone(&sim);
            std::thread::spawn(move || sim.quote(&SimulatedTd::default(), &[0; 64]))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(start.elapsed() >= 2 * delay, "{:?}", start.elapsed());
}

// --- Through the TDX verifier, with bindings from real sessions -----------------------------

fn verifier() -> TdxVerifier {
    TdxVerifier::new(
        test_appraiser(),
        Arc::new(StaticCollateral::new(sim().collateral().clone())),
        || NOW,
    )
}

fn attester() -> SimulatedTdxAttester {
    static SHARED: OnceLock<Arc<TdxSimulator>> = OnceLock::new();
    let sim = SHARED.get_or_init(|| {
        Arc::new(
            TdxSimulator::new(SimulatorConfig::new([42; 32], NOW).without_generation_delay())
                .unwrap(),
        )
    });
    SimulatedTdxAttester::new(Arc::clone(sim), SimulatedTd::default())
}

fn record_value(cmw: &[u8]) -> Vec<u8> {
    let cmw = Cmw::decode(cmw).unwrap();
    cmw.node().as_record().unwrap().value().to_vec()
}

fn appraisal_error(e: &EvidenceError) -> &AppraisalError {
    match e {
        EvidenceError::Backend(b) => b.downcast_ref::<AppraisalError>().unwrap(),
        other => panic!("expected an appraisal error, got {other:?}"),
    }
}

#[test]
fn simulated_attester_is_accepted_by_the_tdx_verifier() {
    let binding = sha256_binding();
    let cmw = pollster::block_on(attester().attest(&binding)).unwrap();
    let quote = record_value(&cmw);
    let claims = pollster::block_on(verifier().verify(&quote, &binding)).unwrap();
    assert_eq!(claims.get_str("tdx.tcb_status"), Some("UpToDate"));
    let mut expected = binding.binder().to_vec();
    expected.extend_from_slice(binding.aik_pub_hash());
    assert_eq!(
        claims.get_str("tdx.report_data"),
        Some(hex::encode(expected).as_str())
    );
}

#[test]
fn simulated_attester_with_delay_does_not_block_the_future() {
    let sim = Arc::new(
        TdxSimulator::new(
            SimulatorConfig::new([42; 32], NOW).with_generation_delay(Duration::from_millis(5)),
        )
        .unwrap(),
    );
    let attester = SimulatedTdxAttester::new(sim, SimulatedTd::default());
    let binding = sha256_binding();
    let cmw = pollster::block_on(attester.attest(&binding)).unwrap();
    pollster::block_on(verifier().verify(&record_value(&cmw), &binding)).unwrap();
}

#[test]
fn simulated_attester_refuses_sha384_bindings() {
    let err = pollster::block_on(attester().attest(&sha384_binding())).unwrap_err();
    assert!(
        matches!(err, EvidenceError::UnsupportedSuiteForProfile(_)),
        "{err}"
    );
}

/// TD-01: REPORTDATA one bit off from the recomputed value → BinderMismatch.
#[test]
fn td_01_report_data_one_bit_off_is_binder_mismatch() {
    let binding = sha256_binding();
    let mut report_data = report_data_for(&binding).unwrap();
    report_data[5] ^= 0x10;
    let quote = sim().quote(&SimulatedTd::default(), &report_data);
    let err = pollster::block_on(verifier().verify(&quote, &binding)).unwrap_err();
    assert!(matches!(err, EvidenceError::BinderMismatch { .. }), "{err}");
}

/// TD-02: quote signature, QE report or PCK chain invalid → QuoteSignature.
#[test]
fn td_02_invalid_signature_qe_report_or_chain_is_quote_signature() {
    let binding = sha256_binding();
    for variant in [
        QuoteVariant::TamperedQuoteSignature,
        QuoteVariant::TamperedQeReport,
        QuoteVariant::UntrustedPckChain,
    ] {
        let cmw = pollster::block_on(attester().with_variant(variant).attest(&binding)).unwrap();
        let err = pollster::block_on(verifier().verify(&record_value(&cmw), &binding)).unwrap_err();
        assert!(
            matches!(appraisal_error(&err), AppraisalError::QuoteSignature(_)),
            "{variant:?}: {err}"
        );
    }
}

/// DV-05: a revoked platform (PCK on the CRL) → PckRevoked, not a signature error.
#[test]
fn dv_05_revoked_pck_is_platform_revoked() {
    let binding = sha256_binding();
    let cmw = pollster::block_on(
        attester()
            .with_variant(QuoteVariant::RevokedPck)
            .attest(&binding),
    )
    .unwrap();
    let err = pollster::block_on(verifier().verify(&record_value(&cmw), &binding)).unwrap_err();
    assert!(
        matches!(
            appraisal_error(&err),
            AppraisalError::PckRevoked { depth: 0, .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("revoked"), "{err}");
}

/// TD-03: TDATTRIBUTES.DEBUG set → DebugTd.
#[test]
fn td_03_debug_td_is_rejected() {
    let binding = sha256_binding();
    let cmw = pollster::block_on(
        attester()
            .with_variant(QuoteVariant::DebugTd)
            .attest(&binding),
    )
    .unwrap();
    let err = pollster::block_on(verifier().verify(&record_value(&cmw), &binding)).unwrap_err();
    assert!(
        matches!(appraisal_error(&err), AppraisalError::DebugTd { .. }),
        "{err}"
    );
}

/// TD-05 (simulated half): an SGX quote is not TDX evidence.
#[test]
fn td_05_sgx_quote_is_quote_format() {
    let binding = sha256_binding();
    let cmw = pollster::block_on(
        attester()
            .with_variant(QuoteVariant::SgxQuote)
            .attest(&binding),
    )
    .unwrap();
    let err = pollster::block_on(verifier().verify(&record_value(&cmw), &binding)).unwrap_err();
    assert!(
        matches!(appraisal_error(&err), AppraisalError::QuoteFormat(_)),
        "{err}"
    );
}
