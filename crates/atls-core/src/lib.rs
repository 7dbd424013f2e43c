//! Sans-IO attested TLS: RFC 9261 Exported Authenticators carrying attestation evidence as
//! specified by draft-fossati-seat-expat (post-handshake attestation).
//!
//! After a TLS 1.3 handshake, a relying party sends an authenticator request offering
//! `cmw_attestation`; the attester answers with an authenticator whose end-entity
//! CertificateEntry carries evidence (a CMW) bound to this connection and request through the
//! TLS exporter ([`Binding`]). The relying party validates the authenticator, has the evidence
//! appraised, and only then treats the peer as attested.
//!
//! This crate does no IO and reads no clock: see [`Session`] for the poll/handle contract.
//! Its modules:
//! - wire codec for every message ([`AuthenticatorRequest`], [`Certificate`],
//!   [`CertificateVerify`], [`Finished`], [`Authenticator`]), strict and bounded;
//! - authenticator keys from the TLS exporter ([`Exporter`], [`ExporterMasterSecret`]);
//! - CertificateVerify and Finished ([`build_authenticator`], [`validate_authenticator`]);
//! - the binder ([`Binding`], [`Profile`]);
//! - the session state machine ([`Session`]).
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

mod authenticator;
mod binder;
mod codec;
mod error;
mod exporter;
mod msgs;
mod session;
mod sign;
mod suite;

pub use authenticator::{
    Authenticated, Expectation, Validation, build_authenticator, build_empty_authenticator,
    certificate_verify_content, decode_authenticator, finished_verify_data, validate_authenticator,
};
pub use binder::{Binding, DEFAULT_CMW_ATTESTATION, DraftRevision, Profile};
pub use codec::Codec;
pub use error::{
    AlertDescription, ApiMisuse, AppraisalError, BoxError, CertificateError, Error, InvalidMessage,
    PeerMisbehaved, TimeoutReason,
};
pub use exporter::{AuthenticatorKeys, Exporter, ExporterError, ExporterMasterSecret, Role};
pub use msgs::{
    Authenticator, AuthenticatorRequest, Certificate, CertificateEntry, CertificateVerify,
    Extension, ExtensionType, Finished, HandshakeType, MAX_CERT_DER_LEN, MAX_CHAIN_LEN,
    MAX_CMW_LEN, MAX_CONTEXT_LEN, MAX_EXTENSIONS, MAX_MESSAGE_LEN, MAX_SIGNATURE_LEN, Message,
    RequestKind, SignatureScheme, message_length,
};
pub use rustls_pki_types::CertificateDer;
pub use session::{Config, Event, MAX_VERIFIER_NONCE_LEN, OperationId, Session};
pub use sign::{
    CertificateVerifier, CertifiedKey, EcdsaP256SigningKey, EcdsaP384SigningKey, Ed25519SigningKey,
    PinnedKeyVerifier, SigningKey, signing_key_from_pkcs8_der, spki_der,
};
pub use suite::{CipherSuite, HashAlgorithm};
