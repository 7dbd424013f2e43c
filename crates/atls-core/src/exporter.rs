//! The TLS exporter seam (RFC 8446 §7.5) and the authenticator keys derived from it.
//!
//! The core never holds a TLS connection. Whatever needs an exporter value takes a
//! `&dyn Exporter` argument, which the host implements over its TLS stack (e.g. rustls
//! `export_keying_material`) and which must fail with [`ExporterError::HandshakeNotComplete`]
//! until the handshake, including the client's Finished, is complete.

use core::fmt;

use hkdf::Hkdf;
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use crate::suite::HashAlgorithm;

/// A source of TLS 1.3 exporter values for one connection.
pub trait Exporter {
    /// Fills `out` with `TLS-Exporter(label, context, out.len())`.
    fn export(&self, label: &[u8], context: &[u8], out: &mut [u8]) -> Result<(), ExporterError>;
}

/// Why an exporter value could not be produced.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExporterError {
    /// The TLS handshake has not completed.
    HandshakeNotComplete,
    /// Any other failure of the TLS stack.
    Other(String),
}

impl fmt::Display for ExporterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HandshakeNotComplete => f.write_str("handshake not complete"),
            Self::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ExporterError {}

/// An [`Exporter`] computed from the connection's `exporter_master_secret` (RFC 8446 §7.5),
/// for TLS stacks that expose only the secret, and for tests. The secret is zeroized on drop.
///
/// ```
/// use atls_core::{Exporter, ExporterMasterSecret, HashAlgorithm};
/// let ems = ExporterMasterSecret::new(HashAlgorithm::Sha256, &[0x11; 32]).unwrap();
/// let mut out = [0u8; 32];
/// ems.export(b"EXPORTER-cmw-attestation", b"context", &mut out).unwrap();
/// ```
pub struct ExporterMasterSecret {
    hash: HashAlgorithm,
    secret: Zeroizing<Vec<u8>>,
}

impl ExporterMasterSecret {
    /// Wraps a secret of the suite hash's length.
    pub fn new(hash: HashAlgorithm, secret: &[u8]) -> Result<Self, ExporterError> {
        if secret.len() != hash.output_len() {
            return Err(ExporterError::Other(format!(
                "exporter_master_secret must be {} bytes, got {}",
                hash.output_len(),
                secret.len()
            )));
        }
        Ok(Self {
            hash,
            secret: Zeroizing::new(secret.to_vec()),
        })
    }
}

impl fmt::Debug for ExporterMasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExporterMasterSecret")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl Exporter for ExporterMasterSecret {
    fn export(&self, label: &[u8], context: &[u8], out: &mut [u8]) -> Result<(), ExporterError> {
        let empty_hash = self.hash.hash(&[]);
        let mut derived = Zeroizing::new(vec![0u8; self.hash.output_len()]);
        hkdf_expand_label(self.hash, &self.secret, label, &empty_hash, &mut derived)?;
        let context_hash = self.hash.hash(&[context]);
        hkdf_expand_label(self.hash, &derived, b"exporter", &context_hash, out)
    }
}

/// `HKDF-Expand-Label(secret, label, context, out.len())` (RFC 8446 §7.1).
fn hkdf_expand_label(
    hash: HashAlgorithm,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), ExporterError> {
    let full_label_len = 6 + label.len();
    let (Ok(out_len), Ok(label_len), Ok(context_len)) = (
        u16::try_from(out.len()),
        u8::try_from(full_label_len),
        u8::try_from(context.len()),
    ) else {
        return Err(ExporterError::Other(
            "HKDF-Expand-Label input too long".into(),
        ));
    };
    let mut info = Vec::with_capacity(4 + full_label_len + context.len());
    info.extend_from_slice(&out_len.to_be_bytes());
    info.push(label_len);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(context_len);
    info.extend_from_slice(context);
    let res = match hash {
        HashAlgorithm::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .map_err(|_| ())
            .and_then(|h| h.expand(&info, out).map_err(|_| ())),
        HashAlgorithm::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .map_err(|_| ())
            .and_then(|h| h.expand(&info, out).map_err(|_| ())),
    };
    res.map_err(|()| ExporterError::Other("HKDF-Expand failed".into()))
}

/// The TLS role of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The TLS client.
    Client,
    /// The TLS server.
    Server,
}

