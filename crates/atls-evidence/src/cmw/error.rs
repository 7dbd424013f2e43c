//! The CMW error type.

use core::fmt;

use crate::media_type::MediaTypeError;

/// Why bytes are not an acceptable CMW, or why a CMW cannot be built.
///
/// Decoding errors carry the byte `offset` in the input where the problem
/// was found; errors about a value (a duplicate key, an indicator out of
/// range) carry the value instead, and are also returned by the
/// constructors. Every variant's message says what was expected and what was
/// seen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmwError {
    /// The input was empty.
    Empty,
    /// The input is longer than [`MAX_ENCODED_LEN`](super::MAX_ENCODED_LEN).
    TooLarge {
        /// The limit in bytes.
        limit: usize,
        /// The input length.
        seen: usize,
    },
    /// Collections nest deeper than [`MAX_DEPTH`](super::MAX_DEPTH) levels.
    TooDeep {
        /// The limit in levels.
        limit: usize,
    },
    /// The first byte starts neither a CBOR array, map or tag nor a JSON
    /// array or object.
    UnrecognizedStart {
        /// The first byte.
        seen: u8,
    },
    /// The input ends inside an item.
    Truncated {
        /// Offset at which more bytes were needed.
        offset: usize,
        /// What was being read.
        expected: &'static str,
    },
    /// Bytes follow the CMW.
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many bytes follow.
        count: usize,
    },
    /// A CBOR indefinite-length string, array or map.
    IndefiniteLength {
        /// Offset of the item's initial byte.
        offset: usize,
    },
    /// A CBOR argument not encoded in its shortest form.
    NonMinimalHead {
        /// Offset of the item's initial byte.
        offset: usize,
    },
    /// A CBOR initial byte with reserved additional information (28–30), or
    /// 31 where no indefinite length is possible.
    MalformedHead {
        /// Offset of the initial byte.
        offset: usize,
        /// The initial byte.
        seen: u8,
    },
    /// A well-formed CBOR item of the wrong kind.
    UnexpectedItem {
        /// Offset of the item.
        offset: usize,
        /// What the CMW grammar required there.
        expected: &'static str,
        /// The kind of item found.
        seen: &'static str,
    },
    /// A record array whose length is not 2 or 3.
    RecordLength {
        /// Offset of the array.
        offset: usize,
        /// The declared number of elements.
        seen: u64,
    },
    /// A CoAP content-format above 65535.
    ContentFormatOutOfRange {
        /// Offset of the integer.
        offset: usize,
        /// The value found.
        seen: u64,
    },
    /// A content-format of 65025 or more, for which RFC 9277 defines no tag.
    UntaggableContentFormat {
        /// The content-format.
        seen: u16,
    },
    /// An indicator outside 1..=31 (no bit, or a bit the draft does not
    /// assign).
    IndicatorOutOfRange {
        /// The value found.
        seen: u64,
    },
    /// A record or tag whose value is empty.
    EmptyValue,
    /// A record type that is not a media type.
    InvalidMediaType {
        /// Offset of the text.
        offset: usize,
        /// Why it does not parse.
        error: MediaTypeError,
    },
    /// Text that is not UTF-8.
    InvalidUtf8 {
        /// Offset of the first invalid byte (JSON) or of the text item (CBOR).
        offset: usize,
    },
    /// A CBOR tag number that no CoAP content-format maps to (RFC 9277).
    NotCmwTag {
        /// The tag number.
        seen: u64,
    },
    /// A collection without any CMW entry.
    EmptyCollection,
    /// A collection key that appears more than once.
    DuplicateKey {
        /// The key, as CBOR diagnostic notation (`"name"` or `7`).
        key: String,
    },
    /// A collection label `"__cmwc_t"`, which is reserved for the
    /// collection type.
    ReservedLabel,
    /// A collection type that is neither an absolute URI nor an OID.
    InvalidCollectionType {
        /// The value found.
        seen: String,
    },
    /// A CBOR integer label outside the `i64` range.
    LabelOutOfRange {
        /// Offset of the integer.
        offset: usize,
    },
    /// JSON that does not follow the grammar.
    JsonSyntax {
        /// Offset of the offending byte.
        offset: usize,
        /// What the grammar required there.
        expected: &'static str,
        /// The byte found, or `None` at the end of the input.
        seen: Option<u8>,
    },
    /// Whitespace between JSON tokens: only the compact form is accepted,
    /// because only it re-encodes byte for byte.
    JsonWhitespace {
        /// Offset of the whitespace.
        offset: usize,
    },
    /// A JSON escape that the compact canonical form would not use
    /// (`\/`, `\u0041`, upper-case hex, …).
    NonCanonicalJsonEscape {
        /// Offset of the backslash.
        offset: usize,
    },
    /// A JSON number with a sign, fraction, exponent or leading zero.
    NonCanonicalJsonNumber {
        /// Offset of the number.
        offset: usize,
    },
    /// A base64url value with `=` padding.
    Base64Padding {
        /// Offset of the string.
        offset: usize,
    },
    /// A value that is not unpadded base64url (bad character, impossible
    /// length, or non-zero trailing bits).
    InvalidBase64 {
        /// Offset of the string.
        offset: usize,
    },
    /// The CMW contains something JSON cannot carry.
    NotRepresentableInJson {
        /// What it is.
        what: &'static str,
    },
}

