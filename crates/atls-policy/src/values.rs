//! Field values of the policy document, validated while they are deserialised so that a
//! bad value is reported at its field (TOML line and column, JSON path).

use core::fmt;
use core::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

/// A TCB status as reported by DCAP appraisal (the `tdx.tcb_status` claim), with the names
/// Intel's TCB info and dcap-qvl use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TcbStatus {
    /// The platform is patched.
    UpToDate,
    /// Patched, but software mitigations are recommended (see the advisories).
    SWHardeningNeeded,
    /// Patched, but the platform's configuration needs changing (see the advisories).
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// A TCB recovery happened and this platform has not been updated.
    OutOfDate,
    /// Out of date, and the configuration needs changing.
    OutOfDateConfigurationNeeded,
    /// TD 1.5: the TD was launched on an out-of-date TCB that has since been updated in
    /// place; relaunching the TD is advised.
    TDRelaunchAdvised,
    /// TD 1.5: as [`TcbStatus::TDRelaunchAdvised`], and the configuration needs changing.
    TDRelaunchAdvisedConfigurationNeeded,
    /// The platform's keys are revoked. No policy accepts it.
    Revoked,
}

impl TcbStatus {
    /// Every status, in the order above.
    pub const ALL: [Self; 9] = [
        Self::UpToDate,
        Self::SWHardeningNeeded,
        Self::ConfigurationNeeded,
        Self::ConfigurationAndSWHardeningNeeded,
        Self::OutOfDate,
        Self::OutOfDateConfigurationNeeded,
        Self::TDRelaunchAdvised,
        Self::TDRelaunchAdvisedConfigurationNeeded,
        Self::Revoked,
    ];

    /// The status's name, as in the `tdx.tcb_status` claim.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SWHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::TDRelaunchAdvised => "TDRelaunchAdvised",
            Self::TDRelaunchAdvisedConfigurationNeeded => "TDRelaunchAdvisedConfigurationNeeded",
            Self::Revoked => "Revoked",
        }
    }

    /// Whether the platform's TCB is out of date, so that a grace period applies.
    pub const fn is_out_of_date(self) -> bool {
        matches!(self, Self::OutOfDate | Self::OutOfDateConfigurationNeeded)
    }
}

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a [`TcbStatus`] name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTcbStatus(pub String);

impl fmt::Display for UnknownTcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown TCB status {:?}; known: ", self.0)?;
        write_list(f, TcbStatus::ALL.iter().map(|s| s.as_str()))
    }
}

impl std::error::Error for UnknownTcbStatus {}

impl FromStr for TcbStatus {
    type Err = UnknownTcbStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownTcbStatus(s.to_string()))
    }
}

impl Serialize for TcbStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TcbStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// The accepted TCB statuses of a document: not empty, never `Revoked`.
#[derive(Debug)]
pub(crate) struct AcceptedStatuses(pub(crate) Vec<TcbStatus>);

impl<'de> Deserialize<'de> for AcceptedStatuses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let statuses = Vec::<TcbStatus>::deserialize(deserializer)?;
        if statuses.is_empty() {
            return Err(de::Error::custom(
                "an empty list accepts no platform; list at least \"UpToDate\"",
            ));
        }
        if statuses.contains(&TcbStatus::Revoked) {
            return Err(de::Error::custom(
                "\"Revoked\" cannot be accepted: a revoked platform's keys are compromised",
            ));
        }
        Ok(Self(statuses))
    }
}

/// Hex strings of `N` bytes each (`N == 0`: any length), given as one string or a list;
/// compared case-insensitively because they are decoded to bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HexList<const N: usize>(pub(crate) Vec<Vec<u8>>);

/// One hex string of `N` bytes (`N == 0`: any length).
struct HexItem<const N: usize>(Vec<u8>);

/// Decodes `s` as hex of `len` bytes (`len == 0`: any length).
pub(crate) fn parse_hex(s: &str, len: usize) -> Result<Vec<u8>, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(digits).map_err(|e| format!("{s:?} is not hex: {e}"))?;
    if len != 0 && bytes.len() != len {
        return Err(format!(
            "expected {len} bytes ({} hex digits), found {} bytes in {s:?}",
            len * 2,
            bytes.len()
        ));
    }
    Ok(bytes)
}

