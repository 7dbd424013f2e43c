//! Media types (RFC 9110 §8.3.1), compared by structure rather than spelling.
//!
//! A CMW record names its payload with a media type such as
//! `application/eat+cwt; eat_profile="tag:github.com,2023:veraison/ear"`.
//! Two spellings of one media type must compare equal, so [`MediaType`]
//! parses the text and compares the parts:
//!
//! * type and subtype: ASCII case-insensitive;
//! * parameter names: ASCII case-insensitive;
//! * parameter values: exact, after removing the quotes of a quoted-string
//!   (`eat_profile="2.16.840"` equals `eat_profile=2.16.840`);
//! * parameter order does not matter.
//!
//! The original text is kept, so a CMW that carried it re-encodes byte for
//! byte.
//!
//! The parser follows the RFC 9110 grammar with two deliberate restrictions:
//! only ASCII is accepted (the grammar's `obs-text` is obsolete), and a
//! parameter name may appear only once (a repeated name has no defined
//! meaning, so it is rejected rather than guessed at).

use core::fmt;
use core::hash::{Hash, Hasher};
use core::str::FromStr;

/// Media type of a raw Intel TDX quote (DCAP quote v4/v5 bytes).
///
/// No media type is registered for a raw TDX quote. This is the string the
/// reference implementation of draft-fossati-seat-expat puts in its CMW
/// records, and the only one we found in use for raw quote bytes; using it
/// lets our evidence be read by that implementation and theirs by ours. It
/// is unregistered and its `profile` URI does not name a published TCG
/// specification, so treat it as a label, not as a reference. The Veraison
/// types (`application/vnd.veraison.tsm-report+cbor` and `…configfs-tsm+json`)
/// were not chosen because they describe a different structure: a Linux
/// configfs-tsm report that wraps the quote together with auxiliary blobs.
pub const TDX_QUOTE_MEDIA_TYPE: &str =
    "application/tdx-quote; version=1.0; profile=\"https://trustedcomputinggroup.org/tdx/v1\"";

/// Media type of the software evidence used in tests.
///
/// That evidence is produced without any hardware root of trust and proves
/// nothing; the name says so, so that a policy allow-list containing it
/// stands out in review. Never accept it outside tests.
pub const INSECURE_TEST_EVIDENCE_MEDIA_TYPE: &str = "application/vnd.atls.insecure-test-evidence";

/// Media type of a Veraison EAR (EAT Attestation Result) serialized as a CWT.
///
/// EAR is an EAT profile identified by `tag:github.com,2023:veraison/ear`;
/// the media type is the EAT CWT type (RFC 9782) with that `eat_profile`.
pub const EAR_CWT_MEDIA_TYPE: &str =
    "application/eat+cwt; eat_profile=\"tag:github.com,2023:veraison/ear\"";

/// Media type of a Veraison EAR serialized as a JWT (the form Veraison's
/// verification service returns by default).
pub const EAR_JWT_MEDIA_TYPE: &str =
    "application/eat+jwt; eat_profile=\"tag:github.com,2023:veraison/ear\"";

/// A parsed media type.
///
/// Equality and hashing are structural (see the module documentation);
/// [`MediaType::as_str`] and [`fmt::Display`] give back the original text.
#[derive(Clone, Debug)]
pub struct MediaType {
    text: String,
    type_: String,
    subtype: String,
    /// Lower-cased names and unquoted values, sorted by name.
    parameters: Vec<(String, String)>,
}

impl MediaType {
    /// Parses `text` as an RFC 9110 media type (`type/subtype *(; name=value)`).
    pub fn parse(text: &str) -> Result<Self, MediaTypeError> {
        Parser::new(text).media_type()
    }

    /// The text this media type was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The top-level type, lower-cased (`application` in `application/cbor`).
    pub fn type_(&self) -> &str {
        &self.type_
    }

    /// The subtype, lower-cased, including any structured-syntax suffix
    /// (`eat+cwt` in `application/eat+cwt`).
    pub fn subtype(&self) -> &str {
        &self.subtype
    }