impl fmt::Display for CmwError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("expected a CMW, saw empty input"),
            Self::TooLarge { limit, seen } => {
                write!(f, "expected at most {limit} bytes of CMW, saw {seen}")
            }
            Self::TooDeep { limit } => write!(
                f,
                "expected collections nested at most {limit} levels deep, saw deeper nesting"
            ),
            Self::UnrecognizedStart { seen } => write!(
                f,
                "expected a CBOR array, map or tag or a JSON '[' or '{{', saw first byte {seen:#04x}"
            ),
            Self::Truncated { offset, expected } => {
                write!(
                    f,
                    "expected {expected} at offset {offset}, saw the end of the input"
                )
            }
            Self::TrailingBytes { offset, count } => write!(
                f,
                "expected the input to end at offset {offset}, saw {count} more byte(s)"
            ),
            Self::IndefiniteLength { offset } => write!(
                f,
                "expected a definite length at offset {offset}, saw an indefinite-length item"
            ),
            Self::NonMinimalHead { offset } => write!(
                f,
                "expected the shortest encoding of the CBOR argument at offset {offset}, saw a longer one"
            ),
            Self::MalformedHead { offset, seen } => write!(
                f,
                "expected a well-formed CBOR initial byte at offset {offset}, saw {seen:#04x}"
            ),
            Self::UnexpectedItem {
                offset,
                expected,
                seen,
            } => write!(f, "expected {expected} at offset {offset}, saw {seen}"),
            Self::RecordLength { offset, seen } => write!(
                f,
                "expected a record array of 2 or 3 elements at offset {offset}, saw {seen}"
            ),
            Self::ContentFormatOutOfRange { offset, seen } => write!(
                f,
                "expected a CoAP content-format 0..=65535 at offset {offset}, saw {seen}"
            ),
            Self::UntaggableContentFormat { seen } => write!(
                f,
                "expected a content-format below 65025 for a CBOR tag, saw {seen}"
            ),
            Self::IndicatorOutOfRange { seen } => {
                write!(f, "expected an indicator 1..=31, saw {seen}")
            }
            Self::EmptyValue => f.write_str("expected a non-empty value, saw an empty one"),
            Self::InvalidMediaType { offset, error } => {
                write!(f, "expected a media type at offset {offset}: {error}")
            }
            Self::InvalidUtf8 { offset } => {
                write!(
                    f,
                    "expected UTF-8 text at offset {offset}, saw invalid bytes"
                )
            }
            Self::NotCmwTag { seen } => write!(
                f,
                "expected a CBOR tag derived from a CoAP content-format (RFC 9277), saw tag {seen}"
            ),
            Self::EmptyCollection => {
                f.write_str("expected a collection with at least one entry, saw none")
            }
            Self::DuplicateKey { key } => {
                write!(f, "expected unique collection keys, saw {key} repeated")
            }
            Self::ReservedLabel => f.write_str(
                "expected a collection label other than \"__cmwc_t\", saw the reserved one",
            ),
            Self::InvalidCollectionType { seen } => write!(
                f,
                "expected an absolute URI or an OID as collection type, saw {seen:?}"
            ),
            Self::LabelOutOfRange { offset } => write!(
                f,
                "expected an integer label within the i64 range at offset {offset}, saw a larger one"
            ),
            Self::JsonSyntax {
                offset,
                expected,
                seen: Some(b),
            } => write!(
                f,
                "expected {expected} at offset {offset}, saw {:?}",
                char::from(*b)
            ),
            Self::JsonSyntax {
                offset,
                expected,
                seen: None,
            } => write!(
                f,
                "expected {expected} at offset {offset}, saw the end of the input"
            ),
            Self::JsonWhitespace { offset } => write!(
                f,
                "expected compact JSON, saw whitespace between tokens at offset {offset}"
            ),
            Self::NonCanonicalJsonEscape { offset } => write!(
                f,
                "expected only the escapes compact JSON needs, saw another at offset {offset}"
            ),
            Self::NonCanonicalJsonNumber { offset } => write!(
                f,
                "expected an unsigned decimal integer without leading zeros at offset {offset}"
            ),
            Self::Base64Padding { offset } => write!(
                f,
                "expected unpadded base64url at offset {offset}, saw '=' padding"
            ),
            Self::InvalidBase64 { offset } => {
                write!(
                    f,
                    "expected unpadded base64url at offset {offset}, saw invalid text"
                )
            }
            Self::NotRepresentableInJson { what } => write!(
                f,
                "expected a CMW that JSON can carry, saw {what} (CBOR only)"
            ),
        }
    }
}

impl std::error::Error for CmwError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidMediaType { error, .. } => Some(error),
            _ => None,
        }
    }
}
