//! Event logs of a TD and their replay into RTMR0–3.
//!
//! A TD's runtime measurement registers only hold a hash chain; what was measured is in an
//! event log kept outside the TD report. Replaying the log
//! (`RTMR = SHA-384(RTMR ‖ digest)`, starting from 48 zero bytes) must give back the RTMRs
//! that the quote signs, and only then do the events say anything.
//!
//! Two log formats are read:
//!
//! * the firmware's **CCEL** (ACPI table `CCEL` plus its log area, a TCG PC Client
//!   crypto-agile event log), see [`EventLog::from_ccel`];
//! * the **dstack** JSON list `{imr, event_type, digest, event, event_payload}` (as in its
//!   `tcb_info.event_log`), whose runtime events ([`DSTACK_RUNTIME_EVENT_TYPE`], extended into
//!   RTMR3) carry a name and payload that their digest commits to, see
//!   [`EventLog::from_dstack_json`].
//!
//! ```
//! use atls_tdx::EventLog;
//!
//! # fn main() -> Result<(), atls_tdx::EventLogError> {
//! // An OS measures its runtime events into RTMR3, dstack style...
//! let mut log = EventLog::new();
//! log.push_runtime_event("app-id", b"\x01\x02")?;
//! log.push_runtime_event("system-ready", b"")?;
//! let rtmrs = log.replay();
//!
//! // ...and a verifier replays the shipped log against the quote's RTMRs.
//! let verified = log.verify(&rtmrs)?;
//! assert_eq!(verified.events().len(), 2);
//! assert_eq!(verified.events()[0].name(), Some("app-id"));
//! # Ok(())
//! # }
//! ```
//!
//! Parsing is bounded ([`MAX_LOG_EVENTS`], lengths checked against the input) and never panics.

mod ccel;
mod dstack;

use core::fmt;

use atls_evidence::Claims;
use serde_json::{Map, Value};
use sha2::{Digest, Sha384};

pub use ccel::{CCEL_TABLE_LEN, CcelTable};

/// Number of runtime measurement registers (RTMR0–3).
pub const RTMR_COUNT: usize = 4;

/// Length of a TDX measurement (SHA-384).
pub const MEASUREMENT_LEN: usize = 48;

/// A TDX measurement register value or event digest (SHA-384).
pub type Measurement = [u8; MEASUREMENT_LEN];

/// The four RTMRs, RTMR0 first.
pub type Rtmrs = [Measurement; RTMR_COUNT];

/// Event type of a dstack runtime event (extended into RTMR3).
pub const DSTACK_RUNTIME_EVENT_TYPE: u32 = 0x0800_0001;

/// TCG `EV_NO_ACTION`: informational, never extended.
pub const EV_NO_ACTION: u32 = 0x0000_0003;

/// At most this many events are read from one log.
pub const MAX_LOG_EVENTS: usize = 65_536;

/// Claim name of the replayed events.
pub const EVENTS_CLAIM: &str = "tdx.events";

/// One measured event: which RTMR it extended, its type, its SHA-384 digest, and what the
/// log says was measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TdEvent {
    imr: u8,
    event_type: u32,
    digest: Measurement,
    name: Option<String>,
    payload: Option<Vec<u8>>,
}

impl TdEvent {
    /// An event extending RTMR`imr` (0..=3) with `digest`.
    pub fn new(imr: u8, event_type: u32, digest: Measurement) -> Result<Self, EventLogError> {
        if usize::from(imr) >= RTMR_COUNT {
            return Err(EventLogError::InvalidImr {
                index: 0,
                imr: u32::from(imr),
            });
        }
        Ok(Self {
            imr,
            event_type,
            digest,
            name: None,
            payload: None,
        })
    }

    /// A dstack runtime event: RTMR3, type [`DSTACK_RUNTIME_EVENT_TYPE`], digest
    /// [`runtime_event_digest`] of `name` and `payload`.
    pub fn runtime(name: &str, payload: &[u8]) -> Self {
        Self {
            imr: 3,
            event_type: DSTACK_RUNTIME_EVENT_TYPE,
            digest: runtime_event_digest(DSTACK_RUNTIME_EVENT_TYPE, name, payload),
            name: Some(name.to_string()),
            payload: Some(payload.to_vec()),
        }
    }

