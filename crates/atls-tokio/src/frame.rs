//! Frames on the TLS stream (docs/wire.md §2): `type(1) ‖ length(u24) ‖ payload`.
//!
//! Written by hand: four frame types with fixed caps; a framing crate would add more code
//! than it saves.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest `EA` payload: one authenticator at the core's caps, with room for its headers.
pub const MAX_EA: usize = 640 * 1024;
/// Largest `DATA` payload.
pub const MAX_DATA: usize = 64 * 1024;
/// Largest `ALERT` payload: code and a reason of up to 1024 bytes.
pub const MAX_ALERT: usize = 1025;

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// One RFC 9261 message.
    Ea(Vec<u8>),
    /// Application bytes.
    Data(Vec<u8>),
    /// Every attestation this side requires has succeeded.
    Ready,
    /// Fatal error: alert code and reason.
    Alert(u8, String),
}

/// Why bytes on the stream are not a frame.
#[derive(Debug)]
pub enum FrameError {
    /// IO failed or the stream ended inside a frame.
    Io(io::Error),
    /// The stream ended cleanly between frames.
    Eof,
    /// Unknown type, or a length over the type's cap.
    Invalid(String),
}

impl Frame {
    fn type_byte(&self) -> u8 {
        match self {
            Self::Ea(_) => 0x01,
            Self::Data(_) => 0x02,
            Self::Ready => 0x03,
            Self::Alert(..) => 0x04,
        }
    }

    /// The encoded frame. Callers keep payloads under the caps (`DATA` is chunked by the
    /// writer, `EA` comes from the core's capped encoders, reasons are truncated).
    pub fn encode(&self) -> Vec<u8> {
        let payload: Vec<u8> = match self {
            Self::Ea(b) | Self::Data(b) => b.clone(),
            Self::Ready => Vec::new(),
            Self::Alert(code, reason) => {
                let mut reason = reason.as_bytes().to_vec();
                reason.truncate(MAX_ALERT - 1);
                [vec![*code], reason].concat()
            }
        };
        let len = (payload.len() as u32).to_be_bytes();
        let mut out = Vec::with_capacity(4 + payload.len());
        out.push(self.type_byte());
        out.extend_from_slice(&len[1..]);
        out.extend_from_slice(&payload);
        out
    }

    /// Reads one frame.
    pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Self, FrameError> {
        let mut header = [0u8; 4];
        match r.read(&mut header[..1]).await {
            Ok(0) => return Err(FrameError::Eof),
            Ok(_) => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
        r.read_exact(&mut header[1..])
            .await
            .map_err(FrameError::Io)?;
        let [typ, a, b, c] = header;
        let len = u32::from_be_bytes([0, a, b, c]) as usize;
        let cap = match typ {
            0x01 => MAX_EA,
            0x02 => MAX_DATA,
            0x03 => 0,
            0x04 => MAX_ALERT,
            other => {
                return Err(FrameError::Invalid(format!(
                    "unknown frame type {other:#04x}"
                )));
            }
        };
        if len > cap {
            return Err(FrameError::Invalid(format!(
                "frame type {typ:#04x}: length {len} over the maximum {cap}"
            )));
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload).await.map_err(FrameError::Io)?;
        Ok(match typ {
            0x01 => Self::Ea(payload),
            0x02 => Self::Data(payload),
            0x03 => Self::Ready,
            _ => {
                let Some((&code, reason)) = payload.split_first() else {
                    return Err(FrameError::Invalid("ALERT frame without a code".into()));
                };
                Self::Alert(code, String::from_utf8_lossy(reason).into_owned())
            }
        })
    }

    /// Writes one frame.
    pub async fn write<W: AsyncWrite + Unpin>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(&self.encode()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        for f in [
            Frame::Ea(vec![0x11, 0, 0, 0]),
            Frame::Data(b"hello".to_vec()),
            Frame::Data(Vec::new()),
            Frame::Ready,
            Frame::Alert(49, "policy".into()),
        ] {
            let bytes = f.encode();
            assert_eq!(Frame::read(&mut bytes.as_slice()).await.unwrap(), f);
        }
    }

    #[tokio::test]
    async fn rejects_unknown_type_and_oversized_frames() {
        let unknown = [0x09u8, 0, 0, 0];
        assert!(matches!(
            Frame::read(&mut unknown.as_slice()).await,
            Err(FrameError::Invalid(_))
        ));
        let big = [0x02u8, 0x01, 0x00, 0x01];
        assert!(matches!(
            Frame::read(&mut big.as_slice()).await,
            Err(FrameError::Invalid(_))
        ));
        let ready_with_payload = [0x03u8, 0, 0, 1, 0];
        assert!(matches!(
            Frame::read(&mut ready_with_payload.as_slice()).await,
            Err(FrameError::Invalid(_))
        ));
        let truncated = [0x02u8, 0, 0, 5, 1];
        assert!(matches!(
            Frame::read(&mut truncated.as_slice()).await,
            Err(FrameError::Io(_))
        ));
        assert!(matches!(
            Frame::read(&mut [].as_slice()).await,
            Err(FrameError::Eof)
        ));
    }
}
