//! Every rule kind, accepting and rejecting. TDX claims are those of the dcap-qvl sample
//! quote (`testdata/tdx/dcap-qvl/tdx_quote`, appraised UpToDate at 2025-07-01).

use atls_evidence::{EAR_CWT_MEDIA_TYPE, INSECURE_TEST_EVIDENCE_MEDIA_TYPE, TDX_QUOTE_MEDIA_TYPE};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::policy::MeasurementSet;
use crate::verdict::Failure;

const MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
const RTMR0: &str = "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0";
const RTMR1: &str = "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378";
const RTMR2: &str = "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132";
const ZERO48: &str = "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
const FMSPC: &str = "b0c06f000000";
const PPID: &str = "00112233445566778899aabbccddeeff";
const NOW: i64 = 1_751_328_000; // 2025-07-01T00:00:00Z
const TCB_DATE: i64 = 1_710_288_000; // 2024-03-13
const NEXT_UPDATE: i64 = 1_752_919_235; // 2025-07-19T10:00:35Z
const DAY: i64 = 86_400;

fn tdx_claims() -> Claims {
    let mut c = Claims::new(TDX_QUOTE_MEDIA_TYPE);
    c.insert("tdx.quote_version", 4);
    c.insert("tdx.mr_td", MRTD);
    c.insert("tdx.rtmr0", RTMR0);
    c.insert("tdx.rtmr1", RTMR1);
    c.insert("tdx.rtmr2", RTMR2);
    c.insert("tdx.rtmr3", ZERO48);
    c.insert("tdx.mr_config_id", ZERO48);
    c.insert("tdx.mr_owner", ZERO48);
    c.insert("tdx.mr_owner_config", ZERO48);
    c.insert("tdx.td_attributes", "0000001000000000");
    c.insert("tdx.xfam", "e702060000000000");
    c.insert("tdx.debug", false);
    c.insert("tdx.tcb_status", "UpToDate");
    c.insert("tdx.advisory_ids", Vec::<String>::new());
    c.insert("tdx.tcb_date", TCB_DATE);
    c.insert("tdx.fmspc", FMSPC);
    c.insert("tdx.ppid", PPID);
    c.insert("tdx.collateral_next_update", NEXT_UPDATE);
    c
}

fn with(mut claims: Claims, name: &str, value: impl Into<Value>) -> Claims {
    claims.insert(name, value);
    claims
}

fn policy(extra: &str) -> Policy {
    let toml = format!(
        "version = 1\n[[tdx.measurements]]\nname = \"sample\"\nmr_td = \"{MRTD}\"\n\
         rtmr0 = \"{RTMR0}\"\nrtmr1 = \"{RTMR1}\"\nrtmr2 = \"{RTMR2}\"\nrtmr3 = \"{ZERO48}\"\n{extra}"
    );
    Policy::from_toml_str(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"))
}

fn eval(policy: &Policy, claims: &Claims) -> Verdict {
    eval_at(policy, claims, NOW)
}

fn eval_at(policy: &Policy, claims: &Claims, now: i64) -> Verdict {
    policy.evaluate(claims, &EvaluationContext::new(now))
}

#[track_caller]
fn assert_accepted(v: &Verdict) {
    assert!(v.accepted, "expected acceptance, got {}", v.to_json());
    assert!(v.failures.is_empty());
}

/// Asserts rejection with exactly one failure, on `claim` by `rule`.
#[track_caller]
fn assert_rejected_by(v: &Verdict, rule: &str, claim: &str) -> Failure {
    assert!(!v.accepted, "expected rejection, got {}", v.to_json());
    assert_eq!(v.failures.len(), 1, "{}", v.to_json());
    let failure = v.failures[0].clone();
    assert_eq!(failure.rule, rule, "{}", v.to_json());
    assert_eq!(failure.claim, claim, "{}", v.to_json());
    failure
}

// ---- evidence types ----

#[test]
fn accepts_tdx_and_lists_the_matched_rules() {
    let v = eval(&policy(""), &tdx_claims());
    assert_accepted(&v);
    let rules: Vec<&str> = v.matched.iter().map(|m| m.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "evidence.accept",
            "tdx.debug",
            "tdx.measurements",
            "tdx.tcb.statuses"
        ]
    );
    assert_eq!(v.matched[2].detail, "set \"sample\"");
}

