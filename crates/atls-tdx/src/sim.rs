//! **Insecure, for tests and demos only.** A TDX quote simulator: a seeded test PKI shaped
//! like Intel's, signed collateral, and DCAP quotes with chosen measurements and REPORTDATA.
//!
//! Nothing here involves TDX hardware, and whoever has the seed can make any quote. What it
//! gives is evidence that goes through the **same** appraisal path as real quotes (dcap-qvl
//! with every signature, chain, CRL and TCB check) when, and only when, the verifier is told
//! to trust the simulator's root with
//! [`Appraiser::with_test_root_ca_for_testing`](crate::Appraiser::with_test_root_ca_for_testing).
//! Under Intel's root ([`Appraiser::intel_production`](crate::Appraiser::intel_production))
//! every simulated quote is rejected. Every certificate subject says `INSECURE` and
//! `INSECURE SIMULATION, NOT INTEL`.
//!
//! What is simulated:
//!
//! * a PKI derived from a 32-byte seed: root CA, PCK Platform CA (path length 0), PCK leaf
//!   certificates with Intel's SGX extension (PPID, TCB component SVNs, PCESVN, CPUSVN,
//!   PCE-ID, FMSPC, SGX type, platform instance id, configuration flags), a TCB signing
//!   certificate under the root, and a CRL for each CA (the platform CA's lists one revoked
//!   PCK certificate);
//! * TCB info (`TDX`, version 3) with one `UpToDate` and one `OutOfDate` level (whose
//!   `tcbDate` is configurable, for grace-period tests) and QE identity (`TD_QE`), both
//!   signed;
//! * quotes: DCAP v4 with a TD report 1.0, the QE report signed by the PCK key, the quote
//!   signed by an attestation key the QE report certifies; and the variants of
//!   [`QuoteVariant`];
//! * the cost of real hardware: each quote takes [`SimulatorConfig::generation_delay`]
//!   (default [`DEFAULT_GENERATION_DELAY`]), one at a time per process, like a host's single
//!   quote generation service.
//!
//! Signing is deterministic (RFC 6979), so a seed and an issue time give byte-identical
//! roots, collateral and quotes on every run.
//!
//! ```
//! use atls_tdx::sim::{SimulatedTd, SimulatorConfig, TdxSimulator};
//! use atls_tdx::{Appraiser, TcbStatus};
//!
//! let now = 1_800_000_000;
//! let sim = TdxSimulator::new(SimulatorConfig::new([7; 32], now).without_generation_delay())?;
//! let quote = sim.quote(&SimulatedTd::default(), &[0x5a; 64]);
//!
//! let test = Appraiser::with_test_root_ca_for_testing(sim.test_root_ca_der().to_vec());
//! let verdict = test.appraise(&quote, sim.collateral(), now)?;
//! assert_eq!(verdict.tcb_status, TcbStatus::UpToDate);
//! assert_eq!(verdict.quote.report().report_data, [0x5a; 64]);
//!
//! // Intel's root does not know the simulator.
//! assert!(Appraiser::intel_production().appraise(&quote, sim.collateral(), now).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attester;
mod collateral;
mod pki;
mod quote;

use core::fmt;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha384};

pub use attester::SimulatedTdxAttester;

use crate::eventlog::EventLog;
use pki::{PckInfo, Pki, SimKey};

/// Time a simulated quote takes by default: about what a real TD's configfs-tsm quote
/// takes on current hardware.
pub const DEFAULT_GENERATION_DELAY: Duration = Duration::from_millis(39);

/// Validity of the simulated TCB info, QE identity and CRLs by default: 30 days, like
/// Intel's.
pub const DEFAULT_COLLATERAL_VALIDITY_SECS: u64 = 30 * 86_400;

/// FMSPC of the simulated platform by default.
pub const DEFAULT_FMSPC: [u8; 6] = [0x5a, 0x5a, 0x00, 0x00, 0x00, 0x00];

/// TDATTRIBUTES bit 28, SEPT_VE_DISABLE: required by appraisal.
pub const TD_ATTRIBUTE_SEPT_VE_DISABLE: u64 = 1 << 28;

