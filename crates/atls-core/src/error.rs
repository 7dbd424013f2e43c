//! Layered errors. Every error a peer can cause maps to one TLS alert in [`Error::alert`].

use core::fmt;

use crate::msgs::{ExtensionType, HandshakeType, SignatureScheme};

/// A boxed error from a host-supplied component (evidence verifier, policy, signer, chain
/// verifier). Kept as a trait object so callers can downcast to their own types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Bytes that do not decode as the structure they claim to be.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidMessage {
    /// Fewer bytes than a field needs.
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A length outside the field's bounds.
    BadLength {
        /// The field.
        what: &'static str,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
        /// What the peer sent.
        seen: usize,
    },
    /// Bytes left over after a complete structure.
    TrailingBytes {
        /// The structure.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
    /// A `certificate_request_context` of length zero.
    EmptyContext,
    /// Two extensions of one type in one block (RFC 8446 §4.2).
    DuplicateExtension(ExtensionType),
    /// A request without an extension it must carry.
    MissingExtension(ExtensionType),
    /// More items than the cap on a list.
    TooMany {
        /// The list.
        what: &'static str,
        /// The cap.
        max: usize,
    },
    /// A handshake message of a type not allowed here.
    UnexpectedMessage {
        /// A type that would have been accepted.
        expected: HandshakeType,
        /// The type received.
        got: HandshakeType,
    },
    /// A field whose value is not allowed.
    InvalidValue {
        /// The field.
        what: &'static str,
        /// Why.
        detail: &'static str,
    },
}

impl fmt::Display for InvalidMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                what,
                needed,
                available,
            } => write!(f, "{what}: needed {needed} bytes, {available} left"),
            Self::BadLength {
                what,
                min,
                max,
                seen,
            } => write!(f, "{what}: length {seen} outside {min}..={max}"),
            Self::TrailingBytes { what, extra } => {
                write!(f, "{what}: {extra} trailing bytes after the structure")
            }
            Self::EmptyContext => f.write_str("certificate_request_context is empty"),
            Self::DuplicateExtension(t) => write!(f, "extension {} appears twice", t.0),
            Self::MissingExtension(t) => write!(f, "required extension {} is missing", t.0),
            Self::TooMany { what, max } => write!(f, "{what}: more than {max} items"),
            Self::UnexpectedMessage { expected, got } => write!(
                f,
                "unexpected handshake message: expected {expected:?}, got {got:?}"
            ),
            Self::InvalidValue { what, detail } => write!(f, "{what}: {detail}"),
        }
    }
}

impl std::error::Error for InvalidMessage {}

/// A well-formed message that breaks a protocol rule.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// Finished does not match the HMAC over the transcript.
    BadFinished,
    /// CertificateVerify does not verify with the end-entity key.
    BadSignature,
    /// The authenticator's context is not the context of the request it answers.
    ContextMismatch,
    /// A context already answered (or used by the other direction) on this connection.
    ContextReused,
    /// A CertificateEntry carries an extension the request did not offer.
    UnsolicitedExtension(ExtensionType),
    /// `cmw_attestation` in a Certificate whose request did not offer it
    /// (draft-fossati-seat-expat: `unsupported_extension`).
    UnsupportedExtension(ExtensionType),
    /// `cmw_attestation` in a CertificateEntry other than the first.
    ExtensionNotInLeaf(ExtensionType),
    /// The CertificateVerify scheme was not offered by the request.
    SchemeNotOffered {
        /// The scheme used.
        used: SignatureScheme,
        /// The schemes offered.
        offered: Vec<SignatureScheme>,
    },
    /// A scheme TLS 1.3 forbids in CertificateVerify, or one this crate cannot verify.
    SchemeNotAllowed(SignatureScheme),
    /// The scheme does not match the end-entity key's algorithm.
    SchemeKeyMismatch(SignatureScheme),
    /// An authenticator with no request outstanding, from a peer not allowed to send one.
    UnsolicitedAuthenticator,
    /// An authenticator whose certificate list is empty.
    EmptyCertificateList,
    /// The end-entity certificate is not parseable X.509 or its key is unusable.
    UnsupportedCertificate(String),
    /// A request of the type the local role sends (e.g. a CertificateRequest from a client).
    WrongRequestType {
        /// The type the peer's role sends.
        expected: HandshakeType,
        /// The type received.
        got: HandshakeType,
    },
    /// An empty authenticator that verifies against no outstanding request.
    UnmatchedEmptyAuthenticator,
}

