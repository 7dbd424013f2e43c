//! Collateral bundles: collateral per platform and a pinned time, in one versioned file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use atls_evidence::BoxFuture;
use dcap_qvl::QuoteCollateralV3;
use serde::{Deserialize, Serialize};

use super::{CollateralKey, PckCaKind, collateral_dates, source_err};
use crate::collateral_source::{CollateralError, CollateralSource};
use crate::quote::Quote;

/// The `format` value of a bundle file.
pub const BUNDLE_FORMAT: &str = "atls-tdx-collateral-bundle";
/// The bundle file version this crate writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// One platform's collateral in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEntry {
    /// FMSPC, lower-case hex.
    pub fmspc: String,
    /// PCK CA.
    pub ca: PckCaKind,
    /// The collateral (dcap-qvl's JSON form).
    pub collateral: QuoteCollateralV3,
}

#[derive(Serialize, Deserialize)]
struct BundleFile {
    format: String,
    version: u32,
    pinned_time: u64,
    entries: Vec<BundleEntry>,
}

/// Collateral for a set of platforms together with the time it is pinned to, so that quotes
/// can be re-verified later exactly as they were appraised: appraise at
/// [`CollateralBundle::pinned_time`] with the bundle as the collateral source.
///
/// File format (JSON): `{"format": "atls-tdx-collateral-bundle", "version": 1,
/// "pinned_time": <unix seconds>, "entries": [{"fmspc": hex, "ca": "platform"|"processor",
/// "collateral": {...}}]}`. Entries are written sorted by key, so a bundle serialises the
/// same way every time.
///
/// As a [`CollateralSource`] it serves the entry for the quote's FMSPC and CA whatever the
/// time: the appraisal decides whether it is valid then.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollateralBundle {
    pinned_time: u64,
    entries: BTreeMap<CollateralKey, Arc<QuoteCollateralV3>>,
}

impl CollateralBundle {
    /// An empty bundle pinned to `pinned_time` (unix seconds).
    pub fn new(pinned_time: u64) -> Self {
        Self {
            pinned_time,
            entries: BTreeMap::new(),
        }
    }

    /// The time the bundle's collateral is to be used at.
    pub fn pinned_time(&self) -> u64 {
        self.pinned_time
    }

    /// Adds (or replaces) the collateral for `key`.
    pub fn insert(&mut self, key: CollateralKey, collateral: Arc<QuoteCollateralV3>) {
        self.entries.insert(key, collateral);
    }

    /// The collateral for `key`.
    pub fn get(&self, key: &CollateralKey) -> Option<&Arc<QuoteCollateralV3>> {
        self.entries.get(key)
    }

    /// The entries, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&CollateralKey, &Arc<QuoteCollateralV3>)> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the bundle is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys whose collateral is not valid at the pinned time (by its own dates).
    pub fn stale_entries(&self) -> Vec<CollateralKey> {
        self.entries
            .iter()
            .filter(|(_, c)| !collateral_dates(c).is_ok_and(|d| d.covers(self.pinned_time)))
            .map(|(k, _)| *k)
            .collect()
    }

    /// The bundle as JSON.
    pub fn to_json(&self) -> String {
        let file = BundleFile {
            format: BUNDLE_FORMAT.to_string(),
            version: BUNDLE_VERSION,
            pinned_time: self.pinned_time,
            entries: self
                .entries
                .iter()
                .map(|(k, c)| BundleEntry {
                    fmspc: hex::encode(k.fmspc),
                    ca: k.ca,
                    collateral: QuoteCollateralV3::clone(c),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Parses a bundle; the format name and version must be this crate's.
    pub fn from_json(json: &[u8]) -> Result<Self, CollateralError> {
        let file: BundleFile = serde_json::from_slice(json)
            .map_err(|e| source_err(format!("collateral bundle: {e}")))?;
        if file.format != BUNDLE_FORMAT || file.version != BUNDLE_VERSION {
            return Err(source_err(format!(
                "collateral bundle: expected format {BUNDLE_FORMAT:?} version {BUNDLE_VERSION}, saw {:?} version {}",
                file.format, file.version
            )));
        }
        let mut bundle = Self::new(file.pinned_time);
        for entry in file.entries {
            let fmspc = hex::decode(&entry.fmspc)
                .ok()
                .and_then(|b| <[u8; 6]>::try_from(b).ok())
                .ok_or_else(|| {
                    source_err(format!(
                        "collateral bundle: expected a 6-byte hex FMSPC, saw {:?}",
                        entry.fmspc
                    ))
                })?;
            bundle.insert(
                CollateralKey {
                    fmspc,
                    ca: entry.ca,
                },
                Arc::new(entry.collateral),
            );
        }
        Ok(bundle)
    }

    /// Writes the bundle to `path`.
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<(), CollateralError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json())
            .map_err(|e| source_err(format!("writing bundle {}: {e}", path.display())))
    }

    /// Reads a bundle from `path`.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Self, CollateralError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| source_err(format!("reading bundle {}: {e}", path.display())))?;
        Self::from_json(&bytes)
    }
}

impl CollateralSource for CollateralBundle {
    fn collateral<'a>(
        &'a self,
        quote: &'a Quote,
        _now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>> {
        Box::pin(async move {
            let key = CollateralKey::for_quote(quote)?;
            self.get(&key)
                .cloned()
                .ok_or_else(|| CollateralError::NotFound(format!("{key} in the bundle")))
        })
    }
}
