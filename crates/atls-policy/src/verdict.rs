//! Explained verdicts: which rules matched, and for a rejection every failing rule with
//! the claim, the value seen and what the policy allowed.

use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The outcome of evaluating a policy against claims.
///
/// An accepted verdict lists the rules that matched; a rejected one lists every rule that
/// failed (evaluation does not stop at the first failure). Verdicts serialise to JSON for
/// logs and tooling.
///
/// ```
/// use atls_evidence::{Claims, INSECURE_TEST_EVIDENCE_MEDIA_TYPE};
/// use atls_policy::{EvaluationContext, Policy};
///
/// let policy = Policy::from_toml_str(
///     r#"
///     version = 1
///     mode = "dev"
///     [evidence]
///     accept = ["insecure-test"]
///     [[claims]]
///     claim = "test.platform"
///     one_of = ["lab-1"]
///     "#,
/// )?;
/// let mut claims = Claims::new(INSECURE_TEST_EVIDENCE_MEDIA_TYPE);
/// claims.insert("test.platform", "lab-2");
///
/// let verdict = policy.evaluate(&claims, &EvaluationContext::new(1_750_000_000));
/// assert!(!verdict.accepted);
/// let failure = &verdict.failures[0];
/// assert_eq!(failure.claim, "test.platform");
/// assert_eq!(failure.seen, Some("lab-2".into()));
/// assert!(verdict.into_result().unwrap_err().to_string().contains("lab-1"));
/// # Ok::<(), atls_policy::PolicyError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the peer is accepted: true exactly when `failures` is empty.
    pub accepted: bool,
    /// The rules that matched.
    pub matched: Vec<Matched>,
    /// Every rule that failed.
    pub failures: Vec<Failure>,
}

/// A rule that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matched {
    /// The rule (`tdx.measurements`, `tdx.tcb.statuses`, `evidence.accept`, …).
    pub rule: String,
    /// What matched (`set "prod-2025-07"`, `UpToDate`, …).
    pub detail: String,
}

/// A rule that failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The rule (`tdx.measurements[prod]`, `tdx.debug`, `rego.deny`, …).
    pub rule: String,
    /// The claim the rule looked at (`tdx.rtmr1`).
    pub claim: String,
    /// The value seen; `None` when the claim is absent.
    pub seen: Option<Value>,
    /// What the policy allowed.
    pub allowed: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: seen ", self.rule, self.claim)?;
        match &self.seen {
            Some(value) => write!(f, "{value}")?,
            None => f.write_str("(absent)")?,
        }
        write!(f, ", allowed {}", self.allowed)
    }
}

impl Verdict {
    /// `Ok(self)` when accepted, otherwise the rejection as an error.
    pub fn into_result(self) -> Result<Self, PolicyRejected> {
        if self.accepted {
            Ok(self)
        } else {
            Err(PolicyRejected { verdict: self })
        }
    }

    /// The verdict as JSON text (for logs and tooling).
    pub fn to_json(&self) -> String {
        // A Verdict is strings and JSON values only: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn matched(&mut self, rule: impl Into<String>, detail: impl Into<String>) {
        self.matched.push(Matched {
            rule: rule.into(),
            detail: detail.into(),
        });
    }

    pub(crate) fn fail(
        &mut self,
        rule: impl Into<String>,
        claim: impl Into<String>,
        seen: Option<&Value>,
        allowed: impl Into<String>,
    ) {
        self.failures.push(Failure {
            rule: rule.into(),
            claim: claim.into(),
            seen: seen.cloned(),
            allowed: allowed.into(),
        });
    }

    pub(crate) fn finish(mut self) -> Self {
        self.accepted = self.failures.is_empty();
        self
    }
}

/// A peer rejected by policy: the rejecting [`Verdict`], whose `Display` lists every
/// failure with the claim, the value seen and what was allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRejected {
    verdict: Verdict,
}

impl PolicyRejected {
    /// The rejecting verdict.
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }

    /// The failures.
    pub fn failures(&self) -> &[Failure] {
        &self.verdict.failures
    }

    /// Takes the verdict back.
    pub fn into_verdict(self) -> Verdict {
        self.verdict
    }
}

impl fmt::Display for PolicyRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failures = &self.verdict.failures;
        write!(f, "rejected by policy ({} failing rule", failures.len())?;
        if failures.len() != 1 {
            f.write_str("s")?;
        }
        f.write_str(")")?;
        for (i, failure) in failures.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyRejected {}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejecting() -> Verdict {
        let mut v = Verdict::default();
        v.matched("evidence.accept", "tdx");
        v.fail(
            "tdx.measurements[prod]",
            "tdx.rtmr1",
            Some(&Value::from("00ff")),
            "one of [\"00fe\"]",
        );
        v.fail("tdx.debug", "tdx.debug", None, "false");
        v.finish()
    }

    #[test]
    fn rejection_display_lists_every_failure() {
        let err = rejecting().into_result().unwrap_err();
        assert_eq!(
            err.to_string(),
            "rejected by policy (2 failing rules): [tdx.measurements[prod]] tdx.rtmr1: seen \
             \"00ff\", allowed one of [\"00fe\"]; [tdx.debug] tdx.debug: seen (absent), allowed false"
        );
        assert_eq!(err.failures().len(), 2);
    }

    #[test]
    fn accepted_verdict_is_ok() {
        let mut v = Verdict::default();
        v.matched("evidence.accept", "tdx");
        let v = v.finish();
        assert!(v.accepted);
        assert_eq!(v.clone().into_result().unwrap(), v);
    }

    #[test]
    fn verdict_round_trips_through_json() {
        let v = rejecting();
        let json = v.to_json();
        assert!(json.contains("\"accepted\":false"));
        assert!(json.contains("\"claim\":\"tdx.rtmr1\""));
        let back: Verdict = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
    }
}