#[test]
fn rejects_evidence_types_not_accepted() {
    let claims = Claims::new(INSECURE_TEST_EVIDENCE_MEDIA_TYPE);
    let f = assert_rejected_by(
        &eval(&policy(""), &claims),
        "evidence.accept",
        "evidence_type",
    );
    assert_eq!(f.seen, Some(json!(INSECURE_TEST_EVIDENCE_MEDIA_TYPE)));
    assert!(
        f.allowed.contains("tdx (application/tdx-quote"),
        "{}",
        f.allowed
    );

    let garbage = Claims::new("not a media type");
    assert_rejected_by(
        &eval(&policy(""), &garbage),
        "evidence.accept",
        "evidence_type",
    );
}

#[test]
fn media_types_compare_structurally() {
    // Parameter order and case do not matter.
    let claims = with_type(
        tdx_claims(),
        "Application/TDX-Quote; profile=\"https://trustedcomputinggroup.org/tdx/v1\"; version=1.0",
    );
    assert_accepted(&eval(&policy(""), &claims));
}

fn with_type(mut claims: Claims, evidence_type: &str) -> Claims {
    claims.evidence_type = evidence_type.to_string();
    claims
}

// ---- measurements (TD-04) ----

#[test]
fn td04_rejects_mrtd_not_in_allow_list() {
    let other = format!("{}0", &MRTD[..95]);
    let v = eval(
        &policy(""),
        &with(tdx_claims(), "tdx.mr_td", other.as_str()),
    );
    let f = assert_rejected_by(&v, "tdx.measurements[sample]", "tdx.mr_td");
    assert_eq!(f.seen, Some(json!(other)));
    assert_eq!(f.allowed, format!("one of [\"{MRTD}\"]"));
}

#[test]
fn td04_rejects_each_rtmr_not_in_allow_list() {
    for (claim, value) in [
        ("tdx.rtmr0", RTMR0),
        ("tdx.rtmr1", RTMR1),
        ("tdx.rtmr2", RTMR2),
        ("tdx.rtmr3", ZERO48),
    ] {
        let changed = format!("f{}", &value[1..]);
        let v = eval(&policy(""), &with(tdx_claims(), claim, changed.as_str()));
        assert_rejected_by(&v, "tdx.measurements[sample]", claim);
    }
}

#[test]
fn measurements_compare_hex_case_insensitively() {
    let v = eval(
        &policy(""),
        &with(tdx_claims(), "tdx.mr_td", MRTD.to_uppercase().as_str()),
    );
    assert_accepted(&v);
}

#[test]
fn absent_or_malformed_register_is_a_mismatch() {
    let mut claims = tdx_claims();
    claims.values.remove("tdx.rtmr2");
    let f = assert_rejected_by(
        &eval(&policy(""), &claims),
        "tdx.measurements[sample]",
        "tdx.rtmr2",
    );
    assert_eq!(f.seen, None);
    let v = eval(&policy(""), &with(tdx_claims(), "tdx.rtmr1", 5));
    assert_rejected_by(&v, "tdx.measurements[sample]", "tdx.rtmr1");
}

#[test]
fn sets_are_alternatives_and_fields_list_alternatives() {
    let other = format!("{}1", &MRTD[..95]);
    let toml = format!(
        "version = 1\n\
         [[tdx.measurements]]\nname = \"old\"\nmr_td = \"{other}\"\n\
         [[tdx.measurements]]\nname = \"new\"\nmr_td = [\"{other}\", \"{MRTD}\"]\nrtmr0 = \"{RTMR0}\"\n"
    );
    let p = Policy::from_toml_str(&toml).unwrap();
    let v = eval(&p, &tdx_claims());
    assert_accepted(&v);
    assert!(v.matched.iter().any(|m| m.detail == "set \"new\""));

    // No set matches: every set's mismatches are explained.
    let v = eval(&p, &with(tdx_claims(), "tdx.rtmr0", ZERO48));
    assert!(!v.accepted);
    let failures: Vec<(&str, &str)> = v
        .failures
        .iter()
        .map(|f| (f.rule.as_str(), f.claim.as_str()))
        .collect();
    assert_eq!(
        failures,
        [
            ("tdx.measurements[old]", "tdx.mr_td"),
            ("tdx.measurements[new]", "tdx.rtmr0")
        ]
    );
}