/// SGX TCB components (and CPUSVN) of the simulated platform.
const SGX_TCB_COMPONENTS: [u8; 16] = [2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
/// MRSIGNER of the simulated TD quoting enclave.
const QE_MR_SIGNER: [u8; 32] = [0x51; 32];
/// ISVPRODID of the TD quoting enclave (Intel's TD-QE is 2).
const QE_ISV_PROD_ID: u16 = 2;
/// ISVSVN of the simulated TD quoting enclave.
const QE_ISV_SVN: u16 = 4;

/// Only one simulated quote is generated at a time per process, like a host's quote
/// generation service.
static QUOTE_GENERATION: Mutex<()> = Mutex::new(());

/// Why the simulator could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimulatorError {
    /// Building a key, certificate or CRL failed.
    Pki(String),
}

impl fmt::Display for SimulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pki(e) => write!(f, "simulated PKI: {e}"),
        }
    }
}

impl std::error::Error for SimulatorError {}

/// How to build a [`TdxSimulator`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimulatorConfig {
    /// Seed of every key.
    pub seed: [u8; 32],
    /// When the collateral is issued (Unix seconds): TCB info, QE identity and CRLs are
    /// valid from an hour before to [`Self::collateral_validity_secs`] after; certificates
    /// from a day before for ten years.
    pub issue_time: u64,
    /// How long the TCB info, QE identity and CRLs stay valid.
    pub collateral_validity_secs: u64,
    /// The platform's FMSPC.
    pub fmspc: [u8; 6],
    /// `tcbDate` of the UpToDate TCB level (Unix seconds).
    pub up_to_date_tcb_date: u64,
    /// `tcbDate` of the OutOfDate TCB level (Unix seconds), what a grace period counts from.
    pub out_of_date_tcb_date: u64,
    /// Simulated time to generate one quote; zero in tests.
    pub generation_delay: Duration,
}

impl SimulatorConfig {
    /// Defaults for `seed` and `issue_time`: 30-day collateral, [`DEFAULT_FMSPC`], the
    /// UpToDate level dated 90 days and the OutOfDate level 400 days before `issue_time`,
    /// [`DEFAULT_GENERATION_DELAY`].
    pub fn new(seed: [u8; 32], issue_time: u64) -> Self {
        Self {
            seed,
            issue_time,
            collateral_validity_secs: DEFAULT_COLLATERAL_VALIDITY_SECS,
            fmspc: DEFAULT_FMSPC,
            up_to_date_tcb_date: issue_time.saturating_sub(90 * 86_400),
            out_of_date_tcb_date: issue_time.saturating_sub(400 * 86_400),
            generation_delay: DEFAULT_GENERATION_DELAY,
        }
    }

    /// The same, generating quotes without delay (tests).
    pub fn without_generation_delay(mut self) -> Self {
        self.generation_delay = Duration::ZERO;
        self
    }

    /// The same with another quote generation delay.
    pub fn with_generation_delay(mut self, delay: Duration) -> Self {
        self.generation_delay = delay;
        self
    }

    /// The same with the OutOfDate level dated `tcb_date` (Unix seconds).
    pub fn with_out_of_date_tcb_date(mut self, tcb_date: u64) -> Self {
        self.out_of_date_tcb_date = tcb_date;
        self
    }

    /// The same with collateral valid for `secs` after issue.
    pub fn with_collateral_validity(mut self, secs: u64) -> Self {
        self.collateral_validity_secs = secs;
        self
    }

    /// The same with another FMSPC.
    pub fn with_fmspc(mut self, fmspc: [u8; 6]) -> Self {
        self.fmspc = fmspc;
        self
    }
}

/// What the simulated TD reports: its measurements and attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedTd {
    /// MRTD.
    pub mr_td: [u8; 48],
    /// RTMR0–3.
    pub rtmr: [[u8; 48]; 4],
    /// MRCONFIGID.
    pub mr_config_id: [u8; 48],
    /// MROWNER.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG.
    pub mr_owner_config: [u8; 48],
    /// MRSEAM.
    pub mr_seam: [u8; 48],
    /// TDATTRIBUTES; must keep [`TD_ATTRIBUTE_SEPT_VE_DISABLE`] to verify.
    pub td_attributes: u64,
    /// XFAM.
    pub xfam: [u8; 8],
    /// TEE_TCB_SVN (set by [`QuoteVariant::OutOfDateTcb`]).
    pub tee_tcb_svn: [u8; 16],
}

