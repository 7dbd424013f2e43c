//! DCAP appraisal of a TDX quote with dcap-qvl: signatures, certificate chains and CRLs up to
//! a trust anchor, TCB info, QE identity and TDX module identity, at a caller-given time.
//!
//! [`Appraise`] is the seam between a verifier and how it appraises: [`Appraiser`] does
//! all the work every time, [`crate::CachingAppraiser`] reuses the platform's share of it.
//!
//! The appraiser verifies; it does not decide whether a TCB status is acceptable. A
//! [`Verdict`] carries the status, advisories and dates for policy to judge. Whatever makes
//! the evidence untrustworthy regardless of policy is an [`AppraisalError`]: a bad
//! signature or chain, collateral that does not verify or is outside its validity window,
//! a revoked PCK certificate, a platform no TCB level matches, a revoked TCB, a debug or
//! migratable TD.

use core::fmt;

use atls_evidence::{Claims, TDX_QUOTE_MEDIA_TYPE};
use dcap_qvl::verify::QuoteVerifier;
use dcap_qvl::{QuoteCollateralV3, QuotePolicy, TcbStatus};

use crate::collateral_source::CollateralError;
use crate::quote::{Quote, QuoteError};

mod revocation;

/// Intel's QE vendor id, the only quoting enclave vendor accepted.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];

/// Why a quote was not appraised as genuine. Each variant says what failed and what was seen.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppraisalError {
    /// The bytes are not a well-formed TDX quote (TD-05).
    QuoteFormat(QuoteError),
    /// The quote was made by a quoting enclave of another vendor than Intel.
    UnknownQeVendor {
        /// The vendor id seen.
        seen: [u8; 16],
    },
    /// The quote signature, the QE report (its signature, its binding of the attestation key,
    /// its identity) or the PCK certificate chain does not verify (TD-02).
    QuoteSignature(String),
    /// The platform is revoked: a certificate of its PCK chain (the PCK certificate, or the
    /// PCK CA above it) is on the collateral's CRL, so every quote it signs is rejected
    /// whatever the policy (DV-05).
    PckRevoked {
        /// Position of the listed certificate in the PCK chain: 0 is the PCK certificate,
        /// 1 the PCK CA that issued it.
        depth: usize,
        /// Its serial number (DER integer content, big-endian).
        serial: Vec<u8>,
    },
    /// The collateral does not verify against the trust anchor, does not belong to this
    /// platform, or is outside its validity window at the appraisal time.
    Collateral(String),
    /// No TCB level of the collateral matches the platform, QE or TDX module.
    TcbLevel(String),
    /// The platform's TCB is revoked.
    TcbRevoked,
    /// The TD runs in debug mode (TDATTRIBUTES bit 0): the host can read its state (TD-03).
    DebugTd {
        /// TDATTRIBUTES as carried.
        td_attributes: [u8; 8],
    },
    /// The TD is migratable (TDATTRIBUTES bit 29): its state may leave this platform.
    MigratableTd {
        /// TDATTRIBUTES as carried.
        td_attributes: [u8; 8],
    },
    /// Another TD attribute makes the TD untrustworthy (profiling, reserved bits, service TDs,
    /// SEPT_VE_DISABLE clear).
    TdAttributes {
        /// TDATTRIBUTES as carried.
        td_attributes: [u8; 8],
        /// What is wrong with them.
        reason: String,
    },
    /// No collateral could be had for the quote.
    CollateralUnavailable(CollateralError),
    /// A verification failure not classified above.
    Verification(String),
}

