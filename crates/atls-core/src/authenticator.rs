//! Building and validating authenticators (RFC 9261 §5–§7), statelessly.
//!
//! [`crate::Session`] drives these; embedders with their own state handling can call them
//! directly. The transcript functions are public so known-answer tests can check them alone.

use rustls_pki_types::CertificateDer;

use crate::codec::Codec;
use crate::error::{Error, InvalidMessage, PeerMisbehaved};
use crate::exporter::AuthenticatorKeys;
use crate::msgs::{
    Authenticator, AuthenticatorRequest, Certificate, CertificateEntry, CertificateVerify,
    Extension, ExtensionType, Finished, SignatureScheme,
};
use crate::sign::{self, CertificateVerifier, CertifiedKey};
use crate::suite::HashAlgorithm;

/// 64 spaces, the context string and a zero byte: the prefix of signed content (§5.2.2).
const CV_PREFIX_SPACES: [u8; 64] = [0x20; 64];
const CV_CONTEXT: &[u8] = b"Exported Authenticator\0";

/// The bytes a CertificateVerify signs:
/// `0x20×64 ‖ "Exported Authenticator" ‖ 0x00 ‖ Hash(HC ‖ request ‖ Certificate)`.
/// `request` is empty for a spontaneous authenticator.
pub fn certificate_verify_content(
    hash: HashAlgorithm,
    handshake_context: &[u8],
    request: &[u8],
    certificate: &[u8],
) -> Vec<u8> {
    let digest = hash.hash(&[handshake_context, request, certificate]);
    [&CV_PREFIX_SPACES[..], CV_CONTEXT, &digest].concat()
}

/// `HMAC(FK, Hash(HC ‖ request ‖ Certificate ‖ CertificateVerify))` (§5.2.3);
/// `certificate_verify` is empty for an empty authenticator (§6).
pub fn finished_verify_data(
    hash: HashAlgorithm,
    keys: &AuthenticatorKeys,
    request: &[u8],
    certificate: &[u8],
    certificate_verify: &[u8],
) -> Vec<u8> {
    let digest = hash.hash(&[
        keys.handshake_context(),
        request,
        certificate,
        certificate_verify,
    ]);
    hash.hmac(keys.finished_key(), &digest)
}

/// Builds `Certificate ‖ CertificateVerify ‖ Finished` answering `request_in_transcript`
/// (empty for a spontaneous authenticator) with `identity`, putting `leaf_extensions` in the
/// first entry.
pub fn build_authenticator(
    hash: HashAlgorithm,
    keys: &AuthenticatorKeys,
    request_in_transcript: &[u8],
    context: &[u8],
    identity: &CertifiedKey,
    leaf_extensions: Vec<Extension>,
) -> Result<Vec<u8>, Error> {
    let mut leaf_extensions = Some(leaf_extensions);
    let certificate = Certificate {
        context: context.to_vec(),
        entries: identity
            .chain
            .iter()
            .map(|c| CertificateEntry {
                cert_data: c.to_vec(),
                extensions: leaf_extensions.take().unwrap_or_default(),
            })
            .collect(),
    };
    let cert_bytes = certificate.to_bytes();
    let content = certificate_verify_content(
        hash,
        keys.handshake_context(),
        request_in_transcript,
        &cert_bytes,
    );
    let signature = identity.key.sign(&content).map_err(Error::Signing)?;
    let cv_bytes = CertificateVerify {
        scheme: identity.key.scheme(),
        signature,
    }
    .to_bytes();
    let finished = Finished {
        verify_data: finished_verify_data(
            hash,
            keys,
            request_in_transcript,
            &cert_bytes,
            &cv_bytes,
        ),
    };
    let mut out = cert_bytes;
    out.extend_from_slice(&cv_bytes);
    finished.encode(&mut out);
    // Our own output obeys the same caps a peer's must.
    Authenticator::decode(&out)?;
    Ok(out)
}

/// The empty authenticator refusing the request whose context is `context`.
pub fn build_empty_authenticator(
    hash: HashAlgorithm,
    keys: &AuthenticatorKeys,
    request_in_transcript: &[u8],
    context: &[u8],
) -> Vec<u8> {
    let empty = empty_certificate(context);
    Finished {
        verify_data: finished_verify_data(hash, keys, request_in_transcript, &empty, &[]),
    }
    .to_bytes()
}

fn empty_certificate(context: &[u8]) -> Vec<u8> {
    Certificate {
        context: context.to_vec(),
        entries: Vec::new(),
    }
    .to_bytes()
}

/// What the receiver of an authenticator knows about the request it answers.
#[derive(Clone, Copy, Debug)]
pub struct Expectation<'a> {
    /// The request as it enters the transcript (empty for spontaneous).
    pub request_in_transcript: &'a [u8],
    /// The request's context; for a spontaneous authenticator, `None`.
    pub context: Option<&'a [u8]>,
    /// Extension types the request offered (or, spontaneous, the ClientHello offered).
    pub offered_extensions: &'a [ExtensionType],
    /// Signature schemes offered.
    pub offered_schemes: &'a [SignatureScheme],
    /// The `cmw_attestation` codepoint in force.
    pub cmw_extension_type: ExtensionType,
}

