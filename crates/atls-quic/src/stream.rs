//! Stream types (docs/wire.md §3): the first byte of every stream a side opens.

/// What a stream carries, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamType {
    /// Unidirectional, one per side: READY (and ALERT) frames.
    Control,
    /// Bidirectional, opened by the relying party: one request, one authenticator.
    Attestation,
    /// Either direction: application bytes, after READY was sent and received.
    Application,
}

impl StreamType {
    pub(crate) const CONTROL: u8 = 0x00;
    pub(crate) const ATTESTATION: u8 = 0x01;
    pub(crate) const APPLICATION: u8 = 0x02;

    pub(crate) fn byte(self) -> u8 {
        match self {
            Self::Control => Self::CONTROL,
            Self::Attestation => Self::ATTESTATION,
            Self::Application => Self::APPLICATION,
        }
    }

    /// The type of a stream the peer opened, if `byte` is valid for its direction.
    pub(crate) fn of_peer_stream(byte: u8, bidirectional: bool) -> Option<Self> {
        match (byte, bidirectional) {
            (Self::CONTROL, false) => Some(Self::Control),
            (Self::ATTESTATION, true) => Some(Self::Attestation),
            (Self::APPLICATION, _) => Some(Self::Application),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_types_in_the_wrong_direction_and_unknown_types() {
        assert_eq!(StreamType::of_peer_stream(0x00, true), None);
        assert_eq!(StreamType::of_peer_stream(0x01, false), None);
        assert_eq!(StreamType::of_peer_stream(0x03, true), None);
        assert_eq!(StreamType::of_peer_stream(0xff, false), None);
    }

    #[test]
    fn accepts_each_type_in_its_direction() {
        for t in [
            StreamType::Control,
            StreamType::Attestation,
            StreamType::Application,
        ] {
            let bidi = t != StreamType::Control;
            assert_eq!(StreamType::of_peer_stream(t.byte(), bidi), Some(t));
        }
        assert_eq!(
            StreamType::of_peer_stream(StreamType::APPLICATION, false),
            Some(StreamType::Application)
        );
    }
}
