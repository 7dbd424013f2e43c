//! Attestation results in the passport model: an EAR (EAT Attestation Result,
//! draft-ietf-rats-ear, formerly draft-fv-rats-ear) claims-set serialized as a CWT and
//! signed with COSE_Sign1, carried in a CMW record with indicator
//! [`Indicator::ATTESTATION_RESULTS`].
//!
//! # Binding
//!
//! draft-fossati-seat-expat has no binder check for the passport model; we require one
//! (security goal RP-05). The attester receives a request, obtains evidence for the
//! request's binding, has a verifier service appraise it, and forwards the service's
//! result. The service must echo the binder it found in the evidence as `eat_nonce`: the
//! caller of [`EarIssuer::issue`] supplies it in [`AttestationResult::eat_nonce`]. The
//! relying party accepts the result only if `eat_nonce` equals the binder it recomputed
//! from its own connection, so a result obtained for another request or another
//! connection is refused.
//!
//! The wire format and the claim keys, with their sources, are documented on
//! [`AttestationResult`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use atls_core::Binding;
use coset::cbor::value::{Integer, Value};
use coset::{
    CoseSign1, CoseSign1Builder, HeaderBuilder, RegisteredLabelWithPrivate,
    TaggedCborSerializable as _, iana,
};
use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use serde_json::Value as Json;

use crate::claims::Claims;
use crate::cmw::{Cmw, Indicator, MAX_ENCODED_LEN, Record};
use crate::contract::{BoxFuture, Verifier};
use crate::error::{EvidenceError, check_binder};
use crate::media_type::{EAR_CWT_MEDIA_TYPE, MediaType};

/// The EAT profile of Veraison EAR, the default [`AttestationResult::eat_profile`] and the
/// `eat_profile` parameter of [`EAR_CWT_MEDIA_TYPE`].
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";

/// Largest accepted signed attestation result, in bytes: the most a CMW can carry
/// ([`MAX_ENCODED_LEN`]).
pub const MAX_EAR_LEN: usize = MAX_ENCODED_LEN;

/// Deepest nesting accepted inside an appraised claim's value.
const MAX_CLAIM_DEPTH: usize = 16;

/// CBOR nesting limit for the whole claims-set: claims-set, submods, appraisal and the
/// appraised-claims map around [`MAX_CLAIM_DEPTH`] levels of claim values.
const MAX_CBOR_DEPTH: usize = MAX_CLAIM_DEPTH + 8;

/// How far in the future `iat` may be (clock skew between verifier service and relying
/// party) when the age is checked.
const CLOCK_SKEW_SECS: i64 = 60;

/// Claim keys (see [`AttestationResult`] for their sources).
mod key {
    pub(super) const IAT: i128 = 6;
    pub(super) const EAT_NONCE: i128 = 10;
    pub(super) const EAT_PROFILE: i128 = 265;
    pub(super) const SUBMODS: i128 = 266;
    pub(super) const EAR_STATUS: i128 = 1000;
    pub(super) const EAR_VERIFIER_ID: i128 = 1004;
    pub(super) const APPRAISED_CLAIMS: i128 = -70_000;
    pub(super) const VERIFIER_ID_DEVELOPER: i128 = 0;
    pub(super) const VERIFIER_ID_BUILD: i128 = 1;
}

/// An AR4SI trust tier, the value of `ear.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EarStatus {
    /// `none` (0): the verifier makes no claim.
    None,
    /// `affirming` (2): the only status a relying party accepts.
    Affirming,
    /// `warning` (32).
    Warning,
    /// `contraindicated` (96).
    Contraindicated,
}

impl EarStatus {
    /// The tier's code on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Affirming => 2,
            Self::Warning => 32,
            Self::Contraindicated => 96,
        }
    }

    /// The tier with code `code`, if it is one of the four.
    pub fn from_code(code: i128) -> Option<Self> {
        match code {
            0 => Some(Self::None),
            2 => Some(Self::Affirming),
            32 => Some(Self::Warning),
            96 => Some(Self::Contraindicated),
            _ => None,
        }
    }

    /// The tier's name, as in EAR's JSON serialization (`affirming`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Affirming => "affirming",
            Self::Warning => "warning",
            Self::Contraindicated => "contraindicated",
        }
    }
}

