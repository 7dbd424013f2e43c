//! Where a verifier gets the DCAP collateral for a quote.

use core::fmt;
use std::sync::Arc;

use atls_evidence::BoxFuture;
use dcap_qvl::QuoteCollateralV3;

use crate::quote::Quote;

/// Why no collateral could be had.
#[derive(Debug)]
#[non_exhaustive]
pub enum CollateralError {
    /// The source has no collateral for this quote (e.g. another platform's FMSPC).
    NotFound(String),
    /// The source failed (fetch, decode, storage…).
    Source(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl fmt::Display for CollateralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(what) => write!(f, "no collateral for {what}"),
            Self::Source(e) => write!(f, "collateral source failed: {e}"),
        }
    }
}

impl std::error::Error for CollateralError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Source(e) => Some(e.as_ref()),
            Self::NotFound(_) => None,
        }
    }
}

/// Supplies the collateral (TCB info, QE identity, CRLs and their chains) to appraise a
/// quote with. Object-safe and asynchronous, so a source may fetch or refresh.
///
/// `now_unix` is the appraisal time, for a source that keeps collateral and must know
/// whether what it holds is still valid.
pub trait CollateralSource: Send + Sync + fmt::Debug {
    /// Collateral for `quote`.
    fn collateral<'a>(
        &'a self,
        quote: &'a Quote,
        now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>>;
}

/// A fixed collateral set, returned for every quote (tests, or deployments that provision
/// collateral out of band). Appraisal still rejects it for another platform or once expired.
#[derive(Clone, Debug)]
pub struct StaticCollateral {
    collateral: Arc<QuoteCollateralV3>,
}

impl StaticCollateral {
    /// Always supplies `collateral`.
    pub fn new(collateral: QuoteCollateralV3) -> Self {
        Self {
            collateral: Arc::new(collateral),
        }
    }

    /// Parses collateral from its JSON form (dcap-qvl's serialisation of
    /// `QuoteCollateralV3`; byte fields as hex).
    pub fn from_json(json: &[u8]) -> Result<Self, CollateralError> {
        serde_json::from_slice::<QuoteCollateralV3>(json)
            .map(Self::new)
            .map_err(|e| CollateralError::Source(Box::new(e)))
    }
}

impl CollateralSource for StaticCollateral {
    fn collateral<'a>(
        &'a self,
        _quote: &'a Quote,
        _now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>> {
        Box::pin(async move { Ok(Arc::clone(&self.collateral)) })
    }
}
