//! Evidence handling for atls: the CMW wrapper that carries attestation
//! evidence and results in an Exported Authenticator
//! (draft-fossati-seat-expat), and the media types that name what it wraps.
//!
//! Decoding peer input never panics: the non-test code denies `unwrap`,
//! `expect`, indexing and `panic!`.
//!
//! ```
//! use atls_evidence::{Cmw, CmwFormat, Indicator, MediaType, Record, TDX_QUOTE_MEDIA_TYPE};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Attester: wrap a quote as an Evidence record.
//! let quote = vec![0x04, 0x00, 0x02, 0x00];
//! let media_type = MediaType::parse(TDX_QUOTE_MEDIA_TYPE)?;
//! let record = Record::new(media_type.clone(), quote.clone(), Some(Indicator::EVIDENCE))?;
//! let cmw_data = Cmw::new_cbor(record).encode();
//!
//! // Relying party: decode strictly, then check type and kind.
//! let cmw = Cmw::decode(&cmw_data)?;
//! assert_eq!(cmw.format(), CmwFormat::Cbor);
//! let record = cmw.node().as_record().ok_or("expected a record")?;
//! assert_eq!(record.media_type(), Some(&media_type));
//! assert!(record.indicator().is_some_and(|i| i.contains(Indicator::EVIDENCE)));
//! assert_eq!(record.value(), quote);
//! # Ok(())
//! # }
//! ```

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

mod claims;
mod cmw;
mod contract;
mod ear;
mod error;
pub mod insecure_test;
mod media_type;

pub use claims::Claims;
pub use contract::{Attester, BoxFuture, Verifier, VerifierSet};
pub use ear::{
    AttestationResult, EAR_PROFILE, EarAlgorithm, EarHeader, EarIssuer, EarStatus, EarVerifier,
    EarVerifyingKey, MAX_EAR_LEN, Submod, TrustedKey, VerifierId, decode_attestation_result,
};
pub use error::{BackendError, EvidenceError, check_aik, check_binder, check_verifier_nonce};

pub use cmw::{
    Cmw, CmwError, CmwFormat, CmwNode, Collection, CollectionType, Indicator, Label, MAX_DEPTH,
    MAX_ENCODED_LEN, Record, RecordType, Tag,
};
pub use media_type::{
    EAR_CWT_MEDIA_TYPE, EAR_JWT_MEDIA_TYPE, INSECURE_TEST_EVIDENCE_MEDIA_TYPE, MediaType,
    MediaTypeError, TDX_QUOTE_MEDIA_TYPE,
};