impl fmt::Display for AppraisalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::QuoteFormat(e) => write!(f, "TDX quote format: {e}"),
            Self::UnknownQeVendor { seen } => write!(
                f,
                "QE vendor id {}, expected Intel's {}",
                hex::encode(seen),
                hex::encode(INTEL_QE_VENDOR_ID)
            ),
            Self::QuoteSignature(d) => write!(f, "TDX quote signature or chain invalid: {d}"),
            Self::PckRevoked { depth, serial } => write!(
                f,
                "TDX platform revoked: {} serial {} is on the CRL",
                match depth {
                    0 => "the PCK certificate",
                    1 => "the PCK CA certificate",
                    _ => "a certificate of the PCK chain",
                },
                hex::encode(serial)
            ),
            Self::Collateral(d) => write!(f, "TDX collateral rejected: {d}"),
            Self::TcbLevel(d) => write!(f, "TDX TCB not appraisable: {d}"),
            Self::TcbRevoked => write!(f, "TDX platform TCB is revoked"),
            Self::DebugTd { td_attributes } => write!(
                f,
                "TD runs in debug mode: TDATTRIBUTES {} has bit 0 set",
                hex::encode(td_attributes)
            ),
            Self::MigratableTd { td_attributes } => write!(
                f,
                "TD is migratable: TDATTRIBUTES {} has bit 29 set",
                hex::encode(td_attributes)
            ),
            Self::TdAttributes {
                td_attributes,
                reason,
            } => write!(
                f,
                "TDATTRIBUTES {} rejected: {reason}",
                hex::encode(td_attributes)
            ),
            Self::CollateralUnavailable(e) => write!(f, "no TDX collateral: {e}"),
            Self::Verification(d) => write!(f, "TDX quote verification failed: {d}"),
        }
    }
}

impl std::error::Error for AppraisalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::QuoteFormat(e) => Some(e),
            Self::CollateralUnavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl From<QuoteError> for AppraisalError {
    fn from(e: QuoteError) -> Self {
        Self::QuoteFormat(e)
    }
}

/// The outcome of a successful appraisal: the parsed quote and what the collateral says
/// about the platform. Whether the TCB status is acceptable is for policy to decide.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// TCB status converged over platform, TDX module and QE.
    pub tcb_status: TcbStatus,
    /// Intel security advisories that apply.
    pub advisory_ids: Vec<String>,
    /// Date of the matched TCB level (unix seconds; for TDX the older of platform and TDX
    /// module levels).
    pub tcb_date: u64,
    /// TCB evaluation data number of the collateral.
    pub tcb_eval_data_number: u32,
    /// FMSPC of the platform (from the PCK certificate).
    pub fmspc: [u8; 6],
    /// PPID from the PCK certificate, when it carries one.
    pub ppid: Option<Vec<u8>>,
    /// Platform instance id (PCK certificates of the Platform CA).
    pub platform_instance_id: Option<[u8; 16]>,
    /// Earliest expiry (unix seconds) across the collateral: TCB info and QE identity
    /// `nextUpdate`, CRL `nextUpdate`, certificate `notAfter`.
    pub collateral_next_update: u64,
    /// The quote.
    pub quote: Quote,
}

impl Verdict {
    /// Adds the quote's claims ([`Quote::insert_claims`]) and `tdx.tcb_status`,
    /// `tdx.advisory_ids`, `tdx.tcb_date`, `tdx.fmspc`, `tdx.ppid` and
    /// `tdx.platform_instance_id` (when known), `tdx.collateral_next_update`.
    pub fn insert_claims(&self, claims: &mut Claims) {
        self.quote.insert_claims(claims);
        claims.insert("tdx.tcb_status", self.tcb_status.to_string());
        claims.insert("tdx.advisory_ids", self.advisory_ids.clone());
        claims.insert("tdx.tcb_date", self.tcb_date);
        claims.insert_hex("tdx.fmspc", &self.fmspc);
        if let Some(ppid) = &self.ppid {
            claims.insert_hex("tdx.ppid", ppid);
        }
        if let Some(id) = &self.platform_instance_id {
            claims.insert_hex("tdx.platform_instance_id", id);
        }
        claims.insert("tdx.collateral_next_update", self.collateral_next_update);
    }

    /// The claims of [`Verdict::insert_claims`], with evidence type [`TDX_QUOTE_MEDIA_TYPE`].
    pub fn claims(&self) -> Claims {
        let mut claims = Claims::new(TDX_QUOTE_MEDIA_TYPE);
        self.insert_claims(&mut claims);
        claims
    }
}

#[derive(Clone, PartialEq, Eq)]
enum TrustAnchor {
    IntelProduction,
    Testing(Vec<u8>),
}

/// How a quote is appraised: [`Appraiser`] cold, [`crate::CachingAppraiser`] reusing earlier
/// work. Both give the same verdict for the same inputs; a [`crate::TdxVerifier`] holds one.
pub trait Appraise: fmt::Debug + Send + Sync {
    /// Appraises `quote` with `collateral` at `now_unix` (seconds since the epoch); see
    /// [`Appraiser::appraise`].
    fn appraise(
        &self,
        quote: &[u8],
        collateral: &QuoteCollateralV3,
        now_unix: u64,
    ) -> Result<Verdict, AppraisalError>;

