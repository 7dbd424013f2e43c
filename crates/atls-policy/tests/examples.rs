//! The example policies under examples/policies load, and decide as their comments say on
//! the real quotes they were written for.

mod common;

use atls_policy::{EvaluationContext, Mode, Policy, Verdict};
use common::{DCAP_NOW, NEAR_NOW, dcap_claims, near_claims};
use serde_json::{Value, json};

const STRICT_TDX: &str = include_str!("../../../examples/policies/strict-tdx.toml");
const DEV: &str = include_str!("../../../examples/policies/dev.toml");
const DSTACK_APP: &str = include_str!("../../../examples/policies/dstack-app.toml");

fn at(policy: &Policy, claims: &atls_evidence::Claims, now: i64) -> Verdict {
    policy.evaluate(claims, &EvaluationContext::new(now))
}

#[test]
fn strict_tdx_example_loads_and_accepts_its_quote() {
    let policy = Policy::from_toml_str(STRICT_TDX).unwrap();
    assert_eq!(policy.mode(), Mode::Production);
    assert!(policy.identity().same_key_as_handshake());
    let verdict = at(&policy, &dcap_claims(), DCAP_NOW);
    assert!(verdict.accepted, "{}", verdict.to_json());

    // Another image on another platform model.
    let verdict = at(&policy, &near_claims(), DCAP_NOW);
    assert!(!verdict.accepted);
    assert!(verdict.failures.iter().any(|f| f.claim == "tdx.mr_td"));

    // A debug TD of the same image.
    let mut claims = dcap_claims();
    claims.insert("tdx.debug", true);
    claims.insert("tdx.td_attributes", "0100001000000000");
    let verdict = at(&policy, &claims, DCAP_NOW);
    assert!(verdict.failures.iter().any(|f| f.rule == "tdx.debug"));
}

#[test]
fn dev_example_loads_and_accepts_any_measurements() {
    let policy = Policy::from_toml_str(DEV).unwrap();
    assert_eq!(policy.mode(), Mode::Dev);
    assert_eq!(policy.identity().names(), ["localhost", "127.0.0.1"]);
    for (claims, now) in [(dcap_claims(), DCAP_NOW), (near_claims(), NEAR_NOW)] {
        let verdict = at(&policy, &claims, now);
        assert!(verdict.accepted, "{}", verdict.to_json());
    }
    let mut claims = dcap_claims();
    claims.insert("tdx.tcb_status", "Revoked");
    assert!(!at(&policy, &claims, DCAP_NOW).accepted);
}

#[test]
fn dstack_app_example_loads_and_accepts_the_near_mpc_node() {
    let policy = Policy::from_toml_str(DSTACK_APP).unwrap();
    let verdict = at(&policy, &near_claims(), NEAR_NOW);
    assert!(verdict.accepted, "{}", verdict.to_json());
    let events: Vec<&str> = verdict
        .matched
        .iter()
        .filter(|m| m.rule.starts_with("tdx.events"))
        .map(|m| m.detail.as_str())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[0].contains("compose-hash"));
}

#[test]
fn dstack_app_example_rejects_another_compose_hash() {
    let policy = Policy::from_toml_str(DSTACK_APP).unwrap();
    let mut claims = near_claims();
    let Some(Value::Array(events)) = claims.values.get_mut("tdx.events") else {
        panic!("no event log in the claims");
    };
    let event = events
        .iter_mut()
        .find(|e| e["name"] == json!("compose-hash"))
        .unwrap();
    event["payload"] = json!("0000000000000000000000000000000000000000000000000000000000000000");
    let verdict = at(&policy, &claims, NEAR_NOW);
    assert_eq!(verdict.failures.len(), 1, "{}", verdict.to_json());
    assert_eq!(verdict.failures[0].rule, "tdx.events[0]");
    assert!(verdict.failures[0].claim.contains("compose-hash"));

    // Without the event log the expected events cannot be found.
    let mut claims = near_claims();
    claims.values.remove("tdx.events");
    let verdict = at(&policy, &claims, NEAR_NOW);
    assert_eq!(verdict.failures.len(), 2, "{}", verdict.to_json());
}

#[test]
fn dstack_app_example_grace_period() {
    let policy = Policy::from_toml_str(DSTACK_APP).unwrap();
    let mut claims = near_claims();
    claims.insert("tdx.tcb_status", "OutOfDate");
    let tcb_date = claims.get("tdx.tcb_date").and_then(Value::as_i64).unwrap();
    assert!(at(&policy, &claims, tcb_date + 30 * 86_400).accepted);
    let verdict = at(&policy, &claims, tcb_date + 30 * 86_400 + 1);
    assert_eq!(verdict.failures.len(), 1, "{}", verdict.to_json());
    assert_eq!(verdict.failures[0].rule, "tdx.tcb.grace_period");
}

#[cfg(feature = "rego")]
#[test]
fn rego_example_loads() {
    let source = include_str!("../../../examples/policies/strict-tdx.rego");
    let policy = Policy::dev().with_rego(source).unwrap();
    let verdict = at(&policy, &dcap_claims(), DCAP_NOW);
    assert!(verdict.accepted, "{}", verdict.to_json());
}