    /// Adds the event data as logged.
    pub fn with_payload(mut self, payload: Vec<u8>) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Adds the event's name as logged.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The RTMR index (0..=3) this event extended.
    pub fn imr(&self) -> u8 {
        self.imr
    }

    /// The event type (TCG `EV_*`, or [`DSTACK_RUNTIME_EVENT_TYPE`]).
    pub fn event_type(&self) -> u32 {
        self.event_type
    }

    /// The SHA-384 digest that was extended.
    pub fn digest(&self) -> &Measurement {
        &self.digest
    }

    /// The event's name, when the log gives one (dstack runtime events).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The event data as logged, when known. For a dstack runtime event the digest commits to
    /// it (checked on parse); for firmware events it is what the log says, and only as
    /// trustworthy as the firmware's own hashing of it.
    pub fn payload(&self) -> Option<&[u8]> {
        self.payload.as_deref()
    }

    /// This event as a `tdx.events` claim entry.
    pub fn to_claim(&self) -> Value {
        let mut m = Map::new();
        m.insert("imr".into(), Value::from(self.imr));
        m.insert("event_type".into(), Value::from(self.event_type));
        m.insert("digest".into(), Value::from(hex::encode(self.digest)));
        if let Some(name) = &self.name {
            m.insert("name".into(), Value::from(name.as_str()));
        }
        if let Some(payload) = &self.payload {
            m.insert("payload".into(), Value::from(hex::encode(payload)));
        }
        Value::Object(m)
    }
}

/// `SHA-384(le_u32(event_type) ‖ ":" ‖ name ‖ ":" ‖ payload)`: the digest of a dstack runtime
/// event.
pub fn runtime_event_digest(event_type: u32, name: &str, payload: &[u8]) -> Measurement {
    let mut h = Sha384::new();
    h.update(event_type.to_le_bytes());
    h.update(b":");
    h.update(name.as_bytes());
    h.update(b":");
    h.update(payload);
    h.finalize().into()
}

/// `SHA-384(mr ‖ digest)`: one RTMR extension.
pub fn extend_rtmr(mr: &Measurement, digest: &Measurement) -> Measurement {
    let mut h = Sha384::new();
    h.update(mr);
    h.update(digest);
    h.finalize().into()
}

/// An event log: the events in the order they were extended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventLog {
    events: Vec<TdEvent>,
}

impl EventLog {
    /// An empty log (all RTMRs zero).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a CCEL: the 56-byte ACPI table (`/sys/firmware/acpi/tables/CCEL`) and its log
    /// area (`/sys/firmware/acpi/tables/data/CCEL`). Only the first LAML bytes of `log_area`
    /// are read.
    pub fn from_ccel(table: &[u8], log_area: &[u8]) -> Result<Self, EventLogError> {
        let table = CcelTable::parse(table)?;
        let len = usize::try_from(table.log_area_min_len)
            .unwrap_or(usize::MAX)
            .min(log_area.len());
        Self::from_ccel_log(log_area.get(..len).unwrap_or(log_area))
    }

    /// Reads a CCEL log area (TCG PC Client crypto-agile format, SHA-384 digests) up to its
    /// end or its `0xffffffff` fill. `EV_NO_ACTION` events are skipped: they are not
    /// extended.
    pub fn from_ccel_log(log_area: &[u8]) -> Result<Self, EventLogError> {
        ccel::parse_log(log_area).map(|events| Self { events })
    }

    /// Reads a dstack event log: a JSON array of `{imr, event_type, digest, event,
    /// event_payload}`, an object holding it under `event_log` (dstack's `tcb_info`), or
    /// either of those as a JSON string. Every runtime event's digest is recomputed from its
    /// name and payload and must match.
    pub fn from_dstack_json(json: &[u8]) -> Result<Self, EventLogError> {
        dstack::parse(json).map(|events| Self { events })
    }

    /// Appends an event.
    pub fn push(&mut self, event: TdEvent) -> Result<(), EventLogError> {
        if self.events.len() >= MAX_LOG_EVENTS {
            return Err(EventLogError::TooManyEvents {
                max: MAX_LOG_EVENTS,
            });
        }
        self.events.push(event);
        Ok(())
    }

