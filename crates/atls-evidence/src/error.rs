//! Why evidence was not accepted.

use core::fmt;

use crate::cmw::{CmwError, Indicator};

/// A boxed backend error.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Evidence or an attestation result that was not accepted. Each variant says what was
/// expected and what was seen.
#[derive(Debug)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The evidence's nonce is not the binder of this request on this connection.
    BinderMismatch {
        /// The binder recomputed from our own connection.
        expected: Vec<u8>,
        /// What the evidence carries.
        seen: Vec<u8>,
    },
    /// The request this evidence answers did not carry the verifier's nonce at the start of
    /// its context (background-check model).
    NonceMismatch {
        /// The verifier's nonce.
        expected: Vec<u8>,
        /// The request's context.
        context: Vec<u8>,
    },
    /// The evidence binds another key than the authenticator's (`AIK_pub_hash`).
    AikMismatch {
        /// Hash of the authenticator's key.
        expected: Vec<u8>,
        /// What the evidence carries.
        seen: Vec<u8>,
    },
    /// No verifier is configured for this media type (never parsed "best effort").
    UnsupportedEvidenceType(String),
    /// The CMW does not decode.
    CmwDecode(CmwError),
    /// The CMW's indicator says it is another kind of message than the verifier appraises
    /// (e.g. an attestation result where evidence was expected).
    IndicatorMismatch {
        /// What the verifier appraises.
        expected: Indicator,
        /// What the CMW says.
        seen: Indicator,
    },
    /// An item of a collection failed; every item must be independently bound.
    CollectionItem {
        /// The item's label.
        label: String,
        /// Why it failed.
        source: Box<Self>,
    },
    /// An attestation result without `eat_nonce`, or whose nonce is not this request's binder.
    UnboundAttestationResult {
        /// The binder of this request.
        expected: Vec<u8>,
        /// The nonce in the result, if any.
        seen: Option<Vec<u8>>,
    },
    /// An attestation result not signed by a configured verifier key.
    UntrustedAttestationResult(String),
    /// An attestation result whose submodule status is not affirming.
    AttestationResultStatus {
        /// The submodule.
        submod: String,
        /// Its status.
        status: String,
    },
    /// The evidence value is malformed for its type.
    Malformed {
        /// The media type.
        evidence_type: String,
        /// What is wrong.
        detail: String,
    },
    /// The binding does not fit this evidence format (e.g. SHA-384 binder and key hash in a
    /// 64-byte TDX REPORTDATA).
    UnsupportedSuiteForProfile(String),
    /// A technology-specific failure (signature chain, TCB, collateral…).
    Backend(BackendError),
}

impl fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BinderMismatch { expected, seen } => write!(
                f,
                "evidence nonce {} is not this request's binder {}",
                hex::encode(seen),
                hex::encode(expected)
            ),
            Self::NonceMismatch { expected, context } => write!(
                f,
                "request context {} does not start with the verifier's nonce {}",
                hex::encode(context),
                hex::encode(expected)
            ),
            Self::AikMismatch { expected, seen } => write!(
                f,
                "evidence binds key hash {}, authenticator key hash is {}",
                hex::encode(seen),
                hex::encode(expected)
            ),
            Self::UnsupportedEvidenceType(t) => write!(f, "no verifier for evidence type {t:?}"),
            Self::CmwDecode(e) => write!(f, "CMW: {e}"),
            Self::IndicatorMismatch { expected, seen } => write!(
                f,
                "CMW indicator {:#x} where {:#x} was expected",
                seen.bits(),
                expected.bits()
            ),
            Self::CollectionItem { label, source } => {
                write!(f, "collection item {label}: {source}")
            }
            Self::UnboundAttestationResult { expected, seen } => match seen {
                None => write!(
                    f,
                    "attestation result has no eat_nonce; expected binder {}",
                    hex::encode(expected)
                ),
                Some(seen) => write!(
                    f,
                    "attestation result eat_nonce {} is not this request's binder {}",
                    hex::encode(seen),
                    hex::encode(expected)
                ),
            },
            Self::UntrustedAttestationResult(why) => {
                write!(f, "attestation result not trusted: {why}")
            }
            Self::AttestationResultStatus { submod, status } => {
                write!(f, "attestation result for {submod:?} has status {status:?}")
            }
            Self::Malformed {
                evidence_type,
                detail,
            } => write!(f, "malformed {evidence_type} evidence: {detail}"),
            Self::UnsupportedSuiteForProfile(why) => write!(f, "binding does not fit: {why}"),
            Self::Backend(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EvidenceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CmwDecode(e) => Some(e),
            Self::CollectionItem { source, .. } => Some(source.as_ref()),
            Self::Backend(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<CmwError> for EvidenceError {
    fn from(e: CmwError) -> Self {
        Self::CmwDecode(e)
    }
}

impl From<EvidenceError> for atls_core::AppraisalError {
    fn from(e: EvidenceError) -> Self {
        Self::Evidence(Box::new(e))
    }
}

/// Checks `seen` against `expected` for a binder, in constant time.
pub fn check_binder(expected: &[u8], seen: &[u8]) -> Result<(), EvidenceError> {
    match ct_eq(expected, seen) {
        true => Ok(()),
        false => Err(EvidenceError::BinderMismatch {
            expected: expected.to_vec(),
            seen: seen.to_vec(),
        }),
    }
}

/// Checks that the request `binding` answers carried the verifier's `nonce` at the start of
/// its context (background-check model; see
/// `atls_core::Session::request_attestation_with_nonce`).
pub fn check_verifier_nonce(
    binding: &atls_core::Binding,
    nonce: &[u8],
) -> Result<(), EvidenceError> {
    let context = binding.context();
    match context.get(..nonce.len()).is_some_and(|p| ct_eq(p, nonce)) {
        true => Ok(()),
        false => Err(EvidenceError::NonceMismatch {
            expected: nonce.to_vec(),
            context: context.to_vec(),
        }),
    }
}

/// Checks `seen` against `expected` for `AIK_pub_hash`, in constant time.
pub fn check_aik(expected: &[u8], seen: &[u8]) -> Result<(), EvidenceError> {
    match ct_eq(expected, seen) {
        true => Ok(()),
        false => Err(EvidenceError::AikMismatch {
            expected: expected.to_vec(),
            seen: seen.to_vec(),
        }),
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