#[test]
fn other_registers_can_be_pinned() {
    let p = policy(
        "mr_config_id = \"ff0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\"\nxfam = \"e702060000000000\"\ntd_attributes = \"0000001000000000\"\n",
    );
    let v = eval(&p, &tdx_claims());
    assert_rejected_by(&v, "tdx.measurements[sample]", "tdx.mr_config_id");
    let p = policy(&format!(
        "xfam = \"E702060000000000\"\ntd_attributes = \"0000001000000000\"\nmr_owner = \"{ZERO48}\"\n"
    ));
    assert_accepted(&eval(&p, &tdx_claims()));
    let v = eval(&p, &with(tdx_claims(), "tdx.xfam", "e718060000000000"));
    assert_rejected_by(&v, "tdx.measurements[sample]", "tdx.xfam");
}

#[test]
fn strict_preset_requires_measurements() {
    let v = eval(&Policy::strict(), &tdx_claims());
    let f = assert_rejected_by(&v, "tdx.measurements", "tdx.mr_td");
    assert!(f.allowed.contains("pins none"), "{}", f.allowed);

    let set = MeasurementSet::from_claims("recorded", &tdx_claims()).unwrap();
    let p = Policy::strict().with_measurement_set(set);
    assert_accepted(&eval(&p, &tdx_claims()));
    let v = eval(&p, &with(tdx_claims(), "tdx.mr_owner", RTMR0));
    assert_rejected_by(&v, "tdx.measurements[recorded]", "tdx.mr_owner");
}

// ---- debug TDs (TD-03) ----

#[test]
fn td03_rejects_debug_td() {
    let v = eval(&policy(""), &with(tdx_claims(), "tdx.debug", true));
    let f = assert_rejected_by(&v, "tdx.debug", "tdx.debug");
    assert_eq!(f.seen, Some(json!(true)));
    assert!(f.allowed.contains("dev"), "{}", f.allowed);
}

#[test]
fn td03_rejects_debug_bit_in_td_attributes() {
    // Even if the flag says otherwise, TDATTRIBUTES bit 0 decides.
    let v = eval(
        &policy(""),
        &with(tdx_claims(), "tdx.td_attributes", "0100001000000000"),
    );
    assert_rejected_by(&v, "tdx.debug", "tdx.td_attributes");
}

#[test]
fn td03_rejects_evidence_silent_about_debug() {
    let mut claims = tdx_claims();
    claims.values.remove("tdx.debug");
    claims.values.remove("tdx.td_attributes");
    let f = assert_rejected_by(&eval(&policy(""), &claims), "tdx.debug", "tdx.debug");
    assert_eq!(f.seen, None);
}

#[test]
fn dev_mode_accepts_debug_tds_and_says_so() {
    let claims = with(tdx_claims(), "tdx.debug", true);
    let v = eval(&Policy::dev(), &claims);
    assert_accepted(&v);
    assert!(v.matched.iter().any(|m| m.rule == "mode"));
    assert!(
        v.matched
            .iter()
            .any(|m| m.rule == "tdx.debug" && m.detail.contains("debug TD accepted"))
    );
}

// ---- TCB status, grace period (DV-05) ----

#[test]
fn dv05_rejects_out_of_date_platform_unless_policy_allows() {
    let claims = with(tdx_claims(), "tdx.tcb_status", "OutOfDate");
    let f = assert_rejected_by(
        &eval(&policy(""), &claims),
        "tdx.tcb.statuses",
        "tdx.tcb_status",
    );
    assert_eq!(f.seen, Some(json!("OutOfDate")));
    assert_eq!(f.allowed, "one of [\"UpToDate\"]");

    let p =
        policy("[tdx.tcb]\nstatuses = [\"UpToDate\", \"OutOfDate\"]\ngrace_period = \"600d\"\n");
    assert_accepted(&eval(&p, &claims));
}

