//! Evaluation of each rule kind. Every rule adds to the verdict what matched or, on
//! failure, the claim, the value seen and what was allowed; none stops the evaluation.

use std::time::{Duration, SystemTime};

use atls_evidence::{Claims, MediaType};
use serde_json::Value;

use crate::policy::{
    ClaimRule, EvaluationContext, EventRule, Kind, MeasurementSet, Mode, Policy, Register,
    TdxRules, kind_of,
};
use crate::values::{TcbStatus, parse_hex};
use crate::verdict::Verdict;

/// How long Intel's collateral (TCB info, QE identity) is valid after it is issued; the
/// collateral's age is derived from its next-update time with it.
pub(crate) const COLLATERAL_VALIDITY_SECS: i64 = 30 * 86_400;

/// `1710288000 (2024-03-13T00:00:00Z)`.
fn fmt_time(secs: i128) -> String {
    let readable = u64::try_from(secs)
        .ok()
        .filter(|s| *s <= 253_402_300_799) // 9999-12-31T23:59:59Z
        .and_then(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .map(|t| format!(" ({})", humantime::format_rfc3339_seconds(t)));
    format!("{secs}{}", readable.unwrap_or_default())
}

/// `30d 0h` style for durations in explanations.
fn fmt_duration(secs: u64) -> String {
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

fn quoted_hex(values: &[Vec<u8>]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| format!("\"{}\"", hex::encode(v)))
        .collect();
    format!("one of [{}]", items.join(", "))
}

fn quoted(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[{}]", items.join(", "))
}

/// Whether `seen` is a hex string whose bytes are one of `allowed`.
fn hex_in(seen: Option<&Value>, allowed: &[Vec<u8>]) -> bool {
    seen.and_then(Value::as_str)
        .and_then(|s| parse_hex(s, 0).ok())
        .is_some_and(|bytes| allowed.contains(&bytes))
}

/// The evidence type must be one the policy accepts; returns the kind of evidence, which
/// selects the technology rules that apply.
pub(crate) fn evidence_type(policy: &Policy, claims: &Claims, v: &mut Verdict) -> Kind {
    const RULE: &str = "evidence.accept";
    let allowed = || {
        let items: Vec<String> = policy
            .accept
            .iter()
            .map(|t| {
                let types: Vec<&str> = t.media_types.iter().map(MediaType::as_str).collect();
                format!("{} ({})", t.label, types.join(" or "))
            })
            .collect();
        format!("one of: {}", items.join(", "))
    };
    let seen = Value::from(claims.evidence_type.as_str());
    let Ok(media_type) = MediaType::parse(&claims.evidence_type) else {
        v.fail(RULE, "evidence_type", Some(&seen), allowed());
        return Kind::Other;
    };
    match policy
        .accept
        .iter()
        .find(|t| t.media_types.contains(&media_type))
    {
        Some(t) => v.matched(RULE, t.label.clone()),
        None => v.fail(RULE, "evidence_type", Some(&seen), allowed()),
    }
    kind_of(&media_type)
}

/// The TDX rules.
pub(crate) fn tdx(policy: &Policy, claims: &Claims, ctx: &EvaluationContext, v: &mut Verdict) {
    let rules = &policy.tdx;
    debug(policy.mode, claims, v);
    measurements(policy.mode, &rules.measurements, claims, v);
    tcb_status(rules, claims, ctx, v);
    advisories(rules, claims, v);
    collateral_age(rules, claims, ctx, v);
    platform(rules, claims, v);
    events(&rules.events, claims, v);
}

fn debug(mode: Mode, claims: &Claims, v: &mut Verdict) {
    const RULE: &str = "tdx.debug";
    const FLAG: &str = "tdx.debug";
    const ATTRIBUTES: &str = "tdx.td_attributes";
    let flag = claims.get(FLAG);
    let attributes = claims.get(ATTRIBUTES);
    let flag_debug = flag.and_then(Value::as_bool);
    let attributes_debug = attributes
        .and_then(Value::as_str)
        .and_then(|h| parse_hex(h, 8).ok())
        .and_then(|bytes| bytes.first().map(|b| b & 1 == 1));
    let is_debug = flag_debug == Some(true) || attributes_debug == Some(true);
    if mode == Mode::Dev {
        let detail = if is_debug {
            "debug TD accepted (dev mode)"
        } else {
            "not a debug TD"
        };
        v.matched(RULE, detail);
        return;
    }
    const ONLY_DEV: &str = "debug TDs are accepted only by a mode = \"dev\" policy";
    if flag_debug == Some(true) {
        v.fail(RULE, FLAG, flag, format!("false ({ONLY_DEV})"));
    }
    if attributes_debug == Some(true) {
        v.fail(
            RULE,
            ATTRIBUTES,
            attributes,
            format!("TD attributes with the DEBUG bit (bit 0) clear ({ONLY_DEV})"),
        );
    }
    if flag_debug.is_none() && attributes_debug.is_none() {
        v.fail(
            RULE,
            FLAG,
            flag,
            "false: the evidence must say whether the TD is a debug TD",
        );
    } else if !is_debug {
        v.matched(RULE, "not a debug TD");
    }
}

fn measurements(mode: Mode, sets: &[MeasurementSet], claims: &Claims, v: &mut Verdict) {
    const RULE: &str = "tdx.measurements";
    if sets.is_empty() {
        if mode == Mode::Production {
            let claim = Register::MrTd.claim();
            v.fail(
                RULE,
                claim,
                claims.get(claim),
                "a pinned measurement set, and this production policy pins none",
            );
        } else {
            v.matched(RULE, "any measurements (dev mode, no set pinned)");
        }
        return;
    }
    let mut mismatched = Vec::new();
    for set in sets {
        let mismatches: Vec<(Register, &[Vec<u8>])> = set
            .pinned()
            .filter(|(register, allowed)| !hex_in(claims.get(register.claim()), allowed))
            .collect();
        if mismatches.is_empty() {
            v.matched(RULE, format!("set {:?}", set.name()));
            return;
        }
        mismatched.push((set, mismatches));
    }
    // No set matched: explain, for every set, each register that differs.
    for (set, mismatches) in mismatched {
        for (register, allowed) in mismatches {
            v.fail(
                format!("{RULE}[{}]", set.name()),
                register.claim(),
                claims.get(register.claim()),
                quoted_hex(allowed),
            );
        }
    }
}

fn tcb_status(rules: &TdxRules, claims: &Claims, ctx: &EvaluationContext, v: &mut Verdict) {
    const RULE: &str = "tdx.tcb.statuses";
    const CLAIM: &str = "tdx.tcb_status";
    let seen = claims.get(CLAIM);
    let allowed = || {
        let names: Vec<String> = rules.statuses.iter().map(|s| s.to_string()).collect();
        format!("one of {}", quoted(&names))
    };
    let status = seen
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<TcbStatus>().ok());
    let Some(status) = status else {
        v.fail(RULE, CLAIM, seen, allowed());
        return;
    };
    if status == TcbStatus::Revoked {
        v.fail(
            RULE,
            CLAIM,
            seen,
            format!("{}; a revoked platform is never accepted", allowed()),
        );
        return;
    }
    if !rules.statuses.contains(&status) {
        v.fail(RULE, CLAIM, seen, allowed());
        return;
    }
    v.matched(RULE, status.as_str());
    if status.is_out_of_date() {
        grace_period(rules.grace_period, status, claims, ctx, v);
    }
}

