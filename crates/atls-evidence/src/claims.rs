//! Appraised claims: what a verifier says about evidence it accepted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A typed, serialisable claims set, the input of policy.
///
/// Claim names are flat, dotted, and namespaced by the evidence technology
/// (`tdx.mr_td`, `tdx.tcb_status`, `test.platform`); byte strings are lower-case hex.
/// A collection's items appear under [`Claims::submods`], keyed by their label.
///
/// ```
/// use atls_evidence::Claims;
/// let mut c = Claims::new("application/vnd.example");
/// c.insert("tdx.tcb_status", "UpToDate");
/// assert_eq!(c.get_str("tdx.tcb_status"), Some("UpToDate"));
/// assert!(serde_json::to_string(&c).unwrap().contains("UpToDate"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Media type of the evidence (or attestation result) these claims come from.
    pub evidence_type: String,
    /// The claims.
    pub values: BTreeMap<String, Value>,
    /// Claims of the items of a collection, by label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub submods: BTreeMap<String, Self>,
}

impl Claims {
    /// Empty claims for evidence of `evidence_type`.
    pub fn new(evidence_type: impl Into<String>) -> Self {
        Self {
            evidence_type: evidence_type.into(),
            ..Self::default()
        }
    }

    /// Sets a claim.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.values.insert(name.into(), value.into());
    }

    /// Sets a byte-string claim, as lower-case hex.
    pub fn insert_hex(&mut self, name: impl Into<String>, bytes: &[u8]) {
        self.insert(name, hex::encode(bytes));
    }

    /// A claim's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// A text claim.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }
}
