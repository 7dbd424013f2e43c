//! JSON serialization of CMWs, compact form only.
//!
//! The reader accepts exactly what the writer produces (no whitespace
//! between tokens, minimal escapes, plain integers), so every accepted input
//! re-encodes byte for byte. `serde_json::to_vec` writes the same form; Go's
//! `encoding/json` does too for text without `<`, `>`, `&` or control
//! characters.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{
    COLLECTION_TYPE_KEY, CmwError, CmwNode, Collection, CollectionType, Indicator, KeySet, Label,
    MAX_DEPTH, Member, Record, RecordType,
};
use crate::media_type::MediaType;

/// Fails if `node` holds something JSON cannot carry.
pub(super) fn check_representable(node: &CmwNode) -> Result<(), CmwError> {
    match node {
        CmwNode::Record(r) => match r.record_type {
            RecordType::MediaType(_) => Ok(()),
            RecordType::ContentFormat(_) => Err(CmwError::NotRepresentableInJson {
                what: "a record typed by a content-format",
            }),
        },
        CmwNode::Tag(_) => Err(CmwError::NotRepresentableInJson { what: "a tag CMW" }),
        CmwNode::Collection(c) => c.iter().try_for_each(|(label, node)| match label {
            Label::Int(_) => Err(CmwError::NotRepresentableInJson {
                what: "an integer collection label",
            }),
            Label::Text(_) => check_representable(node),
        }),
    }
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// The error for finding something other than `expected` here.
    fn unexpected(&self, expected: &'static str) -> CmwError {
        match self.peek() {
            Some(b' ' | b'\t' | b'\n' | b'\r') => CmwError::JsonWhitespace { offset: self.pos },
            seen => CmwError::JsonSyntax {
                offset: self.pos,
                expected,
                seen,
            },
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), CmwError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Reads exactly four lower-case hex digits.
    fn hex4(&mut self, escape_at: usize) -> Result<u32, CmwError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b'A'..=b'F') => {
                    return Err(CmwError::NonCanonicalJsonEscape { offset: escape_at });
                }
                _ => return Err(self.unexpected("a hex digit of a \\u escape")),
            };
            value = (value << 4) | u32::from(digit);
            self.pos += 1;
        }
        Ok(value)
    }

    /// Reads a string. The input is known to be UTF-8, so bytes outside
    /// ASCII are copied as they are.
    fn string(&mut self, expected: &'static str) -> Result<String, CmwError> {
        self.expect(b'"', expected)?;
        let start = self.pos;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.unexpected("'\"' closing the string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let escape_at = self.pos;
                    self.pos += 1;
                    let unescaped = match self.peek() {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let code = self.hex4(escape_at)?;
                            // Only control characters without a short escape
                            // are written as \u00xx.
                            match u8::try_from(code) {
                                Ok(c) if c < 0x20 && short_escape(c).is_none() => {
                                    out.push(c);
                                    continue;
                                }
                                _ => {
                                    return Err(CmwError::NonCanonicalJsonEscape {
                                        offset: escape_at,
                                    });
                                }
                            }
                        }
                        Some(b'/') => {
                            return Err(CmwError::NonCanonicalJsonEscape { offset: escape_at });
                        }
                        _ => return Err(self.unexpected("an escape character")),
                    };
                    out.push(unescaped);
                }
                0x00..=0x1f => {
                    return Err(CmwError::JsonSyntax {
                        offset: self.pos,
                        expected: "an escaped control character",
                        seen: Some(b),
                    });
                }
                _ => out.push(b),
            }
            self.pos += 1;
        }
        String::from_utf8(out).map_err(|_| CmwError::InvalidUtf8 { offset: start })
    }

    /// Reads an unsigned integer: digits, no leading zero.
    fn uint(&mut self) -> Result<u64, CmwError> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-')) {
            return Err(CmwError::NonCanonicalJsonNumber { offset: start });
        }
        let mut value: u64 = 0;
        let mut overflow = false;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            if self.pos > start && value == 0 {
                return Err(CmwError::NonCanonicalJsonNumber { offset: start });
            }
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected("the indicator (unsigned integer)"));
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(CmwError::NonCanonicalJsonNumber { offset: start });
        }
        if overflow {
            return Err(CmwError::IndicatorOutOfRange { seen: u64::MAX });
        }
        Ok(value)
    }
}

