//! A borrowed reader and the `Codec` trait for TLS presentation-language structures.
//!
//! Written by hand: the structures are small, the rules (length prefixes of 1, 2 or 3 bytes,
//! minimum and maximum lengths, no trailing bytes) are exact, and the crates that implement
//! them are TLS stacks whose codecs are not public API.

use crate::error::InvalidMessage;

/// A cursor over borrowed bytes. Every read is checked; none panics.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, offset: 0 }
    }

    /// Bytes not yet consumed.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.offset..).unwrap_or_default()
    }

    pub(crate) fn left(&self) -> usize {
        self.rest().len()
    }

    /// Takes `n` bytes, or fails with `what` if fewer are left.
    pub(crate) fn take(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<&'a [u8], InvalidMessage> {
        let rest = self.rest();
        let out = rest.get(..n).ok_or(InvalidMessage::Truncated {
            what,
            needed: n,
            available: rest.len(),
        })?;
        self.offset += n;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, InvalidMessage> {
        let b = self.take(1, what)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, InvalidMessage> {
        let b = self.take(2, what)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(b);
        Ok(u16::from_be_bytes(a))
    }

    pub(crate) fn u24(&mut self, what: &'static str) -> Result<u32, InvalidMessage> {
        let b = self.take(3, what)?;
        let mut a = [0u8; 4];
        a[1..].copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// Reads a vector with a `width`-byte length prefix, checking `min..=max`.
    pub(crate) fn vec(
        &mut self,
        width: LengthWidth,
        min: usize,
        max: usize,
        what: &'static str,
    ) -> Result<&'a [u8], InvalidMessage> {
        let len = match width {
            LengthWidth::U8 => usize::from(self.u8(what)?),
            LengthWidth::U16 => usize::from(self.u16(what)?),
            LengthWidth::U24 => self.u24(what)? as usize,
        };
        if len < min || len > max {
            return Err(InvalidMessage::BadLength {
                what,
                min,
                max,
                seen: len,
            });
        }
        self.take(len, what)
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn expect_end(&self, what: &'static str) -> Result<(), InvalidMessage> {
        match self.left() {
            0 => Ok(()),
            extra => Err(InvalidMessage::TrailingBytes { what, extra }),
        }
    }
}

/// Width of a length prefix.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LengthWidth {
    U8,
    U16,
    U24,
}

/// Appends a length-prefixed vector. The caller guarantees `body` fits `width`; encoders
/// only see values that were either decoded under the same bounds or built through
/// constructors that check them.
pub(crate) fn put_vec(out: &mut Vec<u8>, width: LengthWidth, body: &[u8]) {
    let len = body.len();
    debug_assert!(
        len <= match width {
            LengthWidth::U8 => 0xff,
            LengthWidth::U16 => 0xffff,
            LengthWidth::U24 => 0xff_ffff,
        },
        "vector of {len} bytes does not fit its length prefix"
    );
    match width {
        LengthWidth::U8 => out.push(len as u8),
        LengthWidth::U16 => out.extend_from_slice(&(len as u16).to_be_bytes()),
        LengthWidth::U24 => out.extend_from_slice(&(len as u32).to_be_bytes()[1..]),
    }
    out.extend_from_slice(body);
}

/// Appends a length-prefixed vector whose body is written by `f`.
pub(crate) fn put_nested(out: &mut Vec<u8>, width: LengthWidth, f: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    f(&mut body);
    put_vec(out, width, &body);
}

/// A TLS structure that encodes to and decodes from bytes.
pub trait Codec: Sized {
    /// Appends the encoding of `self` to `out`.
    ///
    /// Values must satisfy the bounds [`Codec::decode`] enforces: the message types have
    /// public fields for low-level use, and a field over its limit does not fit its length
    /// prefix. The checked ways to build messages for sending are
    /// [`crate::AuthenticatorRequest::new`] and [`crate::build_authenticator`], which both
    /// re-decode what they produce.
    fn encode(&self, out: &mut Vec<u8>);

    /// Decodes exactly one value from `bytes`; trailing bytes are an error.
    fn decode(bytes: &[u8]) -> Result<Self, InvalidMessage>;

    /// The encoding of `self` as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_truncated_vector() {
        let mut r = Reader::new(&[0, 5, 1, 2]);
        let err = r.vec(LengthWidth::U16, 0, 10, "test").unwrap_err();
        assert_eq!(
            err,
            InvalidMessage::Truncated {
                what: "test",
                needed: 5,
                available: 2
            }
        );
    }

    #[test]
    fn rejects_length_over_maximum() {
        let mut r = Reader::new(&[3, 1, 2, 3]);
        let err = r.vec(LengthWidth::U8, 1, 2, "ctx").unwrap_err();
        assert!(matches!(err, InvalidMessage::BadLength { seen: 3, .. }));
    }

    #[test]
    fn reads_u24() {
        let mut r = Reader::new(&[0x01, 0x02, 0x03]);
        assert_eq!(r.u24("x").unwrap(), 0x010203);
        r.expect_end("x").unwrap();
    }
}