/// An out-of-date platform is accepted until `tcb_date + grace_period` inclusive.
fn grace_period(
    grace: Option<u64>,
    status: TcbStatus,
    claims: &Claims,
    ctx: &EvaluationContext,
    v: &mut Verdict,
) {
    const RULE: &str = "tdx.tcb.grace_period";
    const CLAIM: &str = "tdx.tcb_date";
    let Some(grace) = grace else {
        v.matched(
            RULE,
            format!("{status} accepted without time limit (dev mode)"),
        );
        return;
    };
    let seen = claims.get(CLAIM);
    let Some(tcb_date) = seen.and_then(Value::as_i64) else {
        v.fail(
            RULE,
            CLAIM,
            seen,
            format!(
                "the platform's TCB date (Unix seconds), from which the {} grace period for \
                 {status} platforms is counted",
                fmt_duration(grace)
            ),
        );
        return;
    };
    let now = i128::from(ctx.now_unix);
    let deadline = i128::from(tcb_date) + i128::from(grace);
    if now <= deadline {
        v.matched(
            RULE,
            format!(
                "{status} platform within its {} grace period, until {}",
                fmt_duration(grace),
                fmt_time(deadline)
            ),
        );
    } else {
        v.fail(
            RULE,
            CLAIM,
            seen,
            format!(
                "a TCB date no earlier than {} for an {status} platform: the {} grace period \
                 ended at {}, before now {}",
                fmt_time(now - i128::from(grace)),
                fmt_duration(grace),
                fmt_time(deadline),
                fmt_time(now)
            ),
        );
    }
}

