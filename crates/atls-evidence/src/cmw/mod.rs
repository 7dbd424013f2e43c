//! RATS Conceptual Messages Wrapper (CMW, draft-ietf-rats-msg-wrap-23): a
//! strict codec.
//!
//! A CMW is a tree. Its leaves are **records** (`[type, value, ind?]`, CBOR
//! or JSON) and **tags** (CBOR only, `#6.<TN(cf)>(bytes)`); its inner nodes
//! are **collections** (a CBOR map or JSON object of labelled CMWs with an
//! optional `"__cmwc_t"` type). seat-expat carries one CMW in `cmw_data`
//! without saying whether it is CBOR or JSON, so [`Cmw::decode`] tells them
//! apart by the first byte:
//!
//! | first byte                 | meaning                                       |
//! |----------------------------|-----------------------------------------------|
//! | `0x82`, `0x83`             | CBOR record without / with indicator          |
//! | `0xda`                     | CBOR tag (every RFC 9277 tag needs 4 bytes)   |
//! | `0xa1`–`0xbb`              | CBOR collection                               |
//! | `0x5b` `[`                 | JSON record                                   |
//! | `0x7b` `{`                 | JSON collection                               |
//! | other arrays, maps, tags   | rejected with a specific error (wrong record length, empty or indefinite map, tag not derived from a content-format, …) |
//! | anything else              | rejected ([`CmwError::UnrecognizedStart`])    |
//!
//! JSON must start at byte 0: leading whitespace is not accepted.
//!
//! # Why our own codec
//!
//! We do not wrap the `cmw` crate (0.1.2) because it has defects that matter
//! to a relying party parsing a peer's bytes:
//!
//! * **malformed collection encoding**: a CBOR collection with `"__cmwc_t"`
//!   is written with a map header that counts only the entries, not the type,
//!   so strict decoders reject its output;
//! * **lax decoding**: the collection decoder ignores the declared map length
//!   and reads to the end of the input (so it accepts the above), bytes
//!   after a record are accepted, JSON records may name their type with a
//!   number, and the indicator is read as a `u8`.
//!
//! Nor do we decode through `ciborium::Value`: it accepts indefinite-length
//! items and non-shortest integer encodings without telling us, keeps
//! duplicate map keys, and cannot report where an item started. Those are
//! exactly the things a strict decoder must see, so this module carries a
//! small CBOR reader and writer for the subset CMW uses (major types 0–6; no
//! floats or simple values). `ciborium` serves as an independent encoder in
//! the tests.
//!
//! # Strictness
//!
//! Decoding accepts exactly one CMW and nothing else:
//!
//! * at most [`MAX_ENCODED_LEN`] bytes, collections at most [`MAX_DEPTH`]
//!   levels deep;
//! * CBOR: definite lengths only, every argument in its shortest form, map
//!   and array counts exact, text valid UTF-8, no bytes after the item;
//! * JSON: the compact form only (no whitespace between tokens), strings
//!   with only the escapes compact JSON needs (`\"`, `\\`, `\b`, `\f`, `\n`,
//!   `\r`, `\t`, lower-case `\u00xx` for other control characters), integers
//!   without sign, fraction, exponent or leading zeros, values in unpadded
//!   base64url with zero trailing bits;
//! * duplicate collection keys, empty collections, empty values, indicators
//!   outside 1..=31, record types that are not media types, and
//!   tags not derived from a content-format are rejected.
//!
//! Everything accepted re-encodes byte for byte: collections remember the
//! order of their keys on the wire (the draft gives order no meaning, and
//! encoders differ), and media types keep their original spelling. CMWs built
//! through the API encode deterministically, with collection keys in the
//! RFC 8949 §4.2.1 order of their encoded bytes.
//!
//! A CMW provides no integrity: anyone on the path can rewrap the payload.
//! Trust comes only from the payload's own signature and binder.

mod cbor;
mod error;
mod json;

use core::fmt;
use core::ops::BitOr;

pub use error::CmwError;

use crate::media_type::MediaType;

/// Largest accepted encoding, in bytes: the most `cmw_data` can hold
/// (seat-expat gives it a 16-bit length).
///
/// [`Cmw::encode`] does not enforce it; a caller putting a CMW on the wire
/// checks the encoded length.
pub const MAX_ENCODED_LEN: usize = 65_535;