    /// The value of parameter `name` (case-insensitive), unquoted.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The parameters as (lower-cased name, unquoted value), sorted by name.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parameters
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl PartialEq for MediaType {
    fn eq(&self, other: &Self) -> bool {
        self.type_ == other.type_
            && self.subtype == other.subtype
            && self.parameters == other.parameters
    }
}

impl Eq for MediaType {}

impl Hash for MediaType {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.type_.hash(state);
        self.subtype.hash(state);
        self.parameters.hash(state);
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for MediaType {
    type Err = MediaTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a string is not a media type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaTypeError {
    /// A byte outside ASCII at `offset`.
    NonAscii {
        /// Byte offset in the media type text.
        offset: usize,
    },
    /// At `offset` the grammar expected `expected` but found `seen`
    /// (`None`: the text ended).
    Unexpected {
        /// Byte offset in the media type text.
        offset: usize,
        /// What the grammar required there.
        expected: &'static str,
        /// The character found, or `None` at the end of the text.
        seen: Option<char>,
    },
    /// Parameter `name` (lower-cased) appears more than once.
    DuplicateParameter {
        /// The repeated parameter name.
        name: String,
    },
}

impl fmt::Display for MediaTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NonAscii { offset } => {
                write!(f, "expected ASCII at offset {offset}, saw a non-ASCII byte")
            }
            Self::Unexpected {
                offset,
                expected,
                seen: Some(c),
            } => write!(f, "expected {expected} at offset {offset}, saw {c:?}"),
            Self::Unexpected {
                offset,
                expected,
                seen: None,
            } => write!(
                f,
                "expected {expected} at offset {offset}, saw the end of the text"
            ),
            Self::DuplicateParameter { name } => {
                write!(f, "expected each parameter once, saw {name:?} repeated")
            }
        }
    }
}

impl std::error::Error for MediaTypeError {}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `qdtext` (without `obs-text`).
fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e)
}

