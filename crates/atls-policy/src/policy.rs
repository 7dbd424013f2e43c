//! The validated policy: loading, presets, programmatic construction and evaluation.

use std::collections::BTreeMap;

use atls_evidence::{
    Claims, EAR_CWT_MEDIA_TYPE, EAR_JWT_MEDIA_TYPE, INSECURE_TEST_EVIDENCE_MEDIA_TYPE, MediaType,
    TDX_QUOTE_MEDIA_TYPE,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::document::{self, Document, MeasurementDoc, TdxSection};
use crate::error::PolicyError;
use crate::identity::IdentityExpectations;
use crate::rules;
use crate::values::{HexList, TcbStatus, parse_hex};
use crate::verdict::Verdict;

/// Whether a policy is for production or for development.
///
/// Only a development policy accepts debug TDs; it still requires evidence that verifies
/// and is bound to the connection (evaluation runs after verification, on its claims).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Debug TDs rejected; TDX evidence must match a pinned measurement set; OutOfDate
    /// platforms only within a grace period; the insecure test evidence never accepted.
    #[default]
    Production,
    /// Debug TDs accepted, measurements optional, any TCB status but `Revoked` by default.
    Dev,
}

/// The time and other facts of one evaluation, supplied by the caller: evaluation never
/// reads the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EvaluationContext {
    /// Wall-clock time, Unix seconds.
    pub now_unix: i64,
}

impl EvaluationContext {
    /// An evaluation at `now_unix` (Unix seconds).
    pub const fn new(now_unix: i64) -> Self {
        Self { now_unix }
    }
}

/// A TDX measurement register or TD report field that a measurement set can pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Register {
    /// MRTD: the initial TD contents (firmware).
    MrTd,
    /// RTMR0: firmware configuration.
    Rtmr0,
    /// RTMR1: boot loader and kernel.
    Rtmr1,
    /// RTMR2: kernel command line, initrd, OS.
    Rtmr2,
    /// RTMR3: left to the OS and applications (dstack runtime events).
    Rtmr3,
    /// MRCONFIGID: host-chosen configuration id.
    MrConfigId,
    /// MROWNER: host-chosen owner id.
    MrOwner,
    /// MROWNERCONFIG: host-chosen owner configuration.
    MrOwnerConfig,
    /// MRSEAM: the TDX module.
    MrSeam,
    /// MRSIGNERSEAM: the TDX module's signer (zero for Intel's).
    MrSignerSeam,
    /// XFAM: extended CPU features enabled for the TD.
    Xfam,
    /// TDATTRIBUTES.
    TdAttributes,
}

impl Register {
    /// Every register, in document order.
    pub const ALL: [Self; 12] = [
        Self::MrTd,
        Self::Rtmr0,
        Self::Rtmr1,
        Self::Rtmr2,
        Self::Rtmr3,
        Self::MrConfigId,
        Self::MrOwner,
        Self::MrOwnerConfig,
        Self::MrSeam,
        Self::MrSignerSeam,
        Self::Xfam,
        Self::TdAttributes,
    ];

    /// The field name in a policy document (`rtmr1`).
    pub const fn field(self) -> &'static str {
        match self {
            Self::MrTd => "mr_td",
            Self::Rtmr0 => "rtmr0",
            Self::Rtmr1 => "rtmr1",
            Self::Rtmr2 => "rtmr2",
            Self::Rtmr3 => "rtmr3",
            Self::MrConfigId => "mr_config_id",
            Self::MrOwner => "mr_owner",
            Self::MrOwnerConfig => "mr_owner_config",
            Self::MrSeam => "mr_seam",
            Self::MrSignerSeam => "mr_signer_seam",
            Self::Xfam => "xfam",
            Self::TdAttributes => "td_attributes",
        }
    }

    /// The claim carrying the register (`tdx.rtmr1`).
    pub const fn claim(self) -> &'static str {
        match self {
            Self::MrTd => "tdx.mr_td",
            Self::Rtmr0 => "tdx.rtmr0",
            Self::Rtmr1 => "tdx.rtmr1",
            Self::Rtmr2 => "tdx.rtmr2",
            Self::Rtmr3 => "tdx.rtmr3",
            Self::MrConfigId => "tdx.mr_config_id",
            Self::MrOwner => "tdx.mr_owner",
            Self::MrOwnerConfig => "tdx.mr_owner_config",
            Self::MrSeam => "tdx.mr_seam",
            Self::MrSignerSeam => "tdx.mr_signer_seam",
            Self::Xfam => "tdx.xfam",
            Self::TdAttributes => "tdx.td_attributes",
        }
    }

    /// The register's size in bytes.
    pub const fn byte_len(self) -> usize {
        match self {
            Self::Xfam | Self::TdAttributes => 8,
            _ => 48,
        }
    }
}