impl fmt::Display for PeerMisbehaved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadFinished => f.write_str("Finished verify_data does not match the transcript"),
            Self::BadSignature => {
                f.write_str("CertificateVerify signature does not verify with the end-entity key")
            }
            Self::ContextMismatch => {
                f.write_str("certificate_request_context matches no outstanding request")
            }
            Self::ContextReused => {
                f.write_str("certificate_request_context was already used on this connection")
            }
            Self::UnsolicitedExtension(t) => write!(
                f,
                "CertificateEntry carries extension {} that the request did not offer",
                t.0
            ),
            Self::UnsupportedExtension(t) => write!(
                f,
                "cmw_attestation ({}) present but the request did not offer it",
                t.0
            ),
            Self::ExtensionNotInLeaf(t) => write!(
                f,
                "cmw_attestation ({}) outside the first CertificateEntry",
                t.0
            ),
            Self::SchemeNotOffered { used, offered } => write!(
                f,
                "signature scheme {:#06x} was not offered (offered: {:04x?})",
                used.0,
                offered.iter().map(|s| s.0).collect::<Vec<_>>()
            ),
            Self::SchemeNotAllowed(s) => {
                write!(
                    f,
                    "signature scheme {:#06x} is not allowed in CertificateVerify",
                    s.0
                )
            }
            Self::SchemeKeyMismatch(s) => write!(
                f,
                "signature scheme {:#06x} does not match the end-entity key",
                s.0
            ),
            Self::UnsolicitedAuthenticator => {
                f.write_str("authenticator received with no request outstanding")
            }
            Self::EmptyCertificateList => f.write_str("authenticator has no certificates"),
            Self::UnsupportedCertificate(why) => write!(f, "end-entity certificate: {why}"),
            Self::WrongRequestType { expected, got } => {
                write!(f, "peer sent a {got:?} but its role sends {expected:?}")
            }
            Self::UnmatchedEmptyAuthenticator => {
                f.write_str("empty authenticator matches no outstanding request")
            }
        }
    }
}

impl std::error::Error for PeerMisbehaved {}

/// The caller used the API in a way it does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// The TLS handshake (including the client's Finished) has not completed: no exporter.
    HandshakeNotComplete,
    /// The session already failed or was closed.
    SessionClosed,
    /// An evidence or appraisal answer for an id the session is not waiting on.
    UnknownId(u64),
    /// A spontaneous authenticator was asked of a TLS client (RFC 9261 §3 forbids it).
    SpontaneousFromClient,
    /// An operation needs a local identity and none is configured.
    NoIdentity,
    /// The exporter failed for another reason.
    Exporter(String),
    /// A configuration the attested-TLS profile forbids (e.g. resumption, 0-RTT).
    ForbiddenConfig(&'static str),
    /// A cipher suite that is not a TLS 1.3 suite this crate knows.
    UnsupportedCipherSuite(u16),
}

impl fmt::Display for ApiMisuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HandshakeNotComplete => {
                f.write_str("TLS handshake not complete: exporters are not available yet")
            }
            Self::SessionClosed => f.write_str("session is closed"),
            Self::UnknownId(id) => write!(f, "no pending operation with id {id}"),
            Self::SpontaneousFromClient => {
                f.write_str("only a TLS server may send a spontaneous authenticator")
            }
            Self::NoIdentity => f.write_str("no local certificate and signing key configured"),
            Self::Exporter(why) => write!(f, "TLS exporter failed: {why}"),
            Self::ForbiddenConfig(why) => write!(f, "configuration forbidden: {why}"),
            Self::UnsupportedCipherSuite(s) => {
                write!(f, "cipher suite {s:#06x} is not a known TLS 1.3 suite")
            }
        }
    }
}

