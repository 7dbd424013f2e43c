//! `atls tdx`: inspect a quote; appraise it offline against collateral at a pinned time.

use std::path::{Path, PathBuf};

use atls_evidence::Claims;
use atls_tdx::{Appraiser, Quote, QuoteCollateralV3, QuoteError};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::{EXIT_REJECTED, Failure};

#[derive(Subcommand)]
pub(crate) enum TdxCommand {
    /// Appraise a quote (DCAP, Intel's production root) against collateral at a given time.
    /// Exit 0 accepted, 1 rejected, 2 unusable input.
    Verify(VerifyArgs),
    /// Decode and print every field of a quote.
    Inspect(InspectArgs),
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// The raw quote.
    #[arg(long)]
    quote: PathBuf,
    /// Collateral as dcap-qvl `QuoteCollateralV3` JSON.
    #[arg(long, required_unless_present = "pccs", conflicts_with = "pccs")]
    collateral: Option<PathBuf>,
    /// Fetch the collateral from this PCCS / Intel PCS base URL instead (no default: the
    /// operator chooses whom to ask), e.g. `https://pccs.example:8081/sgx/certification/v4`.
    #[arg(long, value_name = "URL")]
    pccs: Option<String>,
    /// Appraisal time, seconds since the Unix epoch (collateral is valid for a window).
    #[arg(long, value_name = "UNIX_SECONDS")]
    at: u64,
    /// Policy (TOML or JSON) to apply to the appraised claims. Without one, a quote is
    /// accepted when it appraises with TCB status UpToDate and is not a debug TD.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The raw quote.
    file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: TdxCommand) -> Result<u8, Failure> {
    match cmd {
        TdxCommand::Verify(args) => verify(&args),
        TdxCommand::Inspect(args) => inspect(&args),
    }
}

pub(crate) fn read(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::unusable(format!("cannot read {what} {}: {e}", path.display())))
}

pub(crate) fn read_collateral(path: &Path) -> Result<QuoteCollateralV3, Failure> {
    let bytes = read(path, "collateral")?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure::unusable(format!(
            "collateral {}: expected dcap-qvl QuoteCollateralV3 JSON: {e}",
            path.display()
        ))
    })
}

/// Parse errors that mean "this is a quote, but not one we accept" reject; the others say
/// the input is not a quote at all.
fn parse_rejects(e: &QuoteError) -> bool {
    matches!(
        e,
        QuoteError::NotTdx { .. }
            | QuoteError::UnsupportedVersion { .. }
            | QuoteError::UnsupportedAttestationKeyType { .. }
            | QuoteError::UnsupportedBodyType { .. }
    )
}

/// Collateral from the file, or fetched from the PCCS for the quote's platform.
fn collateral_for(args: &VerifyArgs, quote: &[u8]) -> Result<QuoteCollateralV3, Failure> {
    match (&args.collateral, &args.pccs) {
        (Some(path), _) => read_collateral(path),
        (None, Some(url)) => {
            let parsed = Quote::parse(quote)
                .map_err(|e| Failure::unusable(format!("quote {}: {e}", args.quote.display())))?;
            let key = atls_tdx::CollateralKey::for_quote(&parsed)
                .map_err(|e| Failure::unusable(format!("quote {}: {e}", args.quote.display())))?;
            eprintln!("atls: fetching collateral for {key} from {url} …");
            atls_tdx::PccsCollateral::new(atls_tdx::PccsConfig::new(url.clone()))
                .fetch_blocking(&key)
                .map_err(|e| Failure::unusable(format!("collateral from {url}: {e}")))
        }
        (None, None) => Err(Failure::unusable("give --collateral FILE or --pccs URL")),
    }
}

