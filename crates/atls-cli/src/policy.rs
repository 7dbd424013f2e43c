//! `atls policy test`: dry-run a policy against recorded claims or a quote, with the
//! explained verdict.

use std::path::{Path, PathBuf};

use atls_evidence::Claims;
use atls_policy::{EvaluationContext, Policy};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::{EXIT_REJECTED, Failure};

#[derive(Subcommand)]
pub(crate) enum PolicyCommand {
    /// Evaluate a policy against claims (JSON) or a quote with its collateral, and explain
    /// the verdict. Exit 0 accepted, 1 rejected, 2 unusable input.
    Test(TestArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["claims", "quote"])))]
pub(crate) struct TestArgs {
    /// The policy (TOML, or JSON when the file ends in .json).
    #[arg(long)]
    policy: PathBuf,
    /// Recorded claims (JSON, as an attested connection logs them).
    #[arg(long)]
    claims: Option<PathBuf>,
    /// A TDX quote to appraise (with --collateral and --at) before evaluating.
    #[arg(long, requires_all = ["collateral", "at"])]
    quote: Option<PathBuf>,
    /// Collateral for --quote (dcap-qvl QuoteCollateralV3 JSON).
    #[arg(long)]
    collateral: Option<PathBuf>,
    /// Evaluation (and appraisal) time, Unix seconds. Defaults to now for --claims.
    #[arg(long, value_name = "UNIX_SECONDS")]
    at: Option<u64>,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

/// Loads a policy document, TOML or JSON.
pub(crate) fn load(path: &Path) -> Result<Policy, Failure> {
    let bytes = crate::tdx::read(path, "policy")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::unusable(format!("policy {}: not UTF-8", path.display())))?;
    let parsed = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Policy::from_json_str(&text),
        _ => Policy::from_toml_str(&text),
    };
    parsed.map_err(|e| Failure::unusable(format!("policy {}: {e}", path.display())))
}

/// A verdict as the CLI reports it.
pub(crate) struct Outcome {
    pub(crate) accepted: bool,
    pub(crate) reasons: Vec<Value>,
    pub(crate) json: Value,
}

pub(crate) fn evaluate(policy: &Policy, claims: &Claims, now_unix: i64) -> Outcome {
    let verdict = policy.evaluate(claims, &EvaluationContext::new(now_unix));
    let reasons = verdict
        .failures
        .iter()
        .map(|f| {
            json!({
                "rule": f.rule,
                "claim": f.claim,
                "seen": f.seen,
                "allowed": f.allowed,
            })
        })
        .collect();
    Outcome {
        accepted: verdict.accepted,
        reasons,
        json: serde_json::to_value(&verdict).unwrap_or(Value::Null),
    }
}

pub(crate) fn run(cmd: PolicyCommand) -> Result<u8, Failure> {
    let PolicyCommand::Test(args) = cmd;
    let policy = load(&args.policy)?;
    let (claims, now) = match (&args.claims, &args.quote, &args.collateral, args.at) {
        (Some(path), _, _, at) => {
            let bytes = crate::tdx::read(path, "claims")?;
            let claims: Claims = serde_json::from_slice(&bytes).map_err(|e| {
                Failure::unusable(format!(
                    "claims {}: expected a claims JSON object: {e}",
                    path.display()
                ))
            })?;
            (claims, at.unwrap_or_else(now_unix))
        }
        (None, Some(quote), Some(collateral), Some(at)) => {
            let bytes = crate::tdx::read(quote, "quote")?;
            let collateral = crate::tdx::read_collateral(collateral)?;
            match atls_tdx::Appraiser::intel_production().appraise(&bytes, &collateral, at) {
                Ok(verdict) => (verdict.claims(), at),
                Err(e) => {
                    let out = json!({
                        "accepted": false,
                        "reasons": [{"rule": "dcap", "reason": e.to_string()}],
                    });
                    print(&out, args.json);
                    return Ok(EXIT_REJECTED);
                }
            }
        }
        _ => {
            return Err(Failure::unusable(
                "give --claims, or --quote with --collateral and --at",
            ));
        }
    };
    let outcome = evaluate(&policy, &claims, now as i64);
    let out = json!({
        "accepted": outcome.accepted,
        "verdict": outcome.json,
        "reasons": outcome.reasons,
        "at": now,
    });
    print(&out, args.json);
    Ok(if outcome.accepted { 0 } else { EXIT_REJECTED })
}

fn print(out: &Value, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string_pretty(out).unwrap_or_default());
        return;
    }
    let accepted = out.get("accepted") == Some(&json!(true));
    println!("{}", if accepted { "ACCEPTED" } else { "REJECTED" });
    if let Some(Value::Array(matched)) = out.pointer("/verdict/matched") {
        for m in matched {
            println!(
                "  matched  {}: {}",
                m.get("rule").and_then(Value::as_str).unwrap_or_default(),
                m.get("detail").and_then(Value::as_str).unwrap_or_default()
            );
        }
    }
    if let Some(Value::Array(reasons)) = out.get("reasons") {
        for r in reasons {
            println!("  FAILED   {}", crate::tdx::describe_reason(r));
        }
    }
}

/// The CLI reads the clock for `--claims` without `--at`; libraries never do.
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
