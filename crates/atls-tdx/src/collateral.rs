//! Collateral lifecycle: where collateral comes from, how long it is good for, and how it is
//! kept.
//!
//! DCAP collateral (TCB info, QE identity, two CRLs and their issuer chains) is per platform
//! model — keyed by FMSPC and by the PCK CA (Platform or Processor) — and valid until the
//! earliest `nextUpdate` it contains, about 30 days. Sources:
//!
//! * [`FileCollateral`]: dcap-qvl's `QuoteCollateralV3` JSON from a file;
//! * `PccsCollateral` (cargo feature `pccs`): Intel PCS / a PCCS over HTTPS, base URL
//!   configured by the operator (there is no default);
//! * [`CachedCollateral`]: any source behind an in-memory cache that honours the
//!   collateral's own expiry, refreshes ahead of it, and remembers failures for a while;
//! * [`CollateralBundle`]: collateral per platform plus a pinned time, as a versioned JSON
//!   file, so a quote can be re-verified later exactly as it was.
//!
//! Time is always an argument (`now_unix`, seconds since the epoch); nothing here reads a
//! clock.
//!
//! ```
//! use std::sync::Arc;
//! use atls_tdx::{CachedCollateral, CacheConfig, CollateralBundle, StaticCollateral};
//!
//! # let json = include_bytes!("../../../testdata/tdx/dcap-qvl/tdx_quote_collateral.json");
//! let dates = atls_tdx::collateral_dates(&serde_json::from_slice(json)?)?;
//! assert_eq!(dates.next_update, 1_752_919_235); // 2025-07-19T10:00:35Z, the root CA CRL
//! let cache = CachedCollateral::new(Arc::new(StaticCollateral::from_json(json)?), CacheConfig::default());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod appraisal_cache;
mod bundle;
mod cache;
pub(crate) mod dates;
mod file;
#[cfg(any(test, feature = "simulator", feature = "pccs"))]
pub(crate) mod off_thread;
#[cfg(feature = "pccs")]
mod pccs;

use core::fmt;

use dcap_qvl::QuoteCollateralV3;
use serde::{Deserialize, Serialize};

use crate::collateral_source::CollateralError;
use crate::quote::Quote;

pub use appraisal_cache::{AppraisalCacheStats, CachingAppraiser};
pub use bundle::{BUNDLE_FORMAT, BUNDLE_VERSION, BundleEntry, CollateralBundle};
pub use cache::{CacheConfig, CacheStats, CachedCollateral};
pub use file::FileCollateral;
#[cfg(feature = "pccs")]
pub use pccs::{PccsCollateral, PccsConfig};

/// Which PCK CA issued a platform's PCK certificate; collateral CRLs differ between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PckCaKind {
    /// Intel SGX PCK Processor CA (single-package platforms).
    Processor,
    /// Intel SGX PCK Platform CA (multi-package platforms).
    Platform,
}

impl PckCaKind {
    /// The value of PCS's `ca` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processor => "processor",
            Self::Platform => "platform",
        }
    }
}

/// What collateral is keyed by: the platform model (FMSPC) and the PCK CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CollateralKey {
    /// FMSPC from the PCK certificate's SGX extension.
    pub fmspc: [u8; 6],
    /// The CA that issued the PCK certificate.
    pub ca: PckCaKind,
}

impl fmt::Display for CollateralKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FMSPC {} ({} CA)",
            hex::encode(self.fmspc),
            self.ca.as_str()
        )
    }
}

impl CollateralKey {
    /// The key of the platform that signed `quote`, from the PCK leaf certificate it carries
    /// (FMSPC from its SGX extension; Platform CA if its issuer name says "Platform",
    /// otherwise Processor, as dcap-qvl classifies it).
    pub fn for_quote(quote: &Quote) -> Result<Self, CollateralError> {
        let pem = &quote.signature_data().pck_cert_chain;
        let leaf = first_pem_certificate(pem).ok_or_else(|| {
            CollateralError::NotFound("a quote whose PCK chain holds no PEM certificate".into())
        })?;
        let ext = dcap_qvl::intel::parse_pck_extension(&leaf).map_err(|e| {
            CollateralError::NotFound(format!(
                "a quote whose PCK certificate has no usable SGX extension ({e})"
            ))
        })?;
        let ca = match dcap_qvl::intel::pck_ca(&leaf) {
            Ok(dcap_qvl::config::PckCa::Platform) => PckCaKind::Platform,
            _ => PckCaKind::Processor,
        };
        Ok(Self {
            fmspc: ext.fmspc,
            ca,
        })
    }

