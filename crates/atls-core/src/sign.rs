//! Signing (through a trait, so keys in a TEE or HSM can sign), CertificateVerify
//! verification, and the certificate-chain validation seam.

use core::fmt;
use std::sync::Arc;

use der::{Decode, Encode};
use rustls_pki_types::CertificateDer;

use crate::error::{BoxError, CertificateError, PeerMisbehaved};
use crate::msgs::SignatureScheme;

/// A private key that signs CertificateVerify content. Implement it for keys held elsewhere
/// (TEE, HSM); this crate ships software keys for Ed25519 and ECDSA P-256/P-384.
pub trait SigningKey: Send + Sync + fmt::Debug {
    /// The one scheme this key signs with.
    fn scheme(&self) -> SignatureScheme;

    /// Signs `message` (the full CertificateVerify content; the scheme hashes it itself).
    /// ECDSA signatures are DER-encoded, as TLS sends them.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, BoxError>;
}

/// A certificate chain (end-entity first) and the key for its end-entity certificate.
#[derive(Clone, Debug)]
pub struct CertifiedKey {
    /// DER certificates, end-entity first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Key of the end-entity certificate.
    pub key: Arc<dyn SigningKey>,
}

/// Software Ed25519 key; zeroized on drop.
pub struct Ed25519SigningKey(ed25519_dalek::SigningKey);

impl Ed25519SigningKey {
    /// Parses a PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, BoxError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        Ok(Self(ed25519_dalek::SigningKey::from_pkcs8_der(der)?))
    }

    /// From the 32-byte secret seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }
}

impl fmt::Debug for Ed25519SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519SigningKey { .. }")
    }
}

impl SigningKey for Ed25519SigningKey {
    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, BoxError> {
        use ed25519_dalek::Signer;
        Ok(self.0.sign(message).to_bytes().to_vec())
    }
}

/// Software ECDSA P-256 key (ecdsa_secp256r1_sha256); zeroized on drop.
pub struct EcdsaP256SigningKey(p256::ecdsa::SigningKey);

impl EcdsaP256SigningKey {
    /// Parses a PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, BoxError> {
        use p256::pkcs8::DecodePrivateKey;
        Ok(Self(p256::ecdsa::SigningKey::from_pkcs8_der(der)?))
    }
}

impl fmt::Debug for EcdsaP256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcdsaP256SigningKey { .. }")
    }
}

impl SigningKey for EcdsaP256SigningKey {
    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP256_SHA256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, BoxError> {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = self.0.try_sign(message)?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// Software ECDSA P-384 key (ecdsa_secp384r1_sha384); zeroized on drop.
pub struct EcdsaP384SigningKey(p384::ecdsa::SigningKey);

impl EcdsaP384SigningKey {
    /// Parses a PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, BoxError> {
        use p384::pkcs8::DecodePrivateKey;
        Ok(Self(p384::ecdsa::SigningKey::from_pkcs8_der(der)?))
    }
}

impl fmt::Debug for EcdsaP384SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcdsaP384SigningKey { .. }")
    }
}