#[test]
fn dv05_rejects_revoked_platform_in_every_mode() {
    let claims = with(tdx_claims(), "tdx.tcb_status", "Revoked");
    for p in [policy(""), Policy::dev(), Policy::strict()] {
        let v = eval(&p, &claims);
        assert!(!v.accepted);
        let f = v
            .failures
            .iter()
            .find(|f| f.rule == "tdx.tcb.statuses")
            .unwrap();
        assert!(f.allowed.contains("never accepted"), "{}", f.allowed);
    }
}

#[test]
fn accepts_listed_statuses_and_rejects_unknown_ones() {
    let p = policy("[tdx.tcb]\nstatuses = [\"UpToDate\", \"SWHardeningNeeded\"]\n");
    assert_accepted(&eval(
        &p,
        &with(tdx_claims(), "tdx.tcb_status", "SWHardeningNeeded"),
    ));
    let v = eval(
        &p,
        &with(tdx_claims(), "tdx.tcb_status", "ConfigurationNeeded"),
    );
    assert_rejected_by(&v, "tdx.tcb.statuses", "tdx.tcb_status");
    let v = eval(&p, &with(tdx_claims(), "tdx.tcb_status", "Fine"));
    assert_rejected_by(&v, "tdx.tcb.statuses", "tdx.tcb_status");
    let mut claims = tdx_claims();
    claims.values.remove("tdx.tcb_status");
    assert_rejected_by(&eval(&p, &claims), "tdx.tcb.statuses", "tdx.tcb_status");
}

#[test]
fn grace_period_boundary_one_second_either_side() {
    let p = policy("[tdx.tcb]\nstatuses = [\"UpToDate\", \"OutOfDate\"]\ngrace_period = \"30d\"\n");
    let claims = with(tdx_claims(), "tdx.tcb_status", "OutOfDate");
    let deadline = TCB_DATE + 30 * DAY;

    assert_accepted(&eval_at(&p, &claims, deadline - 1));
    let v = eval_at(&p, &claims, deadline);
    assert_accepted(&v);
    assert!(
        v.matched
            .iter()
            .any(|m| m.rule == "tdx.tcb.grace_period" && m.detail.contains("2024-04-12T00:00:00Z"))
    );

    let v = eval_at(&p, &claims, deadline + 1);
    let f = assert_rejected_by(&v, "tdx.tcb.grace_period", "tdx.tcb_date");
    assert_eq!(f.seen, Some(json!(TCB_DATE)));
    assert!(f.allowed.contains("2024-03-13T00:00:01Z"), "{}", f.allowed);
    assert!(f.allowed.contains("ended at"), "{}", f.allowed);
}

#[test]
fn grace_period_applies_to_out_of_date_configuration_needed_too() {
    let p =
        policy("[tdx.tcb]\nstatuses = [\"OutOfDateConfigurationNeeded\"]\ngrace_period = \"1d\"\n");
    let claims = with(
        tdx_claims(),
        "tdx.tcb_status",
        "OutOfDateConfigurationNeeded",
    );
    assert_accepted(&eval_at(&p, &claims, TCB_DATE + DAY));
    let v = eval_at(&p, &claims, TCB_DATE + DAY + 1);
    assert_rejected_by(&v, "tdx.tcb.grace_period", "tdx.tcb_date");

    // Not out of date: no grace period involved.
    let p = policy("[tdx.tcb]\nstatuses = [\"UpToDate\", \"OutOfDate\"]\ngrace_period = 0\n");
    assert_accepted(&eval_at(&p, &tdx_claims(), i64::MAX));
}

#[test]
fn grace_period_needs_the_tcb_date() {
    let p = policy("[tdx.tcb]\nstatuses = [\"OutOfDate\"]\ngrace_period = \"30d\"\n");
    let mut claims = with(tdx_claims(), "tdx.tcb_status", "OutOfDate");
    claims.values.remove("tdx.tcb_date");
    assert_rejected_by(&eval(&p, &claims), "tdx.tcb.grace_period", "tdx.tcb_date");
    // Extreme values do not overflow.
    let claims = with(claims, "tdx.tcb_date", i64::MIN);
    assert_rejected_by(
        &eval_at(&p, &claims, i64::MAX),
        "tdx.tcb.grace_period",
        "tdx.tcb_date",
    );
}