/// One accepted combination of measurements. Registers left out accept any value; a
/// register given several values accepts any of them. A policy's sets are alternatives:
/// evidence must match all pinned registers of at least one set.
///
/// ```
/// use atls_evidence::{Claims, TDX_QUOTE_MEDIA_TYPE};
/// use atls_policy::{MeasurementSet, Register};
///
/// let mrtd = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
/// let set = MeasurementSet::new("firmware-2025-07").allow(Register::MrTd, mrtd)?;
/// assert_eq!(set.values(Register::MrTd).len(), 1);
/// assert!(set.values(Register::Rtmr0).is_empty()); // any
///
/// // Or pin everything a recorded claims set carries.
/// let mut claims = Claims::new(TDX_QUOTE_MEDIA_TYPE);
/// claims.insert("tdx.mr_td", mrtd.to_uppercase());
/// let pinned = MeasurementSet::from_claims("recorded", &claims)?;
/// assert_eq!(pinned, set.clone().renamed("recorded"));
/// # Ok::<(), atls_policy::PolicyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasurementSet {
    name: String,
    registers: BTreeMap<Register, Vec<Vec<u8>>>,
}

impl MeasurementSet {
    /// An empty set (accepting anything) named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            registers: BTreeMap::new(),
        }
    }

    /// Adds `hex` (case-insensitive, `register.byte_len()` bytes) to the accepted values of
    /// `register`.
    pub fn allow(mut self, register: Register, hex: &str) -> Result<Self, PolicyError> {
        let bytes = parse_hex(hex, register.byte_len())
            .map_err(|m| PolicyError::invalid(register.field(), m))?;
        let values = self.registers.entry(register).or_default();
        if !values.contains(&bytes) {
            values.push(bytes);
        }
        Ok(self)
    }

    /// A set pinning every register that `claims` carries, to the value it carries.
    pub fn from_claims(name: impl Into<String>, claims: &Claims) -> Result<Self, PolicyError> {
        let mut set = Self::new(name);
        for register in Register::ALL {
            match claims.get(register.claim()) {
                None => {}
                Some(Value::String(hex)) => set = set.allow(register, hex)?,
                Some(other) => {
                    return Err(PolicyError::Claims(format!(
                        "{} is {other}, not a hex string",
                        register.claim()
                    )));
                }
            }
        }
        Ok(set)
    }

    /// The same set under another name.
    #[must_use]
    pub fn renamed(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The set's name, used in verdicts.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The accepted values of `register`; empty means any.
    pub fn values(&self, register: Register) -> &[Vec<u8>] {
        self.registers.get(&register).map_or(&[], Vec::as_slice)
    }

    /// Whether the set pins no register.
    pub fn is_empty(&self) -> bool {
        self.registers.is_empty()
    }

    pub(crate) fn pinned(&self) -> impl Iterator<Item = (Register, &[Vec<u8>])> {
        self.registers.iter().map(|(r, v)| (*r, v.as_slice()))
    }
}

/// An accepted evidence type: an alias (`tdx`, `ear`, `insecure-test`) or a media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AcceptedType {
    pub(crate) label: String,
    pub(crate) media_types: Vec<MediaType>,
}

/// What kind of evidence a claims set comes from, which decides the rules that apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Tdx,
    AttestationResult,
    InsecureTest,
    Other,
}

/// One of the crate's media-type constants, parsed. They all parse (atls-evidence tests
/// them); were one not to, it would match nothing.
fn parse_known(text: &str) -> Option<MediaType> {
    MediaType::parse(text).ok()
}

