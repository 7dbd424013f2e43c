//! [`TdxVerifier`]: appraises a raw TDX quote from a CMW record and checks that its
//! REPORTDATA binds this request and this key.

use core::fmt;
use std::sync::Arc;

use atls_core::Binding;
use atls_evidence::{
    BoxFuture, Claims, EvidenceError, MediaType, TDX_QUOTE_MEDIA_TYPE, Verifier, check_aik,
    check_binder,
};

use crate::appraisal::{AppraisalError, Appraise, Appraiser, Verdict};
use crate::collateral::CachingAppraiser;
use crate::collateral_source::CollateralSource;
use crate::quote::Quote;

/// Bytes of the binder in REPORTDATA.
const BINDER_LEN: usize = 32;
/// Bytes of `AIK_pub_hash` in REPORTDATA.
const AIK_HASH_LEN: usize = 32;

/// The REPORTDATA that binds `binding`: `binder(32) ‖ AIK_pub_hash(32)`.
///
/// Only a 32-byte binder and key hash fit (SHA-256 suites); anything else is
/// [`EvidenceError::UnsupportedSuiteForProfile`] rather than a truncated or hashed-down
/// binding (CB-05).
pub(crate) fn report_data_for(binding: &Binding) -> Result<[u8; 64], EvidenceError> {
    let binder = binding.binder();
    let aik = binding.aik_pub_hash();
    let (Ok(binder32), Ok(aik32)) = (
        <[u8; BINDER_LEN]>::try_from(binder),
        <[u8; AIK_HASH_LEN]>::try_from(aik),
    ) else {
        return Err(EvidenceError::UnsupportedSuiteForProfile(format!(
            "TDX REPORTDATA holds a 32-byte binder and a 32-byte AIK_pub_hash; this binding \
             ({:?}) has a {}-byte binder and a {}-byte key hash",
            binding.hash_algorithm(),
            binder.len(),
            aik.len()
        )));
    };
    let mut out = [0u8; 64];
    let (b, a) = out.split_at_mut(BINDER_LEN);
    b.copy_from_slice(&binder32);
    a.copy_from_slice(&aik32);
    Ok(out)
}

/// Checks REPORTDATA against `binding` in constant time: binder first, then key hash.
fn check_report_data(report_data: &[u8; 64], binding: &Binding) -> Result<(), EvidenceError> {
    report_data_for(binding)?;
    let (binder, aik) = report_data.split_at(BINDER_LEN);
    check_binder(binding.binder(), binder)?;
    check_aik(binding.aik_pub_hash(), aik)
}

/// Supplies the appraisal time, in seconds since the Unix epoch.
pub type TimeSource = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Appraises [`TDX_QUOTE_MEDIA_TYPE`] evidence: the record value is the raw quote.
///
/// Appraisal failures are [`EvidenceError::Backend`] holding an [`AppraisalError`] (downcast
/// to tell `DebugTd` from `QuoteSignature`, `QuoteFormat`…); a REPORTDATA that is not
/// `binder ‖ AIK_pub_hash` is [`EvidenceError::BinderMismatch`] or
/// [`EvidenceError::AikMismatch`]; a SHA-384 binding is
/// [`EvidenceError::UnsupportedSuiteForProfile`].
///
/// The claims are the quote's and the appraisal's ([`crate::Verdict::insert_claims`]); TCB
/// status is reported, not judged.
///
/// [`TdxVerifier::new`] caches appraisal work ([`CachingAppraiser`]): further quotes from a
/// platform already appraised under the same collateral cost one signature check instead of
/// the PCK chain, CRL and collateral signature work, with the same verdicts. Clones share
/// the cache. [`TdxVerifier::with_appraiser`] takes any [`Appraise`], e.g. a plain
/// [`Appraiser`] or a [`CachingAppraiser`] shared with other verifiers.
#[derive(Clone)]
pub struct TdxVerifier {
    appraiser: Arc<dyn Appraise>,
    collateral: Arc<dyn CollateralSource>,
    now: TimeSource,
}

impl fmt::Debug for TdxVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TdxVerifier")
            .field("appraiser", &self.appraiser)
            .field("collateral", &self.collateral)
            .finish_non_exhaustive()
    }
}

impl TdxVerifier {
    /// A verifier appraising with `appraiser` behind a [`CachingAppraiser`], collateral from
    /// `collateral`, at the time `now` returns (seconds since the Unix epoch; the caller owns
    /// the clock).
    pub fn new(
        appraiser: Appraiser,
        collateral: Arc<dyn CollateralSource>,
        now: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Self {
        Self::with_appraiser(Arc::new(CachingAppraiser::new(appraiser)), collateral, now)
    }

    /// A verifier appraising with `appraiser` as it is (a plain [`Appraiser`] redoes all the
    /// work for every quote), collateral from `collateral`, at the time `now` returns.
    pub fn with_appraiser(
        appraiser: Arc<dyn Appraise>,
        collateral: Arc<dyn CollateralSource>,
        now: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Self {
        Self {
            appraiser,
            collateral,
            now: Arc::new(now),
        }
    }

    /// The appraisal cache's counters, if the verifier's appraiser caches (it does when made
    /// by [`TdxVerifier::new`]).
    pub fn appraisal_cache_stats(&self) -> Option<crate::AppraisalCacheStats> {
        self.appraiser.cache_stats()
    }

    /// The same verifier appraising at the fixed time `now_unix`.
    pub fn with_time(mut self, now_unix: u64) -> Self {
        self.now = Arc::new(move || now_unix);
        self
    }

    /// The same verifier with another time source.
    pub fn with_time_source(mut self, now: TimeSource) -> Self {
        self.now = now;
        self
    }

    /// Fetches collateral for the quote in `value` and appraises it at `now_unix`.
    pub(crate) async fn appraise(
        &self,
        value: &[u8],
        now_unix: u64,
    ) -> Result<Verdict, AppraisalError> {
        let quote = Quote::parse(value)?;
        let collateral = self
            .collateral
            .collateral(&quote, now_unix)
            .await
            .map_err(AppraisalError::CollateralUnavailable)?;
        self.appraiser.appraise(value, &collateral, now_unix)
    }

    async fn check(&self, value: &[u8], binding: &Binding) -> Result<Claims, EvidenceError> {
        // A binding that cannot fit is refused before any work.
        report_data_for(binding)?;
        let verdict = self
            .appraise(value, (self.now)())
            .await
            .map_err(|e| EvidenceError::Backend(Box::new(e)))?;
        check_report_data(&verdict.quote.report().report_data, binding)?;
        Ok(verdict.claims())
    }
}

impl Verifier for TdxVerifier {
    fn media_type(&self) -> MediaType {
        // The constant is a valid media type (checked by atls-evidence's tests).
        MediaType::parse(TDX_QUOTE_MEDIA_TYPE)
            .unwrap_or_else(|_| unreachable!("constant media type parses"))
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>> {
        Box::pin(self.check(value, binding))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sim_tests;