impl std::error::Error for ApiMisuse {}

/// Why the peer's certificate chain was rejected by the [`crate::CertificateVerifier`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateError {
    /// Chain does not lead to a trusted root.
    UnknownIssuer,
    /// A certificate is expired or not yet valid.
    Expired,
    /// A certificate is revoked.
    Revoked,
    /// The certificate is not valid for the expected peer name.
    NotValidForName {
        /// The name expected.
        expected: String,
    },
    /// The authenticator's key differs from the key the peer proved in the TLS handshake.
    IdentitySwitch,
    /// Any other rejection.
    Other(String),
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownIssuer => f.write_str("certificate chain has an unknown issuer"),
            Self::Expired => f.write_str("certificate expired or not yet valid"),
            Self::Revoked => f.write_str("certificate revoked"),
            Self::NotValidForName { expected } => {
                write!(f, "certificate not valid for {expected:?}")
            }
            Self::IdentitySwitch => f.write_str(
                "authenticator key differs from the key of the TLS handshake certificate",
            ),
            Self::Other(why) => write!(f, "certificate rejected: {why}"),
        }
    }
}

impl std::error::Error for CertificateError {}

/// What the host's appraisal of evidence said, when it said no.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppraisalError {
    /// Evidence is invalid: bad signature, wrong binder, unknown format…
    Evidence(BoxError),
    /// Evidence is valid but the policy rejects what it shows.
    Policy(BoxError),
}

/// A timer the session armed and that expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutReason {
    /// The peer did not answer our request in time.
    AwaitingAuthenticator,
    /// The local attester did not produce evidence in time.
    AwaitingEvidence,
    /// The local verifier did not appraise evidence in time.
    AwaitingAppraisal,
}

/// TLS alert descriptions (RFC 8446 §6) that attested-TLS failures map to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlertDescription {
    /// 10
    UnexpectedMessage,
    /// 40
    HandshakeFailure,
    /// 42
    BadCertificate,
    /// 44
    CertificateRevoked,
    /// 45
    CertificateExpired,
    /// 47
    IllegalParameter,
    /// 48
    UnknownCa,
    /// 49
    AccessDenied,
    /// 50
    DecodeError,
    /// 51
    DecryptError,
    /// 80
    InternalError,
    /// 109
    MissingExtension,
    /// 110
    UnsupportedExtension,
    /// 116
    CertificateRequired,
}

impl AlertDescription {
    /// The alert's codepoint.
    pub fn get(self) -> u8 {
        match self {
            Self::UnexpectedMessage => 10,
            Self::HandshakeFailure => 40,
            Self::BadCertificate => 42,
            Self::CertificateRevoked => 44,
            Self::CertificateExpired => 45,
            Self::IllegalParameter => 47,
            Self::UnknownCa => 48,
            Self::AccessDenied => 49,
            Self::DecodeError => 50,
            Self::DecryptError => 51,
            Self::InternalError => 80,
            Self::MissingExtension => 109,
            Self::UnsupportedExtension => 110,
            Self::CertificateRequired => 116,
        }
    }
}

/// Any failure of an attested-TLS session. Every variant is fatal for the connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Peer bytes did not decode.
    InvalidMessage(InvalidMessage),
    /// Peer broke a protocol rule.
    PeerMisbehaved(PeerMisbehaved),
    /// The local caller misused the API.
    ApiMisuse(ApiMisuse),
    /// The peer's certificate chain was rejected (attestation never replaces this check).
    Certificate(CertificateError),
    /// The peer's evidence failed appraisal.
    Evidence(BoxError),
    /// The peer's evidence is valid but the policy rejects it.
    Policy(BoxError),
    /// The peer answered our attestation request without `cmw_attestation`.
    AttestationMissing,
    /// The peer refused our request with a well-formed empty authenticator.
    PeerRefused,
    /// A timer expired.
    Timeout(TimeoutReason),
    /// The local signer failed.
    Signing(BoxError),
}