impl AcceptedType {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let media_types = match text {
            "tdx" => parse_known(TDX_QUOTE_MEDIA_TYPE).into_iter().collect(),
            "ear" => [EAR_CWT_MEDIA_TYPE, EAR_JWT_MEDIA_TYPE]
                .into_iter()
                .filter_map(parse_known)
                .collect(),
            "insecure-test" => parse_known(INSECURE_TEST_EVIDENCE_MEDIA_TYPE)
                .into_iter()
                .collect(),
            other => vec![MediaType::parse(other).map_err(|e| {
                format!(
                    "{other:?} is neither an alias (tdx, ear, insecure-test) nor a media type: {e}"
                )
            })?],
        };
        Ok(Self {
            label: text.to_string(),
            media_types,
        })
    }

    pub(crate) fn kind(&self) -> Kind {
        self.media_types.first().map_or(Kind::Other, kind_of)
    }
}

pub(crate) fn kind_of(media_type: &MediaType) -> Kind {
    let is = |known: &str| parse_known(known).as_ref() == Some(media_type);
    if is(TDX_QUOTE_MEDIA_TYPE) {
        Kind::Tdx
    } else if is(EAR_CWT_MEDIA_TYPE) || is(EAR_JWT_MEDIA_TYPE) {
        Kind::AttestationResult
    } else if is(INSECURE_TEST_EVIDENCE_MEDIA_TYPE) {
        Kind::InsecureTest
    } else {
        Kind::Other
    }
}

/// Rules for TDX claims.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TdxRules {
    pub(crate) measurements: Vec<MeasurementSet>,
    pub(crate) statuses: Vec<TcbStatus>,
    pub(crate) grace_period: Option<u64>,
    pub(crate) allowed_advisories: Option<Vec<String>>,
    pub(crate) denied_advisories: Vec<String>,
    pub(crate) max_collateral_age: Option<u64>,
    pub(crate) ppid: Vec<Vec<u8>>,
    pub(crate) platform_instance_id: Vec<Vec<u8>>,
    pub(crate) fmspc: Vec<Vec<u8>>,
    pub(crate) events: Vec<EventRule>,
}

/// An expected event-log entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventRule {
    pub(crate) rtmr: Option<u8>,
    pub(crate) event_type: Option<u32>,
    pub(crate) name: Option<String>,
    pub(crate) digest: Vec<Vec<u8>>,
    pub(crate) payload: Vec<Vec<u8>>,
}

/// Rules for attestation results (passport model).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResultRules {
    pub(crate) issuers: Vec<Issuer>,
    pub(crate) max_age: Option<u64>,
}

/// An accepted attestation-result issuer (`ear.verifier_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Issuer {
    pub(crate) developer: String,
    pub(crate) build: Option<String>,
}

/// A generic rule: a claim (of the top level or of one submodule) must be one of values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClaimRule {
    pub(crate) claim: String,
    pub(crate) one_of: Vec<Value>,
    pub(crate) submod: Option<String>,
}

/// An appraisal policy: which verified evidence is acceptable, and why or why not.
///
/// Build one from a document ([`Policy::from_toml_str`], [`Policy::from_json_str`]) or
/// start from a preset ([`Policy::strict`], [`Policy::dev`]); then [`Policy::evaluate`]
/// the claims of evidence that verified. Evaluation is pure: the time is an input.
///
/// ```
/// use atls_evidence::{Claims, TDX_QUOTE_MEDIA_TYPE};
/// use atls_policy::{EvaluationContext, Policy};
///
/// let policy = Policy::from_toml_str(r#"
///     version = 1
///
///     [[tdx.measurements]]
///     name = "firmware-2025-07"
///     mr_td = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
///
///     [tdx.tcb]
///     statuses = ["UpToDate", "OutOfDate"]
///     grace_period = "30d"
/// "#)?;
///
/// let mut claims = Claims::new(TDX_QUOTE_MEDIA_TYPE);
/// claims.insert("tdx.mr_td", "91EB2B44D141D4ECE09F0C75C2C53D247A3C68EDD7FAFE8A3520C942A604A407DE03AE6DC5F87F27428B2538873118B7");
/// claims.insert("tdx.td_attributes", "0000001000000000");
/// claims.insert("tdx.debug", false);
/// claims.insert("tdx.tcb_status", "OutOfDate");
/// claims.insert("tdx.tcb_date", 1_710_288_000);
///
/// let in_grace = EvaluationContext::new(1_710_288_000 + 30 * 86_400);
/// assert!(policy.evaluate(&claims, &in_grace).accepted);
///
/// let too_late = EvaluationContext::new(1_710_288_000 + 30 * 86_400 + 1);
/// let verdict = policy.evaluate(&claims, &too_late);
/// assert!(!verdict.accepted);
/// assert_eq!(verdict.failures[0].claim, "tdx.tcb_date");
/// # Ok::<(), atls_policy::PolicyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) mode: Mode,
    pub(crate) accept: Vec<AcceptedType>,
    pub(crate) identity: IdentityExpectations,
    pub(crate) tdx: TdxRules,
    pub(crate) results: ResultRules,
    pub(crate) claims: Vec<ClaimRule>,
    #[cfg(feature = "rego")]
    pub(crate) rego: Option<crate::rego::RegoPolicy>,
}

