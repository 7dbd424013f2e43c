//! The attestation binder of draft-fossati-seat-expat and the [`Profile`] that fixes its
//! parameters.

use core::fmt;

use crate::exporter::{Exporter, ExporterError};
use crate::msgs::ExtensionType;
use crate::suite::HashAlgorithm;

/// Revisions of draft-fossati-seat-expat whose binder this crate can compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DraftRevision {
    /// -01: the binder is the 32-byte exporter value itself (label `Attestation`).
    Draft01,
    /// -02 and -03: `Hash(public_key ‖ exporter)` with label `Attestation`.
    Draft02,
    /// The -04 editor's copy (19 Sep 2026): `Hash(public_key ‖ exporter)` with label
    /// `EXPORTER-cmw-attestation`.
    Draft04,
}

/// Everything that varies between deployments of the draft: which revision, the exporter
/// label, the `cmw_attestation` codepoint, and an interop switch for request framing.
///
/// The default is the latest text ([`Profile::LATEST`]). Peers on older revisions are met by
/// choosing another profile, never by forking code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The draft revision implemented.
    pub revision: DraftRevision,
    /// Exporter label for the binder.
    pub binder_label: &'static [u8],
    /// `cmw_attestation` ExtensionType codepoint. IANA has not assigned one; the default
    /// [`DEFAULT_CMW_ATTESTATION`] is in the range RFC 8446 §11 reserves for private use.
    pub cmw_extension_type: ExtensionType,
    /// Hash the authenticator request *without* its 4-byte handshake header, as fizz does.
    /// RFC 9261 requires the header; turn this on only to interoperate with fizz.
    pub unframed_request_transcript: bool,
}

/// Default `cmw_attestation` codepoint: 0xFFFF, in the private-use range (first byte 0xFF,
/// RFC 8446 §11) and the value used by the draft's reference code and examples. Override it
/// in [`Profile::cmw_extension_type`] once IANA assigns one.
pub const DEFAULT_CMW_ATTESTATION: ExtensionType = ExtensionType(0xffff);

impl Profile {
    /// The -04 editor's copy: label `EXPORTER-cmw-attestation`, binder `Hash(SPKI ‖ exporter)`.
    pub const LATEST: Self = Self {
        revision: DraftRevision::Draft04,
        binder_label: b"EXPORTER-cmw-attestation",
        cmw_extension_type: DEFAULT_CMW_ATTESTATION,
        unframed_request_transcript: false,
    };

    /// -02/-03 peers: label `Attestation`, binder `Hash(SPKI ‖ exporter)`.
    pub const DRAFT_02: Self = Self {
        revision: DraftRevision::Draft02,
        binder_label: b"Attestation",
        ..Self::LATEST
    };

    /// -01 peers: label `Attestation`, binder = exporter value.
    pub const DRAFT_01: Self = Self {
        revision: DraftRevision::Draft01,
        binder_label: b"Attestation",
        ..Self::LATEST
    };
}

impl Profile {
    /// The authenticator request as it enters the transcript hashes: the whole handshake
    /// message (RFC 9261), or only its body when [`Self::unframed_request_transcript`] is set.
    pub fn request_in_transcript<'a>(&self, encoded_request: &'a [u8]) -> &'a [u8] {
        match self.unframed_request_transcript {
            true => encoded_request.get(4..).unwrap_or_default(),
            false => encoded_request,
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::LATEST
    }
}

/// The values evidence must carry to be bound to one request on one connection:
/// the binder and `AIK_pub_hash = Hash(SPKI_DER)`.
///
/// Only a session can make one, from its own connection's exporter and the end-entity key of
/// the authenticator; there is deliberately no constructor from arbitrary bytes, so an attester
/// can never be turned into an oracle that quotes caller-chosen data (relay attack RL-03).
///
/// ```compile_fail
/// let b = atls_core::Binding { binder: vec![0; 32], aik_pub_hash: vec![0; 32], hash: atls_core::HashAlgorithm::Sha256, context: vec![] };
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Binding {
    binder: Vec<u8>,
    aik_pub_hash: Vec<u8>,
    hash: HashAlgorithm,
    context: Vec<u8>,
}