    /// Appends a dstack runtime event (RTMR3) and returns its digest, the value to extend
    /// RTMR3 with.
    pub fn push_runtime_event(
        &mut self,
        name: &str,
        payload: &[u8],
    ) -> Result<Measurement, EventLogError> {
        let event = TdEvent::runtime(name, payload);
        let digest = event.digest;
        self.push(event)?;
        Ok(digest)
    }

    /// The events, in log order.
    pub fn events(&self) -> &[TdEvent] {
        &self.events
    }

    /// Replays the log: RTMR0–3 as the events leave them, from all-zero registers.
    pub fn replay(&self) -> Rtmrs {
        let mut rtmrs = [[0u8; MEASUREMENT_LEN]; RTMR_COUNT];
        for event in &self.events {
            if let Some(mr) = rtmrs.get_mut(usize::from(event.imr)) {
                *mr = extend_rtmr(mr, &event.digest);
            }
        }
        rtmrs
    }

    /// Replays the log and compares each RTMR with `quote_rtmrs` (from a verified quote).
    /// Only a log that reproduces all four is returned as verified.
    pub fn verify(self, quote_rtmrs: &Rtmrs) -> Result<VerifiedEventLog, EventLogError> {
        let replayed = self.replay();
        for (rtmr, (expected, got)) in quote_rtmrs.iter().zip(replayed.iter()).enumerate() {
            if expected != got {
                return Err(EventLogError::ReplayMismatch {
                    rtmr,
                    expected: Box::new(*expected),
                    replayed: Box::new(*got),
                });
            }
        }
        Ok(VerifiedEventLog { log: self })
    }

    /// [`EventLog::verify`] against the RTMRs of `quote`'s TD report. Only meaningful for a
    /// quote that was appraised (its signature verified).
    pub fn verify_quote(self, quote: &crate::Quote) -> Result<VerifiedEventLog, EventLogError> {
        self.verify(&quote.report().rtmr)
    }
}

/// An event log whose replay matched a quote's RTMRs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEventLog {
    log: EventLog,
}

impl VerifiedEventLog {
    /// The events, in log order.
    pub fn events(&self) -> &[TdEvent] {
        self.log.events()
    }

    /// The verified log.
    pub fn into_inner(self) -> EventLog {
        self.log
    }

    /// The `tdx.events` claim value: an array of `{"imr", "event_type", "digest", "name"?,
    /// "payload"?}` in log order.
    pub fn claim_value(&self) -> Value {
        Value::Array(self.events().iter().map(TdEvent::to_claim).collect())
    }

    /// Sets the `tdx.events` claim.
    pub fn add_to_claims(&self, claims: &mut Claims) {
        claims.insert(EVENTS_CLAIM, self.claim_value());
    }

    /// The last runtime event named `name`, if any.
    pub fn runtime_event(&self, name: &str) -> Option<&TdEvent> {
        self.events()
            .iter()
            .rev()
            .find(|e| e.event_type == DSTACK_RUNTIME_EVENT_TYPE && e.name() == Some(name))
    }
}