fn advisories(rules: &TdxRules, claims: &Claims, v: &mut Verdict) {
    const CLAIM: &str = "tdx.advisory_ids";
    if rules.allowed_advisories.is_none() && rules.denied_advisories.is_empty() {
        return;
    }
    let seen = claims.get(CLAIM);
    let ids: Option<Vec<&str>> = seen
        .and_then(Value::as_array)
        .and_then(|ids| ids.iter().map(Value::as_str).collect());
    let Some(ids) = ids else {
        v.fail(
            "tdx.tcb.advisories",
            CLAIM,
            seen,
            "the list of the platform's advisory ids",
        );
        return;
    };
    let contains = |list: &[String], id: &str| list.iter().any(|a| a.eq_ignore_ascii_case(id));
    let mut failed = false;
    for id in &ids {
        if contains(&rules.denied_advisories, id) {
            failed = true;
            v.fail(
                "tdx.tcb.denied_advisories",
                CLAIM,
                seen,
                format!(
                    "no advisory among {} (found {id})",
                    quoted(&rules.denied_advisories)
                ),
            );
        }
        if let Some(allowed) = &rules.allowed_advisories
            && !contains(allowed, id)
        {
            failed = true;
            v.fail(
                "tdx.tcb.allowed_advisories",
                CLAIM,
                seen,
                format!("only advisories among {} ({id} is not)", quoted(allowed)),
            );
        }
    }
    if !failed {
        let listed: Vec<String> = ids.iter().map(ToString::to_string).collect();
        v.matched(
            "tdx.tcb.advisories",
            format!("advisories {}", quoted(&listed)),
        );
    }
}

fn collateral_age(rules: &TdxRules, claims: &Claims, ctx: &EvaluationContext, v: &mut Verdict) {
    const RULE: &str = "tdx.tcb.max_collateral_age";
    const CLAIM: &str = "tdx.collateral_next_update";
    let Some(max_age) = rules.max_collateral_age else {
        return;
    };
    let seen = claims.get(CLAIM);
    let Some(next_update) = seen.and_then(Value::as_i64) else {
        v.fail(
            RULE,
            CLAIM,
            seen,
            "the collateral's next-update time (Unix seconds), from which its age is derived",
        );
        return;
    };
    let now = i128::from(ctx.now_unix);
    let issued = i128::from(next_update) - i128::from(COLLATERAL_VALIDITY_SECS);
    let age = now - issued;
    if age <= i128::from(max_age) {
        v.matched(
            RULE,
            format!(
                "collateral issued about {} s ago (next update {}), at most {} allowed",
                age.max(0),
                fmt_time(next_update.into()),
                fmt_duration(max_age)
            ),
        );
    } else {
        v.fail(
            RULE,
            CLAIM,
            seen,
            format!(
                "collateral issued at most {} before now, i.e. a next update no earlier than \
                 {} (collateral is valid for 30 days after issue)",
                fmt_duration(max_age),
                fmt_time(now - i128::from(max_age) + i128::from(COLLATERAL_VALIDITY_SECS))
            ),
        );
    }
}

