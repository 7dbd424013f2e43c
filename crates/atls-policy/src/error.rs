//! Why a policy (or the input of a policy test) was not accepted.

use core::fmt;

/// A policy document, Rego module or policy-test input that was not accepted. Errors in a
/// document name the field (`tdx.measurements[0].rtmr1`) and, for TOML, its line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document does not parse, or a field holds a value that is not allowed there.
    Invalid {
        /// Path of the field, dotted with list indices (`tdx.tcb.statuses[1]`); empty for
        /// the document as a whole.
        path: String,
        /// 1-based line and column in a TOML document, when known.
        location: Option<(usize, usize)>,
        /// What is wrong.
        message: String,
    },
    /// The recorded claims given to a policy test are not a claims set.
    Claims(String),
    /// The evidence given to a policy test was not accepted by its verifier, so there are
    /// no claims to evaluate.
    Evidence(String),
}

impl PolicyError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            location: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid {
                path,
                location,
                message,
            } => {
                f.write_str("invalid policy")?;
                if !path.is_empty() {
                    write!(f, ": field `{path}`")?;
                }
                if let Some((line, column)) = location {
                    write!(f, " (line {line}, column {column})")?;
                }
                write!(f, ": {message}")
            }
            Self::Claims(message) => write!(f, "not a claims set: {message}"),
            Self::Evidence(message) => write!(f, "evidence not accepted: {message}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 11), (2, 6));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn display_names_field_and_location() {
        let e = PolicyError::Invalid {
            path: "tdx.tcb.statuses[0]".into(),
            location: Some((4, 13)),
            message: "unknown TCB status".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid policy: field `tdx.tcb.statuses[0]` (line 4, column 13): unknown TCB status"
        );
    }
}