/// Every TCB status but `Revoked`: what a development policy accepts by default.
fn all_but_revoked() -> Vec<TcbStatus> {
    TcbStatus::ALL
        .into_iter()
        .filter(|s| *s != TcbStatus::Revoked)
        .collect()
}

fn accepted(labels: &[&str]) -> Vec<AcceptedType> {
    labels
        .iter()
        .filter_map(|l| AcceptedType::parse(l).ok())
        .collect()
}

impl Policy {
    /// The strict production preset: TDX evidence only, `UpToDate` only, no debug TDs,
    /// and measurements required — it rejects every TDX peer until measurement sets are
    /// added with [`Policy::with_measurement_set`].
    pub fn strict() -> Self {
        Self {
            mode: Mode::Production,
            accept: accepted(&["tdx"]),
            identity: IdentityExpectations::default(),
            tdx: TdxRules {
                statuses: vec![TcbStatus::UpToDate],
                ..TdxRules::default()
            },
            results: ResultRules::default(),
            claims: Vec::new(),
            #[cfg(feature = "rego")]
            rego: None,
        }
    }

    /// The development preset: TDX evidence and attestation results, any measurements,
    /// debug TDs, every TCB status but `Revoked`. Evidence is still verified and bound to
    /// the connection before the policy sees its claims. Never use it in production.
    pub fn dev() -> Self {
        Self {
            mode: Mode::Dev,
            accept: accepted(&["tdx", "ear"]),
            tdx: TdxRules {
                statuses: all_but_revoked(),
                ..TdxRules::default()
            },
            ..Self::strict()
        }
    }

    /// A development policy that accepts only the insecure test evidence, which proves
    /// nothing: for tests of the protocol machinery.
    pub fn insecure_test_only() -> Self {
        Self {
            accept: accepted(&["insecure-test"]),
            ..Self::dev()
        }
    }