/// Deepest accepted CMW tree, in levels: a lone record or tag is 1 level, a
/// collection of records 2, a collection holding such a collection 3.
///
/// A composite attester's collection of evidence records is 2 levels; the
/// cap leaves room for layering and bounds recursion while decoding.
pub const MAX_DEPTH: usize = 8;

/// The key that holds a collection's type.
const COLLECTION_TYPE_KEY: &str = "__cmwc_t";

/// Smallest RFC 9277 tag number, `TN(0)`.
const TN_BASE: u64 = 0x6374_0101;

/// Content-formats at or above this have no RFC 9277 tag.
const TN_CF_LIMIT: u16 = 65_025;

/// The serialization of a CMW.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmwFormat {
    /// CBOR (`application/cmw+cbor`).
    Cbor,
    /// JSON (`application/cmw+json`).
    Json,
}

/// A complete CMW: a tree of records, tags and collections, with the
/// serialization it was decoded from or is to be encoded in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cmw {
    format: CmwFormat,
    node: CmwNode,
}

impl Cmw {
    /// A CMW to be encoded as CBOR (any node can be).
    pub fn new_cbor(node: impl Into<CmwNode>) -> Self {
        Self {
            format: CmwFormat::Cbor,
            node: node.into(),
        }
    }

    /// A CMW to be encoded as JSON; fails if the tree contains a tag, a
    /// record typed by a content-format, or an integer label.
    pub fn new_json(node: impl Into<CmwNode>) -> Result<Self, CmwError> {
        let node = node.into();
        json::check_representable(&node)?;
        Ok(Self {
            format: CmwFormat::Json,
            node,
        })
    }

    /// Decodes one CBOR or JSON CMW, telling them apart by the first byte
    /// (see the module documentation), and rejects anything else.
    pub fn decode(input: &[u8]) -> Result<Self, CmwError> {
        if input.len() > MAX_ENCODED_LEN {
            return Err(CmwError::TooLarge {
                limit: MAX_ENCODED_LEN,
                seen: input.len(),
            });
        }
        match input.first() {
            None => Err(CmwError::Empty),
            Some(b'[' | b'{') => Ok(Self {
                format: CmwFormat::Json,
                node: json::decode(input)?,
            }),
            // Major types 4 (array), 5 (map) and 6 (tag).
            Some(&b) if matches!(b >> 5, 4..=6) => Ok(Self {
                format: CmwFormat::Cbor,
                node: cbor::decode(input)?,
            }),
            Some(&seen) => Err(CmwError::UnrecognizedStart { seen }),
        }
    }

    /// Encodes in this CMW's format.
    pub fn encode(&self) -> Vec<u8> {
        match self.format {
            CmwFormat::Cbor => self.encode_cbor(),
            // `new_json` and `decode` only build JSON CMWs JSON can carry.
            CmwFormat::Json => json::encode(&self.node),
        }
    }

    /// Encodes as CBOR, whatever this CMW's format.
    pub fn encode_cbor(&self) -> Vec<u8> {
        cbor::encode(&self.node)
    }

    /// Encodes as JSON, whatever this CMW's format; fails if the tree
    /// contains something JSON cannot carry.
    pub fn encode_json(&self) -> Result<Vec<u8>, CmwError> {
        json::check_representable(&self.node)?;
        Ok(json::encode(&self.node))
    }

    /// The serialization this CMW was decoded from or built for.
    pub fn format(&self) -> CmwFormat {
        self.format
    }

    /// The root of the tree.
    pub fn node(&self) -> &CmwNode {
        &self.node
    }

    /// Takes the root of the tree.
    pub fn into_node(self) -> CmwNode {
        self.node
    }
}

/// One node of a CMW tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmwNode {
    /// A record: `[type, value, ind?]`.
    Record(Record),
    /// A CBOR tag: `#6.<TN(cf)>(value)`.
    Tag(Tag),
    /// A collection of labelled CMWs.
    Collection(Collection),
}

impl CmwNode {
    /// The record, if this node is one.
    pub fn as_record(&self) -> Option<&Record> {
        match self {
            Self::Record(r) => Some(r),
            _ => None,
        }
    }