    /// The FMSPC the collateral's TCB info is for, with `ca`.
    pub fn for_collateral(
        collateral: &QuoteCollateralV3,
        ca: PckCaKind,
    ) -> Result<Self, CollateralError> {
        let v: serde_json::Value = serde_json::from_str(&collateral.tcb_info)
            .map_err(|e| source_err(format!("TCB info is not JSON: {e}")))?;
        let fmspc = v
            .get("fmspc")
            .and_then(serde_json::Value::as_str)
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| <[u8; 6]>::try_from(b).ok())
            .ok_or_else(|| source_err("TCB info has no 6-byte hex \"fmspc\"".into()))?;
        Ok(Self { fmspc, ca })
    }
}

/// The validity of one collateral set, from its own dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollateralDates {
    /// The latest issue date (TCB info and QE identity `issueDate`, CRL `thisUpdate`):
    /// before it, the collateral does not verify.
    pub issued: u64,
    /// The earliest `nextUpdate` of TCB info, QE identity and both CRLs: from it on, the
    /// collateral no longer verifies (a CRL is stale at its `nextUpdate`).
    pub next_update: u64,
}

impl CollateralDates {
    /// Whether the collateral is usable at `now_unix`: `issued <= now < next_update`.
    pub fn covers(&self, now_unix: u64) -> bool {
        self.issued <= now_unix && now_unix < self.next_update
    }
}

/// Reads the dates of `collateral`: `issueDate`/`nextUpdate` of the TCB info and QE
/// identity JSON and `thisUpdate`/`nextUpdate` of the root CA and PCK CRLs.
pub fn collateral_dates(
    collateral: &QuoteCollateralV3,
) -> Result<CollateralDates, CollateralError> {
    let mut issued = 0u64;
    let mut next_update = u64::MAX;
    for (what, text) in [
        ("TCB info", collateral.tcb_info.as_str()),
        ("QE identity", collateral.qe_identity.as_str()),
    ] {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| source_err(format!("{what} is not JSON: {e}")))?;
        let date = |field: &str| {
            v.get(field)
                .and_then(serde_json::Value::as_str)
                .and_then(dates::parse_rfc3339)
                .ok_or_else(|| source_err(format!("{what} has no RFC 3339 \"{field}\"")))
        };
        issued = issued.max(date("issueDate")?);
        next_update = next_update.min(date("nextUpdate")?);
    }
    for (what, der) in [
        ("root CA CRL", collateral.root_ca_crl.as_slice()),
        ("PCK CRL", collateral.pck_crl.as_slice()),
    ] {
        let (this, next) = crl_dates(der).map_err(|e| source_err(format!("{what}: {e}")))?;
        issued = issued.max(this);
        if let Some(next) = next {
            next_update = next_update.min(next);
        }
    }
    Ok(CollateralDates {
        issued,
        next_update,
    })
}

/// `thisUpdate` and `nextUpdate` of a DER CRL.
fn crl_dates(der: &[u8]) -> Result<(u64, Option<u64>), String> {
    use der::Decode as _;
    let crl = x509_cert::crl::CertificateList::<x509_cert::certificate::Rfc5280>::from_der(der)
        .map_err(|e| e.to_string())?;
    let tbs = &crl.tbs_cert_list;
    Ok((
        tbs.this_update.to_unix_duration().as_secs(),
        tbs.next_update.map(|t| t.to_unix_duration().as_secs()),
    ))
}

fn source_err(detail: String) -> CollateralError {
    CollateralError::Source(detail.into())
}

/// The DER of the first certificate in a PEM chain.
fn first_pem_certificate(pem: &[u8]) -> Option<Vec<u8>> {
    pem_certificates(pem).next().flatten()
}

/// The certificates of a PEM chain in order, each as DER (`None` for a block that is not
/// base64). Text after the last block (a quote's zero padding) is ignored.
pub(crate) fn pem_certificates(pem: &[u8]) -> impl Iterator<Item = Option<Vec<u8>>> + '_ {
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut rest = core::str::from_utf8(pem).unwrap_or_default();
    core::iter::from_fn(move || {
        let start = rest.find(BEGIN)?.checked_add(BEGIN.len())?;
        let body = rest.get(start..)?;
        let end = body.find(END)?;
        let b64: String = body
            .get(..end)?
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        rest = body.get(end.checked_add(END.len())?..).unwrap_or_default();
        Some(base64::engine::general_purpose::STANDARD.decode(b64).ok())
    })
}

#[cfg(test)]
mod tests;
