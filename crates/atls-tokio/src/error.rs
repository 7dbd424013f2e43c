//! Errors of attested connections.

use std::fmt;
use std::io;

/// Why an attested connection could not be established or was torn down.
#[derive(Debug)]
#[non_exhaustive]
pub enum AtlsError {
    /// Socket or TLS IO failed.
    Io(io::Error),
    /// The builder was given a configuration the attested-TLS profile forbids or that is
    /// incomplete.
    Config(String),
    /// The attestation protocol failed locally: a bad authenticator, evidence, policy, or a
    /// timeout of one exchange. The inner error says which, and maps to the alert sent.
    Attestation(atls_core::Error),
    /// The peer closed with an alert.
    PeerAlert {
        /// Alert code (RFC 8446 §6).
        code: u8,
        /// The peer's reason.
        reason: String,
    },
    /// The peer broke the framing or ordering rules (docs/wire.md), e.g. sent application
    /// data before it was allowed to.
    Protocol(String),
    /// Bytes on the stream are not a valid frame (docs/wire.md §2): unknown type, length over
    /// its maximum, or a payload that does not decode.
    Framing(String),
    /// Attestation did not complete within the configured time.
    Timeout,
    /// No re-attestation succeeded within the attestation lease.
    LeaseExpired,
    /// The peer closed the connection before attestation completed.
    Closed,
}

impl AtlsError {
    /// The TLS alert code sent to the peer for this error.
    pub fn alert_code(&self) -> u8 {
        match self {
            Self::Attestation(e) => e.alert().get(),
            Self::Protocol(_) => 10,
            Self::Framing(_) => 50,
            Self::Timeout | Self::LeaseExpired => 40,
            Self::Config(_) | Self::Io(_) => 80,
            Self::PeerAlert { code, .. } => *code,
            Self::Closed => 0,
        }
    }

    /// The session error, if this is an attestation failure.
    pub fn attestation_error(&self) -> Option<&atls_core::Error> {
        match self {
            Self::Attestation(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for AtlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "io: {e}"),
            Self::Config(why) => write!(f, "configuration: {why}"),
            Self::Attestation(e) => write!(f, "attestation failed: {e}"),
            Self::PeerAlert { code, reason } => write!(f, "peer sent alert {code}: {reason}"),
            Self::Protocol(why) => write!(f, "protocol violation: {why}"),
            Self::Framing(why) => write!(f, "malformed frame: {why}"),
            Self::Timeout => f.write_str("attestation did not complete in time"),
            Self::LeaseExpired => f.write_str("attestation lease expired without renewal"),
            Self::Closed => f.write_str("peer closed the connection before attestation"),
        }
    }
}

impl std::error::Error for AtlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Attestation(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for AtlsError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<atls_core::Error> for AtlsError {
    fn from(e: atls_core::Error) -> Self {
        Self::Attestation(e)
    }
}