    /// The tag, if this node is one.
    pub fn as_tag(&self) -> Option<&Tag> {
        match self {
            Self::Tag(t) => Some(t),
            _ => None,
        }
    }

    /// The collection, if this node is one.
    pub fn as_collection(&self) -> Option<&Collection> {
        match self {
            Self::Collection(c) => Some(c),
            _ => None,
        }
    }

    /// Levels in the tree rooted here: 1 for a record or tag.
    pub fn depth(&self) -> usize {
        match self {
            Self::Record(_) | Self::Tag(_) => 1,
            Self::Collection(c) => c.depth,
        }
    }
}

impl From<Record> for CmwNode {
    fn from(r: Record) -> Self {
        Self::Record(r)
    }
}

impl From<Tag> for CmwNode {
    fn from(t: Tag) -> Self {
        Self::Tag(t)
    }
}

impl From<Collection> for CmwNode {
    fn from(c: Collection) -> Self {
        Self::Collection(c)
    }
}

/// What a record says its value is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// A media type (CBOR and JSON).
    MediaType(MediaType),
    /// A CoAP content-format number (CBOR only).
    ContentFormat(u16),
}

impl From<MediaType> for RecordType {
    fn from(m: MediaType) -> Self {
        Self::MediaType(m)
    }
}

/// The conceptual-message kinds a record carries (`ind`, a `cm-type`
/// bitmap).
///
/// The wire allows up to 32 bits, but the draft registers five and says the
/// acceptable values are currently 1 to 31; anything else is rejected, so
/// a value always has at least one bit set and only assigned bits. Policy
/// checks the kinds with [`Indicator::contains`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Indicator(u32);

impl Indicator {
    /// Reference Values (bit 0).
    pub const REFERENCE_VALUES: Self = Self(1);
    /// Endorsements (bit 1).
    pub const ENDORSEMENTS: Self = Self(2);
    /// Evidence (bit 2).
    pub const EVIDENCE: Self = Self(4);
    /// Attestation Results (bit 3).
    pub const ATTESTATION_RESULTS: Self = Self(8);
    /// Appraisal Policy (bit 4).
    pub const APPRAISAL_POLICY: Self = Self(16);

    /// The bits the draft assigns (bits 0–4).
    const ASSIGNED: u32 = 0x1f;

    /// An indicator with these bits: 1..=31 (see the type documentation).
    pub fn new(bits: u32) -> Result<Self, CmwError> {
        Self::from_wire(u64::from(bits))
    }

    /// The bitmap.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set here.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    fn from_wire(seen: u64) -> Result<Self, CmwError> {
        match u32::try_from(seen) {
            Ok(bits) if bits != 0 && bits & !Self::ASSIGNED == 0 => Ok(Self(bits)),
            _ => Err(CmwError::IndicatorOutOfRange { seen }),
        }
    }
}

impl BitOr for Indicator {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// A record CMW: a typed value, optionally with an [`Indicator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    record_type: RecordType,
    value: Vec<u8>,
    indicator: Option<Indicator>,
}

impl Record {
    /// A record; the value must not be empty.
    pub fn new(
        record_type: impl Into<RecordType>,
        value: impl Into<Vec<u8>>,
        indicator: Option<Indicator>,
    ) -> Result<Self, CmwError> {
        let value = value.into();
        if value.is_empty() {
            return Err(CmwError::EmptyValue);
        }
        Ok(Self {
            record_type: record_type.into(),
            value,
            indicator,
        })
    }

    /// The record's type.
    pub fn record_type(&self) -> &RecordType {
        &self.record_type
    }

    /// The media type, if the record is typed by one.
    pub fn media_type(&self) -> Option<&MediaType> {
        match &self.record_type {
            RecordType::MediaType(m) => Some(m),
            RecordType::ContentFormat(_) => None,
        }
    }

    /// The content-format, if the record is typed by one.
    pub fn content_format(&self) -> Option<u16> {
        match self.record_type {
            RecordType::ContentFormat(cf) => Some(cf),
            RecordType::MediaType(_) => None,
        }
    }

    /// The wrapped message.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Takes the wrapped message.
    pub fn into_value(self) -> Vec<u8> {
        self.value
    }

    /// The indicator, if present.
    pub fn indicator(&self) -> Option<Indicator> {
        self.indicator
    }
}