#[test]
fn dev_mode_accepts_out_of_date_without_limit() {
    let claims = with(tdx_claims(), "tdx.tcb_status", "OutOfDate");
    let v = eval_at(&Policy::dev(), &claims, NOW + 3650 * DAY);
    assert_accepted(&v);
    assert!(v.matched.iter().any(|m| m.rule == "tdx.tcb.grace_period"));
}

// ---- advisories ----

#[test]
fn denied_advisories_reject() {
    let p = policy("[tdx.tcb]\ndenied_advisories = [\"INTEL-SA-00837\"]\n");
    assert_accepted(&eval(&p, &tdx_claims()));
    let claims = with(
        tdx_claims(),
        "tdx.advisory_ids",
        json!(["intel-sa-00837", "INTEL-SA-00615"]),
    );
    let f = assert_rejected_by(
        &eval(&p, &claims),
        "tdx.tcb.denied_advisories",
        "tdx.advisory_ids",
    );
    assert!(f.allowed.contains("found intel-sa-00837"), "{}", f.allowed);
}

#[test]
fn allowed_advisories_reject_anything_else() {
    let p = policy("[tdx.tcb]\nallowed_advisories = [\"INTEL-SA-00615\"]\n");
    assert_accepted(&eval(
        &p,
        &with(tdx_claims(), "tdx.advisory_ids", json!(["INTEL-SA-00615"])),
    ));
    let claims = with(
        tdx_claims(),
        "tdx.advisory_ids",
        json!(["INTEL-SA-00615", "INTEL-SA-00289"]),
    );
    let f = assert_rejected_by(
        &eval(&p, &claims),
        "tdx.tcb.allowed_advisories",
        "tdx.advisory_ids",
    );
    assert!(f.allowed.contains("INTEL-SA-00289 is not"), "{}", f.allowed);
    let mut claims = tdx_claims();
    claims.values.remove("tdx.advisory_ids");
    assert_rejected_by(&eval(&p, &claims), "tdx.tcb.advisories", "tdx.advisory_ids");
}

// ---- collateral age ----

#[test]
fn max_collateral_age() {
    // Issued 30 days before its next update, i.e. at 2025-06-19T10:00:35Z.
    let issued = NEXT_UPDATE - 30 * DAY;
    let p = policy("[tdx.tcb]\nmax_collateral_age = \"7d\"\n");
    assert_accepted(&eval_at(&p, &tdx_claims(), issued + 7 * DAY));
    let v = eval_at(&p, &tdx_claims(), issued + 7 * DAY + 1);
    let f = assert_rejected_by(
        &v,
        "tdx.tcb.max_collateral_age",
        "tdx.collateral_next_update",
    );
    assert_eq!(f.seen, Some(json!(NEXT_UPDATE)));
    let mut claims = tdx_claims();
    claims.values.remove("tdx.collateral_next_update");
    assert_rejected_by(
        &eval(&p, &claims),
        "tdx.tcb.max_collateral_age",
        "tdx.collateral_next_update",
    );
}

// ---- platform pins (DV-04) ----

#[test]
fn dv04_rejects_another_machine_by_ppid() {
    let p = policy(&format!("[tdx.platform]\nppid = \"{PPID}\"\n"));
    let v = eval(&p, &tdx_claims());
    assert_accepted(&v);
    assert!(v.matched.iter().any(|m| m.rule == "tdx.platform.ppid"));

    // Same measurements, another machine.
    let other = "ffeeddccbbaa99887766554433221100";
    let f = assert_rejected_by(
        &eval(&p, &with(tdx_claims(), "tdx.ppid", other)),
        "tdx.platform.ppid",
        "tdx.ppid",
    );
    assert_eq!(f.seen, Some(json!(other)));
    assert_eq!(f.allowed, format!("one of [\"{PPID}\"]"));
}

#[test]
fn dv04_rejects_another_platform_model_by_fmspc() {
    let p = policy("[tdx.platform]\nfmspc = [\"B0C06F000000\", \"00806f050000\"]\n");
    assert_accepted(&eval(&p, &tdx_claims()));
    let v = eval(&p, &with(tdx_claims(), "tdx.fmspc", "90c06f000000"));
    assert_rejected_by(&v, "tdx.platform.fmspc", "tdx.fmspc");
}