    /// Hits and misses so far, for an appraiser that caches; `None` for one that does not.
    fn cache_stats(&self) -> Option<crate::AppraisalCacheStats> {
        None
    }
}

impl Appraise for Appraiser {
    fn appraise(
        &self,
        quote: &[u8],
        collateral: &QuoteCollateralV3,
        now_unix: u64,
    ) -> Result<Verdict, AppraisalError> {
        // The inherent method, not this one.
        Self::appraise(self, quote, collateral, now_unix)
    }
}

/// Appraises TDX quotes against one trust anchor.
///
/// [`Appraiser::intel_production`] trusts Intel's SGX Root CA; any other root needs
/// [`Appraiser::with_test_root_ca_for_testing`], whose name says what it is for.
#[derive(Clone, PartialEq, Eq)]
pub struct Appraiser {
    anchor: TrustAnchor,
}

impl fmt::Debug for Appraiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let anchor = match &self.anchor {
            TrustAnchor::IntelProduction => "Intel SGX Root CA",
            TrustAnchor::Testing(_) => "TEST root CA (not for production)",
        };
        f.debug_struct("Appraiser")
            .field("anchor", &anchor)
            .finish()
    }
}

impl Appraiser {
    /// Trusts Intel's SGX Root CA (production).
    pub fn intel_production() -> Self {
        Self {
            anchor: TrustAnchor::IntelProduction,
        }
    }

    /// **For tests only.** Trusts `root_ca_der` (DER certificate) instead of Intel's root,
    /// e.g. the root of a simulated PKI. Nothing signed under such a root is genuine TDX.
    pub fn with_test_root_ca_for_testing(root_ca_der: Vec<u8>) -> Self {
        Self {
            anchor: TrustAnchor::Testing(root_ca_der),
        }
    }

    /// Whether this appraiser trusts Intel's production root.
    pub fn is_intel_production(&self) -> bool {
        self.anchor == TrustAnchor::IntelProduction
    }

    /// Appraises `quote` with `collateral` at `now_unix` (seconds since the epoch).
    ///
    /// Checks, in order: the quote's format (TDX v4/v5 only), its QE vendor, then with
    /// dcap-qvl the collateral (CRLs, TCB info and QE identity signatures and validity at
    /// `now_unix`), the PCK chain with revocation, the QE report and quote signatures, the
    /// QE identity, the TCB level of platform and TDX module, and the TD attributes (debug,
    /// migratable and the other untrusted bits are rejected). The TCB status is returned,
    /// not judged, except that a revoked TCB is an error.
    pub fn appraise(
        &self,
        quote: &[u8],
        collateral: &QuoteCollateralV3,
        now_unix: u64,
    ) -> Result<Verdict, AppraisalError> {
        let parsed = Quote::parse(quote)?;
        if parsed.header().qe_vendor_id != INTEL_QE_VENDOR_ID {
            return Err(AppraisalError::UnknownQeVendor {
                seen: parsed.header().qe_vendor_id,
            });
        }
        let verifier = match &self.anchor {
            TrustAnchor::IntelProduction => QuoteVerifier::new_prod(),
            TrustAnchor::Testing(der) => QuoteVerifier::new(der.clone()),
        }
        .allow_debug(false)
        .allow_service_td(false);
        // `claims_only` verifies everything cryptographic and applies no acceptance policy:
        // TCB status, advisories and platform flags are ours to judge (the built-in strict
        // policy rejects every multi-package platform for its dynamic-platform flag).
        let policy = QuotePolicy::claims_only(now_unix);
        let claims = verifier
            .verify_with_policy(quote, collateral, now_unix, &policy)
            .map_err(|e| {
                let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
                classify(&chain, &parsed, collateral)
            })?;
        // dcap-qvl checks TCB info, QE identity, CRLs and certificates at `now_unix`; keep
        // the weakest-link check too, as claims-only skips it.
        if claims.earliest_expiration_date < now_unix {
            return Err(AppraisalError::Collateral(format!(
                "collateral expired at {}, appraisal time {now_unix}",
                claims.earliest_expiration_date
            )));
        }
        if claims.tee_type != crate::quote::TEE_TYPE_TDX {
            return Err(AppraisalError::QuoteFormat(QuoteError::NotTdx {
                tee_type: claims.tee_type,
            }));
        }
        let pck = &claims.platform.pck;
        Ok(Verdict {
            tcb_status: claims.tcb.status,
            advisory_ids: claims.tcb.advisory_ids.clone(),
            tcb_date: claims.platform.tcb_date_tag,
            tcb_eval_data_number: claims.tcb.eval_data_number,
            fmspc: pck.fmspc,
            ppid: (!pck.ppid.is_empty()).then(|| pck.ppid.clone()),
            platform_instance_id: pck.platform_instance_id,
            collateral_next_update: claims.earliest_expiration_date,
            quote: parsed,
        })
    }
}

