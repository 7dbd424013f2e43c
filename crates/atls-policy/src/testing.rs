//! Policy testing: evaluate a policy against recorded claims, or against a TDX quote, its
//! collateral and a time, and get the explained verdict.

use atls_evidence::Claims;

use crate::error::PolicyError;
use crate::policy::{EvaluationContext, Policy};
use crate::verdict::Verdict;

/// Evaluates `policy` against recorded claims (the JSON serialisation of
/// [`Claims`]: `{"evidence_type": ..., "values": {...}, "submods": {...}}`) at `now_unix`.
///
/// ```
/// use atls_policy::{Policy, test_policy_with_claims};
///
/// let claims = r#"{
///     "evidence_type": "application/vnd.atls.insecure-test-evidence",
///     "values": { "test.platform": "lab-1" }
/// }"#;
/// let verdict = test_policy_with_claims(&Policy::insecure_test_only(), claims, 1_750_000_000)?;
/// assert!(verdict.accepted);
/// assert!(verdict.matched.iter().any(|m| m.rule == "evidence.accept"));
/// # Ok::<(), atls_policy::PolicyError>(())
/// ```
pub fn test_policy_with_claims(
    policy: &Policy,
    claims_json: &str,
    now_unix: i64,
) -> Result<Verdict, PolicyError> {
    let mut deserializer = serde_json::Deserializer::from_str(claims_json);
    let claims: Claims = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| PolicyError::Claims(format!("at `{}`: {}", e.path(), e.inner())))?;
    deserializer
        .end()
        .map_err(|e| PolicyError::Claims(e.to_string()))?;
    Ok(policy.evaluate(&claims, &EvaluationContext::new(now_unix)))
}

/// Appraises a TDX quote with its collateral (the JSON of dcap-qvl's
/// `QuoteCollateralV3`) at `now_unix`, checks the event log (if given) against the quote's
/// RTMRs, and evaluates `policy` against the resulting claims.
///
/// A quote that does not appraise (bad signature, expired collateral, debug TD, no
/// matching TCB level, ...) or an event log that does not replay to the quote's RTMRs is
/// an error: there are no claims to judge. The binding of the quote to a connection is not
/// checked here (there is no connection).
#[cfg(feature = "tdx")]
pub fn test_policy_with_quote(
    policy: &Policy,
    appraiser: &atls_tdx::Appraiser,
    quote: &[u8],
    collateral_json: &[u8],
    event_log: Option<atls_tdx::EventLog>,
    now_unix: i64,
) -> Result<Verdict, PolicyError> {
    let collateral: atls_tdx::QuoteCollateralV3 = serde_json::from_slice(collateral_json)
        .map_err(|e| PolicyError::Evidence(format!("collateral JSON: {e}")))?;
    let now = u64::try_from(now_unix)
        .map_err(|_| PolicyError::Evidence(format!("time {now_unix} is before 1970")))?;
    let appraised = appraiser
        .appraise(quote, &collateral, now)
        .map_err(|e| PolicyError::Evidence(e.to_string()))?;
    let mut claims = appraised.claims();
    if let Some(log) = event_log {
        let verified = log
            .verify(&appraised.quote.report().rtmr)
            .map_err(|e| PolicyError::Evidence(format!("event log: {e}")))?;
        verified.add_to_claims(&mut claims);
    }
    Ok(policy.evaluate(&claims, &EvaluationContext::new(now_unix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_claims_name_the_path() {
        let policy = Policy::dev();
        let err = test_policy_with_claims(&policy, r#"{"evidence_type": 5, "values": {}}"#, 0)
            .unwrap_err();
        assert!(
            matches!(&err, PolicyError::Claims(m) if m.contains("evidence_type")),
            "{err}"
        );
        assert!(test_policy_with_claims(&policy, "{} trailing", 0).is_err());
    }
}
