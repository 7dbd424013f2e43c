//! Collateral from a file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use atls_evidence::BoxFuture;
use dcap_qvl::QuoteCollateralV3;

use super::{CollateralKey, PckCaKind, source_err};
use crate::collateral_source::{CollateralError, CollateralSource};
use crate::quote::Quote;

/// Collateral read from a file holding dcap-qvl's `QuoteCollateralV3` JSON (byte fields as
/// hex), as fetched out of band (e.g. `dcap-qvl`'s CLI or a PCCS dump).
///
/// The file is read on every request, so replacing it takes effect at once; put a
/// [`CachedCollateral`](crate::CachedCollateral) in front to read it once per validity
/// period. A quote from another platform (FMSPC) than the file's TCB info is
/// [`CollateralError::NotFound`]. Reading blocks the calling thread briefly (a few KiB).
#[derive(Clone, Debug)]
pub struct FileCollateral {
    path: PathBuf,
}

impl FileCollateral {
    /// Collateral from the JSON file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses the file.
    pub fn load(&self) -> Result<QuoteCollateralV3, CollateralError> {
        let bytes = std::fs::read(&self.path).map_err(|e| {
            source_err(format!(
                "reading collateral file {}: {e}",
                self.path.display()
            ))
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            source_err(format!(
                "collateral file {} is not QuoteCollateralV3 JSON: {e}",
                self.path.display()
            ))
        })
    }
}

impl CollateralSource for FileCollateral {
    fn collateral<'a>(
        &'a self,
        quote: &'a Quote,
        _now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>> {
        Box::pin(async move {
            let wanted = CollateralKey::for_quote(quote)?;
            let collateral = self.load()?;
            let have = CollateralKey::for_collateral(&collateral, PckCaKind::Platform)?;
            if have.fmspc != wanted.fmspc {
                return Err(CollateralError::NotFound(format!(
                    "{wanted} in {} (it holds FMSPC {})",
                    self.path.display(),
                    hex::encode(have.fmspc)
                )));
            }
            Ok(Arc::new(collateral))
        })
    }
}