fn verify(args: &VerifyArgs) -> Result<u8, Failure> {
    let quote_bytes = read(&args.quote, "quote")?;
    let collateral = collateral_for(args, &quote_bytes)?;
    let policy = match &args.policy {
        Some(path) => Some(crate::policy::load(path)?),
        None => None,
    };
    let mut out = Map::new();
    let mut reasons: Vec<Value> = Vec::new();
    let appraisal = match Quote::parse(&quote_bytes) {
        Err(e) if !parse_rejects(&e) => {
            return Err(Failure::unusable(format!(
                "quote {}: {e}",
                args.quote.display()
            )));
        }
        Err(e) => Err(e.to_string()),
        Ok(_) => Appraiser::intel_production()
            .appraise(&quote_bytes, &collateral, args.at)
            .map_err(|e| e.to_string()),
    };
    let accepted = match appraisal {
        Err(reason) => {
            reasons.push(json!({"rule": "dcap", "reason": reason}));
            false
        }
        Ok(verdict) => {
            let claims = verdict.claims();
            out.insert("tcb_status".into(), json!(verdict.tcb_status.to_string()));
            out.insert("advisory_ids".into(), json!(verdict.advisory_ids));
            add_registers(&mut out, &claims);
            match &policy {
                Some(policy) => {
                    let v = crate::policy::evaluate(policy, &claims, args.at as i64);
                    out.insert("policy".into(), v.json.clone());
                    reasons.extend(v.reasons);
                    v.accepted
                }
                None => default_acceptance(&claims, &mut reasons),
            }
        }
    };
    out.insert("accepted".into(), json!(accepted));
    out.insert("reasons".into(), Value::Array(reasons.clone()));
    out.insert("at".into(), json!(args.at));
    print_result(&out, args.json);
    Ok(if accepted { 0 } else { EXIT_REJECTED })
}

/// Without a policy: UpToDate and not a debug TD.
fn default_acceptance(claims: &Claims, reasons: &mut Vec<Value>) -> bool {
    let status = claims.get_str("tdx.tcb_status").unwrap_or_default();
    let mut ok = true;
    if status != "UpToDate" {
        reasons.push(json!({
            "rule": "default.tcb_status",
            "claim": "tdx.tcb_status",
            "seen": status,
            "allowed": ["UpToDate"],
        }));
        ok = false;
    }
    if claims.get("tdx.debug") == Some(&json!(true)) {
        reasons.push(json!({
            "rule": "default.debug",
            "claim": "tdx.debug",
            "seen": true,
            "allowed": [false],
        }));
        ok = false;
    }
    ok
}

fn add_registers(out: &mut Map<String, Value>, claims: &Claims) {
    for (key, claim) in [
        ("mr_td", "tdx.mr_td"),
        ("rtmr0", "tdx.rtmr0"),
        ("rtmr1", "tdx.rtmr1"),
        ("rtmr2", "tdx.rtmr2"),
        ("rtmr3", "tdx.rtmr3"),
        ("report_data", "tdx.report_data"),
    ] {
        if let Some(v) = claims.get(claim) {
            out.insert(key.into(), v.clone());
        }
    }
    out.insert("claims".into(), json!(claims.values));
}

fn print_result(out: &Map<String, Value>, as_json: bool) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Object(out.clone())).unwrap_or_default()
        );
        return;
    }
    let accepted = out.get("accepted") == Some(&json!(true));
    println!("{}", if accepted { "ACCEPTED" } else { "REJECTED" });
    for key in [
        "tcb_status",
        "advisory_ids",
        "mr_td",
        "rtmr0",
        "rtmr1",
        "rtmr2",
        "rtmr3",
        "report_data",
    ] {
        if let Some(v) = out.get(key) {
            println!("  {key:<13} {}", plain(v));
        }
    }
    if let Some(Value::Array(reasons)) = out.get("reasons") {
        for r in reasons {
            println!("  reason: {}", describe_reason(r));
        }
    }
}

