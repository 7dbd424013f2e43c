//! An [`Attester`] over the simulator, so demos run end to end with the real TDX verifier.

use core::fmt;
use std::sync::Arc;

use atls_core::Binding;
use atls_evidence::{
    Attester, BoxFuture, Cmw, EvidenceError, Indicator, MediaType, Record, TDX_QUOTE_MEDIA_TYPE,
};

use super::{QuoteVariant, SimulatedTd, TdxSimulator};
use crate::collateral::off_thread::OffThread;
use crate::verifier::report_data_for;

/// **Insecure, for tests and demos only.** Answers attestation requests with simulated TDX
/// quotes whose REPORTDATA is `binder ‖ AIK_pub_hash`, as the TDX verifier expects. It
/// refuses bindings that do not fit (SHA-384 suites) with
/// [`EvidenceError::UnsupportedSuiteForProfile`].
///
/// Its quotes verify only under the simulator's root
/// ([`TdxSimulator::test_root_ca_der`]); a verifier on Intel's root rejects them. Quote
/// generation takes the simulator's generation delay on a thread of its own, so it does
/// not block the caller's executor.
#[derive(Clone)]
pub struct SimulatedTdxAttester {
    simulator: Arc<TdxSimulator>,
    td: SimulatedTd,
    variant: QuoteVariant,
}

impl fmt::Debug for SimulatedTdxAttester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedTdxAttester (INSECURE)")
            .field("td", &self.td)
            .field("variant", &self.variant)
            .finish_non_exhaustive()
    }
}

impl SimulatedTdxAttester {
    /// Attests as `td` on the simulated platform `simulator`.
    pub fn new(simulator: Arc<TdxSimulator>, td: SimulatedTd) -> Self {
        Self {
            simulator,
            td,
            variant: QuoteVariant::Genuine,
        }
    }

    /// The same attester producing quotes of `variant` (negative tests).
    pub fn with_variant(mut self, variant: QuoteVariant) -> Self {
        self.variant = variant;
        self
    }

    /// The simulated platform.
    pub fn simulator(&self) -> &Arc<TdxSimulator> {
        &self.simulator
    }

    /// The raw quote (not yet wrapped in a CMW) for `binding`, generated on the calling
    /// thread (it sleeps for the generation delay).
    pub fn quote_blocking(&self, binding: &Binding) -> Result<Vec<u8>, EvidenceError> {
        let report_data = report_data_for(binding)?;
        Ok(self
            .simulator
            .quote_variant(&self.td, &report_data, self.variant))
    }

    fn wrap(quote: Vec<u8>) -> Result<Vec<u8>, EvidenceError> {
        let media_type = MediaType::parse(TDX_QUOTE_MEDIA_TYPE)
            .map_err(|e| EvidenceError::Backend(Box::new(e)))?;
        let record = Record::new(media_type, quote, Some(Indicator::EVIDENCE))?;
        Ok(Cmw::new_cbor(record).encode())
    }
}

impl Attester for SimulatedTdxAttester {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        Box::pin(async move {
            let report_data = report_data_for(binding)?;
            let quote = if self.simulator.config().generation_delay.is_zero() {
                self.simulator
                    .quote_variant(&self.td, &report_data, self.variant)
            } else {
                let simulator = Arc::clone(&self.simulator);
                let (td, variant) = (self.td.clone(), self.variant);
                OffThread::spawn(move || simulator.quote_variant(&td, &report_data, variant))
                    .await
                    .ok_or_else(|| {
                        EvidenceError::Backend("simulated quote generation thread failed".into())
                    })?
            };
            Self::wrap(quote)
        })
    }
}