impl Default for SimulatedTd {
    /// A production-like TD: only SEPT_VE_DISABLE set, the UpToDate TCB, fixed recognisable
    /// measurements, RTMRs zero.
    fn default() -> Self {
        let m = |label: &[u8]| -> [u8; 48] { Sha384::digest(label).into() };
        Self {
            mr_td: m(b"simulated MRTD"),
            rtmr: [[0; 48]; 4],
            mr_config_id: [0; 48],
            mr_owner: [0; 48],
            mr_owner_config: [0; 48],
            mr_seam: m(b"simulated MRSEAM"),
            td_attributes: TD_ATTRIBUTE_SEPT_VE_DISABLE,
            xfam: [0xe7, 0x02, 0x06, 0, 0, 0, 0, 0],
            tee_tcb_svn: collateral::TDX_TCB_UP_TO_DATE,
        }
    }
}

impl SimulatedTd {
    /// The same TD with RTMR0–3 as `log` replays them (e.g. dstack-style runtime events in
    /// RTMR3), so the log verifies against the quote.
    pub fn with_event_log(mut self, log: &EventLog) -> Self {
        self.rtmr = log.replay();
        self
    }

    /// The same TD with MRTD `mr_td`.
    pub fn with_mr_td(mut self, mr_td: [u8; 48]) -> Self {
        self.mr_td = mr_td;
        self
    }
}

/// How a simulated quote deviates from a genuine one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuoteVariant {
    /// A quote that verifies under the test root.
    Genuine,
    /// TDATTRIBUTES.DEBUG set: rejected as a debug TD.
    DebugTd,
    /// TEE_TCB_SVN below the UpToDate level: verifies with status OutOfDate, dated
    /// [`SimulatorConfig::out_of_date_tcb_date`], advisory `SIM-SA-00001`.
    OutOfDateTcb,
    /// Signed through a PCK certificate the platform CA's CRL revokes.
    RevokedPck,
    /// The quote signature (attestation key over header and body) does not verify.
    TamperedQuoteSignature,
    /// The QE report was changed after the PCK signed it.
    TamperedQeReport,
    /// The PCK chain leads to a look-alike CA the root never certified.
    UntrustedPckChain,
    /// An SGX quote (v3, TEE type 0) from the same platform: not TDX evidence.
    SgxQuote,
}

impl QuoteVariant {
    /// Every variant.
    pub const ALL: [Self; 8] = [
        Self::Genuine,
        Self::DebugTd,
        Self::OutOfDateTcb,
        Self::RevokedPck,
        Self::TamperedQuoteSignature,
        Self::TamperedQeReport,
        Self::UntrustedPckChain,
        Self::SgxQuote,
    ];
}

/// **Insecure.** A simulated TDX platform: its PKI, collateral and quote generation. See the
/// [module documentation](self).
pub struct TdxSimulator {
    config: SimulatorConfig,
    pki: Pki,
    collateral: dcap_qvl::QuoteCollateralV3,
    pck: PckInfo,
    attestation_key: SimKey,
    qe_auth_data: [u8; 32],
}