#[test]
fn dv04_rejects_another_platform_instance() {
    let id = "0102030405060708090a0b0c0d0e0f10";
    let p = policy(&format!(
        "[tdx.platform]\nplatform_instance_id = \"{id}\"\n"
    ));
    let v = eval(&p, &tdx_claims()); // the claim is absent
    let f = assert_rejected_by(
        &v,
        "tdx.platform.platform_instance_id",
        "tdx.platform_instance_id",
    );
    assert_eq!(f.seen, None);
    assert_accepted(&eval(
        &p,
        &with(tdx_claims(), "tdx.platform_instance_id", id),
    ));
}

// ---- event log ----

const COMPOSE_HASH: &str = "2911e1f733466216dedb862d6d669e11256ee7a34ce4dbc66c4b807ba7a9c895";

fn event(imr: u8, name: &str, payload: &str) -> Value {
    json!({"imr": imr, "event_type": 0x0800_0001u32, "digest": ZERO48, "name": name, "payload": payload})
}

fn with_events(events: Vec<Value>) -> Claims {
    with(tdx_claims(), "tdx.events", Value::Array(events))
}

fn compose_policy() -> Policy {
    policy(&format!(
        "[[tdx.events]]\nrtmr = 3\nname = \"compose-hash\"\npayload = \"{COMPOSE_HASH}\"\n"
    ))
}

#[test]
fn expected_event_accepts() {
    let claims = with_events(vec![
        event(3, "app-id", "2911e1f733466216dedb862d6d669e11256ee7a3"),
        event(3, "compose-hash", &COMPOSE_HASH.to_uppercase()),
    ]);
    let v = eval(&compose_policy(), &claims);
    assert_accepted(&v);
    assert!(v.matched.iter().any(|m| m.rule == "tdx.events[0]"));
}

#[test]
fn event_with_other_payload_rejects_with_the_event() {
    let other = format!("{}0", &COMPOSE_HASH[..63]);
    let claims = with_events(vec![event(3, "compose-hash", &other)]);
    let f = assert_rejected_by(
        &eval(&compose_policy(), &claims),
        "tdx.events[0]",
        "tdx.events[rtmr=3, name=\"compose-hash\"]",
    );
    assert_eq!(f.seen.unwrap()["payload"], json!(other));
    assert!(f.allowed.contains(COMPOSE_HASH), "{}", f.allowed);
}

#[test]
fn missing_event_rejects() {
    let claims = with_events(vec![event(3, "app-id", "00")]);
    let f = assert_rejected_by(
        &eval(&compose_policy(), &claims),
        "tdx.events[0]",
        "tdx.events[rtmr=3, name=\"compose-hash\"]",
    );
    assert_eq!(f.seen, None);
    // In another RTMR it does not count.
    let claims = with_events(vec![event(2, "compose-hash", COMPOSE_HASH)]);
    assert!(!eval(&compose_policy(), &claims).accepted);
    // No event log at all.
    let v = eval(&compose_policy(), &tdx_claims());
    assert_rejected_by(&v, "tdx.events[0]", "tdx.events");
}

#[test]
fn a_second_event_of_the_same_name_cannot_shadow_the_expected_one() {
    let claims = with_events(vec![
        event(3, "compose-hash", COMPOSE_HASH),
        event(3, "compose-hash", "00"),
    ]);
    let v = eval(&compose_policy(), &claims);
    let f = assert_rejected_by(
        &v,
        "tdx.events[0]",
        "tdx.events[rtmr=3, name=\"compose-hash\"]",
    );
    assert_eq!(f.seen.unwrap()["payload"], json!("00"));
}

#[test]
fn unnamed_event_rule_matches_by_digest() {
    let digest = RTMR1;
    let p = policy(&format!(
        "[[tdx.events]]\nrtmr = 1\ndigest = \"{digest}\"\n"
    ));
    let mut e = event(1, "boot", "");
    e["digest"] = json!(digest);
    assert_accepted(&eval(&p, &with_events(vec![event(1, "x", ""), e])));
    let v = eval(&p, &with_events(vec![event(1, "x", "")]));
    assert_rejected_by(&v, "tdx.events[0]", "tdx.events[rtmr=1]");
}

// ---- attestation results ----