impl fmt::Display for EarStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ear.verifier-id`: which verifier build produced the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierId {
    /// The organisation responsible for the verifier.
    pub developer: String,
    /// The verifier's software build.
    pub build: String,
}

/// The appraisal of one submodule (attester or component): its status and the claims the
/// verifier service appraised, e.g. TDX measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Submod {
    /// `ear.status` of this appraisal.
    pub status: EarStatus,
    /// Appraised claims (key -70000), by name. Byte strings found on the wire are reported
    /// as lower-case hex, as elsewhere in [`Claims`].
    pub claims: BTreeMap<String, Json>,
}

impl Submod {
    /// An appraisal with `status` and no claims.
    pub fn new(status: EarStatus) -> Self {
        Self {
            status,
            claims: BTreeMap::new(),
        }
    }

    /// Adds an appraised claim.
    pub fn with_claim(mut self, name: impl Into<String>, value: impl Into<Json>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }
}

/// An EAR claims-set: what a verifier service says about the evidence it appraised.
///
/// # Wire format
///
/// `COSE_Sign1` tagged 18 (RFC 9052), protected header with `alg` (ES256 or EdDSA) and
/// optionally `kid`, attached payload, empty external AAD. The payload is the claims-set,
/// a CBOR map with integer keys:
///
/// | claim | key | value | source |
/// |---|---|---|---|
/// | `iat` | 6 | int, Unix seconds | RFC 8392 (CWT), registered |
/// | `eat_nonce` | 10 | bstr | RFC 9711 (EAT), registered |
/// | `eat_profile` | 265 | text | RFC 9711, registered |
/// | `submods` | 266 | map text → appraisal | RFC 9711, registered |
/// | `ear.status` | 1000 | 0 / 2 / 32 / 96 | EAR draft, requested from IANA, not yet registered |
/// | `ear.verifier-id` | 1004 | map {0: developer, 1: build} | EAR draft, requested, not yet registered |
///
/// An appraisal (the value of a submod) is a map with `ear.status` (1000, required) and,
/// optionally, the appraised claims under -70000: a map from claim name to value. -70000
/// is the private-use key of Veraison's extension for the claims it extracted from the
/// evidence (`ear.veraison.annotated-evidence` in Veraison's encoders,
/// `ear.veraison.processed-evidence` in the EAR draft's CDDL). A top-level `ear.status`
/// (1000) is the overall status added in draft-ietf-rats-ear-04.
///
/// The text names (`ear.status`, `ear.verifier-id`, …) are the JWT serialization's; in
/// CBOR the EAR draft's CDDL uses the integer keys above, and so do Veraison's encoders,
/// so a CWT EAR from Veraison has the same shape. Unknown claims are ignored; duplicate
/// keys, wrong types and missing required claims (`iat`, `eat_profile`, a non-empty
/// `submods`, each appraisal's status) are rejected.
///
/// Limits of this implementation: `iat` must be an integer (not a float), `eat_nonce` a
/// single byte string (not an array of nonces), `eat_profile` a text URI (not an OID), and
/// the trustworthiness vector (1001), policy id (1003) and raw evidence (1002) are not
/// decoded. The `eat_profile` claim is reported, not checked.
#[derive(Clone, Debug, PartialEq)]
pub struct AttestationResult {
    /// `eat_profile`; [`EAR_PROFILE`] by default.
    pub eat_profile: String,
    /// `iat`: when the result was issued, in Unix seconds.
    pub iat: i64,
    /// `eat_nonce`: the binder found in the appraised evidence, echoed by the verifier
    /// service. A result without it is never accepted by [`EarVerifier`].
    pub eat_nonce: Option<Vec<u8>>,
    /// `ear.verifier-id`.
    pub verifier_id: Option<VerifierId>,
    /// Top-level `ear.status`, the overall status (draft-ietf-rats-ear-04); when present it
    /// must be affirming too.
    pub status: Option<EarStatus>,
    /// `submods`: the appraisals, by submodule name; at least one.
    pub submods: BTreeMap<String, Submod>,
}

impl Default for AttestationResult {
    fn default() -> Self {
        Self {
            eat_profile: EAR_PROFILE.to_string(),
            iat: 0,
            eat_nonce: None,
            verifier_id: None,
            status: None,
            submods: BTreeMap::new(),
        }
    }
}

impl AttestationResult {
    /// A result issued at `iat` (Unix seconds) with the default profile, no nonce and no
    /// submods yet.
    pub fn new(iat: i64) -> Self {
        Self {
            iat,
            ..Self::default()
        }
    }

    /// Sets `eat_nonce`: the binder the appraised evidence carried.
    pub fn with_nonce(mut self, nonce: impl Into<Vec<u8>>) -> Self {
        self.eat_nonce = Some(nonce.into());
        self
    }

    /// Sets `ear.verifier-id`.
    pub fn with_verifier_id(
        mut self,
        developer: impl Into<String>,
        build: impl Into<String>,
    ) -> Self {
        self.verifier_id = Some(VerifierId {
            developer: developer.into(),
            build: build.into(),
        });
        self
    }

    /// Adds (or replaces) the appraisal of submodule `name`.
    pub fn with_submod(mut self, name: impl Into<String>, submod: Submod) -> Self {
        self.submods.insert(name.into(), submod);
        self
    }
}

/// A COSE signature algorithm for attestation results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EarAlgorithm {
    /// ECDSA with P-256 and SHA-256 (COSE `ES256`, -7).
    Es256,
    /// Ed25519 (COSE `EdDSA`, -8).
    EdDsa,
}

impl EarAlgorithm {
    fn cose(self) -> iana::Algorithm {
        match self {
            Self::Es256 => iana::Algorithm::ES256,
            Self::EdDsa => iana::Algorithm::EdDSA,
        }
    }
}

#[derive(Clone)]
enum SigningKey {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

/// A public key of a verifier service, as the relying party trusts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EarVerifyingKey {
    /// A P-256 key, for ES256.
    Es256(p256::ecdsa::VerifyingKey),
    /// An Ed25519 key, for EdDSA.
    EdDsa(ed25519_dalek::VerifyingKey),
}

impl EarVerifyingKey {
    /// A P-256 key from its SEC1 encoding (compressed or not).
    pub fn es256_from_sec1(bytes: &[u8]) -> Result<Self, EvidenceError> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
            .map(Self::Es256)
            .map_err(|e| EvidenceError::Backend(Box::new(e)))
    }

    /// An Ed25519 key from its 32 bytes.
    pub fn ed25519_from_bytes(bytes: &[u8; 32]) -> Result<Self, EvidenceError> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(Self::EdDsa)
            .map_err(|e| EvidenceError::Backend(Box::new(e)))
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> EarAlgorithm {
        match self {
            Self::Es256(_) => EarAlgorithm::Es256,
            Self::EdDsa(_) => EarAlgorithm::EdDsa,
        }
    }

    fn verifies(&self, tbs: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(tbs, &sig).is_ok()),
            Self::EdDsa(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(tbs, &sig).is_ok()),
        }
    }
}

/// A verifier-service key the relying party trusts, optionally with the `kid` the service
/// puts in its results.
///
/// When both the key and a result name a `kid`, the key is tried only if they are equal;
/// a `kid` only selects keys, trust comes from the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    key: EarVerifyingKey,
    kid: Option<Vec<u8>>,
}

impl TrustedKey {
    /// Trusts `key`, whatever `kid` a result names.
    pub fn new(key: EarVerifyingKey) -> Self {
        Self { key, kid: None }
    }

    /// Restricts the key to results naming `kid` (or naming none).
    pub fn with_kid(mut self, kid: impl Into<Vec<u8>>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key.
    pub fn key(&self) -> &EarVerifyingKey {
        &self.key
    }

    /// The key's identifier, if any.
    pub fn kid(&self) -> Option<&[u8]> {
        self.kid.as_deref()
    }

    fn applies_to(&self, alg: EarAlgorithm, kid: Option<&[u8]>) -> bool {
        self.key.algorithm() == alg
            && match (self.kid.as_deref(), kid) {
                (Some(ours), Some(theirs)) => ours == theirs,
                _ => true,
            }
    }
}

/// Issues signed attestation results: the verifier service's side (and the tests').
///
/// The caller has appraised evidence that carried the binder of a request and supplies
/// that binder as [`AttestationResult::eat_nonce`]; the issuer signs what it is given.
///
/// # Example: issue, wrap, and appraise as the relying party
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Instant;
/// # use atls_core::{CertifiedKey, CipherSuite, Config, Event, ExporterMasterSecret,
/// #     HashAlgorithm, PinnedKeyVerifier, Role, Session, signing_key_from_pkcs8_der};
/// use atls_evidence::{
///     AttestationResult, EarIssuer, EarStatus, EarVerifier, Submod, VerifierSet,
/// };
///
/// # fn main() -> Result<(), atls_core::BoxError> {
/// # // One in-memory request, to obtain the binding a real connection would give.
/// # let cert = rcgen::generate_simple_self_signed(vec!["attester.example".into()])?;
/// # let cert_der = cert.cert.der().to_vec();
/// # let key_der = cert.signing_key.serialize_der();
/// # let exporter = ExporterMasterSecret::new(HashAlgorithm::Sha256, &[7; 32])?;
/// # let suite = CipherSuite::TLS13_AES_128_GCM_SHA256;
/// # let identity = CertifiedKey {
/// #     chain: vec![cert_der.clone().into()],
/// #     key: signing_key_from_pkcs8_der(&key_der)?,
/// # };
/// # let pinned = Arc::new(PinnedKeyVerifier::for_certificate(&cert_der)?);
/// # let server_cfg = Arc::new(Config::new(pinned.clone()).with_identity(identity));
/// # let mut server = Session::<()>::new(server_cfg, Role::Server, suite, [1; 32])?;
/// # let mut client = Session::<()>::new(Arc::new(Config::new(pinned)), Role::Client, suite, [2; 32])?;
/// # client.request_attestation(Instant::now(), &exporter)?;
/// # let request = client.poll_transmit().ok_or("no request")?;
/// # server.handle_message(Instant::now(), &request, &exporter)?;
/// # let Some(Event::EvidenceRequested { binding, .. }) = server.poll_event() else {
/// #     return Err("no evidence request".into());
/// # };
/// // The verifier service appraised evidence carrying `binding.binder()` and echoes it.
/// let service = EarIssuer::ed25519(ed25519_dalek::SigningKey::from_bytes(&[9; 32]))
///     .with_kid(*b"service-key-1");
/// let result = AttestationResult::new(1_767_225_600)
///     .with_nonce(binding.binder())
///     .with_verifier_id("https://verifier.example", "v1.0")
///     .with_submod(
///         "tdx",
///         Submod::new(EarStatus::Affirming).with_claim("tdx.mr_td", "9f2c"),
///     );
/// let cmw_data = service.issue_cmw(&result)?;
///
/// // The relying party trusts the service's key and checks the nonce against the binding
/// // it recomputed from its own connection.
/// let verifiers =
///     VerifierSet::new().with(Arc::new(EarVerifier::new([service.trusted_key()])));
/// let claims = pollster::block_on(verifiers.appraise(&cmw_data, &binding))?;
/// assert_eq!(claims.submods["tdx"].get_str("ear.status"), Some("affirming"));
/// assert_eq!(claims.submods["tdx"].get_str("tdx.mr_td"), Some("9f2c"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EarIssuer {
    key: SigningKey,
    kid: Option<Vec<u8>>,
}

impl EarIssuer {
    /// Signs with ES256.
    pub fn es256(key: p256::ecdsa::SigningKey) -> Self {
        Self {
            key: SigningKey::Es256(key),
            kid: None,
        }
    }

    /// Signs with EdDSA (Ed25519).
    pub fn ed25519(key: ed25519_dalek::SigningKey) -> Self {
        Self {
            key: SigningKey::EdDsa(key),
            kid: None,
        }
    }

    /// Puts `kid` in the protected header of every result.
    pub fn with_kid(mut self, kid: impl Into<Vec<u8>>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> EarAlgorithm {
        match self.key {
            SigningKey::Es256(_) => EarAlgorithm::Es256,
            SigningKey::EdDsa(_) => EarAlgorithm::EdDsa,
        }
    }

    /// The public key and `kid`, as a relying party configures them in [`EarVerifier`].
    pub fn trusted_key(&self) -> TrustedKey {
        let key = match &self.key {
            SigningKey::Es256(k) => EarVerifyingKey::Es256(*k.verifying_key()),
            SigningKey::EdDsa(k) => EarVerifyingKey::EdDsa(k.verifying_key()),
        };
        TrustedKey {
            key,
            kid: self.kid.clone(),
        }
    }

    /// The tagged COSE_Sign1 of `result`'s claims-set.
    ///
    /// The claims are signed as given: `eat_nonce` must be the binder the appraised
    /// evidence carried (see the module documentation).
    pub fn issue(&self, result: &AttestationResult) -> Vec<u8> {
        let mut protected = HeaderBuilder::new().algorithm(self.algorithm().cose());
        if let Some(kid) = &self.kid {
            protected = protected.key_id(kid.clone());
        }
        let sign1 = CoseSign1Builder::new()
            .protected(protected.build())
            .payload(encode_claims(result))
            .create_signature(&[], |tbs| match &self.key {
                SigningKey::Es256(k) => {
                    let sig: p256::ecdsa::Signature = k.sign(tbs);
                    sig.to_bytes().to_vec()
                }
                SigningKey::EdDsa(k) => k.sign(tbs).to_bytes().to_vec(),
            })
            .build();
        // Serialising a COSE_Sign1 built from byte strings and a small header cannot fail;
        // an empty output would be rejected as malformed by every verifier.
        sign1.to_tagged_vec().unwrap_or_default()
    }

    /// [`Self::issue`], wrapped in an encoded CBOR CMW record of type
    /// [`EAR_CWT_MEDIA_TYPE`] with indicator [`Indicator::ATTESTATION_RESULTS`]: the
    /// `cmw_attestation` an attester sends in the passport model.
    pub fn issue_cmw(&self, result: &AttestationResult) -> Result<Vec<u8>, EvidenceError> {
        let record = Record::new(
            ear_media_type(),
            self.issue(result),
            Some(Indicator::ATTESTATION_RESULTS),
        )?;
        Ok(Cmw::new_cbor(record).encode())
    }
}

impl fmt::Debug for EarIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EarIssuer")
            .field("algorithm", &self.algorithm())
            .field("kid", &self.kid.as_deref().map(hex::encode))
            .finish_non_exhaustive()
    }
}

/// The current time, as the relying party's host gives it.
#[derive(Clone)]
enum TimeSource {
    Unset,
    Fixed(i64),
    Clock(Arc<dyn Fn() -> i64 + Send + Sync>),
}

impl TimeSource {
    fn now(&self) -> Option<i64> {
        match self {
            Self::Unset => None,
            Self::Fixed(t) => Some(*t),
            Self::Clock(f) => Some(f()),
        }
    }
}

/// Appraises attestation results ([`EAR_CWT_MEDIA_TYPE`], indicator
/// [`Indicator::ATTESTATION_RESULTS`]) for the relying party in the passport model.
///
/// A result is accepted only if, in this order:
/// 1. it is a well-formed tagged COSE_Sign1 of at most [`MAX_EAR_LEN`] bytes with `alg`
///    in the protected header and no trailing bytes ([`EvidenceError::Malformed`]);
/// 2. its signature verifies with a trusted key of that algorithm (and matching `kid`)
///    ([`EvidenceError::UntrustedAttestationResult`]);
/// 3. its claims-set decodes ([`EvidenceError::Malformed`]);
/// 4. `eat_nonce` equals the binding's binder, compared in constant time
///    ([`EvidenceError::UnboundAttestationResult`]);
/// 5. every submod's status, and the overall status if present, is affirming
///    ([`EvidenceError::AttestationResultStatus`]);
/// 6. with a maximum age set, `iat` is at most that old and at most a minute in the
///    future ([`EvidenceError::UntrustedAttestationResult`]).
///
/// Time is an input: this type never reads the clock. Give it with [`Self::with_time`] or
/// [`Self::with_clock`]; with a maximum age and no time, every result is refused.
///
/// See [`EarIssuer`] for an example.
#[derive(Clone)]
pub struct EarVerifier {
    keys: Vec<TrustedKey>,
    max_age: Option<Duration>,
    time: TimeSource,
}

impl EarVerifier {
    /// Trusts results signed by any of `keys`, with no maximum age.
    pub fn new(keys: impl IntoIterator<Item = TrustedKey>) -> Self {
        Self {
            keys: keys.into_iter().collect(),
            max_age: None,
            time: TimeSource::Unset,
        }
    }

    /// Refuses results issued more than `max_age` (whole seconds) before the current time.
    /// Requires [`Self::with_time`] or [`Self::with_clock`].
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets the current time, in Unix seconds, to a fixed value.
    pub fn with_time(mut self, now_unix: i64) -> Self {
        self.time = TimeSource::Fixed(now_unix);
        self
    }

    /// Reads the current time, in Unix seconds, from `clock` at each appraisal (a host
    /// would pass a closure over `SystemTime::now()`).
    pub fn with_clock(mut self, clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> Self {
        self.time = TimeSource::Clock(clock);
        self
    }

    /// Appraises a signed attestation result (the record's value) against `binding`,
    /// synchronously; [`Verifier::verify`] does the same.
    pub fn appraise(&self, value: &[u8], binding: &Binding) -> Result<Claims, EvidenceError> {
        let signed = Signed::decode(value)?;
        self.check_signature(&signed)?;
        let result = decode_claims(&signed.payload)?;
        check_nonce(&result, binding)?;
        check_status(&result)?;
        self.check_age(result.iat)?;
        Ok(to_claims(&result))
    }

    fn check_signature(&self, signed: &Signed) -> Result<(), EvidenceError> {
        let kid = signed.header.kid.as_deref();
        let mut tried = 0usize;
        for trusted in self
            .keys
            .iter()
            .filter(|k| k.applies_to(signed.header.algorithm, kid))
        {
            tried += 1;
            if trusted.key.verifies(&signed.tbs, &signed.signature) {
                return Ok(());
            }
        }
        Err(EvidenceError::UntrustedAttestationResult(format!(
            "{:?} signature{} does not verify with any trusted key ({tried} of {} tried)",
            signed.header.algorithm,
            kid.map(|k| format!(" with kid {}", hex::encode(k)))
                .unwrap_or_default(),
            self.keys.len()
        )))
    }

    fn check_age(&self, iat: i64) -> Result<(), EvidenceError> {
        let Some(max_age) = self.max_age else {
            return Ok(());
        };
        let now = self.time.now().ok_or_else(|| {
            EvidenceError::UntrustedAttestationResult(
                "a maximum age is set but no current time was given, so the age of the \
                 result cannot be checked"
                    .to_string(),
            )
        })?;
        let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        if iat > now.saturating_add(CLOCK_SKEW_SECS) {
            return Err(EvidenceError::UntrustedAttestationResult(format!(
                "issued at {iat}, later than the current time {now} plus {CLOCK_SKEW_SECS} s"
            )));
        }
        let age = now.saturating_sub(iat);
        if age > max_age {
            return Err(EvidenceError::UntrustedAttestationResult(format!(
                "issued at {iat}, {age} s before the current time {now}; the maximum age is \
                 {max_age} s"
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for EarVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = match self.time {
            TimeSource::Unset => "unset".to_string(),
            TimeSource::Fixed(t) => format!("fixed {t}"),
            TimeSource::Clock(_) => "clock".to_string(),
        };
        f.debug_struct("EarVerifier")
            .field("keys", &self.keys)
            .field("max_age", &self.max_age)
            .field("time", &time)
            .finish()
    }
}

impl Verifier for EarVerifier {
    fn media_type(&self) -> MediaType {
        ear_media_type()
    }

    fn indicator(&self) -> Indicator {
        Indicator::ATTESTATION_RESULTS
    }

    fn verify<'a>(
        &'a self,
        value: &'a [u8],
        binding: &'a Binding,
    ) -> BoxFuture<'a, Result<Claims, EvidenceError>> {
        Box::pin(async move { self.appraise(value, binding) })
    }
}

/// The protected-header parameters of a signed attestation result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarHeader {
    /// `alg`.
    pub algorithm: EarAlgorithm,
    /// `kid`, if present (protected, else unprotected header).
    pub kid: Option<Vec<u8>>,
}

/// Decodes a signed attestation result **without checking its signature**, its nonce, its
/// statuses or its age: for inspection, diagnostics and fuzzing only. Never base a trust
/// decision on the output; use [`EarVerifier`].
///
/// Applies the same strict decoding as [`EarVerifier`] (size cap, tag 18, no trailing
/// bytes, protected `alg`, required claims, no duplicate keys) and never panics.
pub fn decode_attestation_result(
    bytes: &[u8],
) -> Result<(AttestationResult, EarHeader), EvidenceError> {
    let signed = Signed::decode(bytes)?;
    let result = decode_claims(&signed.payload)?;
    Ok((result, signed.header))
}

fn ear_media_type() -> MediaType {
    // The constant is a valid media type (checked by a unit test of media_type).
    MediaType::parse(EAR_CWT_MEDIA_TYPE).unwrap_or_else(|_| unreachable!("constant media type"))
}

fn malformed(detail: impl Into<String>) -> EvidenceError {
    EvidenceError::Malformed {
        evidence_type: EAR_CWT_MEDIA_TYPE.to_string(),
        detail: detail.into(),
    }
}

/// A decoded COSE_Sign1, not yet verified.
struct Signed {
    header: EarHeader,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    payload: Vec<u8>,
}

impl Signed {
    fn decode(bytes: &[u8]) -> Result<Self, EvidenceError> {
        if bytes.len() > MAX_EAR_LEN {
            return Err(malformed(format!(
                "{} bytes, at most {MAX_EAR_LEN} accepted",
                bytes.len()
            )));
        }
        let sign1 = CoseSign1::from_tagged_slice(bytes)
            .map_err(|e| malformed(format!("COSE_Sign1: {e}")))?;
        let protected = &sign1.protected.header;
        if !protected.crit.is_empty() {
            return Err(malformed("critical header parameters are not supported"));
        }
        if sign1.unprotected.alg.is_some() {
            return Err(malformed("alg in the unprotected header"));
        }
        let algorithm = match &protected.alg {
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => {
                EarAlgorithm::Es256
            }
            Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) => {
                EarAlgorithm::EdDsa
            }
            Some(other) => return Err(malformed(format!("unsupported alg {other:?}"))),
            None => return Err(malformed("no alg in the protected header")),
        };
        let kid = [&protected.key_id, &sign1.unprotected.key_id]
            .into_iter()
            .find(|k| !k.is_empty())
            .cloned();
        let payload = sign1
            .payload
            .clone()
            .ok_or_else(|| malformed("detached payload"))?;
        Ok(Self {
            header: EarHeader { algorithm, kid },
            tbs: sign1.tbs_data(&[]),
            signature: sign1.signature,
            payload,
        })
    }
}

fn check_nonce(result: &AttestationResult, binding: &Binding) -> Result<(), EvidenceError> {
    let expected = binding.binder();
    match &result.eat_nonce {
        None => Err(EvidenceError::UnboundAttestationResult {
            expected: expected.to_vec(),
            seen: None,
        }),
        // Constant-time comparison.
        Some(nonce) => match check_binder(expected, nonce) {
            Ok(()) => Ok(()),
            Err(_) => Err(EvidenceError::UnboundAttestationResult {
                expected: expected.to_vec(),
                seen: Some(nonce.clone()),
            }),
        },
    }
}

fn check_status(result: &AttestationResult) -> Result<(), EvidenceError> {
    if let Some(status) = result.status
        && status != EarStatus::Affirming
    {
        return Err(EvidenceError::AttestationResultStatus {
            submod: "(overall)".to_string(),
            status: status.to_string(),
        });
    }
    for (name, submod) in &result.submods {
        if submod.status != EarStatus::Affirming {
            return Err(EvidenceError::AttestationResultStatus {
                submod: name.clone(),
                status: submod.status.to_string(),
            });
        }
    }
    Ok(())
}

fn to_claims(result: &AttestationResult) -> Claims {
    let mut claims = Claims::new(EAR_CWT_MEDIA_TYPE);
    claims.insert("ear.iat", result.iat);
    claims.insert("ear.profile", result.eat_profile.clone());
    if let Some(vid) = &result.verifier_id {
        claims.insert(
            "ear.verifier_id",
            serde_json::json!({ "developer": vid.developer, "build": vid.build }),
        );
    }
    if let Some(status) = result.status {
        claims.insert("ear.status", status.as_str());
    }
    for (name, submod) in &result.submods {
        let mut sub = Claims::new(EAR_CWT_MEDIA_TYPE);
        sub.values = submod.claims.clone();
        // Inserted last: an appraised claim cannot stand in for the status.
        sub.insert("ear.status", submod.status.as_str());
        claims.submods.insert(name.clone(), sub);
    }
    claims
}

// ---- claims-set codec ----

fn int(v: i128) -> Value {
    // Every key and value passed here fits a CBOR integer.
    Value::Integer(Integer::try_from(v).unwrap_or_else(|_| Integer::from(0u8)))
}

/// Encodes `result`'s claims-set (the COSE payload).
pub(crate) fn encode_claims(result: &AttestationResult) -> Vec<u8> {
    let mut map = vec![(int(key::IAT), Value::Integer(result.iat.into()))];
    if let Some(nonce) = &result.eat_nonce {
        map.push((int(key::EAT_NONCE), Value::Bytes(nonce.clone())));
    }
    map.push((
        int(key::EAT_PROFILE),
        Value::Text(result.eat_profile.clone()),
    ));
    let submods = result
        .submods
        .iter()
        .map(|(name, submod)| {
            let mut appraisal = vec![(int(key::EAR_STATUS), int(i128::from(submod.status.code())))];
            if !submod.claims.is_empty() {
                let claims = submod
                    .claims
                    .iter()
                    .map(|(k, v)| (Value::Text(k.clone()), json_to_cbor(v)))
                    .collect();
                appraisal.push((int(key::APPRAISED_CLAIMS), Value::Map(claims)));
            }
            (Value::Text(name.clone()), Value::Map(appraisal))
        })
        .collect();
    map.push((int(key::SUBMODS), Value::Map(submods)));
    if let Some(status) = result.status {
        map.push((int(key::EAR_STATUS), int(i128::from(status.code()))));
    }
    if let Some(vid) = &result.verifier_id {
        map.push((
            int(key::EAR_VERIFIER_ID),
            Value::Map(vec![
                (
                    int(key::VERIFIER_ID_DEVELOPER),
                    Value::Text(vid.developer.clone()),
                ),
                (int(key::VERIFIER_ID_BUILD), Value::Text(vid.build.clone())),
            ]),
        ));
    }
    let mut out = Vec::new();
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = coset::cbor::ser::into_writer(&Value::Map(map), &mut out);
    out
}

/// Decodes a claims-set (the COSE payload) strictly.
pub(crate) fn decode_claims(payload: &[u8]) -> Result<AttestationResult, EvidenceError> {
    let mut rest = payload;
    let value: Value = coset::cbor::de::from_reader_with_recursion_limit(&mut rest, MAX_CBOR_DEPTH)
        .map_err(|e| malformed(format!("claims-set: {e}")))?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes after the claims-set",
            rest.len()
        )));
    }
    let mut iat = None;
    let mut eat_nonce = None;
    let mut eat_profile = None;
    let mut submods = None;
    let mut status = None;
    let mut verifier_id = None;
    for (label, value) in labelled_map(value, "claims-set")? {
        let Label::Int(k) = label else {
            continue;
        };
        match k {
            key::IAT => iat = Some(as_i64(value, "iat")?),
            key::EAT_NONCE => match value {
                Value::Bytes(b) => eat_nonce = Some(b),
                Value::Array(_) => return Err(malformed("eat_nonce arrays are not supported")),
                other => return Err(wrong_type("eat_nonce", "a byte string", &other)),
            },
            key::EAT_PROFILE => match value {
                Value::Text(t) => eat_profile = Some(t),
                other => return Err(wrong_type("eat_profile", "a text URI", &other)),
            },
            key::SUBMODS => submods = Some(decode_submods(value)?),
            key::EAR_STATUS => status = Some(decode_status(value, "ear.status")?),
            key::EAR_VERIFIER_ID => verifier_id = Some(decode_verifier_id(value)?),
            _ => {}
        }
    }
    let submods = submods.ok_or_else(|| malformed("no submods"))?;
    if submods.is_empty() {
        return Err(malformed("submods is empty"));
    }
    Ok(AttestationResult {
        eat_profile: eat_profile.ok_or_else(|| malformed("no eat_profile"))?,
        iat: iat.ok_or_else(|| malformed("no iat"))?,
        eat_nonce,
        verifier_id,
        status,
        submods,
    })
}

/// A map key of the claims-set or an appraisal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    Int(i128),
    Text(String),
}

/// The entries of a map whose keys are integers or text, rejecting duplicate keys.
fn labelled_map(value: Value, what: &str) -> Result<Vec<(Label, Value)>, EvidenceError> {
    let Value::Map(entries) = value else {
        return Err(wrong_type(what, "a map", &value));
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let label = match k {
            Value::Integer(i) => Label::Int(i128::from(i)),
            Value::Text(t) => Label::Text(t),
            other => {
                return Err(wrong_type(
                    &format!("a key of {what}"),
                    "int or text",
                    &other,
                ));
            }
        };
        if !seen.insert(label.clone()) {
            return Err(malformed(format!("{what} has key {label:?} twice")));
        }
        out.push((label, v));
    }
    Ok(out)
}

/// The entries of a map whose keys are text, rejecting duplicate keys.
fn text_map(value: Value, what: &str) -> Result<Vec<(String, Value)>, EvidenceError> {
    let Value::Map(entries) = value else {
        return Err(wrong_type(what, "a map", &value));
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::Text(name) = k else {
            return Err(wrong_type(&format!("a key of {what}"), "text", &k));
        };
        if !seen.insert(name.clone()) {
            return Err(malformed(format!("{what} has key {name:?} twice")));
        }
        out.push((name, v));
    }
    Ok(out)
}

fn decode_submods(value: Value) -> Result<BTreeMap<String, Submod>, EvidenceError> {
    text_map(value, "submods")?
        .into_iter()
        .map(|(name, appraisal)| {
            let submod = decode_appraisal(appraisal, &name)?;
            Ok((name, submod))
        })
        .collect()
}

fn decode_appraisal(value: Value, name: &str) -> Result<Submod, EvidenceError> {
    let what = format!("submod {name:?}");
    let mut status = None;
    let mut claims = BTreeMap::new();
    for (label, value) in labelled_map(value, &what)? {
        match label {
            Label::Int(key::EAR_STATUS) => {
                status = Some(decode_status(value, &format!("ear.status of {what}"))?)
            }
            Label::Int(key::APPRAISED_CLAIMS) => {
                for (claim, v) in text_map(value, &format!("appraised claims of {what}"))? {
                    let v = cbor_to_json(v, 0).map_err(|e| malformed(format!("{what}: {e}")))?;
                    claims.insert(claim, v);
                }
            }
            _ => {}
        }
    }
    Ok(Submod {
        status: status.ok_or_else(|| malformed(format!("{what} has no ear.status")))?,
        claims,
    })
}

fn decode_status(value: Value, what: &str) -> Result<EarStatus, EvidenceError> {
    let Value::Integer(i) = value else {
        return Err(wrong_type(what, "an integer", &value));
    };
    let code = i128::from(i);
    EarStatus::from_code(code)
        .ok_or_else(|| malformed(format!("{what} is {code}, not one of 0, 2, 32, 96")))
}

fn decode_verifier_id(value: Value) -> Result<VerifierId, EvidenceError> {
    let mut developer = None;
    let mut build = None;
    for (label, value) in labelled_map(value, "ear.verifier-id")? {
        let slot = match label {
            Label::Int(key::VERIFIER_ID_DEVELOPER) => &mut developer,
            Label::Int(key::VERIFIER_ID_BUILD) => &mut build,
            other => return Err(malformed(format!("ear.verifier-id has key {other:?}"))),
        };
        match value {
            Value::Text(t) => *slot = Some(t),
            other => return Err(wrong_type("ear.verifier-id", "text", &other)),
        }
    }
    Ok(VerifierId {
        developer: developer.ok_or_else(|| malformed("ear.verifier-id has no developer"))?,
        build: build.ok_or_else(|| malformed("ear.verifier-id has no build"))?,
    })
}

fn as_i64(value: Value, what: &str) -> Result<i64, EvidenceError> {
    match value {
        Value::Integer(i) => i64::try_from(i128::from(i))
            .map_err(|_| malformed(format!("{what} {} is out of range", i128::from(i)))),
        other => Err(wrong_type(what, "an integer", &other)),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) => "an integer",
        Value::Bytes(_) => "a byte string",
        Value::Float(_) => "a float",
        Value::Text(_) => "a text string",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Tag(..) => "a tag",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        _ => "another CBOR item",
    }
}

fn wrong_type(what: &str, expected: &str, seen: &Value) -> EvidenceError {
    malformed(format!(
        "{what}: expected {expected}, saw {}",
        type_name(seen)
    ))
}

fn json_to_cbor(value: &Json) -> Value {
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Value::Integer(u.into()),
            (None, Some(i)) => Value::Integer(i.into()),
            // Without `arbitrary_precision`, every other number is a finite f64.
            (None, None) => Value::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(json_to_cbor).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::Text(k.clone()), json_to_cbor(v)))
                .collect(),
        ),
    }
}

fn cbor_to_json(value: Value, depth: usize) -> Result<Json, String> {
    if depth > MAX_CLAIM_DEPTH {
        return Err(format!("claim nested deeper than {MAX_CLAIM_DEPTH} levels"));
    }
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Integer(i) => {
            let i = i128::from(i);
            if let Ok(u) = u64::try_from(i) {
                Json::from(u)
            } else if let Ok(s) = i64::try_from(i) {
                Json::from(s)
            } else {
                return Err(format!("integer {i} out of range"));
            }
        }
        Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Json::Number)
            .ok_or_else(|| format!("non-finite float {f}"))?,
        Value::Text(t) => Json::String(t),
        Value::Bytes(b) => Json::String(hex::encode(b)),
        Value::Array(a) => Json::Array(
            a.into_iter()
                .map(|v| cbor_to_json(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) => {
            let mut object = serde_json::Map::new();
            for (k, v) in m {
                let Value::Text(k) = k else {
                    return Err(format!("claim map key is {}, not text", type_name(&k)));
                };
                if object.contains_key(&k) {
                    return Err(format!("claim map has key {k:?} twice"));
                }
                let v = cbor_to_json(v, depth + 1)?;
                object.insert(k, v);
            }
            Json::Object(object)
        }
        other => return Err(format!("unsupported claim value: {}", type_name(&other))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full_result() -> AttestationResult {
        AttestationResult::new(1_700_000_000)
            .with_nonce(vec![0xab; 32])
            .with_verifier_id("https://verifier.example", "vs 1.2.3")
            .with_submod(
                "tdx",
                Submod::new(EarStatus::Affirming)
                    .with_claim("tdx.mr_td", "00ff")
                    .with_claim("tdx.rtmr", serde_json::json!(["aa", "bb", 3, -4, 1.5]))
                    .with_claim("tdx.debug", false),
            )
            .with_submod("gpu", Submod::new(EarStatus::Warning))
    }

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        coset::cbor::ser::into_writer(value, &mut out).unwrap();
        out
    }

    fn i(v: i64) -> Value {
        Value::Integer(v.into())
    }

    fn detail(e: EvidenceError) -> String {
        match e {
            EvidenceError::Malformed { detail, .. } => detail,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn round_trips_a_full_result() {
        let r = full_result();
        assert_eq!(decode_claims(&encode_claims(&r)).unwrap(), r);
        let r = AttestationResult {
            status: Some(EarStatus::Affirming),
            ..full_result()
        };
        assert_eq!(decode_claims(&encode_claims(&r)).unwrap(), r);
    }

    #[test]
    fn encodes_the_draft_integer_keys() {
        let bytes = encode_claims(&full_result());
        let value: Value = coset::cbor::de::from_reader(bytes.as_slice()).unwrap();
        let Value::Map(map) = value else { panic!() };
        let keys: Vec<i128> = map
            .iter()
            .map(|(k, _)| i128::from(k.as_integer().unwrap()))
            .collect();
        assert_eq!(keys, vec![6, 10, 265, 266, 1004]);
        let submods = map.iter().find(|(k, _)| *k == i(266)).unwrap();
        let Value::Map(submods) = &submods.1 else {
            panic!()
        };
        let tdx = submods
            .iter()
            .find(|(k, _)| *k == Value::Text("tdx".into()))
            .unwrap();
        let Value::Map(tdx) = &tdx.1 else { panic!() };
        assert_eq!(tdx[0], (i(1000), i(2)));
        assert_eq!(tdx[1].0, i(-70_000));
        let vid = map.iter().find(|(k, _)| *k == i(1004)).unwrap();
        assert_eq!(
            vid.1,
            Value::Map(vec![
                (i(0), Value::Text("https://verifier.example".into())),
                (i(1), Value::Text("vs 1.2.3".into())),
            ])
        );
    }

    /// The shape of the draft's Veraison CBOR example (cddl/examples/ext-veraison-cbor-1.diag
    /// in the EAR draft's repository), built here by hand: it decodes, unknown claims
    /// (raw evidence, trustworthiness vector, policy id, policy claims) are ignored, and
    /// byte strings become hex.
    #[test]
    fn decodes_a_veraison_shaped_claims_set() {
        let appraisal = Value::Map(vec![
            (i(1000), i(2)),
            (i(1001), Value::Map(vec![(i(0), i(2)), (i(1), i(2))])),
            (i(1003), Value::Array(vec![Value::Text("policy".into())])),
            (
                i(-70_000),
                Value::Map(vec![
                    (Value::Text("psa-client-id".into()), i(1)),
                    (
                        Value::Text("psa-instance-id".into()),
                        Value::Bytes(vec![1, 2, 3]),
                    ),
                ]),
            ),
            (i(-70_001), Value::Map(vec![])),
        ]);
        let claims_set = Value::Map(vec![
            (i(265), Value::Text("tag:ietf.org,2025-07:ear".into())),
            (i(6), i(1_666_529_184)),
            (
                i(1004),
                Value::Map(vec![
                    (i(0), Value::Text("https://veraison-project.org".into())),
                    (i(1), Value::Text("vts 0.0.1".into())),
                ]),
            ),
            (i(1002), Value::Bytes(b"lifeboatman".to_vec())),
            (
                i(266),
                Value::Map(vec![(Value::Text("PSA_IOT".into()), appraisal)]),
            ),
        ]);
        let r = decode_claims(&encode(&claims_set)).unwrap();
        assert_eq!(r.eat_profile, "tag:ietf.org,2025-07:ear");
        assert_eq!(r.iat, 1_666_529_184);
        assert_eq!(r.eat_nonce, None);
        assert_eq!(r.verifier_id.unwrap().build, "vts 0.0.1");
        let psa = &r.submods["PSA_IOT"];
        assert_eq!(psa.status, EarStatus::Affirming);
        assert_eq!(psa.claims["psa-client-id"], serde_json::json!(1));
        assert_eq!(psa.claims["psa-instance-id"], serde_json::json!("010203"));
    }

    fn minimal(extra: Vec<(Value, Value)>) -> Vec<u8> {
        let mut map = vec![
            (i(6), i(1)),
            (i(265), Value::Text(EAR_PROFILE.into())),
            (
                i(266),
                Value::Map(vec![(
                    Value::Text("s".into()),
                    Value::Map(vec![(i(1000), i(2))]),
                )]),
            ),
        ];
        map.extend(extra);
        encode(&Value::Map(map))
    }

    #[test]
    fn accepts_the_minimal_claims_set_and_ignores_unknown_claims() {
        decode_claims(&minimal(vec![])).unwrap();
        decode_claims(&minimal(vec![
            (i(-65_537), Value::Null),
            (Value::Text("x".into()), Value::Bool(true)),
        ]))
        .unwrap();
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = minimal(vec![]);
        bytes.push(0);
        assert!(detail(decode_claims(&bytes).unwrap_err()).contains("after the claims-set"));
    }

    #[test]
    fn rejects_duplicate_keys() {
        let bytes = minimal(vec![(i(6), i(2))]);
        assert!(detail(decode_claims(&bytes).unwrap_err()).contains("twice"));
    }

    #[test]
    fn rejects_missing_required_claims() {
        for (drop, what) in [(6, "no iat"), (265, "no eat_profile"), (266, "no submods")] {
            let Value::Map(map) = coset::cbor::de::from_reader(minimal(vec![]).as_slice()).unwrap()
            else {
                panic!()
            };
            let map: Vec<_> = map.into_iter().filter(|(k, _)| *k != i(drop)).collect();
            let e = decode_claims(&encode(&Value::Map(map))).unwrap_err();
            assert_eq!(detail(e), what);
        }
    }

    #[test]
    fn rejects_empty_submods_and_submods_without_status() {
        let empty = encode(&Value::Map(vec![
            (i(6), i(1)),
            (i(265), Value::Text(EAR_PROFILE.into())),
            (i(266), Value::Map(vec![])),
        ]));
        assert_eq!(
            detail(decode_claims(&empty).unwrap_err()),
            "submods is empty"
        );
        let no_status = encode(&Value::Map(vec![
            (i(6), i(1)),
            (i(265), Value::Text(EAR_PROFILE.into())),
            (
                i(266),
                Value::Map(vec![(Value::Text("s".into()), Value::Map(vec![]))]),
            ),
        ]));
        assert!(detail(decode_claims(&no_status).unwrap_err()).contains("no ear.status"));
    }

    #[test]
    fn rejects_wrong_types() {
        for (k, v) in [
            (6, Value::Float(1.5)),
            (10, Value::Text("nonce".into())),
            (10, Value::Array(vec![Value::Bytes(vec![1; 8])])),
            (265, Value::Bytes(vec![0x06, 0x01])),
            (1000, i(7)),
            (1000, Value::Text("affirming".into())),
            (1004, Value::Map(vec![(i(0), Value::Text("d".into()))])),
            (1004, Value::Map(vec![(i(2), Value::Text("d".into()))])),
        ] {
            let Value::Map(mut map) =
                coset::cbor::de::from_reader(minimal(vec![]).as_slice()).unwrap()
            else {
                panic!()
            };
            map.retain(|(key, _)| *key != i(k));
            map.push((i(k), v.clone()));
            assert!(
                decode_claims(&encode(&Value::Map(map))).is_err(),
                "{k} => {v:?} accepted"
            );
        }
    }

    #[test]
    fn rejects_unrepresentable_claim_values() {
        for bad in [
            Value::Tag(1, Box::new(i(0))),
            Value::Float(f64::NAN),
            Value::Integer(Integer::try_from(-(1i128 << 64)).unwrap()),
            Value::Map(vec![(i(1), i(1))]),
            Value::Map(vec![
                (Value::Text("a".into()), i(1)),
                (Value::Text("a".into()), i(2)),
            ]),
        ] {
            assert!(cbor_to_json(bad.clone(), 0).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rejects_deeply_nested_claims() {
        let mut v = Value::Null;
        for _ in 0..(MAX_CLAIM_DEPTH + 2) {
            v = Value::Array(vec![v]);
        }
        assert!(cbor_to_json(v, 0).is_err());
        // The decoder's recursion limit stops deep input before any conversion runs.
        let mut bytes = vec![0x9f; 10_000];
        bytes.extend(std::iter::repeat_n(0xff, 10_000));
        assert!(decode_claims(&bytes).is_err());
    }

    #[test]
    fn status_codes_round_trip() {
        for s in [
            EarStatus::None,
            EarStatus::Affirming,
            EarStatus::Warning,
            EarStatus::Contraindicated,
        ] {
            assert_eq!(EarStatus::from_code(i128::from(s.code())), Some(s));
        }
        assert_eq!(EarStatus::from_code(1), None);
    }

    fn json_leaf() -> impl Strategy<Value = Json> {
        prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<u64>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Json::from),
            ".{0,12}".prop_map(Json::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Json> {
        json_leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    fn status() -> impl Strategy<Value = EarStatus> {
        prop_oneof![
            Just(EarStatus::None),
            Just(EarStatus::Affirming),
            Just(EarStatus::Warning),
            Just(EarStatus::Contraindicated),
        ]
    }

    fn attestation_result() -> impl Strategy<Value = AttestationResult> {
        let submod = (
            status(),
            prop::collection::btree_map(".{0,8}", json_value(), 0..4),
        )
            .prop_map(|(status, claims)| Submod { status, claims });
        (
            ".{0,20}",
            any::<i64>(),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..70)),
            prop::option::of((".{0,8}", ".{0,8}")),
            prop::option::of(status()),
            prop::collection::btree_map(".{0,8}", submod, 1..4),
        )
            .prop_map(|(eat_profile, iat, eat_nonce, vid, status, submods)| {
                AttestationResult {
                    eat_profile,
                    iat,
                    eat_nonce,
                    verifier_id: vid.map(|(developer, build)| VerifierId { developer, build }),
                    status,
                    submods,
                }
            })
    }

    proptest! {
        #[test]
        fn claims_set_round_trips(r in attestation_result()) {
            prop_assert_eq!(decode_claims(&encode_claims(&r)).unwrap(), r);
        }

        #[test]
        fn arbitrary_payloads_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_claims(&bytes);
            let _ = decode_attestation_result(&bytes);
        }

        #[test]
        fn mutated_payloads_never_panic(
            r in attestation_result(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = encode_claims(&r);
            let at = at.index(bytes.len());
            bytes[at] = byte;
            if let Ok(decoded) = decode_claims(&bytes) {
                // Whatever is accepted re-encodes to something that decodes to itself.
                prop_assert_eq!(decode_claims(&encode_claims(&decoded)).unwrap(), decoded);
            }
        }
    }
}
