//! CBOR serialization of CMWs, with a strict reader for the subset used.
//!
//! The reader accepts major types 0–6 with definite lengths and
//! shortest-form arguments only, which is what makes every accepted input
//! re-encode byte for byte.

use super::{
    COLLECTION_TYPE_KEY, CmwError, CmwNode, Collection, CollectionType, Indicator, KeySet, Label,
    MAX_DEPTH, Member, Record, RecordType, Tag, cf_from_tag_number,
};
use crate::media_type::MediaType;

const UINT: u8 = 0;
const NINT: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const TAG: u8 = 6;

/// Names a major type for error messages.
fn kind(major: u8) -> &'static str {
    match major {
        UINT => "an unsigned integer",
        NINT => "a negative integer",
        BYTES => "a byte string",
        TEXT => "a text string",
        ARRAY => "an array",
        MAP => "a map",
        TAG => "a tag",
        _ => "a simple value or float",
    }
}

/// An item's initial byte and argument.
struct Head {
    offset: usize,
    major: u8,
    arg: u64,
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: u64, expected: &'static str) -> Result<&'a [u8], CmwError> {
        let truncated = CmwError::Truncated {
            offset: self.pos,
            expected,
        };
        let len = usize::try_from(len).map_err(|_| truncated.clone())?;
        let end = self.pos.checked_add(len).ok_or(truncated.clone())?;
        let bytes = self.input.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Reads a big-endian argument of `len` bytes that must need them all.
    fn argument(&mut self, len: u64, offset: usize) -> Result<u64, CmwError> {
        let bytes = self.take(len, "the rest of the CBOR argument")?;
        let value = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let shortest_floor = match len {
            1 => 24,
            2 => 0x100,
            4 => 0x1_0000,
            _ => 0x1_0000_0000,
        };
        if value < shortest_floor {
            return Err(CmwError::NonMinimalHead { offset });
        }
        Ok(value)
    }

    /// Reads an initial byte and its argument. `expected` names what the
    /// grammar wants here, for errors.
    fn head(&mut self, expected: &'static str) -> Result<Head, CmwError> {
        let offset = self.pos;
        let initial = *self
            .take(1, expected)?
            .first()
            .ok_or(CmwError::Truncated { offset, expected })?;
        let major = initial >> 5;
        if major > TAG {
            return Err(CmwError::UnexpectedItem {
                offset,
                expected,
                seen: kind(major),
            });
        }
        let arg = match initial & 0x1f {
            ai @ 0..=23 => u64::from(ai),
            24 => self.argument(1, offset)?,
            25 => self.argument(2, offset)?,
            26 => self.argument(4, offset)?,
            27 => self.argument(8, offset)?,
            31 if matches!(major, BYTES..=MAP) => {
                return Err(CmwError::IndefiniteLength { offset });
            }
            _ => {
                return Err(CmwError::MalformedHead {
                    offset,
                    seen: initial,
                });
            }
        };
        Ok(Head { offset, major, arg })
    }

    /// Reads an item that must have major type `major`.
    fn head_of(&mut self, major: u8, expected: &'static str) -> Result<Head, CmwError> {
        let head = self.head(expected)?;
        if head.major == major {
            Ok(head)
        } else {
            Err(CmwError::UnexpectedItem {
                offset: head.offset,
                expected,
                seen: kind(head.major),
            })
        }
    }

    fn text_body(&mut self, head: &Head, expected: &'static str) -> Result<&'a str, CmwError> {
        let bytes = self.take(head.arg, expected)?;
        core::str::from_utf8(bytes).map_err(|_| CmwError::InvalidUtf8 {
            offset: head.offset,
        })
    }

    fn text(&mut self, expected: &'static str) -> Result<&'a str, CmwError> {
        let head = self.head_of(TEXT, expected)?;
        self.text_body(&head, expected)
    }

    fn bytes(&mut self, expected: &'static str) -> Result<&'a [u8], CmwError> {
        let head = self.head_of(BYTES, expected)?;
        self.take(head.arg, expected)
    }
}

/// Decodes one CBOR CMW that must fill `input` exactly.
pub(super) fn decode(input: &[u8]) -> Result<CmwNode, CmwError> {
    let mut reader = Reader { input, pos: 0 };
    let node = node(&mut reader, 1)?;
    match input.len().checked_sub(reader.pos) {
        Some(0) => Ok(node),
        count => Err(CmwError::TrailingBytes {
            offset: reader.pos,
            count: count.unwrap_or(0),
        }),
    }
}

/// Decodes the CMW at tree level `level` (1 for the root).
fn node(r: &mut Reader<'_>, level: usize) -> Result<CmwNode, CmwError> {
    let expected = "a CMW: record (array), collection (map) or tag";
    let head = r.head(expected)?;
    match head.major {
        ARRAY => record(r, &head).map(CmwNode::Record),
        MAP => collection(r, &head, level).map(CmwNode::Collection),
        TAG => tag(r, &head).map(CmwNode::Tag),
        major => Err(CmwError::UnexpectedItem {
            offset: head.offset,
            expected,
            seen: kind(major),
        }),
    }
}

fn record(r: &mut Reader<'_>, head: &Head) -> Result<Record, CmwError> {
    if !matches!(head.arg, 2 | 3) {
        return Err(CmwError::RecordLength {
            offset: head.offset,
            seen: head.arg,
        });
    }
    let expected = "a record type: media type (text) or content-format (unsigned integer)";
    let type_head = r.head(expected)?;
    let record_type = match type_head.major {
        TEXT => {
            let text = r.text_body(&type_head, "the media type text")?;
            let media_type =
                MediaType::parse(text).map_err(|error| CmwError::InvalidMediaType {
                    offset: type_head.offset,
                    error,
                })?;
            RecordType::MediaType(media_type)
        }
        UINT => RecordType::ContentFormat(u16::try_from(type_head.arg).map_err(|_| {
            CmwError::ContentFormatOutOfRange {
                offset: type_head.offset,
                seen: type_head.arg,
            }
        })?),
        major => {
            return Err(CmwError::UnexpectedItem {
                offset: type_head.offset,
                expected,
                seen: kind(major),
            });
        }
    };
    let value = r.bytes("the record value (byte string)")?;
    let indicator = if head.arg == 3 {
        let ind = r.head_of(UINT, "the indicator (unsigned integer)")?;
        Some(Indicator::from_wire(ind.arg)?)
    } else {
        None
    };
    Record::new(record_type, value, indicator)
}

fn tag(r: &mut Reader<'_>, head: &Head) -> Result<Tag, CmwError> {
    let cf = cf_from_tag_number(head.arg).ok_or(CmwError::NotCmwTag { seen: head.arg })?;
    let value = r.bytes("the tagged value (byte string)")?;
    Tag::from_content_format(cf, value)
}

fn collection(r: &mut Reader<'_>, head: &Head, level: usize) -> Result<Collection, CmwError> {
    if level >= MAX_DEPTH {
        return Err(CmwError::TooDeep { limit: MAX_DEPTH });
    }
    let mut keys = KeySet::default();
    let mut members = Vec::new();
    // The count comes from the peer: never pre-allocate from it. Each pair
    // consumes input, so the loop ends at the input's end at the latest.
    for _ in 0..head.arg {
        let expected = "a collection label (integer or text)";
        let key = r.head(expected)?;
        let member = match key.major {
            UINT | NINT => {
                let n = i64::try_from(key.arg)
                    .map_err(|_| CmwError::LabelOutOfRange { offset: key.offset })?;
                let label = if key.major == UINT { n } else { -1 - n };
                Member::Entry(Label::Int(label), node(r, level + 1)?)
            }
            TEXT => {
                let text = r.text_body(&key, "the label text")?;
                if text == COLLECTION_TYPE_KEY {
                    Member::Type(CollectionType::new(r.text("the collection type (text)")?)?)
                } else {
                    Member::Entry(Label::Text(text.to_owned()), node(r, level + 1)?)
                }
            }
            major => {
                return Err(CmwError::UnexpectedItem {
                    offset: key.offset,
                    expected,
                    seen: kind(major),
                });
            }
        };
        keys.add(&member)?;
        members.push(member);
    }
    if keys.entry_count() == 0 {
        return Err(CmwError::EmptyCollection);
    }
    Ok(Collection::from_wire(members))
}

/// Writes an initial byte with the shortest encoding of `arg`.
fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let major = major << 5;
    let bytes = arg.to_be_bytes();
    let (ai, len) = match arg {
        0..=23 => {
            // `arg` fits the initial byte; the cast cannot truncate.
            out.push(major | arg as u8);
            return;
        }
        24..=0xff => (24, 1),
        0x100..=0xffff => (25, 2),
        0x1_0000..=0xffff_ffff => (26, 4),
        _ => (27, 8),
    };
    out.push(major | ai);
    out.extend(bytes.iter().skip(8 - len));
}

fn write_len(out: &mut Vec<u8>, major: u8, len: usize) {
    // usize is at most 64 bits on every supported target.
    write_head(out, major, len as u64);
}

pub(super) fn write_text(out: &mut Vec<u8>, text: &str) {
    write_len(out, TEXT, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_len(out, BYTES, bytes.len());
    out.extend_from_slice(bytes);
}

pub(super) fn write_label(out: &mut Vec<u8>, label: &Label) {
    match label {
        Label::Int(n) if *n >= 0 => write_head(out, UINT, n.unsigned_abs()),
        // -1 - n for negative n is |n| - 1, which cannot underflow.
        Label::Int(n) => write_head(out, NINT, n.unsigned_abs() - 1),
        Label::Text(t) => write_text(out, t),
    }
}

/// Encodes a CMW tree.
pub(super) fn encode(node: &CmwNode) -> Vec<u8> {
    let mut out = Vec::new();
    write_node(&mut out, node);
    out
}

fn write_node(out: &mut Vec<u8>, node: &CmwNode) {
    match node {
        CmwNode::Record(r) => {
            write_head(out, ARRAY, if r.indicator.is_some() { 3 } else { 2 });
            match &r.record_type {
                RecordType::MediaType(m) => write_text(out, m.as_str()),
                RecordType::ContentFormat(cf) => write_head(out, UINT, u64::from(*cf)),
            }
            write_bytes(out, &r.value);
            if let Some(ind) = r.indicator {
                write_head(out, UINT, u64::from(ind.bits()));
            }
        }
        CmwNode::Tag(t) => {
            write_head(out, TAG, t.number());
            write_bytes(out, &t.value);
        }
        CmwNode::Collection(c) => {
            write_len(out, MAP, c.members.len());
            for member in &c.members {
                match member {
                    Member::Type(t) => {
                        write_text(out, COLLECTION_TYPE_KEY);
                        write_text(out, t.as_str());
                    }
                    Member::Entry(label, node) => {
                        write_label(out, label);
                        write_node(out, node);
                    }
                }
            }
        }
    }
}
