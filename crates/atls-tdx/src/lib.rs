//! Intel TDX evidence for atls: quote parsing, DCAP appraisal, and quote
//! generation inside a TD through Linux configfs-tsm.
//!
//! Decoding peer input never panics: the non-test code denies `unwrap`,
//! `expect`, indexing and `panic!`.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod eventlog;
pub use eventlog::{
    CCEL_TABLE_LEN, CcelTable, DSTACK_RUNTIME_EVENT_TYPE, EV_NO_ACTION, EVENTS_CLAIM, EventLog,
    EventLogError, MAX_LOG_EVENTS, MEASUREMENT_LEN, Measurement, RTMR_COUNT, Rtmrs, TdEvent,
    VerifiedEventLog, extend_rtmr, runtime_event_digest,
};

mod quote;

pub use quote::{
    ATTESTATION_KEY_TYPE_ECDSA_P256, BodyType, MAX_QUOTE_LEN, Quote, QuoteError, QuoteHeader,
    QuoteSignatureData, TD_ATTRIBUTE_DEBUG, TD_ATTRIBUTE_MIGRATABLE, TEE_TYPE_TDX, TdReport,
    TdReportExtension,
};

mod appraisal;
pub use appraisal::{AppraisalError, Appraise, Appraiser, INTEL_QE_VENDOR_ID, Verdict};
pub use dcap_qvl::{QuoteCollateralV3, TcbStatus};

mod collateral_source;
pub use collateral_source::{CollateralError, CollateralSource, StaticCollateral};

mod verifier;
pub use verifier::{TdxVerifier, TimeSource};

mod configfs;
pub use configfs::ConfigfsError;

mod attester;
pub use attester::TdxAttester;

#[cfg(test)]
mod test_binding;

#[cfg(any(test, feature = "simulator"))]
pub mod sim;

mod collateral;
pub use collateral::{
    AppraisalCacheStats, BUNDLE_FORMAT, BUNDLE_VERSION, BundleEntry, CacheConfig, CacheStats,
    CachedCollateral, CachingAppraiser, CollateralBundle, CollateralDates, CollateralKey,
    FileCollateral, PckCaKind, collateral_dates,
};
#[cfg(feature = "pccs")]
pub use collateral::{PccsCollateral, PccsConfig};
