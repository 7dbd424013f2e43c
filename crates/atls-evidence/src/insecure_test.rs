//! **Insecure, for tests only.** A software "attester" whose evidence is a statement of
//! chosen claims signed with an Ed25519 key, and the verifier for it.
//!
//! Nothing here is rooted in hardware: whoever holds the key can claim anything. It exists so
//! the protocol, adapters and policy can be tested where no TEE is available. Every name says
//! so, and its media type ([`INSECURE_TEST_EVIDENCE_MEDIA_TYPE`]) is never accepted by a
//! verifier set that does not contain [`InsecureTestVerifier`] explicitly.
//!
//! Evidence value: `signature(64) ‖ statement`, where `statement` is JSON
//! `{"binder": hex, "aik_pub_hash": hex, "claims": {...}}` and the signature is over the
//! statement bytes exactly as sent.

use std::collections::BTreeMap;

use atls_core::Binding;
use ed25519_dalek::{Signer, Verifier as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claims::Claims;
use crate::cmw::{Cmw, Indicator, Record};
use crate::contract::{Attester, BoxFuture, Verifier};
use crate::error::{EvidenceError, check_aik, check_binder};
use crate::media_type::{INSECURE_TEST_EVIDENCE_MEDIA_TYPE, MediaType};

#[derive(Serialize, Deserialize)]
struct Statement {
    binder: String,
    aik_pub_hash: String,
    claims: BTreeMap<String, Value>,
}

/// **Insecure.** Signs statements of chosen claims; for tests only.
pub struct InsecureTestAttester {
    key: ed25519_dalek::SigningKey,
    claims: BTreeMap<String, Value>,
}

impl InsecureTestAttester {
    /// An attester signing with the Ed25519 seed `seed` and claiming `claims`
    /// (names should start with `test.`).
    pub fn new(seed: [u8; 32], claims: BTreeMap<String, Value>) -> Self {
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
            claims,
        }
    }

    /// The public key a matching [`InsecureTestVerifier`] must trust.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The evidence value (not yet wrapped in a CMW) for `binding`.
    pub fn evidence(&self, binding: &Binding) -> Vec<u8> {
        let statement = Statement {
            binder: hex::encode(binding.binder()),
            aik_pub_hash: hex::encode(binding.aik_pub_hash()),
            claims: self.claims.clone(),
        };
        // Serialising a struct of strings and a BTreeMap cannot fail.
        let body = serde_json::to_vec(&statement).unwrap_or_default();
        let sig = self.key.sign(&body);
        [sig.to_bytes().as_slice(), &body].concat()
    }
}

impl std::fmt::Debug for InsecureTestAttester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsecureTestAttester")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl Attester for InsecureTestAttester {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        Box::pin(async move {
            let media_type = MediaType::parse(INSECURE_TEST_EVIDENCE_MEDIA_TYPE)
                .map_err(|e| EvidenceError::Backend(Box::new(e)))?;
            let record = Record::new(
                media_type,
                self.evidence(binding),
                Some(Indicator::EVIDENCE),
            )?;
            Ok(Cmw::new_cbor(record).encode())
        })
    }
}

/// **Insecure.** Verifies [`InsecureTestAttester`] statements signed by one trusted key.
#[derive(Clone, Debug)]
pub struct InsecureTestVerifier {
    trusted: ed25519_dalek::VerifyingKey,
}

impl InsecureTestVerifier {
    /// Trusts statements signed by `public_key`.
    pub fn new(public_key: [u8; 32]) -> Result<Self, EvidenceError> {
        let trusted = ed25519_dalek::VerifyingKey::from_bytes(&public_key)
            .map_err(|e| EvidenceError::Backend(Box::new(e)))?;
        Ok(Self { trusted })
    }

    fn check(&self, value: &[u8], binding: &Binding) -> Result<Claims, EvidenceError> {
        let malformed = |detail: String| EvidenceError::Malformed {
            evidence_type: INSECURE_TEST_EVIDENCE_MEDIA_TYPE.to_string(),
            detail,
        };
        let (sig, body) = value
            .split_at_checked(64)
            .ok_or_else(|| malformed(format!("{} bytes, need at least 64", value.len())))?;
        let sig =
            ed25519_dalek::Signature::from_slice(sig).map_err(|e| malformed(e.to_string()))?;
        self.trusted.verify(body, &sig).map_err(|_| {
            EvidenceError::Backend("test evidence signature does not verify".into())
        })?;
        let st: Statement = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
        let binder = hex::decode(&st.binder).map_err(|e| malformed(e.to_string()))?;
        let aik = hex::decode(&st.aik_pub_hash).map_err(|e| malformed(e.to_string()))?;
        check_binder(binding.binder(), &binder)?;
        check_aik(binding.aik_pub_hash(), &aik)?;
        let mut claims = Claims::new(INSECURE_TEST_EVIDENCE_MEDIA_TYPE);
        claims.values = st.claims;
        claims.insert("test.insecure", true);
        Ok(claims)
    }
}

impl Verifier for InsecureTestVerifier {
    fn media_type(&self) -> MediaType {
        // The constant is a valid media type (checked by a unit test).
        MediaType::parse(INSECURE_TEST_EVIDENCE_MEDIA_TYPE)
            .unwrap_or_else(|_| unreachable!("constant media type parses"))
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>> {
        Box::pin(async move { self.check(value, binding) })
    }
}
