//! Golden tests on real TDX quotes: a policy built from the dcap-qvl sample quote's
//! measurements accepts it, and one nibble changed in any one register rejects it with an
//! explanation naming that register.

mod common;

use atls_policy::{EvaluationContext, Policy, Register, Verdict};
use common::{DCAP_NOW, dcap_claims};
use serde_json::Value;

/// The registers of the dcap-qvl sample quote, as listed in testdata/tdx/README.md.
const PINNED: [(Register, &str); 8] = [
    (
        Register::MrTd,
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
    ),
    (
        Register::Rtmr0,
        "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
    ),
    (
        Register::Rtmr1,
        "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
    ),
    (
        Register::Rtmr2,
        "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132",
    ),
    (
        Register::Rtmr3,
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        Register::MrSeam,
        "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1",
    ),
    (Register::Xfam, "e702060000000000"),
    (Register::TdAttributes, "0000001000000000"),
];

fn policy_with(pins: &[(Register, String)]) -> Policy {
    let mut toml = String::from("version = 1\n[[tdx.measurements]]\nname = \"dcap-qvl-sample\"\n");
    for (register, value) in pins {
        toml.push_str(&format!("{} = \"{value}\"\n", register.field()));
    }
    Policy::from_toml_str(&toml).unwrap()
}

fn readme_pins() -> Vec<(Register, String)> {
    PINNED.iter().map(|(r, v)| (*r, (*v).to_string())).collect()
}

/// `hex` with its nibble at `index` changed.
fn flip_nibble(hex: &str, index: usize) -> String {
    let mut chars: Vec<char> = hex.chars().collect();
    chars[index] = if chars[index] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

fn evaluate(policy: &Policy, claims: &atls_evidence::Claims) -> Verdict {
    policy.evaluate(claims, &EvaluationContext::new(DCAP_NOW))
}

#[test]
fn policy_from_the_quotes_measurements_accepts_it() {
    let verdict = evaluate(&policy_with(&readme_pins()), &dcap_claims());
    assert!(verdict.accepted, "{}", verdict.to_json());
    assert!(
        verdict
            .matched
            .iter()
            .any(|m| m.rule == "tdx.measurements" && m.detail == "set \"dcap-qvl-sample\"")
    );
}

#[test]
fn one_nibble_changed_in_the_policy_rejects_naming_the_register() {
    let claims = dcap_claims();
    for (i, (register, value)) in PINNED.iter().enumerate() {
        let mut pins = readme_pins();
        let changed = flip_nibble(value, value.len() / 2);
        pins[i].1 = changed.clone();
        let verdict = evaluate(&policy_with(&pins), &claims);
        assert!(!verdict.accepted, "{register:?}");
        assert_eq!(verdict.failures.len(), 1, "{}", verdict.to_json());
        let failure = &verdict.failures[0];
        assert_eq!(failure.rule, "tdx.measurements[dcap-qvl-sample]");
        assert_eq!(failure.claim, register.claim());
        assert_eq!(failure.seen, Some(Value::from(*value)));
        assert_eq!(failure.allowed, format!("one of [\"{changed}\"]"));
        let message = verdict.into_result().unwrap_err().to_string();
        assert!(message.contains(register.claim()), "{message}");
    }
}

#[test]
fn one_nibble_changed_in_the_evidence_rejects_naming_the_register() {
    let policy = policy_with(&readme_pins());
    for (register, value) in PINNED {
        for index in [0, value.len() - 1] {
            let mut claims = dcap_claims();
            claims.insert(register.claim(), flip_nibble(value, index));
            let verdict = evaluate(&policy, &claims);
            assert!(!verdict.accepted);
            let named: Vec<&str> = verdict.failures.iter().map(|f| f.claim.as_str()).collect();
            // A changed TDATTRIBUTES nibble may also set the DEBUG bit; the register is
            // named either way.
            assert!(named.contains(&register.claim()), "{register:?}: {named:?}");
        }
    }
}

#[test]
fn the_other_real_quote_is_rejected_with_every_differing_register() {
    let verdict = evaluate(&policy_with(&readme_pins()), &common::near_claims());
    let named: Vec<&str> = verdict.failures.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(
        named,
        [
            "tdx.mr_td",
            "tdx.rtmr0",
            "tdx.rtmr1",
            "tdx.rtmr2",
            "tdx.rtmr3",
            "tdx.mr_seam"
        ]
    );
}

#[test]
fn recorded_claims_round_trip_through_policy_testing() {
    let claims = serde_json::to_string(&dcap_claims()).unwrap();
    let verdict =
        atls_policy::test_policy_with_claims(&policy_with(&readme_pins()), &claims, DCAP_NOW)
            .unwrap();
    assert!(verdict.accepted, "{}", verdict.to_json());
}

#[cfg(feature = "tdx")]
mod quote_path {
    use atls_policy::{PolicyError, test_policy_with_quote};
    use atls_tdx::{Appraiser, EventLog};

    use super::*;
    use crate::common::*;

    #[test]
    fn policy_test_against_quote_collateral_and_time() {
        let verdict = test_policy_with_quote(
            &policy_with(&readme_pins()),
            &Appraiser::intel_production(),
            DCAP_QUOTE,
            DCAP_COLLATERAL,
            None,
            DCAP_NOW,
        )
        .unwrap();
        assert!(verdict.accepted, "{}", verdict.to_json());
    }

    #[test]
    fn policy_test_with_event_log() {
        let policy =
            Policy::from_toml_str(include_str!("../../../examples/policies/dstack-app.toml"))
                .unwrap();
        let log = EventLog::from_dstack_json(NEAR_TCB_INFO).unwrap();
        let verdict = test_policy_with_quote(
            &policy,
            &Appraiser::intel_production(),
            NEAR_QUOTE,
            NEAR_COLLATERAL,
            Some(log),
            NEAR_NOW,
        )
        .unwrap();
        assert!(verdict.accepted, "{}", verdict.to_json());
    }

    #[test]
    fn expired_collateral_is_an_error_not_a_verdict() {
        let err = test_policy_with_quote(
            &policy_with(&readme_pins()),
            &Appraiser::intel_production(),
            DCAP_QUOTE,
            DCAP_COLLATERAL,
            None,
            DCAP_NOW + 60 * 86_400,
        )
        .unwrap_err();
        assert!(matches!(err, PolicyError::Evidence(_)), "{err}");
    }
}
