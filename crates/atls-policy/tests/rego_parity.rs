//! A Rego policy equivalent to a declarative one decides alike on the same claims: the
//! example strict-tdx.toml against strict-tdx.rego (in a dev-mode document, so that the
//! decision is the Rego module's), over the real quote's claims and variants of them.

mod common;

use atls_evidence::Claims;
use atls_policy::{EvaluationContext, Policy};
use common::{DCAP_NOW, dcap_claims, near_claims};
use serde_json::{Value, json};

const DECLARATIVE: &str = include_str!("../../../examples/policies/strict-tdx.toml");
const REGO: &str = include_str!("../../../examples/policies/strict-tdx.rego");

fn rego_policy() -> Policy {
    let document = format!("version = 1\nmode = \"dev\"\n[rego]\nsource = '''\n{REGO}'''\n");
    Policy::from_toml_str(&document).unwrap()
}

fn variant(name: &str, value: Value) -> Claims {
    let mut claims = dcap_claims();
    claims.insert(name, value);
    claims
}

fn cases() -> Vec<(&'static str, Claims, i64)> {
    let day = 86_400;
    let next_update = 1_752_919_235;
    let issued = next_update - 30 * day;
    let mut no_debug_flag = dcap_claims();
    no_debug_flag.values.remove("tdx.debug");
    let mut debug_unknown = no_debug_flag.clone();
    debug_unknown.values.remove("tdx.td_attributes");
    let mut tdx_as_test = dcap_claims();
    tdx_as_test.evidence_type = "application/vnd.atls.insecure-test-evidence".into();
    vec![
        ("genuine", dcap_claims(), DCAP_NOW),
        (
            "upper-case hex",
            variant(
                "tdx.mr_td",
                json!(
                    "91EB2B44D141D4ECE09F0C75C2C53D247A3C68EDD7FAFE8A3520C942A604A407DE03AE6DC5F87F27428B2538873118B7"
                ),
            ),
            DCAP_NOW,
        ),
        (
            "other MRTD",
            variant(
                "tdx.mr_td",
                json!(
                    "81eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
                ),
            ),
            DCAP_NOW,
        ),
        (
            "other RTMR3",
            variant(
                "tdx.rtmr3",
                json!(
                    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001"
                ),
            ),
            DCAP_NOW,
        ),
        (
            "other MRCONFIGID",
            variant(
                "tdx.mr_config_id",
                json!(
                    "010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                ),
            ),
            DCAP_NOW,
        ),
        ("debug flag", variant("tdx.debug", json!(true)), DCAP_NOW),
        (
            "debug attribute",
            variant("tdx.td_attributes", json!("0100001000000000")),
            DCAP_NOW,
        ),
        ("no debug flag, attributes say", no_debug_flag, DCAP_NOW),
        ("debug unknown", debug_unknown, DCAP_NOW),
        (
            "SWHardeningNeeded",
            variant("tdx.tcb_status", json!("SWHardeningNeeded")),
            DCAP_NOW,
        ),
        (
            "OutOfDate",
            variant("tdx.tcb_status", json!("OutOfDate")),
            DCAP_NOW,
        ),
        (
            "Revoked",
            variant("tdx.tcb_status", json!("Revoked")),
            DCAP_NOW,
        ),
        (
            "denied advisory",
            variant("tdx.advisory_ids", json!(["intel-sa-00837"])),
            DCAP_NOW,
        ),
        (
            "other advisory",
            variant("tdx.advisory_ids", json!(["INTEL-SA-00615"])),
            DCAP_NOW,
        ),
        (
            "other FMSPC",
            variant("tdx.fmspc", json!("90c06f000000")),
            DCAP_NOW,
        ),
        ("collateral 14 days old", dcap_claims(), issued + 14 * day),
        (
            "collateral 14 days and 1 s old",
            dcap_claims(),
            issued + 14 * day + 1,
        ),
        ("another evidence type", tdx_as_test, DCAP_NOW),
        ("another image", near_claims(), DCAP_NOW),
    ]
}

#[test]
fn rego_and_declarative_policies_decide_alike() {
    let declarative = Policy::from_toml_str(DECLARATIVE).unwrap();
    let rego = rego_policy();
    let mut accepted = 0;
    for (name, claims, now) in cases() {
        let ctx = EvaluationContext::new(now);
        let d = declarative.evaluate(&claims, &ctx);
        let r = rego.evaluate(&claims, &ctx);
        assert_eq!(
            d.accepted,
            r.accepted,
            "{name}: declarative {} / rego {}",
            d.to_json(),
            r.to_json()
        );
        accepted += usize::from(d.accepted);
    }
    // Both outcomes are exercised.
    assert_eq!(
        accepted, 5,
        "genuine, upper-case hex, attributes, other advisory, 14 days"
    );
}

#[test]
fn both_parts_must_allow_when_composed() {
    let composed = Policy::from_toml_str(DECLARATIVE)
        .unwrap()
        .with_rego("package atls\nallow if { input.claims.values[\"tdx.ppid\"] == \"811dca2a26b952e85bb6448b097ba4fd\" }\n")
        .unwrap();
    let ctx = EvaluationContext::new(DCAP_NOW);
    assert!(composed.evaluate(&dcap_claims(), &ctx).accepted);

    // Rego refuses, the declarative part allows.
    let verdict = composed.evaluate(&variant("tdx.ppid", json!("00")), &ctx);
    assert_eq!(verdict.failures.len(), 1, "{}", verdict.to_json());
    assert_eq!(verdict.failures[0].rule, "rego.allow");

    // The declarative part refuses, Rego allows.
    let verdict = composed.evaluate(&variant("tdx.tcb_status", json!("OutOfDate")), &ctx);
    assert_eq!(verdict.failures.len(), 1, "{}", verdict.to_json());
    assert_eq!(verdict.failures[0].rule, "tdx.tcb.statuses");
}

#[test]
fn deny_messages_explain_the_rego_rejection() {
    let verdict = rego_policy().evaluate(
        &variant("tdx.fmspc", json!("90c06f000000")),
        &EvaluationContext::new(DCAP_NOW),
    );
    let messages: Vec<&Value> = verdict
        .failures
        .iter()
        .filter(|f| f.rule == "rego.deny")
        .filter_map(|f| f.seen.as_ref())
        .collect();
    assert_eq!(messages, [&json!("FMSPC 90c06f000000 is not accepted")]);
}
