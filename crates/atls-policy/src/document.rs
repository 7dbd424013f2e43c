//! The policy document as written by an operator (TOML, or the same schema in JSON), and
//! its parsing with errors located at the field. Semantics live in `policy.rs`.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{PolicyError, line_column};
use crate::policy::Mode;
use crate::values::{
    AcceptedStatuses, HexList, NonEmptyString, PeerName, RtmrIndex, Secs, Version,
};

/// Measurement register values are SHA-384 digests.
const MR: usize = 48;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Document {
    #[expect(dead_code, reason = "validated while deserialising")]
    pub(crate) version: Version,
    #[serde(default)]
    pub(crate) mode: Mode,
    pub(crate) evidence: Option<EvidenceSection>,
    pub(crate) identity: Option<IdentitySection>,
    pub(crate) tdx: Option<TdxSection>,
    pub(crate) attestation_results: Option<ResultsSection>,
    #[serde(default)]
    pub(crate) claims: Vec<ClaimRuleDoc>,
    pub(crate) rego: Option<RegoSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvidenceSection {
    pub(crate) accept: Vec<NonEmptyString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentitySection {
    pub(crate) same_key_as_handshake: Option<bool>,
    #[serde(default)]
    pub(crate) names: Vec<PeerName>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TdxSection {
    #[serde(default)]
    pub(crate) measurements: Vec<MeasurementDoc>,
    pub(crate) tcb: Option<TcbSection>,
    pub(crate) platform: Option<PlatformSection>,
    #[serde(default)]
    pub(crate) events: Vec<EventDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MeasurementDoc {
    pub(crate) name: Option<NonEmptyString>,
    pub(crate) mr_td: Option<HexList<MR>>,
    pub(crate) rtmr0: Option<HexList<MR>>,
    pub(crate) rtmr1: Option<HexList<MR>>,
    pub(crate) rtmr2: Option<HexList<MR>>,
    pub(crate) rtmr3: Option<HexList<MR>>,
    pub(crate) mr_config_id: Option<HexList<MR>>,
    pub(crate) mr_owner: Option<HexList<MR>>,
    pub(crate) mr_owner_config: Option<HexList<MR>>,
    pub(crate) mr_seam: Option<HexList<MR>>,
    pub(crate) mr_signer_seam: Option<HexList<MR>>,
    pub(crate) xfam: Option<HexList<8>>,
    pub(crate) td_attributes: Option<HexList<8>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcbSection {
    pub(crate) statuses: Option<AcceptedStatuses>,
    pub(crate) grace_period: Option<Secs>,
    pub(crate) allowed_advisories: Option<Vec<NonEmptyString>>,
    #[serde(default)]
    pub(crate) denied_advisories: Vec<NonEmptyString>,
    pub(crate) max_collateral_age: Option<Secs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformSection {
    pub(crate) ppid: Option<HexList<16>>,
    pub(crate) platform_instance_id: Option<HexList<16>>,
    pub(crate) fmspc: Option<HexList<6>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventDoc {
    pub(crate) rtmr: Option<RtmrIndex>,
    pub(crate) event_type: Option<u32>,
    pub(crate) name: Option<NonEmptyString>,
    pub(crate) digest: Option<HexList<MR>>,
    pub(crate) payload: Option<HexList<0>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultsSection {
    #[serde(default)]
    pub(crate) issuers: Vec<IssuerDoc>,
    pub(crate) max_age: Option<Secs>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssuerDoc {
    pub(crate) developer: NonEmptyString,
    pub(crate) build: Option<NonEmptyString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimRuleDoc {
    pub(crate) claim: NonEmptyString,
    pub(crate) one_of: Vec<Value>,
    pub(crate) submod: Option<NonEmptyString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegoSection {
    #[cfg_attr(
        not(feature = "rego"),
        expect(dead_code, reason = "refused without the `rego` feature")
    )]
    pub(crate) source: NonEmptyString,
}

/// Largest policy document accepted, in bytes.
pub(crate) const MAX_DOCUMENT_LEN: usize = 1024 * 1024;

fn check_len(text: &str) -> Result<(), PolicyError> {
    if text.len() > MAX_DOCUMENT_LEN {
        return Err(PolicyError::invalid(
            "",
            format!(
                "document of {} bytes; at most {MAX_DOCUMENT_LEN} accepted",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Parses a TOML document; errors carry the field path and the line and column.
pub(crate) fn parse_toml(text: &str) -> Result<Document, PolicyError> {
    check_len(text)?;
    let located = |e: &toml::de::Error| e.span().map(|span| line_column(text, span.start));
    let deserializer = toml::Deserializer::parse(text).map_err(|e| PolicyError::Invalid {
        path: String::new(),
        location: located(&e),
        message: e.message().to_string(),
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = display_path(e.path());
        let inner = e.into_inner();
        PolicyError::Invalid {
            path,
            location: located(&inner),
            message: inner.message().to_string(),
        }
    })
}

/// Parses a JSON document; errors carry the field path.
pub(crate) fn parse_json(text: &str) -> Result<Document, PolicyError> {
    check_len(text)?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let document: Document = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = display_path(e.path());
        let inner = e.into_inner();
        PolicyError::Invalid {
            path,
            location: Some((inner.line(), inner.column())),
            message: strip_json_position(&inner.to_string()),
        }
    })?;
    deserializer.end().map_err(|e| PolicyError::Invalid {
        path: String::new(),
        location: Some((e.line(), e.column())),
        message: strip_json_position(&e.to_string()),
    })?;
    Ok(document)
}

/// serde_path_to_error writes `.` for the root; we write nothing.
fn display_path(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." { String::new() } else { s }
}

/// serde_json appends " at line L column C" to its messages; the location is kept apart.
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(message).to_string(),
        None => message.to_string(),
    }
}