fn ear_claims(developer: &str, iat: i64, status: &str) -> Claims {
    let mut claims = Claims::new(EAR_CWT_MEDIA_TYPE);
    claims.insert("ear.iat", iat);
    claims.insert("ear.profile", "tag:github.com,2023:veraison/ear");
    claims.insert(
        "ear.verifier_id",
        json!({"developer": developer, "build": "v1.2"}),
    );
    let mut sub = Claims::new(EAR_CWT_MEDIA_TYPE);
    sub.insert("ear.status", status);
    sub.insert("tdx.mr_td", MRTD);
    claims.submods.insert("tdx".into(), sub);
    claims
}

fn ear_policy() -> Policy {
    Policy::from_toml_str(
        "version = 1\n[evidence]\naccept = [\"ear\"]\n[attestation_results]\n\
         issuers = [{ developer = \"https://veraison-project.org\" }, { developer = \"https://other.example\", build = \"v2\" }]\n\
         max_age = \"5m\"\n",
    )
    .unwrap()
}

#[test]
fn attestation_results_from_accepted_issuers() {
    let claims = ear_claims("https://veraison-project.org", NOW - 300, "affirming");
    assert_accepted(&eval(&ear_policy(), &claims));

    let claims = ear_claims("https://other.example", NOW, "affirming");
    let f = assert_rejected_by(
        &eval(&ear_policy(), &claims),
        "attestation_results.issuers",
        "ear.verifier_id",
    );
    assert!(f.allowed.contains("build \"v2\""), "{}", f.allowed);

    let claims = ear_claims("https://evil.example", NOW, "affirming");
    assert_rejected_by(
        &eval(&ear_policy(), &claims),
        "attestation_results.issuers",
        "ear.verifier_id",
    );
}

#[test]
fn attestation_results_too_old_or_not_affirming() {
    let claims = ear_claims("https://veraison-project.org", NOW - 301, "affirming");
    assert_rejected_by(
        &eval(&ear_policy(), &claims),
        "attestation_results.max_age",
        "ear.iat",
    );

    let claims = ear_claims("https://veraison-project.org", NOW, "warning");
    let f = assert_rejected_by(
        &eval(&ear_policy(), &claims),
        "attestation_results.status",
        "submods[tdx].ear.status",
    );
    assert_eq!(f.seen, Some(json!("warning")));

    let mut claims = ear_claims("https://veraison-project.org", NOW, "affirming");
    claims.submods.clear();
    assert_rejected_by(
        &eval(&ear_policy(), &claims),
        "attestation_results.status",
        "submods",
    );
}

#[test]
fn tdx_only_policy_rejects_attestation_results() {
    let claims = ear_claims("https://veraison-project.org", NOW, "affirming");
    assert_rejected_by(
        &eval(&policy(""), &claims),
        "evidence.accept",
        "evidence_type",
    );
}

// ---- generic claim rules ----

#[test]
fn claim_rules_on_top_level_and_submodules() {
    let p = Policy::from_toml_str(&format!(
        "version = 1\n[evidence]\naccept = [\"ear\"]\n\
         [[claims]]\nclaim = \"tdx.mr_td\"\nsubmod = \"tdx\"\none_of = [\"{MRTD}\"]\n\
         [[claims]]\nclaim = \"ear.profile\"\none_of = [\"tag:github.com,2023:veraison/ear\"]\n"
    ))
    .unwrap();
    let claims = ear_claims("x", NOW, "affirming");
    let v = eval(&p, &claims);
    assert_accepted(&v);
    assert!(v.matched.iter().any(|m| m.rule == "claims[0]"));

    let mut claims = ear_claims("x", NOW, "affirming");
    claims
        .submods
        .get_mut("tdx")
        .unwrap()
        .insert("tdx.mr_td", RTMR0);
    let f = assert_rejected_by(&eval(&p, &claims), "claims[0]", "submods[tdx].tdx.mr_td");
    assert_eq!(f.seen, Some(json!(RTMR0)));
}

#[test]
fn insecure_test_only_preset() {
    let mut claims = Claims::new(INSECURE_TEST_EVIDENCE_MEDIA_TYPE);
    claims.insert("test.platform", "lab-1");
    assert_accepted(&eval(&Policy::insecure_test_only(), &claims));
    assert!(!eval(&Policy::insecure_test_only(), &tdx_claims()).accepted);
    assert!(!eval(&Policy::dev(), &claims).accepted);
}