/// The short escape letter of a control character, if JSON has one.
fn short_escape(c: u8) -> Option<u8> {
    match c {
        0x08 => Some(b'b'),
        0x0c => Some(b'f'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        _ => None,
    }
}

/// Decodes one JSON CMW that must fill `input` exactly.
pub(super) fn decode(input: &[u8]) -> Result<CmwNode, CmwError> {
    if let Err(e) = core::str::from_utf8(input) {
        return Err(CmwError::InvalidUtf8 {
            offset: e.valid_up_to(),
        });
    }
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
    match r.peek() {
        Some(b'[') => record(r).map(CmwNode::Record),
        Some(b'{') => collection(r, level).map(CmwNode::Collection),
        _ => Err(r.unexpected("a CMW: record ('[') or collection ('{')")),
    }
}

fn record(r: &mut Reader<'_>) -> Result<Record, CmwError> {
    r.expect(b'[', "'[' opening a record")?;
    let type_at = r.pos;
    let text = r.string("the media type (string)")?;
    let media_type = MediaType::parse(&text).map_err(|error| CmwError::InvalidMediaType {
        offset: type_at,
        error,
    })?;
    r.expect(b',', "',' after the media type")?;
    let value_at = r.pos;
    let encoded = r.string("the value (base64url string)")?;
    if encoded.contains('=') {
        return Err(CmwError::Base64Padding { offset: value_at });
    }
    let value = URL_SAFE_NO_PAD
        .decode(&encoded)
        .map_err(|_| CmwError::InvalidBase64 { offset: value_at })?;
    let indicator = if r.peek() == Some(b',') {
        r.pos += 1;
        Some(Indicator::from_wire(r.uint()?)?)
    } else {
        None
    };
    r.expect(b']', "']' closing the record")?;
    Record::new(media_type, value, indicator)
}

fn collection(r: &mut Reader<'_>, level: usize) -> Result<Collection, CmwError> {
    if level >= MAX_DEPTH {
        return Err(CmwError::TooDeep { limit: MAX_DEPTH });
    }
    r.expect(b'{', "'{' opening a collection")?;
    let mut keys = KeySet::default();
    let mut members = Vec::new();
    if r.peek() != Some(b'}') {
        loop {
            let key = r.string("a collection label (string)")?;
            r.expect(b':', "':' after the label")?;
            let member = if key == COLLECTION_TYPE_KEY {
                Member::Type(CollectionType::new(
                    r.string("the collection type (string)")?,
                )?)
            } else {
                Member::Entry(Label::Text(key), node(r, level + 1)?)
            };
            keys.add(&member)?;
            members.push(member);
            if r.peek() == Some(b',') {
                r.pos += 1;
            } else {
                break;
            }
        }
    }
    r.expect(b'}', "',' or '}' closing the collection")?;
    if keys.entry_count() == 0 {
        return Err(CmwError::EmptyCollection);
    }
    Ok(Collection::from_wire(members))
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0x00..=0x1f => match short_escape(b) {
                Some(letter) => out.extend_from_slice(&[b'\\', letter]),
                None => {
                    out.extend_from_slice(b"\\u00");
                    out.extend(
                        [b >> 4, b & 0xf]
                            .iter()
                            .filter_map(|&nibble| HEX.get(usize::from(nibble))),
                    );
                }
            },
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Encodes a CMW tree that [`check_representable`] accepts; anything JSON
/// cannot carry is skipped.
pub(super) fn encode(node: &CmwNode) -> Vec<u8> {
    let mut out = Vec::new();
    write_node(&mut out, node);
    out
}

fn write_node(out: &mut Vec<u8>, node: &CmwNode) {
    match node {
        CmwNode::Record(r) => {
            out.push(b'[');
            if let RecordType::MediaType(m) = &r.record_type {
                write_string(out, m.as_str());
            }
            out.push(b',');
            write_string(out, &URL_SAFE_NO_PAD.encode(&r.value));
            if let Some(ind) = r.indicator {
                out.push(b',');
                out.extend_from_slice(ind.bits().to_string().as_bytes());
            }
            out.push(b']');
        }
        CmwNode::Tag(_) => {}
        CmwNode::Collection(c) => {
            out.push(b'{');
            let mut first = true;
            for member in &c.members {
                if let Member::Entry(Label::Int(_), _) = member {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                match member {
                    Member::Type(t) => {
                        write_string(out, COLLECTION_TYPE_KEY);
                        out.push(b':');
                        write_string(out, t.as_str());
                    }
                    Member::Entry(Label::Text(label), node) => {
                        write_string(out, label);
                        out.push(b':');
                        write_node(out, node);
                    }
                    Member::Entry(Label::Int(_), _) => {}
                }
            }
            out.push(b'}');
        }
    }
}