/// A validated authenticator.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The context it carried.
    pub context: Vec<u8>,
    /// Certificate chain, end-entity first.
    pub chain: Vec<CertificateDer<'static>>,
    /// SubjectPublicKeyInfo DER of the end-entity (AIK) key.
    pub spki_der: Vec<u8>,
    /// The CMW from `cmw_attestation`, if present.
    pub cmw: Option<Vec<u8>>,
}

/// Outcome of validating a well-formed, correctly keyed authenticator.
#[derive(Clone, Debug)]
pub enum Validation {
    /// A valid authenticator.
    Authenticated(Authenticated),
    /// A valid empty authenticator: the peer refused. Never a success.
    Refused,
}

/// Validates `authenticator` against what was asked (RFC 9261 §7.4). Checks, in order:
/// certificate list, context, extensions, scheme, signature, Finished, certificate chain.
pub fn validate_authenticator(
    hash: HashAlgorithm,
    keys: &AuthenticatorKeys,
    expect: &Expectation<'_>,
    authenticator: &Authenticator,
    chain_verifier: &dyn CertificateVerifier,
) -> Result<Validation, Error> {
    let (certificate, certificate_verify, finished) = match authenticator {
        Authenticator::Empty(fin) => {
            let context = expect
                .context
                .ok_or(PeerMisbehaved::UnsolicitedAuthenticator)?;
            let empty = empty_certificate(context);
            let data = [
                keys.handshake_context(),
                expect.request_in_transcript,
                &empty,
            ]
            .concat();
            let digest = hash.hash(&[&data]);
            return match hash.verify_hmac(keys.finished_key(), &digest, &fin.verify_data) {
                true => Ok(Validation::Refused),
                false => Err(PeerMisbehaved::BadFinished.into()),
            };
        }
        Authenticator::Full {
            certificate,
            certificate_verify,
            finished,
        } => (certificate, certificate_verify, finished),
    };

    let Some(leaf) = certificate.entries.first() else {
        return Err(PeerMisbehaved::EmptyCertificateList.into());
    };
    if expect.context.is_some_and(|c| c != certificate.context) {
        return Err(PeerMisbehaved::ContextMismatch.into());
    }

    let cmw_type = expect.cmw_extension_type;
    let mut cmw = None;
    for (i, entry) in certificate.entries.iter().enumerate() {
        for ext in &entry.extensions {
            let offered = expect.offered_extensions.contains(&ext.typ);
            if ext.typ == cmw_type {
                if !offered {
                    return Err(PeerMisbehaved::UnsupportedExtension(cmw_type).into());
                }
                if i != 0 {
                    return Err(PeerMisbehaved::ExtensionNotInLeaf(cmw_type).into());
                }
                cmw = Some(Extension::parse_cmw_attestation(&ext.data)?.to_vec());
            } else if !offered {
                return Err(PeerMisbehaved::UnsolicitedExtension(ext.typ).into());
            }
        }
    }

    let scheme = certificate_verify.scheme;
    if !scheme.valid_for_tls13_certificate_verify() || !sign::supported_scheme(scheme) {
        return Err(PeerMisbehaved::SchemeNotAllowed(scheme).into());
    }
    if !expect.offered_schemes.contains(&scheme) {
        return Err(PeerMisbehaved::SchemeNotOffered {
            used: scheme,
            offered: expect.offered_schemes.to_vec(),
        }
        .into());
    }

    let spki_der = sign::spki_der(&leaf.cert_data)?;
    let cert_bytes = certificate.to_bytes();
    let content = certificate_verify_content(
        hash,
        keys.handshake_context(),
        expect.request_in_transcript,
        &cert_bytes,
    );
    sign::verify_signature(scheme, &spki_der, &content, &certificate_verify.signature)?;

    let cv_bytes = certificate_verify.to_bytes();
    let digest = hash.hash(&[
        keys.handshake_context(),
        expect.request_in_transcript,
        &cert_bytes,
        &cv_bytes,
    ]);
    if !hash.verify_hmac(keys.finished_key(), &digest, &finished.verify_data) {
        return Err(PeerMisbehaved::BadFinished.into());
    }

    let chain: Vec<CertificateDer<'static>> = certificate
        .entries
        .iter()
        .map(|e| CertificateDer::from(e.cert_data.clone()))
        .collect();
    let (end_entity, intermediates) = chain
        .split_first()
        .ok_or(PeerMisbehaved::EmptyCertificateList)?;
    chain_verifier.verify_chain(end_entity, intermediates)?;

    Ok(Validation::Authenticated(Authenticated {
        context: certificate.context.clone(),
        chain,
        spki_der,
        cmw,
    }))
}

/// Decodes authenticator bytes, for callers of [`validate_authenticator`].
pub fn decode_authenticator(bytes: &[u8]) -> Result<Authenticator, InvalidMessage> {
    Authenticator::decode(bytes)
}

/// Offered extension types of a request.
pub(crate) fn offered_extensions(request: &AuthenticatorRequest) -> Vec<ExtensionType> {
    request.extensions.iter().map(|e| e.typ).collect()
}