/// Why an event log was not accepted. Each variant says what was expected and what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventLogError {
    /// The CCEL ACPI table is malformed.
    CcelTable {
        /// What was expected.
        expected: &'static str,
        /// What was seen.
        seen: String,
    },
    /// The CCEL table describes another confidential-computing type than TDX (2).
    UnsupportedCcType {
        /// The CC type in the table.
        seen: u8,
    },
    /// The log ended inside a structure.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset in the log area.
        offset: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The first event is not a valid TCG "Spec ID Event03" header.
    SpecIdEvent {
        /// What was expected.
        expected: &'static str,
        /// What was seen.
        seen: String,
    },
    /// An event uses a digest algorithm the header did not declare.
    UnknownAlgorithm {
        /// Offset of the event.
        offset: usize,
        /// TCG algorithm id.
        alg: u16,
    },
    /// An event claims more digests than there are algorithms.
    TooManyDigests {
        /// Offset of the event.
        offset: usize,
        /// The digest count it claims.
        count: u32,
    },
    /// An event carries no SHA-384 digest.
    NoSha384Digest {
        /// Offset of the event.
        offset: usize,
    },
    /// A CC measurement register index other than 1..=4 (RTMR0–3).
    UnknownMrIndex {
        /// Offset of the event.
        offset: usize,
        /// The index.
        index: u32,
    },
    /// An `imr` outside 0..=3.
    InvalidImr {
        /// Position of the event in the log.
        index: usize,
        /// The value seen.
        imr: u32,
    },
    /// More than [`MAX_LOG_EVENTS`] events.
    TooManyEvents {
        /// The limit.
        max: usize,
    },
    /// The dstack JSON does not have the expected shape.
    Json(String),
    /// A field of a dstack event is not what it must be.
    Field {
        /// Position of the event in the log.
        index: usize,
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A runtime event's digest is not the hash of its name and payload.
    RuntimeDigestMismatch {
        /// Position of the event in the log.
        index: usize,
        /// The event's name.
        name: String,
        /// Digest recomputed from name and payload.
        expected: Box<Measurement>,
        /// Digest in the log.
        seen: Box<Measurement>,
    },
    /// Replaying the log does not give the quote's RTMR.
    ReplayMismatch {
        /// Which RTMR (0..=3).
        rtmr: usize,
        /// The value in the quote.
        expected: Box<Measurement>,
        /// The value the log replays to.
        replayed: Box<Measurement>,
    },
}

impl fmt::Display for EventLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CcelTable { expected, seen } => {
                write!(f, "CCEL table: expected {expected}, saw {seen}")
            }
            Self::UnsupportedCcType { seen } => {
                write!(f, "CCEL table: expected CC type 2 (TDX), saw {seen}")
            }
            Self::Truncated {
                what,
                offset,
                needed,
                available,
            } => write!(
                f,
                "event log truncated in {what} at offset {offset}: needed {needed} bytes, {available} left"
            ),
            Self::SpecIdEvent { expected, seen } => {
                write!(f, "event log header: expected {expected}, saw {seen}")
            }
            Self::UnknownAlgorithm { offset, alg } => write!(
                f,
                "event at offset {offset}: digest algorithm {alg:#06x} not declared in the header"
            ),
            Self::TooManyDigests { offset, count } => write!(
                f,
                "event at offset {offset}: expected at most 32 digests, saw a count of {count}"
            ),
            Self::NoSha384Digest { offset } => {
                write!(
                    f,
                    "event at offset {offset}: expected a SHA-384 digest, saw none"
                )
            }
            Self::UnknownMrIndex { offset, index } => write!(
                f,
                "event at offset {offset}: expected MR index 1..=4 (RTMR0-3), saw {index}"
            ),
            Self::InvalidImr { index, imr } => {
                write!(f, "event {index}: expected imr 0..=3, saw {imr}")
            }
            Self::TooManyEvents { max } => write!(f, "event log has more than {max} events"),
            Self::Json(e) => write!(f, "event log JSON: {e}"),
            Self::Field {
                index,
                field,
                detail,
            } => write!(f, "event {index}, field {field}: {detail}"),
            Self::RuntimeDigestMismatch {
                index,
                name,
                expected,
                seen,
            } => write!(
                f,
                "runtime event {index} ({name:?}): digest {} is not the hash of its name and payload {}",
                hex::encode(seen.as_slice()),
                hex::encode(expected.as_slice())
            ),
            Self::ReplayMismatch {
                rtmr,
                expected,
                replayed,
            } => write!(
                f,
                "event log replays RTMR{rtmr} to {}, quote has {}",
                hex::encode(replayed.as_slice()),
                hex::encode(expected.as_slice())
            ),
        }
    }
}

impl std::error::Error for EventLogError {}

impl From<EventLogError> for atls_evidence::EvidenceError {
    fn from(e: EventLogError) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// A bounds-checked little-endian reader over a log area.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn pos(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EventLogError> {
        let rest = self.remaining();
        let out = rest.get(..n).ok_or(EventLogError::Truncated {
            what,
            offset: self.pos,
            needed: n,
            available: rest.len(),
        })?;
        self.pos = self.pos.saturating_add(n);
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EventLogError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, EventLogError> {
        self.array::<1>(what).map(|[b]| b)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, EventLogError> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, EventLogError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, EventLogError> {
        self.array(what).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests;