/// RFC 9110 `quoted-pair` payload (without `obs-text`).
fn is_quotable(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7e)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn unexpected(&self, expected: &'static str) -> MediaTypeError {
        MediaTypeError::Unexpected {
            offset: self.pos,
            expected,
            seen: self.peek().map(char::from),
        }
    }

    fn expect(&mut self, b: u8, expected: &'static str) -> Result<(), MediaTypeError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn token(&mut self, expected: &'static str) -> Result<&'a str, MediaTypeError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        match self.text.get(start..self.pos) {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn skip_ows(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos != start
    }

    fn quoted_string(&mut self) -> Result<String, MediaTypeError> {
        self.expect(b'"', "'\"' opening a quoted string")?;
        let mut value = String::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if is_quotable(b) => value.push(char::from(b)),
                        _ => return Err(self.unexpected("a visible character after '\\'")),
                    }
                }
                Some(b) if is_qdtext(b) => value.push(char::from(b)),
                None => return Err(self.unexpected("'\"' closing the quoted string")),
                Some(_) => return Err(self.unexpected("a quoted-string character")),
            }
            self.pos += 1;
        }
    }

    fn media_type(mut self) -> Result<MediaType, MediaTypeError> {
        if let Some(offset) = self.bytes.iter().position(|b| !b.is_ascii()) {
            return Err(MediaTypeError::NonAscii { offset });
        }
        let type_ = self.token("a type token")?.to_ascii_lowercase();
        self.expect(b'/', "'/' after the type")?;
        let subtype = self.token("a subtype token")?.to_ascii_lowercase();
        let mut parameters: Vec<(String, String)> = Vec::new();
        loop {
            let had_space = self.skip_ows();
            if self.peek().is_none() {
                if had_space {
                    return Err(self.unexpected("';' after whitespace"));
                }
                break;
            }
            self.expect(b';', "';' or the end of the media type")?;
            self.skip_ows();
            // RFC 9110 allows an empty parameter (`type/sub;;a=b`, `type/sub;`).
            if matches!(self.peek(), None | Some(b';')) {
                continue;
            }
            let name = self.token("a parameter name")?.to_ascii_lowercase();
            self.expect(b'=', "'=' after the parameter name")?;
            let value = if self.peek() == Some(b'"') {
                self.quoted_string()?
            } else {
                self.token("a parameter value (token or quoted string)")?
                    .to_owned()
            };
            if parameters.iter().any(|(n, _)| *n == name) {
                return Err(MediaTypeError::DuplicateParameter { name });
            }
            parameters.push((name, value));
        }
        parameters.sort();
        Ok(MediaType {
            text: self.text.to_owned(),
            type_,
            subtype,
            parameters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mt(s: &str) -> MediaType {
        MediaType::parse(s).unwrap()
    }

    #[test]
    fn parses_type_subtype_and_parameters() {
        let m = mt(EAR_CWT_MEDIA_TYPE);
        assert_eq!(m.type_(), "application");
        assert_eq!(m.subtype(), "eat+cwt");
        assert_eq!(
            m.parameter("eat_profile"),
            Some("tag:github.com,2023:veraison/ear")
        );
        assert_eq!(m.as_str(), EAR_CWT_MEDIA_TYPE);
        assert_eq!(m.to_string(), EAR_CWT_MEDIA_TYPE);
    }

    #[test]
    fn all_constants_parse() {
        for s in [
            TDX_QUOTE_MEDIA_TYPE,
            INSECURE_TEST_EVIDENCE_MEDIA_TYPE,
            EAR_CWT_MEDIA_TYPE,
            EAR_JWT_MEDIA_TYPE,
        ] {
            assert_eq!(mt(s).as_str(), s);
        }
        assert_eq!(
            mt(TDX_QUOTE_MEDIA_TYPE).parameter("profile"),
            Some("https://trustedcomputinggroup.org/tdx/v1")
        );
    }

    #[test]
    fn compares_type_and_subtype_case_insensitively() {
        assert_eq!(mt("Application/EAT+CWT"), mt("application/eat+cwt"));
        assert_ne!(mt("application/eat+cwt"), mt("application/eat+jwt"));
    }

    #[test]
    fn compares_parameter_names_case_insensitively() {
        assert_eq!(mt("a/b; Profile=x"), mt("a/b;profile=x"));
        assert_eq!(mt("a/b; PROFILE=x").parameter("profile"), Some("x"));
    }

    #[test]
    fn compares_parameter_values_with_quotes_removed() {
        assert_eq!(
            mt("application/eat+cwt; eat_profile=\"2.16.840.1.113741.1.16.1\""),
            mt("application/eat+cwt; eat_profile=2.16.840.1.113741.1.16.1")
        );
        assert_eq!(mt(r#"a/b; p="x\"y""#).parameter("p"), Some("x\"y"));
    }

    #[test]
    fn compares_parameter_values_case_sensitively() {
        assert_ne!(mt("a/b; p=X"), mt("a/b; p=x"));
    }

    #[test]
    fn ignores_parameter_order() {
        assert_eq!(mt("a/b; x=1; y=2"), mt("a/b;y=2;x=1"));
        assert_ne!(mt("a/b; x=1; y=2"), mt("a/b; x=1"));
    }

    #[test]
    fn hash_agrees_with_equality() {
        use std::collections::HashSet;
        let set: HashSet<MediaType> = [mt("A/B; P=\"v\""), mt("a/b;p=v")].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn accepts_empty_parameters() {
        assert_eq!(mt("a/b;"), mt("a/b"));
        assert_eq!(mt("a/b; ;x=1"), mt("a/b;x=1"));
    }

    #[test]
    fn rejects_missing_subtype() {
        assert_eq!(
            MediaType::parse("application"),
            Err(MediaTypeError::Unexpected {
                offset: 11,
                expected: "'/' after the type",
                seen: None
            })
        );
        assert!(MediaType::parse("application/").is_err());
        assert!(MediaType::parse("/cbor").is_err());
        assert!(MediaType::parse("").is_err());
    }

    #[test]
    fn rejects_whitespace_outside_parameter_separators() {
        assert!(MediaType::parse(" a/b").is_err());
        assert!(MediaType::parse("a /b").is_err());
        assert!(MediaType::parse("a/b ").is_err());
        assert!(MediaType::parse("a/b; x = 1").is_err());
    }

    #[test]
    fn rejects_unterminated_quoted_string() {
        assert_eq!(
            MediaType::parse("a/b; p=\"abc"),
            Err(MediaTypeError::Unexpected {
                offset: 11,
                expected: "'\"' closing the quoted string",
                seen: None
            })
        );
    }

    #[test]
    fn rejects_parameter_without_value() {
        assert!(MediaType::parse("a/b; p").is_err());
        assert!(MediaType::parse("a/b; p=").is_err());
    }

    #[test]
    fn rejects_duplicate_parameter() {
        assert_eq!(
            MediaType::parse("a/b; p=1; P=1"),
            Err(MediaTypeError::DuplicateParameter { name: "p".into() })
        );
    }

    #[test]
    fn rejects_non_ascii() {
        assert_eq!(
            MediaType::parse("a/b; p=\"é\""),
            Err(MediaTypeError::NonAscii { offset: 8 })
        );
    }

    #[test]
    fn rejects_control_characters() {
        assert!(MediaType::parse("a/b; p=\"x\ny\"").is_err());
        assert!(MediaType::parse("a/b\0").is_err());
    }
}
