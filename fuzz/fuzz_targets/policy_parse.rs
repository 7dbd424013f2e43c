//! Policy documents (TOML and JSON) and recorded claims on arbitrary input: loading never
//! panics, and whatever loads evaluates without panicking to a consistent verdict.
#![no_main]

use atls_evidence::{Claims, TDX_QUOTE_MEDIA_TYPE};
use atls_policy::{EvaluationContext, Policy, test_policy_with_claims};
use libfuzzer_sys::fuzz_target;

fn sample_claims() -> Claims {
    let mut claims = Claims::new(TDX_QUOTE_MEDIA_TYPE);
    claims.insert("tdx.mr_td", "00".repeat(48));
    claims.insert("tdx.rtmr3", "00".repeat(48));
    claims.insert("tdx.td_attributes", "0000001000000000");
    claims.insert("tdx.debug", false);
    claims.insert("tdx.tcb_status", "OutOfDate");
    claims.insert("tdx.tcb_date", 1_710_288_000);
    claims.insert("tdx.advisory_ids", vec!["INTEL-SA-00615"]);
    claims.insert("tdx.fmspc", "b0c06f000000");
    claims.insert("tdx.collateral_next_update", 1_752_919_235);
    claims
}

fn check(policy: &Policy, claims: &Claims, now: i64) {
    let verdict = policy.evaluate(claims, &EvaluationContext::new(now));
    assert_eq!(verdict.accepted, verdict.failures.is_empty());
    if let Err(rejected) = verdict.into_result() {
        let _ = rejected.to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = data.iter().fold(1_751_328_000_i64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(i64::from(*b))
    });
    for loaded in [Policy::from_toml_str(text), Policy::from_json_str(text)] {
        match loaded {
            Ok(policy) => {
                check(&policy, &sample_claims(), now);
                check(&policy, &Claims::new(TDX_QUOTE_MEDIA_TYPE), now);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    // The same bytes as recorded claims.
    for policy in [Policy::dev(), Policy::strict()] {
        if let Ok(verdict) = test_policy_with_claims(&policy, text, now) {
            assert_eq!(verdict.accepted, verdict.failures.is_empty());
        }
    }
});