fn platform(rules: &TdxRules, claims: &Claims, v: &mut Verdict) {
    let pins = [
        ("tdx.platform.ppid", "tdx.ppid", &rules.ppid),
        (
            "tdx.platform.platform_instance_id",
            "tdx.platform_instance_id",
            &rules.platform_instance_id,
        ),
        ("tdx.platform.fmspc", "tdx.fmspc", &rules.fmspc),
    ];
    for (rule, claim, allowed) in pins {
        if allowed.is_empty() {
            continue;
        }
        let seen = claims.get(claim);
        if hex_in(seen, allowed) {
            let shown = seen.and_then(Value::as_str).unwrap_or_default();
            v.matched(rule, shown.to_ascii_lowercase());
        } else {
            v.fail(rule, claim, seen, quoted_hex(allowed));
        }
    }
}

impl EventRule {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(rtmr) = self.rtmr {
            parts.push(format!("rtmr={rtmr}"));
        }
        if let Some(t) = self.event_type {
            parts.push(format!("event_type={t:#x}"));
        }
        if let Some(name) = &self.name {
            parts.push(format!("name={name:?}"));
        }
        format!("tdx.events[{}]", parts.join(", "))
    }

    fn expected(&self) -> String {
        let mut parts = Vec::new();
        if !self.digest.is_empty() {
            parts.push(format!("digest {}", quoted_hex(&self.digest)));
        }
        if !self.payload.is_empty() {
            parts.push(format!("payload {}", quoted_hex(&self.payload)));
        }
        let content = if parts.is_empty() {
            String::new()
        } else {
            format!(" with {}", parts.join(" and "))
        };
        match &self.name {
            Some(_) => format!("at least one such event, every one{content}"),
            None => format!("an event{content}"),
        }
    }

    fn selects(&self, event: &Value) -> bool {
        let field = |name: &str| event.get(name);
        self.rtmr
            .is_none_or(|r| field("imr").and_then(Value::as_u64) == Some(u64::from(r)))
            && self
                .event_type
                .is_none_or(|t| field("event_type").and_then(Value::as_u64) == Some(u64::from(t)))
            && self
                .name
                .as_deref()
                .is_none_or(|n| field("name").and_then(Value::as_str) == Some(n))
    }

    fn content_matches(&self, event: &Value) -> bool {
        (self.digest.is_empty() || hex_in(event.get("digest"), &self.digest))
            && (self.payload.is_empty() || hex_in(event.get("payload"), &self.payload))
    }
}

fn events(rules: &[EventRule], claims: &Claims, v: &mut Verdict) {
    const CLAIM: &str = "tdx.events";
    if rules.is_empty() {
        return;
    }
    let seen = claims.get(CLAIM);
    let log = seen.and_then(Value::as_array);
    for (i, rule) in rules.iter().enumerate() {
        let name = format!("{CLAIM}[{i}]");
        let Some(log) = log else {
            v.fail(
                name,
                CLAIM,
                seen,
                format!("an event log with {}", rule.describe()),
            );
            continue;
        };
        let selected: Vec<&Value> = log.iter().filter(|e| rule.selects(e)).collect();
        if rule.name.is_some() {
            // Named events: every event of that name must carry the expected content, so a
            // later event cannot stand in for (or shadow) the expected one.
            if selected.is_empty() {
                v.fail(name, rule.describe(), None, rule.expected());
                continue;
            }
            let bad: Vec<&Value> = selected
                .iter()
                .copied()
                .filter(|e| !rule.content_matches(e))
                .collect();
            if bad.is_empty() {
                v.matched(name.clone(), format!("{} as expected", rule.describe()));
            }
            for event in bad {
                v.fail(name.clone(), rule.describe(), Some(event), rule.expected());
            }
        } else if selected.iter().any(|e| rule.content_matches(e)) {
            v.matched(name, format!("{} present", rule.expected()));
        } else {
            v.fail(name, rule.describe(), None, rule.expected());
        }
    }
}