    /// Loads a TOML policy document, validating every field.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        Self::from_document(document::parse_toml(text)?)
    }

    /// Loads a JSON policy document (the same schema as TOML), validating every field.
    pub fn from_json_str(text: &str) -> Result<Self, PolicyError> {
        Self::from_document(document::parse_json(text)?)
    }

    /// Adds an accepted measurement set (sets are alternatives).
    #[must_use]
    pub fn with_measurement_set(mut self, set: MeasurementSet) -> Self {
        self.tdx.measurements.push(set);
        self
    }

    /// Replaces the identity expectations.
    #[must_use]
    pub fn with_identity(mut self, identity: IdentityExpectations) -> Self {
        self.identity = identity;
        self
    }

    /// Adds a Rego module (package `atls`): a peer is accepted only if both the declarative
    /// rules and the module allow it (`data.atls.allow` is true and `data.atls.deny` is
    /// empty).
    #[cfg(feature = "rego")]
    pub fn with_rego(mut self, source: &str) -> Result<Self, PolicyError> {
        self.rego = Some(
            crate::rego::RegoPolicy::compile(source)
                .map_err(|m| PolicyError::invalid("rego.source", m))?,
        );
        Ok(self)
    }

    /// Production or development.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What the policy expects of the peer's TLS identity, for the transport adapters to
    /// enforce (evaluation does not see certificates).
    pub fn identity(&self) -> &IdentityExpectations {
        &self.identity
    }

    /// The accepted measurement sets.
    pub fn measurement_sets(&self) -> &[MeasurementSet] {
        &self.tdx.measurements
    }

    /// The accepted TCB statuses.
    pub fn tcb_statuses(&self) -> &[TcbStatus] {
        &self.tdx.statuses
    }

    /// Evaluates the claims of verified evidence at the time in `ctx`.
    ///
    /// Every rule is evaluated; the verdict lists each rule that matched and each that
    /// failed. A policy with a Rego module accepts only if both parts allow.
    pub fn evaluate(&self, claims: &Claims, ctx: &EvaluationContext) -> Verdict {
        let mut verdict = Verdict::default();
        if self.mode == Mode::Dev {
            verdict.matched(
                "mode",
                "dev: debug TDs, any measurements and any TCB status but Revoked may be accepted",
            );
        }
        let kind = rules::evidence_type(self, claims, &mut verdict);
        match kind {
            Kind::Tdx => rules::tdx(self, claims, ctx, &mut verdict),
            Kind::AttestationResult => rules::attestation_result(self, claims, ctx, &mut verdict),
            Kind::InsecureTest | Kind::Other => {}
        }
        for (i, rule) in self.claims.iter().enumerate() {
            rules::claim(i, rule, claims, &mut verdict);
        }
        #[cfg(feature = "rego")]
        if let Some(rego) = &self.rego {
            rego.evaluate(claims, ctx, &mut verdict);
        }
        verdict.finish()
    }

    fn from_document(doc: Document) -> Result<Self, PolicyError> {
        let mode = doc.mode;
        let base = match mode {
            Mode::Production => Self::strict(),
            Mode::Dev => Self::dev(),
        };

        let accept = match &doc.evidence {
            None => base.accept,
            Some(section) => {
                if section.accept.is_empty() {
                    return Err(PolicyError::invalid(
                        "evidence.accept",
                        "an empty list accepts no evidence",
                    ));
                }
                let mut accept = Vec::new();
                for (i, label) in section.accept.iter().enumerate() {
                    let t = AcceptedType::parse(&label.0)
                        .map_err(|m| PolicyError::invalid(format!("evidence.accept[{i}]"), m))?;
                    if mode == Mode::Production && t.kind() == Kind::InsecureTest {
                        return Err(PolicyError::invalid(
                            format!("evidence.accept[{i}]"),
                            "the insecure test evidence proves nothing; only a mode = \"dev\" \
                             policy may accept it",
                        ));
                    }
                    accept.push(t);
                }
                accept
            }
        };

        let identity = match doc.identity {
            None => IdentityExpectations::default(),
            Some(section) => IdentityExpectations::new(
                section.same_key_as_handshake.unwrap_or(true),
                section.names.into_iter().map(|n| n.0).collect(),
            )?,
        };

        let tdx = tdx_rules(mode, doc.tdx.unwrap_or_default(), base.tdx.statuses)?;
        if mode == Mode::Production
            && tdx.measurements.is_empty()
            && accept.iter().any(|t| t.kind() == Kind::Tdx)
        {
            return Err(PolicyError::invalid(
                "tdx.measurements",
                "a production policy that accepts TDX evidence must pin measurements: add at \
                 least one [[tdx.measurements]] set, or use mode = \"dev\"",
            ));
        }

        let results = match doc.attestation_results {
            None => ResultRules::default(),
            Some(section) => ResultRules {
                issuers: section
                    .issuers
                    .into_iter()
                    .map(|i| Issuer {
                        developer: i.developer.0,
                        build: i.build.map(|b| b.0),
                    })
                    .collect(),
                max_age: section.max_age.map(|s| s.0),
            },
        };

        let mut claims = Vec::new();
        for (i, rule) in doc.claims.into_iter().enumerate() {
            if rule.one_of.is_empty() {
                return Err(PolicyError::invalid(
                    format!("claims[{i}].one_of"),
                    "an empty list accepts nothing",
                ));
            }
            claims.push(ClaimRule {
                claim: rule.claim.0,
                one_of: rule.one_of,
                submod: rule.submod.map(|s| s.0),
            });
        }

        let policy = Self {
            mode,
            accept,
            identity,
            tdx,
            results,
            claims,
            #[cfg(feature = "rego")]
            rego: None,
        };
        match doc.rego {
            None => Ok(policy),
            #[cfg(feature = "rego")]
            Some(section) => policy.with_rego(&section.source.0),
            #[cfg(not(feature = "rego"))]
            Some(_) => Err(PolicyError::invalid(
                "rego",
                "this build has no Rego support (cargo feature `rego` of atls-policy)",
            )),
        }
    }
}

fn hex_values<const N: usize>(list: Option<HexList<N>>) -> Vec<Vec<u8>> {
    list.map(|l| l.0).unwrap_or_default()
}

