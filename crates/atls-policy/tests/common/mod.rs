//! Real TDX evidence from the repository's testdata, appraised with atls-tdx at the fixed
//! times given in testdata/tdx/README.md (collateral is valid for about 30 days only).

#![allow(dead_code, reason = "each test binary uses part of this module")]

use atls_evidence::Claims;
use atls_tdx::{Appraiser, EventLog, QuoteCollateralV3};

/// The dcap-qvl sample quote (TDX v4, TD report 1.0), from Phala-Network/dcap-qvl `sample/`.
pub(crate) const DCAP_QUOTE: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote");
/// Its collateral (FMSPC B0C06F000000), same origin.
pub(crate) const DCAP_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_collateral.json");
/// 2025-07-01T00:00:00Z, inside the collateral's validity window: appraised UpToDate.
pub(crate) const DCAP_NOW: i64 = 1_751_328_000;

/// A dstack CVM's quote captured by NEAR's MPC node, from near/mpc
/// `crates/test-utils/assets/` (converted from a JSON byte array to binary).
pub(crate) const NEAR_QUOTE: &[u8] =
    include_bytes!("../../../../testdata/tdx/near-mpc-dstack/quote.bin");
/// Its collateral, same origin.
pub(crate) const NEAR_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/near-mpc-dstack/collateral.json");
/// dstack's `tcb_info` with the event log (29 events), same origin.
pub(crate) const NEAR_TCB_INFO: &[u8] =
    include_bytes!("../../../../testdata/tdx/near-mpc-dstack/tcb_info.json");
/// 2026-08-13T12:00:00Z, upstream's `VALID_ATTESTATION_TIMESTAMP`: appraised UpToDate.
pub(crate) const NEAR_NOW: i64 = 1_786_622_400;

fn appraise(quote: &[u8], collateral: &[u8], now: i64) -> atls_tdx::Verdict {
    let collateral: QuoteCollateralV3 = serde_json::from_slice(collateral).unwrap();
    Appraiser::intel_production()
        .appraise(quote, &collateral, u64::try_from(now).unwrap())
        .unwrap()
}

/// The claims of the dcap-qvl sample quote.
pub(crate) fn dcap_claims() -> Claims {
    appraise(DCAP_QUOTE, DCAP_COLLATERAL, DCAP_NOW).claims()
}

/// The claims of the NEAR dstack quote, with its event log verified against its RTMRs.
pub(crate) fn near_claims() -> Claims {
    let verdict = appraise(NEAR_QUOTE, NEAR_COLLATERAL, NEAR_NOW);
    let mut claims = verdict.claims();
    EventLog::from_dstack_json(NEAR_TCB_INFO)
        .unwrap()
        .verify(&verdict.quote.report().rtmr)
        .unwrap()
        .add_to_claims(&mut claims);
    claims
}