impl Error {
    /// The TLS alert this error closes the connection with.
    pub fn alert(&self) -> AlertDescription {
        use AlertDescription as A;
        match self {
            Self::InvalidMessage(InvalidMessage::UnexpectedMessage { .. }) => A::UnexpectedMessage,
            Self::InvalidMessage(_) => A::DecodeError,
            Self::PeerMisbehaved(p) => match p {
                PeerMisbehaved::BadFinished | PeerMisbehaved::BadSignature => A::DecryptError,
                PeerMisbehaved::UnsupportedExtension(_)
                | PeerMisbehaved::UnsolicitedExtension(_) => A::UnsupportedExtension,
                PeerMisbehaved::UnsolicitedAuthenticator
                | PeerMisbehaved::WrongRequestType { .. } => A::UnexpectedMessage,
                PeerMisbehaved::UnsupportedCertificate(_) => A::BadCertificate,
                PeerMisbehaved::EmptyCertificateList => A::CertificateRequired,
                _ => A::IllegalParameter,
            },
            Self::ApiMisuse(_) | Self::Signing(_) => A::InternalError,
            Self::Certificate(c) => match c {
                CertificateError::UnknownIssuer => A::UnknownCa,
                CertificateError::Expired => A::CertificateExpired,
                CertificateError::Revoked => A::CertificateRevoked,
                _ => A::BadCertificate,
            },
            Self::Evidence(_) => A::BadCertificate,
            Self::Policy(_) => A::AccessDenied,
            Self::AttestationMissing => A::MissingExtension,
            Self::PeerRefused => A::CertificateRequired,
            Self::Timeout(_) => A::HandshakeFailure,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidMessage(e) => write!(f, "invalid message: {e}"),
            Self::PeerMisbehaved(e) => write!(f, "peer misbehaved: {e}"),
            Self::ApiMisuse(e) => write!(f, "API misuse: {e}"),
            Self::Certificate(e) => write!(f, "peer certificate: {e}"),
            Self::Evidence(e) => write!(f, "evidence rejected: {e}"),
            Self::Policy(e) => write!(f, "policy rejected the peer: {e}"),
            Self::AttestationMissing => {
                f.write_str("peer answered the attestation request without evidence")
            }
            Self::PeerRefused => f.write_str("peer refused the request (empty authenticator)"),
            Self::Timeout(r) => write!(f, "timed out: {r:?}"),
            Self::Signing(e) => write!(f, "local signing failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidMessage(e) => Some(e),
            Self::PeerMisbehaved(e) => Some(e),
            Self::ApiMisuse(e) => Some(e),
            Self::Certificate(e) => Some(e),
            Self::Evidence(e) | Self::Policy(e) | Self::Signing(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<InvalidMessage> for Error {
    fn from(e: InvalidMessage) -> Self {
        Self::InvalidMessage(e)
    }
}

impl From<PeerMisbehaved> for Error {
    fn from(e: PeerMisbehaved) -> Self {
        Self::PeerMisbehaved(e)
    }
}

impl From<ApiMisuse> for Error {
    fn from(e: ApiMisuse) -> Self {
        Self::ApiMisuse(e)
    }
}

impl From<CertificateError> for Error {
    fn from(e: CertificateError) -> Self {
        Self::Certificate(e)
    }
}

impl From<AppraisalError> for Error {
    fn from(e: AppraisalError) -> Self {
        match e {
            AppraisalError::Evidence(e) => Self::Evidence(e),
            AppraisalError::Policy(e) => Self::Policy(e),
        }
    }
}