impl SigningKey for EcdsaP384SigningKey {
    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP384_SHA384
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, BoxError> {
        use p384::ecdsa::signature::Signer;
        let sig: p384::ecdsa::Signature = self.0.try_sign(message)?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// Loads a PKCS#8 DER private key of any supported algorithm.
pub fn signing_key_from_pkcs8_der(der: &[u8]) -> Result<Arc<dyn SigningKey>, BoxError> {
    if let Ok(k) = Ed25519SigningKey::from_pkcs8_der(der) {
        return Ok(Arc::new(k));
    }
    if let Ok(k) = EcdsaP256SigningKey::from_pkcs8_der(der) {
        return Ok(Arc::new(k));
    }
    if let Ok(k) = EcdsaP384SigningKey::from_pkcs8_der(der) {
        return Ok(Arc::new(k));
    }
    Err("private key is not Ed25519, ECDSA P-256 or ECDSA P-384 PKCS#8".into())
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate: the canonical public-key encoding
/// for the binder and `AIK_pub_hash`.
pub fn spki_der(cert_der: &[u8]) -> Result<Vec<u8>, PeerMisbehaved> {
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| PeerMisbehaved::UnsupportedCertificate(format!("not X.509 DER: {e}")))?;
    cert.tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| PeerMisbehaved::UnsupportedCertificate(format!("bad public key: {e}")))
}

/// Verifies a CertificateVerify signature made with `scheme` by the key `spki_der`.
pub(crate) fn verify_signature(
    scheme: SignatureScheme,
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), PeerMisbehaved> {
    match scheme {
        SignatureScheme::ED25519 => {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(spki_der)
                .map_err(|_| PeerMisbehaved::SchemeKeyMismatch(scheme))?;
            let sig = ed25519_dalek::Signature::from_slice(signature)
                .map_err(|_| PeerMisbehaved::BadSignature)?;
            key.verify_strict(message, &sig)
                .map_err(|_| PeerMisbehaved::BadSignature)
        }
        SignatureScheme::ECDSA_NISTP256_SHA256 => {
            use p256::ecdsa::signature::Verifier;
            use p256::pkcs8::DecodePublicKey;
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der)
                .map_err(|_| PeerMisbehaved::SchemeKeyMismatch(scheme))?;
            let sig = p256::ecdsa::Signature::from_der(signature)
                .map_err(|_| PeerMisbehaved::BadSignature)?;
            key.verify(message, &sig)
                .map_err(|_| PeerMisbehaved::BadSignature)
        }
        SignatureScheme::ECDSA_NISTP384_SHA384 => {
            use p384::ecdsa::signature::Verifier;
            use p384::pkcs8::DecodePublicKey;
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(spki_der)
                .map_err(|_| PeerMisbehaved::SchemeKeyMismatch(scheme))?;
            let sig = p384::ecdsa::Signature::from_der(signature)
                .map_err(|_| PeerMisbehaved::BadSignature)?;
            key.verify(message, &sig)
                .map_err(|_| PeerMisbehaved::BadSignature)
        }
        other => Err(PeerMisbehaved::SchemeNotAllowed(other)),
    }
}

/// Whether this crate can verify `scheme`.
pub(crate) fn supported_scheme(scheme: SignatureScheme) -> bool {
    matches!(
        scheme,
        SignatureScheme::ED25519
            | SignatureScheme::ECDSA_NISTP256_SHA256
            | SignatureScheme::ECDSA_NISTP384_SHA384
    )
}

/// Validates the certificate chain of a peer's authenticator: PKIX path, names, revocation,
/// and whatever identity rule ties it to the TLS handshake. Adapters implement it over their
/// TLS stack's own verifier. Evidence that verifies never skips this check.
pub trait CertificateVerifier: Send + Sync + fmt::Debug {
    /// Accepts or rejects `end_entity` with its `intermediates`.
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), CertificateError>;
}

/// Accepts exactly the chains whose end-entity key equals a pinned SubjectPublicKeyInfo:
/// typically the key of the peer's TLS handshake certificate, after the TLS stack validated
/// that certificate, so that the authenticator proves the same identity (compound
/// authentication; a different key fails with [`CertificateError::IdentitySwitch`]).
#[derive(Clone, Debug)]
pub struct PinnedKeyVerifier {
    spki_der: Vec<u8>,
}

impl PinnedKeyVerifier {
    /// Pins the key of `cert_der`.
    pub fn for_certificate(cert_der: &[u8]) -> Result<Self, PeerMisbehaved> {
        Ok(Self {
            spki_der: spki_der(cert_der)?,
        })
    }
}

impl CertificateVerifier for PinnedKeyVerifier {
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
    ) -> Result<(), CertificateError> {
        match spki_der(end_entity) {
            Ok(spki) if spki == self.spki_der => Ok(()),
            Ok(_) => Err(CertificateError::IdentitySwitch),
            Err(e) => Err(CertificateError::Other(e.to_string())),
        }
    }
}