fn measurement_set(i: usize, doc: MeasurementDoc) -> MeasurementSet {
    let name = doc.name.map_or_else(|| format!("#{i}"), |n| n.0);
    let fields = [
        (Register::MrTd, doc.mr_td),
        (Register::Rtmr0, doc.rtmr0),
        (Register::Rtmr1, doc.rtmr1),
        (Register::Rtmr2, doc.rtmr2),
        (Register::Rtmr3, doc.rtmr3),
        (Register::MrConfigId, doc.mr_config_id),
        (Register::MrOwner, doc.mr_owner),
        (Register::MrOwnerConfig, doc.mr_owner_config),
        (Register::MrSeam, doc.mr_seam),
        (Register::MrSignerSeam, doc.mr_signer_seam),
    ];
    let short = [
        (Register::Xfam, doc.xfam),
        (Register::TdAttributes, doc.td_attributes),
    ];
    let mut set = MeasurementSet::new(name);
    for (register, values) in fields {
        if let Some(values) = values {
            set.registers.insert(register, values.0);
        }
    }
    for (register, values) in short {
        if let Some(values) = values {
            set.registers.insert(register, values.0);
        }
    }
    set
}

fn tdx_rules(
    mode: Mode,
    section: TdxSection,
    default_statuses: Vec<TcbStatus>,
) -> Result<TdxRules, PolicyError> {
    let mut measurements = Vec::new();
    for (i, doc) in section.measurements.into_iter().enumerate() {
        let set = measurement_set(i, doc);
        if set.is_empty() && mode == Mode::Production {
            return Err(PolicyError::invalid(
                format!("tdx.measurements[{i}]"),
                "the set pins no register, so it accepts any TD; pin at least one (mr_td, \
                 rtmr0..rtmr3, mr_config_id, ...)",
            ));
        }
        if measurements
            .iter()
            .any(|s: &MeasurementSet| s.name == set.name)
        {
            return Err(PolicyError::invalid(
                format!("tdx.measurements[{i}].name"),
                format!("another set is already named {:?}", set.name),
            ));
        }
        measurements.push(set);
    }

    let tcb = section.tcb.unwrap_or_default();
    let statuses = tcb.statuses.map_or(default_statuses, |s| s.0);
    let grace_period = tcb.grace_period.map(|s| s.0);
    let out_of_date_allowed = statuses.iter().any(|s| s.is_out_of_date());
    if grace_period.is_some() && !out_of_date_allowed {
        return Err(PolicyError::invalid(
            "tdx.tcb.grace_period",
            "a grace period applies to OutOfDate platforms, but tdx.tcb.statuses accepts \
             neither OutOfDate nor OutOfDateConfigurationNeeded",
        ));
    }
    if mode == Mode::Production && out_of_date_allowed && grace_period.is_none() {
        return Err(PolicyError::invalid(
            "tdx.tcb.statuses",
            "a production policy that accepts OutOfDate platforms must bound how long with \
             tdx.tcb.grace_period",
        ));
    }

    let mut events = Vec::new();
    for (i, doc) in section.events.into_iter().enumerate() {
        if doc.name.is_none() && doc.digest.is_none() && doc.payload.is_none() {
            return Err(PolicyError::invalid(
                format!("tdx.events[{i}]"),
                "the rule matches any event; give at least a name, a digest or a payload",
            ));
        }
        events.push(EventRule {
            rtmr: doc.rtmr.map(|r| r.0),
            event_type: doc.event_type,
            name: doc.name.map(|n| n.0),
            digest: hex_values(doc.digest),
            payload: hex_values(doc.payload),
        });
    }

    let platform = section.platform.unwrap_or_default();
    Ok(TdxRules {
        measurements,
        statuses,
        grace_period,
        allowed_advisories: tcb
            .allowed_advisories
            .map(|l| l.into_iter().map(|s| s.0).collect()),
        denied_advisories: tcb.denied_advisories.into_iter().map(|s| s.0).collect(),
        max_collateral_age: tcb.max_collateral_age.map(|s| s.0),
        ppid: hex_values(platform.ppid),
        platform_instance_id: hex_values(platform.platform_instance_id),
        fmspc: hex_values(platform.fmspc),
        events,
    })
}

#[cfg(test)]
mod tests;