/// The attestation-result rules: every status affirming, the issuer, the result's age.
pub(crate) fn attestation_result(
    policy: &Policy,
    claims: &Claims,
    ctx: &EvaluationContext,
    v: &mut Verdict,
) {
    const STATUS: &str = "ear.status";
    const AFFIRMING: &str = "affirming";
    let rules = &policy.results;

    // The verifier already refuses non-affirming results; checked again, cheaply.
    let mut statuses_ok = true;
    if let Some(seen) = claims.get(STATUS)
        && seen.as_str() != Some(AFFIRMING)
    {
        statuses_ok = false;
        v.fail("attestation_results.status", STATUS, Some(seen), AFFIRMING);
    }
    if claims.submods.is_empty() {
        statuses_ok = false;
        v.fail(
            "attestation_results.status",
            "submods",
            None,
            "at least one appraised submodule",
        );
    }
    for (label, sub) in &claims.submods {
        let seen = sub.get(STATUS);
        if seen.and_then(Value::as_str) != Some(AFFIRMING) {
            statuses_ok = false;
            v.fail(
                "attestation_results.status",
                format!("submods[{label}].{STATUS}"),
                seen,
                AFFIRMING,
            );
        }
    }
    if statuses_ok {
        v.matched("attestation_results.status", "every appraisal affirming");
    }

    if !rules.issuers.is_empty() {
        const CLAIM: &str = "ear.verifier_id";
        let seen = claims.get(CLAIM);
        let developer = seen
            .and_then(|s| s.get("developer"))
            .and_then(Value::as_str);
        let build = seen.and_then(|s| s.get("build")).and_then(Value::as_str);
        let found = rules.issuers.iter().find(|i| {
            developer == Some(i.developer.as_str())
                && i.build.as_deref().is_none_or(|b| build == Some(b))
        });
        if let Some(issuer) = found {
            v.matched("attestation_results.issuers", issuer.developer.clone());
        } else {
            let items: Vec<String> = rules
                .issuers
                .iter()
                .map(|i| match &i.build {
                    Some(b) => format!("{{developer {:?}, build {b:?}}}", i.developer),
                    None => format!("{{developer {:?}}}", i.developer),
                })
                .collect();
            v.fail(
                "attestation_results.issuers",
                CLAIM,
                seen,
                format!("one of [{}]", items.join(", ")),
            );
        }
    }

    if let Some(max_age) = rules.max_age {
        const CLAIM: &str = "ear.iat";
        let seen = claims.get(CLAIM);
        let now = i128::from(ctx.now_unix);
        match seen.and_then(Value::as_i64) {
            Some(iat) if now - i128::from(iat) <= i128::from(max_age) => v.matched(
                "attestation_results.max_age",
                format!("issued at {}", fmt_time(iat.into())),
            ),
            _ => v.fail(
                "attestation_results.max_age",
                CLAIM,
                seen,
                format!(
                    "issued at most {} before now, i.e. no earlier than {}",
                    fmt_duration(max_age),
                    fmt_time(now - i128::from(max_age))
                ),
            ),
        }
    }
}

/// A generic claim rule.
pub(crate) fn claim(i: usize, rule: &ClaimRule, claims: &Claims, v: &mut Verdict) {
    let name = format!("claims[{i}]");
    let (source, label) = match &rule.submod {
        None => (Some(claims), rule.claim.clone()),
        Some(sub) => (
            claims.submods.get(sub),
            format!("submods[{sub}].{}", rule.claim),
        ),
    };
    let seen = source.and_then(|c| c.get(&rule.claim));
    match seen {
        Some(value) if rule.one_of.contains(value) => {
            v.matched(name, format!("{label} = {value}"));
        }
        _ => {
            let items: Vec<String> = rule.one_of.iter().map(ToString::to_string).collect();
            v.fail(name, label, seen, format!("one of [{}]", items.join(", ")));
        }
    }
}

#[cfg(test)]
mod tests;