// ---- whole verdicts ----

#[test]
fn a_rejection_lists_every_failing_rule() {
    let p = policy(&format!(
        "[tdx.tcb]\ndenied_advisories = [\"INTEL-SA-00837\"]\n[tdx.platform]\nfmspc = \"{FMSPC}\"\n"
    ));
    let mut claims = tdx_claims();
    claims.insert("tdx.debug", true);
    claims.insert("tdx.rtmr2", ZERO48);
    claims.insert("tdx.tcb_status", "OutOfDate");
    claims.insert("tdx.advisory_ids", json!(["INTEL-SA-00837"]));
    claims.insert("tdx.fmspc", "00806f050000");
    let v = eval(&p, &claims);
    let rules: Vec<&str> = v.failures.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "tdx.debug",
            "tdx.measurements[sample]",
            "tdx.tcb.statuses",
            "tdx.tcb.denied_advisories",
            "tdx.platform.fmspc"
        ]
    );
    let message = v.into_result().unwrap_err().to_string();
    assert!(
        message
            .starts_with("rejected by policy (5 failing rules): [tdx.debug] tdx.debug: seen true"),
        "{message}"
    );
    assert!(message.contains("tdx.rtmr2"), "{message}");
}

#[test]
fn dev_preset_accepts_any_measurements_but_still_needs_tdx_claims() {
    let v = eval(&Policy::dev(), &with(tdx_claims(), "tdx.mr_td", ZERO48));
    assert_accepted(&v);
    let v = eval(&Policy::dev(), &Claims::new(TDX_QUOTE_MEDIA_TYPE));
    let claims: Vec<&str> = v.failures.iter().map(|f| f.claim.as_str()).collect();
    assert_eq!(claims, ["tdx.tcb_status"]);
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "[0-9a-fA-F]{0,100}".prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Arbitrary claim values never make evaluation panic, and a verdict is accepted
    /// exactly when it lists no failure.
    #[test]
    fn evaluation_never_panics(
        values in prop::collection::vec((0usize..24, json_value()), 0..12),
        now in any::<i64>(),
    ) {
        let names = [
            "tdx.mr_td", "tdx.rtmr0", "tdx.rtmr1", "tdx.rtmr2", "tdx.rtmr3", "tdx.xfam",
            "tdx.td_attributes", "tdx.debug", "tdx.tcb_status", "tdx.tcb_date",
            "tdx.advisory_ids", "tdx.collateral_next_update", "tdx.ppid", "tdx.fmspc",
            "tdx.platform_instance_id", "tdx.events", "ear.iat", "ear.status",
            "ear.verifier_id", "tdx.mr_config_id", "tdx.mr_owner", "tdx.mr_seam",
            "test.platform", "tdx.mr_owner_config",
        ];
        let mut claims = tdx_claims();
        for (i, value) in values {
            claims.insert(names[i], value);
        }
        let full = policy(&format!(
            "[tdx.tcb]\nstatuses = [\"UpToDate\", \"OutOfDate\"]\ngrace_period = \"30d\"\n\
             denied_advisories = [\"A\"]\nallowed_advisories = [\"B\"]\nmax_collateral_age = \"1d\"\n\
             [tdx.platform]\nppid = \"{PPID}\"\nfmspc = \"{FMSPC}\"\n\
             [[tdx.events]]\nrtmr = 3\nname = \"compose-hash\"\npayload = \"{COMPOSE_HASH}\"\n\
             [[tdx.events]]\ndigest = \"{ZERO48}\"\n\
             [attestation_results]\nissuers = [{{ developer = \"x\" }}]\nmax_age = 60\n"
        ));
        for p in [full, Policy::dev(), Policy::strict(), ear_policy()] {
            let v = eval_at(&p, &claims, now);
            prop_assert_eq!(v.accepted, v.failures.is_empty());
            let mut ear = ear_claims("x", now, "affirming");
            ear.values.extend(claims.values.clone());
            let v = eval_at(&p, &ear, now);
            prop_assert_eq!(v.accepted, v.failures.is_empty());
        }
    }
}