impl<'de, const N: usize> Deserialize<'de> for HexItem<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        parse_hex(&s, N).map(Self).map_err(de::Error::custom)
    }
}

impl<'de, const N: usize> Deserialize<'de> for HexList<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<const N: usize>;

        impl<'de, const N: usize> Visitor<'de> for ListVisitor<N> {
            type Value = HexList<N>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if N == 0 {
                    f.write_str("a hex string or a list of hex strings")
                } else {
                    write!(f, "a {N}-byte hex string or a list of them")
                }
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                parse_hex(s, N).map(|b| HexList(vec![b])).map_err(E::custom)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::new();
                while let Some(HexItem(bytes)) = seq.next_element::<HexItem<N>>()? {
                    values.push(bytes);
                }
                if values.is_empty() {
                    return Err(de::Error::custom(
                        "an empty list accepts nothing; leave the field out to accept any value",
                    ));
                }
                Ok(HexList(values))
            }
        }

        deserializer.deserialize_any(ListVisitor::<N>)
    }
}

/// A duration in whole seconds: a number of seconds or a human-readable string such as
/// `"30d"`, `"12h"` or `"1h 30m"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Secs(pub(crate) u64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecsVisitor;

        impl Visitor<'_> for SecsVisitor {
            type Value = Secs;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration: seconds, or a string such as \"30d\" or \"12h\"")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secs, E> {
                Ok(Secs(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secs, E> {
                u64::try_from(v)
                    .map(Secs)
                    .map_err(|_| E::custom(format!("a duration cannot be negative ({v})")))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Secs, E> {
                humantime::parse_duration(s)
                    .map(|d| Secs(d.as_secs()))
                    .map_err(|e| {
                        E::custom(format!(
                            "{s:?} is not a duration ({e}); write e.g. \"30d\", \"12h\" or a \
                             number of seconds"
                        ))
                    })
            }
        }

        deserializer.deserialize_any(SecsVisitor)
    }
}

/// A value that must be a specific integer (the document `version`).
#[derive(Debug)]
pub(crate) struct Version;

/// The only document version this library reads.
pub(crate) const DOCUMENT_VERSION: u64 = 1;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(deserializer)?;
        if v == DOCUMENT_VERSION {
            Ok(Self)
        } else {
            Err(de::Error::custom(format!(
                "unsupported policy version {v}; this library reads version {DOCUMENT_VERSION}"
            )))
        }
    }
}

/// An RTMR index, 0..=3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RtmrIndex(pub(crate) u8);

impl<'de> Deserialize<'de> for RtmrIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(deserializer)?;
        match u8::try_from(v) {
            Ok(i @ 0..=3) => Ok(Self(i)),
            _ => Err(de::Error::custom(format!(
                "RTMR index {v} out of range; TDX has RTMR0..RTMR3"
            ))),
        }
    }
}

/// A TLS peer name: a DNS name or an IP address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PeerName(pub(crate) String);

/// Checks that `name` is a DNS name or an IP address.
pub(crate) fn check_peer_name(name: &str) -> Result<(), String> {
    rustls_pki_types::ServerName::try_from(name)
        .map(|_| ())
        .map_err(|e| format!("{name:?} is not a DNS name or IP address: {e}"))
}

impl<'de> Deserialize<'de> for PeerName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        check_peer_name(&s).map_err(de::Error::custom)?;
        Ok(Self(s))
    }
}

/// A string field that must not be empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NonEmptyString(pub(crate) String);

impl<'de> Deserialize<'de> for NonEmptyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(Self(s))
    }
}

/// Writes `items` as `a, b, c`.
pub(crate) fn write_list<I, S>(f: &mut fmt::Formatter<'_>, items: I) -> fmt::Result
where
    I: IntoIterator<Item = S>,
    S: fmt::Display,
{
    for (i, item) in items.into_iter().enumerate() {
        if i != 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}