/// A tag CMW (CBOR only): a value tagged with the RFC 9277 tag number of
/// its CoAP content-format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    content_format: u16,
    value: Vec<u8>,
}

impl Tag {
    /// A tag with RFC 9277 tag number `number`; the value must not be empty.
    pub fn new(number: u64, value: impl Into<Vec<u8>>) -> Result<Self, CmwError> {
        let cf = cf_from_tag_number(number).ok_or(CmwError::NotCmwTag { seen: number })?;
        Self::from_content_format(cf, value)
    }

    /// A tag for content-format `cf` (below 65025); the value must not be
    /// empty.
    pub fn from_content_format(cf: u16, value: impl Into<Vec<u8>>) -> Result<Self, CmwError> {
        if cf >= TN_CF_LIMIT {
            return Err(CmwError::UntaggableContentFormat { seen: cf });
        }
        let value = value.into();
        if value.is_empty() {
            return Err(CmwError::EmptyValue);
        }
        Ok(Self {
            content_format: cf,
            value,
        })
    }

    /// The tag number, `TN(cf) = 0x63740101 + (cf / 255) * 256 + cf % 255`.
    pub fn number(&self) -> u64 {
        let cf = u64::from(self.content_format);
        TN_BASE + (cf / 255) * 256 + cf % 255
    }

    /// The content-format the tag number stands for.
    pub fn content_format(&self) -> u16 {
        self.content_format
    }

    /// The wrapped message.
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// Takes the wrapped message.
    pub fn into_value(self) -> Vec<u8> {
        self.value
    }
}

/// Inverts RFC 9277 `TN()`: the content-format for tag number `tn`, if any.
///
/// Valid tag numbers are `0x6374_XXYY` with neither `XX` nor `YY` zero.
fn cf_from_tag_number(tn: u64) -> Option<u16> {
    if tn >> 16 != 0x6374 {
        return None;
    }
    let high = (tn >> 8) & 0xff;
    let low = tn & 0xff;
    if high == 0 || low == 0 {
        return None;
    }
    u16::try_from((high - 1) * 255 + (low - 1)).ok()
}

/// A collection label: an integer (CBOR only) or text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// An integer label.
    Int(i64),
    /// A text label (never `"__cmwc_t"` in a collection).
    Text(String),
}

impl From<i64> for Label {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<&str> for Label {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Label {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl fmt::Display for Label {
    /// CBOR diagnostic notation: `7` or `"name"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A collection type (`"__cmwc_t"`): an absolute URI or a dotted-decimal OID.
///
/// The URI check is syntactic: RFC 3986 §4.3 absolute form, i.e. a scheme,
/// a colon, then only characters RFC 3986 allows, with well-formed percent
/// escapes and no fragment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CollectionType(String);

impl CollectionType {
    /// Checks and wraps a collection type.
    pub fn new(value: impl Into<String>) -> Result<Self, CmwError> {
        let value = value.into();
        if is_oid(&value) || is_absolute_uri(&value) {
            Ok(Self(value))
        } else {
            Err(CmwError::InvalidCollectionType { seen: value })
        }
    }

    /// The type as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the type is an OID rather than a URI.
    pub fn is_oid(&self) -> bool {
        is_oid(&self.0)
    }
}

/// `([0-2])((\.0)|(\.[1-9][0-9]*))*`, anchored.
fn is_oid(s: &str) -> bool {
    let mut arcs = s.split('.');
    let first_ok = matches!(arcs.next(), Some("0" | "1" | "2"));
    first_ok
        && arcs.all(|arc| {
            !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc == "0" || !arc.starts_with('0'))
        })
}

fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut scheme_bytes = scheme.bytes();
    let scheme_ok = scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let mut bytes = rest.bytes();
    while let Some(b) = bytes.next() {
        let ok = match b {
            b'%' => {
                bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
                    && bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
            }
            _ => b.is_ascii_alphanumeric() || b"-._~:/?[]@!$&'()*+,;=".contains(&b),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// One key/value pair of a collection, in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Member {
    Type(CollectionType),
    Entry(Label, CmwNode),
}

impl Member {
    /// The key's CBOR encoding, which orders keys deterministically.
    fn key_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Type(_) => cbor::write_text(&mut out, COLLECTION_TYPE_KEY),
            Self::Entry(label, _) => cbor::write_label(&mut out, label),
        }
        out
    }
}

/// A collection CMW: at least one labelled CMW, and optionally a type.
///
/// Keys keep the order they had on the wire, so a decoded collection
/// re-encodes byte for byte; equality compares that order too. Entries
/// added through the API are placed in RFC 8949 §4.2.1 order (by encoded
/// key bytes), so a collection built only through the API encodes
/// deterministically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    members: Vec<Member>,
    /// Levels in the tree rooted here (at least 2).
    depth: usize,
}

impl Collection {
    /// A collection of `entries` with an optional type; fails if there are
    /// no entries, a label repeats or is `"__cmwc_t"`, or the tree would be
    /// deeper than [`MAX_DEPTH`].
    pub fn new(
        collection_type: Option<CollectionType>,
        entries: impl IntoIterator<Item = (Label, CmwNode)>,
    ) -> Result<Self, CmwError> {
        let mut collection = Self {
            members: collection_type.map(Member::Type).into_iter().collect(),
            depth: 2,
        };
        for (label, node) in entries {
            collection.insert(label, node)?;
        }
        if collection.is_empty() {
            return Err(CmwError::EmptyCollection);
        }
        Ok(collection)
    }