/// Maps a dcap-qvl failure (its error chain, outermost first) to a typed error. dcap-qvl
/// reports failures as text; the messages below are those of dcap-qvl 0.7.
fn classify(chain: &[String], quote: &Quote, collateral: &QuoteCollateralV3) -> AppraisalError {
    let top = chain.first().map(String::as_str).unwrap_or_default();
    let detail = chain.join(": ");
    let td_attributes = quote.report().td_attributes;
    let any = |needles: &[&str]| chain.iter().any(|m| needles.iter().any(|n| m.contains(n)));

    // TD attribute checks come last in dcap-qvl, after every signature and TCB check, and
    // are reported without context.
    match top {
        "Debug mode is enabled" if quote.report().is_debug() => {
            return AppraisalError::DebugTd { td_attributes };
        }
        "TD migration is enabled" => return AppraisalError::MigratableTd { td_attributes },
        "Debug mode is enabled"
        | "TD profiling is enabled"
        | "Reserved bits in TD attributes are set"
        | "SERVTD_EXT is enabled"
        | "SEPT_VE_DISABLE is not enabled"
        | "Invalid MR service TD" => {
            return AppraisalError::TdAttributes {
                td_attributes,
                reason: top.to_string(),
            };
        }
        _ => {}
    }
    if any(&["Revoked"]) && top.starts_with("TCB status is invalid") {
        return AppraisalError::TcbRevoked;
    }
    // webpki says `CertRevoked` for a revoked certificate in any chain dcap-qvl checks (the
    // collateral signer's or the PCK chain); only the PCK chain's means a revoked platform.
    if any(&["CertRevoked"])
        && let Some(listed) = revocation::listed_pck_certificate(quote, collateral)
    {
        return AppraisalError::PckRevoked {
            depth: listed.depth,
            serial: listed.serial,
        };
    }
    if any(&[
        "No matching TCB level",
        "TDX module",
        "current TDX TCB",
        "QE ISVSVN",
        "No TCB levels found",
        "Unrecognized TCB status",
    ]) {
        return AppraisalError::TcbLevel(detail);
    }
    if any(&[
        "Signature is invalid for qe_report",
        "QE report hash mismatch",
        "Invalid QE auth data length",
        "ISV enclave report signature is invalid",
        "QE MRSIGNER mismatch",
        "QE ISVPRODID mismatch",
        "QE MISCSELECT mismatch",
        "QE ATTRIBUTES mismatch",
        "QE report validation failed",
        "Failed to decode QE report",
        "PCK cert",
        "PCK certificate",
        "Certificate chain is too short in quote",
        "Intel extension",
    ]) {
        return AppraisalError::QuoteSignature(detail);
    }
    if any(&[
        "TCBInfo",
        "TcbInfo",
        "TCB Info",
        "tcb_info",
        "TCB info",
        "QE Identity",
        "QeIdentity",
        "QEIdentity",
        "qe_identity",
        "CRL",
        "root ca",
        "root CA",
        "Fmspc",
        "FMSPC",
        "Expired",
        "NotValidYet",
        "expired",
    ]) {
        return AppraisalError::Collateral(detail);
    }
    if top == "Failed to verify certificate chain" {
        // The collateral signer's chain is verified (and reported as collateral above when
        // it is out of date) before the PCK chain; what reaches here is a chain that does
        // not lead to the anchor or is revoked.
        return AppraisalError::QuoteSignature(detail);
    }
    AppraisalError::Verification(detail)
}

#[cfg(test)]
mod tests;