impl fmt::Debug for TdxSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TdxSimulator (INSECURE)")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TdxSimulator {
    /// Builds the PKI and collateral for `config`.
    pub fn new(config: SimulatorConfig) -> Result<Self, SimulatorError> {
        let derived = |label: &[u8]| -> [u8; 16] {
            let d = Sha384::new()
                .chain_update(config.seed)
                .chain_update(label)
                .finalize();
            let mut out = [0u8; 16];
            out.iter_mut().zip(d.iter()).for_each(|(o, b)| *o = *b);
            out
        };
        let pck = PckInfo {
            ppid: derived(b"ppid"),
            cpu_svn: SGX_TCB_COMPONENTS,
            pce_svn: collateral::PCE_SVN,
            pce_id: [0, 0],
            fmspc: config.fmspc,
            platform_instance_id: derived(b"platform instance id"),
            dynamic_platform: false,
            cached_keys: false,
            smt_enabled: false,
        };
        let pki = Pki::new(
            &config.seed,
            config.issue_time,
            config.collateral_validity_secs,
            &pck,
        )?;
        let collateral = collateral::collateral(&config, &pki);
        let attestation_key = SimKey::derive(&config.seed, "attestation key")?;
        let mut qe_auth_data = [0u8; 32];
        qe_auth_data.iter_mut().zip(0u8..).for_each(|(b, i)| *b = i);
        Ok(Self {
            config,
            pki,
            collateral,
            pck,
            attestation_key,
            qe_auth_data,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimulatorConfig {
        &self.config
    }

    /// The simulated root CA (DER): the only anchor under which simulated quotes verify.
    pub fn test_root_ca_der(&self) -> &[u8] {
        &self.pki.root_der
    }

    /// The signed collateral for this platform.
    pub fn collateral(&self) -> &dcap_qvl::QuoteCollateralV3 {
        &self.collateral
    }

    /// The collateral as JSON (dcap-qvl's serialisation, byte fields as hex).
    pub fn collateral_json(&self) -> String {
        serde_json::to_string(&self.collateral).unwrap_or_default()
    }

    /// The platform's FMSPC.
    pub fn fmspc(&self) -> [u8; 6] {
        self.pck.fmspc
    }

    /// The platform's PPID (in its PCK certificate).
    pub fn ppid(&self) -> [u8; 16] {
        self.pck.ppid
    }

    /// The first second at which the collateral verifies.
    pub fn valid_from(&self) -> u64 {
        self.config.issue_time.saturating_sub(3600)
    }

    /// The last second at which the collateral verifies: the CRLs expire at
    /// `issue_time + collateral_validity_secs` (a CRL is stale from its `nextUpdate` on).
    pub fn valid_until(&self) -> u64 {
        self.config
            .issue_time
            .saturating_add(self.config.collateral_validity_secs)
            .saturating_sub(1)
    }

    /// A genuine quote from `td` with `report_data`, after the generation delay.
    pub fn quote(&self, td: &SimulatedTd, report_data: &[u8; 64]) -> Vec<u8> {
        self.quote_variant(td, report_data, QuoteVariant::Genuine)
    }

    /// A quote of `variant` from `td` with `report_data`, after the generation delay.
    pub fn quote_variant(
        &self,
        td: &SimulatedTd,
        report_data: &[u8; 64],
        variant: QuoteVariant,
    ) -> Vec<u8> {
        if !self.config.generation_delay.is_zero() {
            let _host = QUOTE_GENERATION
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            std::thread::sleep(self.config.generation_delay);
        }
        self.build(td, report_data, variant)
    }

    fn build(&self, td: &SimulatedTd, report_data: &[u8; 64], variant: QuoteVariant) -> Vec<u8> {
        let (pck_key, pck_chain_pem) = match variant {
            QuoteVariant::RevokedPck => {
                (&self.pki.revoked_pck_key, &self.pki.revoked_pck_chain_pem)
            }
            QuoteVariant::UntrustedPckChain => {
                (&self.pki.rogue_pck_key, &self.pki.rogue_pck_chain_pem)
            }
            _ => (&self.pki.pck_key, &self.pki.pck_chain_pem),
        };
        let certification = quote::Certification {
            attestation_key: &self.attestation_key,
            pck_key,
            pck_chain_pem,
            qe_auth_data: &self.qe_auth_data,
            cpu_svn: self.pck.cpu_svn,
            tamper_qe_report: variant == QuoteVariant::TamperedQeReport,
        };
        let mut td = td.clone();
        match variant {
            QuoteVariant::DebugTd => td.td_attributes |= crate::quote::TD_ATTRIBUTE_DEBUG,
            QuoteVariant::OutOfDateTcb => td.tee_tcb_svn = collateral::TDX_TCB_OUT_OF_DATE,
            QuoteVariant::SgxQuote => return quote::sgx_v3(report_data, &certification),
            _ => {}
        }
        quote::tdx_v4(
            &td,
            report_data,
            &certification,
            variant == QuoteVariant::TamperedQuoteSignature,
        )
    }
}

#[cfg(test)]
mod tests;
