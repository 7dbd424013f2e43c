//! Rego policies for advanced users, evaluated with regorus (the Rego engine of the
//! confidential-containers attestation service).
//!
//! The module must declare `package atls`. Its input is
//! `{"claims": <the claims set as JSON>, "now": <Unix seconds>}`; it accepts when
//! `data.atls.allow` is `true` and `data.atls.deny` (a set of messages, optional) is empty.
//! Each deny message becomes a failure of the verdict. Evaluation errors reject. The module
//! is evaluated once when loaded, on empty claims, so that unknown builtins are reported
//! then rather than at the first peer.
//!
//! Only the builtins compiled into regorus are available; `time.now_ns` is not (the time
//! is `input.now`), and there are no `crypto.*` builtins.

use core::fmt;

use atls_evidence::Claims;
use regorus::{Engine, Value as RegoValue};
use serde_json::{Value, json};

use crate::policy::EvaluationContext;
use crate::verdict::Verdict;

const ALLOW: &str = "data.atls.allow";
const DENY: &str = "data.atls.deny";

/// A compiled Rego module.
#[derive(Clone)]
pub(crate) struct RegoPolicy {
    engine: Engine,
    has_deny: bool,
}

impl fmt::Debug for RegoPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegoPolicy")
            .field("has_deny", &self.has_deny)
            .finish_non_exhaustive()
    }
}

impl RegoPolicy {
    /// Parses and checks `source`: package `atls` with an `allow` rule.
    pub(crate) fn compile(source: &str) -> Result<Self, String> {
        let mut engine = Engine::new();
        let package = engine
            .add_policy("policy.rego".to_string(), source.to_string())
            .map_err(|e| e.to_string())?;
        if package != "data.atls" {
            return Err(format!(
                "the module declares {package}; it must declare `package atls`"
            ));
        }
        let declared = |engine: &Engine, rule: &str| {
            engine
                .has_declared_rule_rooted_at("policy.rego", rule)
                .map_err(|e| e.to_string())
        };
        if !declared(&engine, "allow")? {
            return Err("the module declares no `allow` rule".to_string());
        }
        let has_deny = declared(&engine, "deny")?;
        // Surface errors that only show when rules run (unknown builtins such as
        // `time.now_ns`, ...): evaluate once on empty claims.
        let mut probe = engine.clone();
        probe.set_input(RegoValue::from(
            json!({"claims": {"evidence_type": "", "values": {}}, "now": 0}),
        ));
        probe
            .eval_rule(ALLOW.to_string())
            .map_err(|e| e.to_string())?;
        Ok(Self { engine, has_deny })
    }

    /// Evaluates the module against `claims` at `ctx`, adding to `verdict`.
    pub(crate) fn evaluate(&self, claims: &Claims, ctx: &EvaluationContext, verdict: &mut Verdict) {
        let claims_json = serde_json::to_value(claims).unwrap_or(Value::Null);
        let input = json!({ "claims": claims_json, "now": ctx.now_unix });
        let mut engine = self.engine.clone();
        engine.set_input(RegoValue::from(input));

        let mut denied = false;
        if self.has_deny {
            match engine.eval_rule(DENY.to_string()) {
                Ok(RegoValue::Undefined) => {}
                Ok(value) => match value.as_set() {
                    Ok(messages) => {
                        for message in messages.iter() {
                            denied = true;
                            let text = match message.as_string() {
                                Ok(s) => s.to_string(),
                                Err(_) => to_json(message).to_string(),
                            };
                            verdict.fail(
                                "rego.deny",
                                DENY,
                                Some(&Value::from(text)),
                                "no deny message",
                            );
                        }
                    }
                    Err(_) => {
                        denied = true;
                        verdict.fail(
                            "rego.deny",
                            DENY,
                            Some(&to_json(&value)),
                            "a set of deny messages",
                        );
                    }
                },
                Err(e) => {
                    denied = true;
                    verdict.fail(
                        "rego.deny",
                        DENY,
                        Some(&Value::from(format!("evaluation error: {e}"))),
                        "an evaluation without error",
                    );
                }
            }
        }

        match engine.eval_rule(ALLOW.to_string()) {
            Ok(RegoValue::Bool(true)) => {
                if !denied {
                    verdict.matched("rego.allow", "data.atls.allow is true");
                }
            }
            Ok(RegoValue::Undefined) => verdict.fail("rego.allow", ALLOW, None, "true"),
            Ok(other) => verdict.fail("rego.allow", ALLOW, Some(&to_json(&other)), "true"),
            Err(e) => verdict.fail(
                "rego.allow",
                ALLOW,
                Some(&Value::from(format!("evaluation error: {e}"))),
                "true",
            ),
        }
    }
}

fn to_json(value: &RegoValue) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: &str = r#"
package atls

default allow := false

allow if {
    input.claims.values["test.platform"] == "lab-1"
    count(deny) == 0
}

deny contains msg if {
    input.claims.values["test.debug"] == true
    msg := "debug platform"
}

deny contains msg if {
    input.now > 2000000000
    msg := sprintf("too late: %d", [input.now])
}
"#;

    fn claims(platform: &str, debug: bool) -> Claims {
        let mut c = Claims::new("application/vnd.atls.insecure-test-evidence");
        c.insert("test.platform", platform);
        c.insert("test.debug", debug);
        c
    }

    fn eval(policy: &RegoPolicy, claims: &Claims, now: i64) -> Verdict {
        let mut v = Verdict::default();
        policy.evaluate(claims, &EvaluationContext::new(now), &mut v);
        v.finish()
    }

    #[test]
    fn allows_and_denies_with_messages() {
        let policy = RegoPolicy::compile(MODULE).unwrap();
        assert!(eval(&policy, &claims("lab-1", false), 1).accepted);

        let v = eval(&policy, &claims("lab-1", true), 1);
        assert!(!v.accepted);
        assert!(
            v.failures
                .iter()
                .any(|f| f.rule == "rego.deny" && f.seen == Some(Value::from("debug platform")))
        );

        let v = eval(&policy, &claims("lab-2", false), 1);
        assert_eq!(v.failures.len(), 1);
        assert_eq!(v.failures[0].rule, "rego.allow");

        let v = eval(&policy, &claims("lab-1", false), 2_000_000_001);
        assert!(
            v.failures
                .iter()
                .any(|f| f.seen == Some(Value::from("too late: 2000000001")))
        );
    }

    #[test]
    fn rejects_modules_that_cannot_decide() {
        let wrong_package = "package other\nallow := true\n";
        assert!(
            RegoPolicy::compile(wrong_package)
                .unwrap_err()
                .contains("package atls")
        );
        let no_allow = "package atls\ndeny contains \"x\" if { false }\n";
        assert!(RegoPolicy::compile(no_allow).unwrap_err().contains("allow"));
        let syntax = "package atls\nallow if {";
        assert!(RegoPolicy::compile(syntax).is_err());
    }

    #[test]
    fn allow_without_deny_rule() {
        let policy = RegoPolicy::compile("package atls\nallow if { input.now < 10 }\n").unwrap();
        assert!(eval(&policy, &claims("x", false), 5).accepted);
        assert!(!eval(&policy, &claims("x", false), 50).accepted);
    }

    #[test]
    fn clock_builtins_are_unavailable() {
        let err = RegoPolicy::compile("package atls\nallow if { time.now_ns() > 0 }\n");
        assert!(err.is_err(), "time.now_ns must not be available");
    }
}