/// One line for a reason: `[rule] claim: seen X, allowed Y` or `[rule] text`.
pub(crate) fn describe_reason(r: &Value) -> String {
    let rule = r.get("rule").and_then(Value::as_str).unwrap_or_default();
    if let Some(reason) = r.get("reason").and_then(Value::as_str) {
        return format!("[{rule}] {reason}");
    }
    let claim = r.get("claim").and_then(Value::as_str).unwrap_or_default();
    let seen = match r.get("seen") {
        Some(Value::Null) | None => "(absent)".to_string(),
        Some(v) => plain(v),
    };
    let allowed = r.get("allowed").map(plain).unwrap_or_default();
    format!("[{rule}] {claim}: seen {seen}, allowed {allowed}")
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn inspect(args: &InspectArgs) -> Result<u8, Failure> {
    let bytes = read(&args.file, "quote")?;
    let quote = Quote::parse(&bytes)
        .map_err(|e| Failure::unusable(format!("quote {}: {e}", args.file.display())))?;
    let h = quote.header();
    let r = quote.report();
    let s = quote.signature_data();
    let mut fields: Vec<(&str, Value)> = vec![
        ("header.version", json!(h.version)),
        ("header.attestation_key_type", json!(h.attestation_key_type)),
        ("header.tee_type", json!(format!("{:#x}", h.tee_type))),
        ("header.qe_vendor_id", json!(hex::encode(h.qe_vendor_id))),
        ("header.user_data", json!(hex::encode(h.user_data))),
        ("body_type", json!(quote.body_type().code())),
        ("td.tee_tcb_svn", json!(hex::encode(r.tee_tcb_svn))),
        ("td.mr_seam", json!(hex::encode(r.mr_seam))),
        ("td.mr_signer_seam", json!(hex::encode(r.mr_signer_seam))),
        ("td.seam_attributes", json!(hex::encode(r.seam_attributes))),
        ("td.td_attributes", json!(hex::encode(r.td_attributes))),
        ("td.debug", json!(r.is_debug())),
        ("td.migratable", json!(r.is_migratable())),
        ("td.xfam", json!(hex::encode(r.xfam))),
        ("td.mr_td", json!(hex::encode(r.mr_td))),
        ("td.mr_config_id", json!(hex::encode(r.mr_config_id))),
        ("td.mr_owner", json!(hex::encode(r.mr_owner))),
        ("td.mr_owner_config", json!(hex::encode(r.mr_owner_config))),
        ("td.rtmr0", json!(hex::encode(r.rtmr[0]))),
        ("td.rtmr1", json!(hex::encode(r.rtmr[1]))),
        ("td.rtmr2", json!(hex::encode(r.rtmr[2]))),
        ("td.rtmr3", json!(hex::encode(r.rtmr[3]))),
        ("td.report_data", json!(hex::encode(r.report_data))),
    ];
    if let Some(svn2) = r.tee_tcb_svn2 {
        fields.push(("td.tee_tcb_svn2", json!(hex::encode(svn2))));
    }
    if let Some(m) = r.mr_service_td {
        fields.push(("td.mr_service_td", json!(hex::encode(m))));
    }
    if let Some(x) = &r.extension {
        fields.extend([
            ("td.ext.vmid", json!(x.vmid)),
            ("td.ext.td_id", json!(hex::encode(x.td_id))),
            ("td.ext.dev_info", json!(hex::encode(x.dev_info))),
            (
                "td.ext.init_service_td_hash",
                json!(hex::encode(x.init_service_td_hash)),
            ),
            (
                "td.ext.init_service_td_attributes",
                json!(hex::encode(x.init_service_td_attributes)),
            ),
            ("td.ext.init_cpu_svn", json!(hex::encode(x.init_cpu_svn))),
            (
                "td.ext.init_tee_tcb_svn",
                json!(hex::encode(x.init_tee_tcb_svn)),
            ),
            (
                "td.ext.init_tee_fmspc",
                json!(hex::encode(x.init_tee_fmspc)),
            ),
            (
                "td.ext.cur_service_td_hash",
                json!(hex::encode(x.cur_service_td_hash)),
            ),
            (
                "td.ext.cur_service_td_attributes",
                json!(hex::encode(x.cur_service_td_attributes)),
            ),
        ]);
    }
    fields.extend([
        ("signature.ecdsa_signature", json!(hex::encode(s.signature))),
        (
            "signature.attestation_key",
            json!(hex::encode(s.attestation_key)),
        ),
        ("signature.qe_report", json!(hex::encode(s.qe_report))),
        (
            "signature.qe_report_signature",
            json!(hex::encode(s.qe_report_signature)),
        ),
        (
            "signature.qe_auth_data",
            json!(hex::encode(&s.qe_auth_data)),
        ),
        (
            "signature.pck_cert_chain_pem",
            json!(String::from_utf8_lossy(&s.pck_cert_chain).into_owned()),
        ),
        ("signed_len", json!(quote.signed_len())),
        ("len", json!(quote.len())),
    ]);
    if args.json {
        let map: Map<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default()
        );
    } else {
        for (k, v) in fields {
            match v {
                Value::String(s) if s.contains('\n') => println!("{k}:\n{s}"),
                other => println!("{k:<36} {}", plain(&other)),
            }
        }
    }
    Ok(0)
}