impl Binding {
    /// Computes the binding for `context` and the end-entity key `spki_der`.
    pub(crate) fn derive(
        profile: &Profile,
        hash: HashAlgorithm,
        exporter: &dyn Exporter,
        context: &[u8],
        spki_der: &[u8],
    ) -> Result<Self, ExporterError> {
        let mut exported = [0u8; 32];
        exporter.export(profile.binder_label, context, &mut exported)?;
        let binder = match profile.revision {
            DraftRevision::Draft01 => exported.to_vec(),
            DraftRevision::Draft02 | DraftRevision::Draft04 => hash.hash(&[spki_der, &exported]),
        };
        Ok(Self {
            binder,
            aik_pub_hash: hash.hash(&[spki_der]),
            hash,
            context: context.to_vec(),
        })
    }

    /// The binder to embed as the evidence nonce.
    pub fn binder(&self) -> &[u8] {
        &self.binder
    }

    /// `Hash(SPKI_DER)` of the attested (AIK) key.
    pub fn aik_pub_hash(&self) -> &[u8] {
        &self.aik_pub_hash
    }

    /// The suite hash both values were computed with.
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// The `certificate_request_context` of the request this binding answers. In a
    /// background-check deployment it starts with the verifier's nonce
    /// ([`crate::Session::request_attestation_with_nonce`]).
    pub fn context(&self) -> &[u8] {
        &self.context
    }
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding")
            .field("binder", &Hex(&self.binder))
            .field("aik_pub_hash", &Hex(&self.aik_pub_hash))
            .finish()
    }
}

pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::ExporterMasterSecret;

    const SPKI: &str =
        "302a300506032b65700321008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    fn ems() -> ExporterMasterSecret {
        let secret =
            hex::decode("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50")
                .unwrap();
        ExporterMasterSecret::new(HashAlgorithm::Sha256, &secret).unwrap()
    }

    fn ctx() -> Vec<u8> {
        (0u8..32).collect()
    }

    #[test]
    fn reproduces_digest_binder_and_aik_hash() {
        let spki = hex::decode(SPKI).unwrap();
        let b = Binding::derive(
            &Profile::LATEST,
            HashAlgorithm::Sha256,
            &ems(),
            &ctx(),
            &spki,
        )
        .unwrap();
        assert_eq!(
            hex::encode(b.binder()),
            "a1e0bee4d577eef2363bb231e1e01eeb136a4edd6317163dda01b2f757811ac2"
        );
        assert_eq!(
            hex::encode(b.aik_pub_hash()),
            "fd110d301d2f077de1414b8f99f441b1403fab207b2052fbd2c065e4ee8e7dc2"
        );
    }

    #[test]
    fn older_revisions_use_their_label() {
        let spki = hex::decode(SPKI).unwrap();
        let b01 = Binding::derive(
            &Profile::DRAFT_01,
            HashAlgorithm::Sha256,
            &ems(),
            &ctx(),
            &spki,
        )
        .unwrap();
        assert_eq!(
            hex::encode(b01.binder()),
            "de6655915cadff0d4fe781e255b3cc28cf8cc5c647de58a1e38a59e40bc4ee39"
        );
        let mut exported = [0u8; 32];
        ems().export(b"Attestation", &ctx(), &mut exported).unwrap();
        let b02 = Binding::derive(
            &Profile::DRAFT_02,
            HashAlgorithm::Sha256,
            &ems(),
            &ctx(),
            &spki,
        )
        .unwrap();
        assert_eq!(
            b02.binder(),
            HashAlgorithm::Sha256.hash(&[&spki, &exported])
        );
    }

    #[test]
    fn raw_key_encoding_gives_a_different_binder() {
        // CB-03 at the derivation level: only SPKI DER is the canonical encoding.
        let spki = hex::decode(SPKI).unwrap();
        let raw = &spki[12..];
        let b =
            Binding::derive(&Profile::LATEST, HashAlgorithm::Sha256, &ems(), &ctx(), raw).unwrap();
        assert_eq!(
            hex::encode(b.binder()),
            "b6d1088d89e531425fad2c35ef28905bc1938f25ba330a102ded8a648051b0b3"
        );
    }

    #[test]
    fn sha384_binder_is_48_bytes() {
        let ems = ExporterMasterSecret::new(HashAlgorithm::Sha384, &[7; 48]).unwrap();
        let b =
            Binding::derive(&Profile::LATEST, HashAlgorithm::Sha384, &ems, &ctx(), b"k").unwrap();
        assert_eq!(b.binder().len(), 48);
        assert_eq!(b.aik_pub_hash().len(), 48);
    }
}