    /// Adds an entry; fails if the label is already present or is
    /// `"__cmwc_t"`, or the tree would be deeper than [`MAX_DEPTH`].
    pub fn insert(&mut self, label: Label, node: CmwNode) -> Result<(), CmwError> {
        if matches!(&label, Label::Text(t) if t == COLLECTION_TYPE_KEY) {
            return Err(CmwError::ReservedLabel);
        }
        if self.get(&label).is_some() {
            return Err(CmwError::DuplicateKey {
                key: label.to_string(),
            });
        }
        let depth = node.depth().saturating_add(1);
        if depth > MAX_DEPTH {
            return Err(CmwError::TooDeep { limit: MAX_DEPTH });
        }
        let member = Member::Entry(label, node);
        let key = member.key_bytes();
        let at = self
            .members
            .iter()
            .position(|m| m.key_bytes() > key)
            .unwrap_or(self.members.len());
        self.members.insert(at, member);
        self.depth = self.depth.max(depth);
        Ok(())
    }

    /// The collection type, if present.
    pub fn collection_type(&self) -> Option<&CollectionType> {
        self.members.iter().find_map(|m| match m {
            Member::Type(t) => Some(t),
            Member::Entry(..) => None,
        })
    }

    /// The entry with `label`.
    pub fn get(&self, label: &Label) -> Option<&CmwNode> {
        self.iter().find(|(l, _)| *l == label).map(|(_, n)| n)
    }

    /// The entries, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&Label, &CmwNode)> {
        self.members.iter().filter_map(|m| match m {
            Member::Entry(l, n) => Some((l, n)),
            Member::Type(_) => None,
        })
    }

    /// The number of entries (not counting the type); at least 1.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Always `false`: a collection has at least one entry.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Builds a collection from members in wire order; the decoders have
    /// already checked keys, emptiness and depth.
    fn from_wire(members: Vec<Member>) -> Self {
        let depth = members
            .iter()
            .filter_map(|m| match m {
                Member::Entry(_, n) => Some(n.depth().saturating_add(1)),
                Member::Type(_) => None,
            })
            .max()
            .unwrap_or(2);
        Self { members, depth }
    }
}

/// Tracks the keys of a collection being decoded.
#[derive(Default)]
struct KeySet {
    has_type: bool,
    labels: std::collections::BTreeSet<Label>,
}

impl KeySet {
    /// Records the key of `member`; fails if it was seen before.
    fn add(&mut self, member: &Member) -> Result<(), CmwError> {
        let fresh = match member {
            Member::Type(_) => !core::mem::replace(&mut self.has_type, true),
            Member::Entry(label, _) => self.labels.insert(label.clone()),
        };
        if fresh {
            Ok(())
        } else {
            Err(CmwError::DuplicateKey {
                key: match member {
                    Member::Type(_) => format!("{COLLECTION_TYPE_KEY:?}"),
                    Member::Entry(label, _) => label.to_string(),
                },
            })
        }
    }

    fn entry_count(&self) -> usize {
        self.labels.len()
    }
}

#[cfg(test)]
mod tests;