impl Role {
    /// The other role.
    pub fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// Handshake Context and Finished MAC Key of one authenticator direction (RFC 9261 §5.1),
/// exported with the labels of the role that *sends* the authenticator, an empty context and
/// the suite hash length. Zeroized on drop.
pub struct AuthenticatorKeys {
    handshake_context: Zeroizing<Vec<u8>>,
    finished_key: Zeroizing<Vec<u8>>,
}

impl AuthenticatorKeys {
    /// Exports the keys for authenticators sent by `sender`.
    pub fn derive(
        exporter: &dyn Exporter,
        hash: HashAlgorithm,
        sender: Role,
    ) -> Result<Self, ExporterError> {
        let (hc_label, fk_label): (&[u8], &[u8]) = match sender {
            Role::Client => (
                b"EXPORTER-client authenticator handshake context",
                b"EXPORTER-client authenticator finished key",
            ),
            Role::Server => (
                b"EXPORTER-server authenticator handshake context",
                b"EXPORTER-server authenticator finished key",
            ),
        };
        let mut handshake_context = Zeroizing::new(vec![0u8; hash.output_len()]);
        exporter.export(hc_label, &[], &mut handshake_context)?;
        let mut finished_key = Zeroizing::new(vec![0u8; hash.output_len()]);
        exporter.export(fk_label, &[], &mut finished_key)?;
        Ok(Self {
            handshake_context,
            finished_key,
        })
    }

    /// Builds keys from known values (for tests and for stacks that export them directly).
    pub fn from_values(handshake_context: &[u8], finished_key: &[u8]) -> Self {
        Self {
            handshake_context: Zeroizing::new(handshake_context.to_vec()),
            finished_key: Zeroizing::new(finished_key.to_vec()),
        }
    }

    /// The Handshake Context.
    pub fn handshake_context(&self) -> &[u8] {
        &self.handshake_context
    }

    pub(crate) fn finished_key(&self) -> &[u8] {
        &self.finished_key
    }
}

impl fmt::Debug for AuthenticatorKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthenticatorKeys { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8448 §3 exporter_master_secret; outputs from the RFC 9261 digest §13, which were
    /// cross-checked against OpenSSL's exporter.
    const EMS: &str = "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50";

    fn ems() -> ExporterMasterSecret {
        ExporterMasterSecret::new(HashAlgorithm::Sha256, &hex::decode(EMS).unwrap()).unwrap()
    }

    #[test]
    fn derives_digest_authenticator_keys() {
        let c = AuthenticatorKeys::derive(&ems(), HashAlgorithm::Sha256, Role::Client).unwrap();
        let s = AuthenticatorKeys::derive(&ems(), HashAlgorithm::Sha256, Role::Server).unwrap();
        assert_eq!(
            hex::encode(c.handshake_context()),
            "3ce40ddfb5a8566480bb683fa63f43f1d6d52ab962854a98a3c080d81ed5631f"
        );
        assert_eq!(
            hex::encode(c.finished_key()),
            "34db53a0d817c518dc905f36e253a11271904ea43778358aaeb85d377a4fe0fb"
        );
        assert_eq!(
            hex::encode(s.handshake_context()),
            "b5920228102885ce3bbc879252d7c4ae80f47616cdc91456338427e7890941b0"
        );
        assert_eq!(
            hex::encode(s.finished_key()),
            "d7571ccc1577b04277765da1c875d933be15717b3ecf45d0708431fa077df54d"
        );
    }

    #[test]
    fn exporter_length_is_part_of_the_label() {
        let ctx: Vec<u8> = (0u8..32).collect();
        let mut short = [0u8; 32];
        let mut long = [0u8; 64];
        ems()
            .export(b"Attestation Binding", &ctx, &mut short)
            .unwrap();
        ems()
            .export(b"Attestation Binding", &ctx, &mut long)
            .unwrap();
        assert_eq!(
            hex::encode(short),
            "6e8ad2ee1b8518ca980c01fa45a763ba5232af047a70ef3bceea8786cc74eedb"
        );
        assert_eq!(
            hex::encode(long),
            "129a0a5242df0927d1c3cf894293f7c9b692c4fca054d90b5ab801999e76a965\
             2b32d2b4356faad61e698eed41fd68a2015cf41cfc8a13fdb73a5bdcca63920e"
        );
    }

    #[test]
    fn rejects_secret_of_wrong_length() {
        assert!(ExporterMasterSecret::new(HashAlgorithm::Sha384, &[0; 32]).is_err());
    }
}
