//! Wire structures of RFC 9261 authenticator requests and authenticators.
//!
//! Every message carries the 4-byte TLS handshake header (type, 24-bit length). Decoders are
//! strict: bounded lengths, no trailing bytes, at most one extension of a type per block, and
//! every value they accept re-encodes to the same bytes. Unknown extensions are kept as values.

use crate::codec::{Codec, LengthWidth, Reader, put_nested, put_vec};
use crate::error::InvalidMessage;

/// Longest `certificate_request_context` (RFC 8446: `<0..2^8-1>`); we also never accept an
/// empty one.
pub const MAX_CONTEXT_LEN: usize = 255;
/// Most certificates accepted in one chain.
pub const MAX_CHAIN_LEN: usize = 10;
/// Largest single DER certificate accepted.
pub const MAX_CERT_DER_LEN: usize = 32 * 1024;
/// Largest `cmw_data` (the extension data is itself `<0..2^16-1>` and holds a 2-byte length).
pub const MAX_CMW_LEN: usize = 65_533;
/// Most extensions accepted in one extension block.
pub const MAX_EXTENSIONS: usize = 32;
/// Largest signature accepted in a CertificateVerify.
pub const MAX_SIGNATURE_LEN: usize = 1024;
/// Largest handshake message body accepted (a chain at its caps plus evidence fits).
pub const MAX_MESSAGE_LEN: usize = 512 * 1024;

/// TLS HandshakeType values used by exported authenticators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeType {
    /// `certificate` (11).
    Certificate,
    /// `certificate_request` (13): a request built by the TLS server.
    CertificateRequest,
    /// `certificate_verify` (15).
    CertificateVerify,
    /// `client_certificate_request` (17, RFC 9261): a request built by the TLS client.
    ClientCertificateRequest,
    /// `finished` (20).
    Finished,
    /// Any other value.
    Unknown(u8),
}

impl HandshakeType {
    /// The codepoint.
    pub fn get(self) -> u8 {
        match self {
            Self::Certificate => 11,
            Self::CertificateRequest => 13,
            Self::CertificateVerify => 15,
            Self::ClientCertificateRequest => 17,
            Self::Finished => 20,
            Self::Unknown(v) => v,
        }
    }
}

impl From<u8> for HandshakeType {
    fn from(v: u8) -> Self {
        match v {
            11 => Self::Certificate,
            13 => Self::CertificateRequest,
            15 => Self::CertificateVerify,
            17 => Self::ClientCertificateRequest,
            20 => Self::Finished,
            v => Self::Unknown(v),
        }
    }
}

/// A TLS ExtensionType codepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtensionType(pub u16);

impl ExtensionType {
    /// `server_name` (0); allowed in a ClientCertificateRequest by RFC 9261.
    pub const SERVER_NAME: Self = Self(0);
    /// `signature_algorithms` (13).
    pub const SIGNATURE_ALGORITHMS: Self = Self(13);
}

/// A TLS SignatureScheme codepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignatureScheme(pub u16);

impl SignatureScheme {
    /// `rsa_pkcs1_sha256` (0x0401): never valid in a TLS 1.3 CertificateVerify.
    pub const RSA_PKCS1_SHA256: Self = Self(0x0401);
    /// `ecdsa_secp256r1_sha256` (0x0403).
    pub const ECDSA_NISTP256_SHA256: Self = Self(0x0403);
    /// `ecdsa_secp384r1_sha384` (0x0503).
    pub const ECDSA_NISTP384_SHA384: Self = Self(0x0503);
    /// `rsa_pss_rsae_sha256` (0x0804).
    pub const RSA_PSS_SHA256: Self = Self(0x0804);
    /// `ed25519` (0x0807).
    pub const ED25519: Self = Self(0x0807);

    /// Whether RFC 8446 allows this scheme in a TLS 1.3 CertificateVerify (RFC 9261 §5.2.2).
    pub fn valid_for_tls13_certificate_verify(self) -> bool {
        matches!(
            self.0,
            0x0403 | 0x0503 | 0x0603 | 0x0804..=0x0806 | 0x0807 | 0x0808 | 0x0809..=0x080b
        )
    }
}

/// One extension: type and opaque data, kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Extension type.
    pub typ: ExtensionType,
    /// Extension data, as on the wire (without its length prefix).
    pub data: Vec<u8>,
}

impl Extension {
    /// `signature_algorithms` offering `schemes` (at least one).
    pub fn signature_algorithms(schemes: &[SignatureScheme]) -> Self {
        let mut data = Vec::with_capacity(2 + 2 * schemes.len());
        put_nested(&mut data, LengthWidth::U16, |out| {
            for s in schemes {
                out.extend_from_slice(&s.0.to_be_bytes());
            }
        });
        Self {
            typ: ExtensionType::SIGNATURE_ALGORITHMS,
            data,
        }
    }

    /// `server_name` with one `host_name` entry (RFC 6066 §3).
    pub fn server_name(host: &str) -> Self {
        let mut data = Vec::new();
        put_nested(&mut data, LengthWidth::U16, |list| {
            list.push(0); // name_type host_name
            put_vec(list, LengthWidth::U16, host.as_bytes());
        });
        Self {
            typ: ExtensionType::SERVER_NAME,
            data,
        }
    }

    /// The empty `cmw_attestation` extension a request carries to offer attestation.
    pub fn cmw_attestation_offer(typ: ExtensionType) -> Self {
        Self {
            typ,
            data: Vec::new(),
        }
    }

    /// `cmw_attestation` carrying `cmw` in a CertificateEntry: `opaque cmw_data<1..2^16-1>`.
    pub fn cmw_attestation(typ: ExtensionType, cmw: &[u8]) -> Result<Self, InvalidMessage> {
        if cmw.is_empty() || cmw.len() > MAX_CMW_LEN {
            return Err(InvalidMessage::BadLength {
                what: "cmw_data",
                min: 1,
                max: MAX_CMW_LEN,
                seen: cmw.len(),
            });
        }
        let mut data = Vec::with_capacity(2 + cmw.len());
        put_vec(&mut data, LengthWidth::U16, cmw);
        Ok(Self { typ, data })
    }

    /// Parses `signature_algorithms` data into its schemes.
    pub fn parse_signature_algorithms(data: &[u8]) -> Result<Vec<SignatureScheme>, InvalidMessage> {
        let what = "signature_algorithms";
        let mut r = Reader::new(data);
        let list = r.vec(LengthWidth::U16, 2, 0xfffe, what)?;
        r.expect_end(what)?;
        if list.len() % 2 != 0 {
            return Err(InvalidMessage::BadLength {
                what,
                min: 2,
                max: 0xfffe,
                seen: list.len(),
            });
        }
        let mut r = Reader::new(list);
        let mut out = Vec::with_capacity(list.len() / 2);
        while r.left() > 0 {
            out.push(SignatureScheme(r.u16(what)?));
        }
        Ok(out)
    }

    /// Parses `server_name` data into its host name.
    pub fn parse_server_name(data: &[u8]) -> Result<String, InvalidMessage> {
        let what = "server_name";
        let mut r = Reader::new(data);
        let list = r.vec(LengthWidth::U16, 3, 0xffff, what)?;
        r.expect_end(what)?;
        let mut r = Reader::new(list);
        let name_type = r.u8(what)?;
        if name_type != 0 {
            return Err(InvalidMessage::InvalidValue {
                what: "server_name name_type",
                detail: "only host_name (0) is defined",
            });
        }
        let host = r.vec(LengthWidth::U16, 1, 0xffff, what)?;
        r.expect_end(what)?;
        String::from_utf8(host.to_vec()).map_err(|_| InvalidMessage::InvalidValue {
            what,
            detail: "host name is not UTF-8",
        })
    }

    /// Parses `cmw_attestation` data of a CertificateEntry into the CMW bytes.
    pub fn parse_cmw_attestation(data: &[u8]) -> Result<&[u8], InvalidMessage> {
        let what = "cmw_data";
        let mut r = Reader::new(data);
        let cmw = r.vec(LengthWidth::U16, 1, MAX_CMW_LEN, what)?;
        r.expect_end(what)?;
        Ok(cmw)
    }
}

fn encode_extensions(out: &mut Vec<u8>, exts: &[Extension]) {
    put_nested(out, LengthWidth::U16, |out| {
        for e in exts {
            out.extend_from_slice(&e.typ.0.to_be_bytes());
            put_vec(out, LengthWidth::U16, &e.data);
        }
    });
}

fn read_extensions(
    r: &mut Reader<'_>,
    min_block: usize,
    what: &'static str,
) -> Result<Vec<Extension>, InvalidMessage> {
    let block = r.vec(LengthWidth::U16, min_block, 0xffff, what)?;
    let mut r = Reader::new(block);
    let mut out: Vec<Extension> = Vec::new();
    while r.left() > 0 {
        if out.len() == MAX_EXTENSIONS {
            return Err(InvalidMessage::TooMany {
                what,
                max: MAX_EXTENSIONS,
            });
        }
        let typ = ExtensionType(r.u16("extension type")?);
        let data = r.vec(LengthWidth::U16, 0, 0xffff, "extension data")?;
        if out.iter().any(|e| e.typ == typ) {
            return Err(InvalidMessage::DuplicateExtension(typ));
        }
        // Known extensions are checked here so a malformed one never reaches a consumer.
        if typ == ExtensionType::SIGNATURE_ALGORITHMS {
            Extension::parse_signature_algorithms(data)?;
        } else if typ == ExtensionType::SERVER_NAME && !data.is_empty() {
            Extension::parse_server_name(data)?;
        }
        out.push(Extension {
            typ,
            data: data.to_vec(),
        });
    }
    Ok(out)
}

/// Reads one handshake message header of type `expected` and returns its body.
fn read_handshake<'a>(
    r: &mut Reader<'a>,
    expected: &[HandshakeType],
) -> Result<(HandshakeType, &'a [u8]), InvalidMessage> {
    let typ = HandshakeType::from(r.u8("handshake type")?);
    if !expected.contains(&typ) {
        return Err(InvalidMessage::UnexpectedMessage {
            expected: expected
                .first()
                .copied()
                .unwrap_or(HandshakeType::Unknown(0)),
            got: typ,
        });
    }
    let body = r.vec(LengthWidth::U24, 0, MAX_MESSAGE_LEN, "handshake body")?;
    Ok((typ, body))
}

fn put_handshake(out: &mut Vec<u8>, typ: HandshakeType, f: impl FnOnce(&mut Vec<u8>)) {
    out.push(typ.get());
    put_nested(out, LengthWidth::U24, f);
}

fn read_context<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], InvalidMessage> {
    let ctx = r.vec(
        LengthWidth::U8,
        0,
        MAX_CONTEXT_LEN,
        "certificate_request_context",
    )?;
    if ctx.is_empty() {
        return Err(InvalidMessage::EmptyContext);
    }
    Ok(ctx)
}

/// Which side built an authenticator request, and so its handshake type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `CertificateRequest` (13), built by the TLS server to authenticate the client.
    CertificateRequest,
    /// `ClientCertificateRequest` (17), built by the TLS client to authenticate the server.
    ClientCertificateRequest,
}

impl RequestKind {
    fn handshake_type(self) -> HandshakeType {
        match self {
            Self::CertificateRequest => HandshakeType::CertificateRequest,
            Self::ClientCertificateRequest => HandshakeType::ClientCertificateRequest,
        }
    }
}

/// An authenticator request (RFC 9261 §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatorRequest {
    /// Handshake type: who built it.
    pub kind: RequestKind,
    /// `certificate_request_context`, 1..=255 bytes.
    pub context: Vec<u8>,
    /// At least one extension; `signature_algorithms` is required by [`Self::new`].
    pub extensions: Vec<Extension>,
}

impl AuthenticatorRequest {
    /// Builds a request, checking the rules RFC 9261 puts on its sender.
    ///
    /// ```
    /// use atls_core::{AuthenticatorRequest, Codec, Extension, RequestKind, SignatureScheme};
    /// let req = AuthenticatorRequest::new(
    ///     RequestKind::ClientCertificateRequest,
    ///     vec![7; 32],
    ///     vec![Extension::signature_algorithms(&[SignatureScheme::ED25519])],
    /// )?;
    /// assert_eq!(req.to_bytes()[0], 17);
    /// # Ok::<(), atls_core::InvalidMessage>(())
    /// ```
    pub fn new(
        kind: RequestKind,
        context: Vec<u8>,
        extensions: Vec<Extension>,
    ) -> Result<Self, InvalidMessage> {
        if context.is_empty() {
            return Err(InvalidMessage::EmptyContext);
        }
        if context.len() > MAX_CONTEXT_LEN {
            return Err(InvalidMessage::BadLength {
                what: "certificate_request_context",
                min: 1,
                max: MAX_CONTEXT_LEN,
                seen: context.len(),
            });
        }
        if !extensions
            .iter()
            .any(|e| e.typ == ExtensionType::SIGNATURE_ALGORITHMS)
        {
            return Err(InvalidMessage::MissingExtension(
                ExtensionType::SIGNATURE_ALGORITHMS,
            ));
        }
        let req = Self {
            kind,
            context,
            extensions,
        };
        // Round-trip through the decoder so a constructed request obeys the decoder's caps.
        Self::decode(&req.to_bytes())
    }

    /// The extension of type `typ`, if present.
    pub fn extension(&self, typ: ExtensionType) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.typ == typ)
    }

    /// The offered signature schemes (empty if the extension is absent).
    pub fn signature_schemes(&self) -> Vec<SignatureScheme> {
        self.extension(ExtensionType::SIGNATURE_ALGORITHMS)
            .and_then(|e| Extension::parse_signature_algorithms(&e.data).ok())
            .unwrap_or_default()
    }
}

impl Codec for AuthenticatorRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        put_handshake(out, self.kind.handshake_type(), |out| {
            put_vec(out, LengthWidth::U8, &self.context);
            encode_extensions(out, &self.extensions);
        });
    }

    fn decode(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        let mut r = Reader::new(bytes);
        let (typ, body) = read_handshake(
            &mut r,
            &[
                HandshakeType::ClientCertificateRequest,
                HandshakeType::CertificateRequest,
            ],
        )?;
        r.expect_end("authenticator request")?;
        let kind = match typ {
            HandshakeType::CertificateRequest => RequestKind::CertificateRequest,
            _ => RequestKind::ClientCertificateRequest,
        };
        let mut r = Reader::new(body);
        let context = read_context(&mut r)?.to_vec();
        let extensions = read_extensions(&mut r, 2, "request extensions")?;
        r.expect_end("authenticator request body")?;
        Ok(Self {
            kind,
            context,
            extensions,
        })
    }
}

/// One X.509 certificate and its extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateEntry {
    /// DER certificate.
    pub cert_data: Vec<u8>,
    /// Per-entry extensions.
    pub extensions: Vec<Extension>,
}

/// The `Certificate` message of an authenticator (type 11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// The request's context, echoed.
    pub context: Vec<u8>,
    /// End-entity first. Empty only in the (never sent) Certificate of an empty authenticator.
    pub entries: Vec<CertificateEntry>,
}

impl Codec for Certificate {
    fn encode(&self, out: &mut Vec<u8>) {
        put_handshake(out, HandshakeType::Certificate, |out| {
            put_vec(out, LengthWidth::U8, &self.context);
            put_nested(out, LengthWidth::U24, |out| {
                for e in &self.entries {
                    put_vec(out, LengthWidth::U24, &e.cert_data);
                    encode_extensions(out, &e.extensions);
                }
            });
        });
    }

    fn decode(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        let mut r = Reader::new(bytes);
        let cert = read_certificate(&mut r)?;
        r.expect_end("Certificate")?;
        Ok(cert)
    }
}

fn read_certificate(r: &mut Reader<'_>) -> Result<Certificate, InvalidMessage> {
    let (_, body) = read_handshake(r, &[HandshakeType::Certificate])?;
    let mut r = Reader::new(body);
    let context = read_context(&mut r)?.to_vec();
    let list = r.vec(LengthWidth::U24, 0, MAX_MESSAGE_LEN, "certificate_list")?;
    r.expect_end("Certificate body")?;
    let mut r = Reader::new(list);
    let mut entries = Vec::new();
    while r.left() > 0 {
        if entries.len() == MAX_CHAIN_LEN {
            return Err(InvalidMessage::TooMany {
                what: "certificate_list",
                max: MAX_CHAIN_LEN,
            });
        }
        let cert_data = r
            .vec(LengthWidth::U24, 1, MAX_CERT_DER_LEN, "cert_data")?
            .to_vec();
        let extensions = read_extensions(&mut r, 0, "certificate entry extensions")?;
        entries.push(CertificateEntry {
            cert_data,
            extensions,
        });
    }
    Ok(Certificate { context, entries })
}

/// The `CertificateVerify` message (type 15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateVerify {
    /// Signature scheme.
    pub scheme: SignatureScheme,
    /// Signature bytes.
    pub signature: Vec<u8>,
}

impl Codec for CertificateVerify {
    fn encode(&self, out: &mut Vec<u8>) {
        put_handshake(out, HandshakeType::CertificateVerify, |out| {
            out.extend_from_slice(&self.scheme.0.to_be_bytes());
            put_vec(out, LengthWidth::U16, &self.signature);
        });
    }

    fn decode(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        let mut r = Reader::new(bytes);
        let cv = read_certificate_verify(&mut r)?;
        r.expect_end("CertificateVerify")?;
        Ok(cv)
    }
}

fn read_certificate_verify(r: &mut Reader<'_>) -> Result<CertificateVerify, InvalidMessage> {
    let (_, body) = read_handshake(r, &[HandshakeType::CertificateVerify])?;
    let mut r = Reader::new(body);
    let scheme = SignatureScheme(r.u16("signature scheme")?);
    let signature = r
        .vec(LengthWidth::U16, 1, MAX_SIGNATURE_LEN, "signature")?
        .to_vec();
    r.expect_end("CertificateVerify body")?;
    Ok(CertificateVerify { scheme, signature })
}

/// The `Finished` message (type 20): `verify_data` of the suite's hash length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// HMAC output; 32 or 48 bytes.
    pub verify_data: Vec<u8>,
}

impl Codec for Finished {
    fn encode(&self, out: &mut Vec<u8>) {
        put_handshake(out, HandshakeType::Finished, |out| {
            out.extend_from_slice(&self.verify_data);
        });
    }

    fn decode(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        let mut r = Reader::new(bytes);
        let fin = read_finished(&mut r)?;
        r.expect_end("Finished")?;
        Ok(fin)
    }
}

fn read_finished(r: &mut Reader<'_>) -> Result<Finished, InvalidMessage> {
    let (_, body) = read_handshake(r, &[HandshakeType::Finished])?;
    if body.len() != 32 && body.len() != 48 {
        return Err(InvalidMessage::BadLength {
            what: "verify_data",
            min: 32,
            max: 48,
            seen: body.len(),
        });
    }
    Ok(Finished {
        verify_data: body.to_vec(),
    })
}

/// An authenticator (RFC 9261 §5) or an empty authenticator (§6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authenticator {
    /// `Certificate ‖ CertificateVerify ‖ Finished`.
    Full {
        /// The Certificate message.
        certificate: Certificate,
        /// The CertificateVerify message.
        certificate_verify: CertificateVerify,
        /// The Finished message.
        finished: Finished,
    },
    /// A lone Finished: an authenticated refusal.
    Empty(Finished),
}

impl Codec for Authenticator {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Full {
                certificate,
                certificate_verify,
                finished,
            } => {
                certificate.encode(out);
                certificate_verify.encode(out);
                finished.encode(out);
            }
            Self::Empty(finished) => finished.encode(out),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        let mut r = Reader::new(bytes);
        let auth = match bytes.first().copied().map(HandshakeType::from) {
            Some(HandshakeType::Finished) => Self::Empty(read_finished(&mut r)?),
            _ => {
                let certificate = read_certificate(&mut r)?;
                let certificate_verify = read_certificate_verify(&mut r)?;
                let finished = read_finished(&mut r)?;
                Self::Full {
                    certificate,
                    certificate_verify,
                    finished,
                }
            }
        };
        r.expect_end("authenticator")?;
        Ok(auth)
    }
}

/// Any message an attested-TLS peer sends: a request or an authenticator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// An authenticator request.
    Request(AuthenticatorRequest),
    /// An authenticator or empty authenticator.
    Authenticator(Authenticator),
}

impl Codec for Message {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Request(r) => r.encode(out),
            Self::Authenticator(a) => a.encode(out),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, InvalidMessage> {
        match bytes.first().copied().map(HandshakeType::from) {
            Some(HandshakeType::CertificateRequest | HandshakeType::ClientCertificateRequest) => {
                AuthenticatorRequest::decode(bytes).map(Self::Request)
            }
            _ => Authenticator::decode(bytes).map(Self::Authenticator),
        }
    }
}

/// Length of the first complete message in `buf`, for hosts that carry messages back to back
/// on a byte stream. `Ok(None)` means more bytes are needed. A request is one handshake
/// message; an authenticator is Certificate, CertificateVerify, Finished; a lone Finished is
/// an empty authenticator.
///
/// ```
/// use atls_core::message_length;
/// let fin = [&[20u8, 0, 0, 32][..], &[0u8; 32]].concat();
/// assert_eq!(message_length(&fin[..10]).unwrap(), None);
/// assert_eq!(message_length(&fin).unwrap(), Some(36));
/// ```
pub fn message_length(buf: &[u8]) -> Result<Option<usize>, InvalidMessage> {
    let mut offset = 0usize;
    let mut expected: &[HandshakeType] = &[
        HandshakeType::CertificateRequest,
        HandshakeType::ClientCertificateRequest,
        HandshakeType::Certificate,
        HandshakeType::Finished,
    ];
    loop {
        let Some(header) = buf.get(offset..offset + 4) else {
            return Ok(None);
        };
        let mut r = Reader::new(header);
        let typ = HandshakeType::from(r.u8("handshake type")?);
        let len = r.u24("handshake length")? as usize;
        if !expected.contains(&typ) {
            return Err(InvalidMessage::UnexpectedMessage {
                expected: expected
                    .first()
                    .copied()
                    .unwrap_or(HandshakeType::Unknown(0)),
                got: typ,
            });
        }
        if len > MAX_MESSAGE_LEN {
            return Err(InvalidMessage::BadLength {
                what: "handshake body",
                min: 0,
                max: MAX_MESSAGE_LEN,
                seen: len,
            });
        }
        offset += 4 + len;
        match typ {
            HandshakeType::Certificate => expected = &[HandshakeType::CertificateVerify],
            HandshakeType::CertificateVerify => expected = &[HandshakeType::Finished],
            _ => return Ok((buf.len() >= offset).then_some(offset)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_bytes() -> Vec<u8> {
        hex::decode(
            "1100002f20000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
             000c000d000400020807ffff0000",
        )
        .unwrap()
    }

    #[test]
    fn decodes_and_reencodes_digest_request() {
        let bytes = request_bytes();
        let req = AuthenticatorRequest::decode(&bytes).unwrap();
        assert_eq!(req.kind, RequestKind::ClientCertificateRequest);
        assert_eq!(req.context, (0u8..32).collect::<Vec<_>>());
        assert_eq!(req.signature_schemes(), vec![SignatureScheme::ED25519]);
        assert!(req.extension(ExtensionType(0xffff)).is_some());
        assert_eq!(req.to_bytes(), bytes);
    }

    #[test]
    fn rejects_trailing_bytes_after_request() {
        let mut bytes = request_bytes();
        bytes.push(0);
        assert!(matches!(
            AuthenticatorRequest::decode(&bytes),
            Err(InvalidMessage::TrailingBytes { .. })
        ));
    }

    #[test]
    fn rejects_empty_context() {
        let bytes = hex::decode("0d00000b00000800 0d0004000208 07".replace(' ', "")).unwrap();
        assert_eq!(
            AuthenticatorRequest::decode(&bytes),
            Err(InvalidMessage::EmptyContext)
        );
    }

    #[test]
    fn rejects_duplicate_extension() {
        let req = AuthenticatorRequest {
            kind: RequestKind::CertificateRequest,
            context: vec![1; 4],
            extensions: vec![
                Extension::signature_algorithms(&[SignatureScheme::ED25519]),
                Extension::cmw_attestation_offer(ExtensionType(0xffff)),
                Extension::cmw_attestation_offer(ExtensionType(0xffff)),
            ],
        };
        assert_eq!(
            AuthenticatorRequest::decode(&req.to_bytes()),
            Err(InvalidMessage::DuplicateExtension(ExtensionType(0xffff)))
        );
    }

    #[test]
    fn accepts_unknown_extension() {
        let req = AuthenticatorRequest::new(
            RequestKind::CertificateRequest,
            vec![9; 8],
            vec![
                Extension::signature_algorithms(&[SignatureScheme::ED25519]),
                Extension {
                    typ: ExtensionType(0x1234),
                    data: vec![1, 2, 3],
                },
            ],
        )
        .unwrap();
        let back = AuthenticatorRequest::decode(&req.to_bytes()).unwrap();
        assert_eq!(
            back.extension(ExtensionType(0x1234)).unwrap().data,
            [1, 2, 3]
        );
    }

    #[test]
    fn request_without_signature_algorithms_is_refused() {
        assert_eq!(
            AuthenticatorRequest::new(
                RequestKind::CertificateRequest,
                vec![1],
                vec![Extension::cmw_attestation_offer(ExtensionType(0xffff))]
            ),
            Err(InvalidMessage::MissingExtension(
                ExtensionType::SIGNATURE_ALGORITHMS
            ))
        );
    }

    #[test]
    fn rejects_cmw_data_length_mismatch() {
        // Inner length says 3, extension holds 2 bytes of CMW.
        assert!(Extension::parse_cmw_attestation(&[0, 3, 0xa0, 0xa1]).is_err());
        // Zero-length cmw_data.
        assert!(matches!(
            Extension::parse_cmw_attestation(&[0, 0]),
            Err(InvalidMessage::BadLength { .. })
        ));
        assert_eq!(
            Extension::parse_cmw_attestation(&[0, 2, 0xa0, 0xa1]).unwrap(),
            [0xa0, 0xa1]
        );
    }

    #[test]
    fn server_name_round_trips() {
        let e = Extension::server_name("attester.example");
        assert_eq!(
            Extension::parse_server_name(&e.data).unwrap(),
            "attester.example"
        );
    }

    #[test]
    fn message_length_frames_authenticator() {
        let auth = Authenticator::Full {
            certificate: Certificate {
                context: vec![1],
                entries: vec![CertificateEntry {
                    cert_data: vec![0x30],
                    extensions: vec![],
                }],
            },
            certificate_verify: CertificateVerify {
                scheme: SignatureScheme::ED25519,
                signature: vec![1; 64],
            },
            finished: Finished {
                verify_data: vec![2; 32],
            },
        };
        let mut bytes = auth.to_bytes();
        let n = bytes.len();
        assert_eq!(message_length(&bytes[..n - 1]).unwrap(), None);
        bytes.extend_from_slice(&[0x0d, 0, 0]);
        assert_eq!(message_length(&bytes).unwrap(), Some(n));
        assert_eq!(Authenticator::decode(&bytes[..n]).unwrap(), auth);
    }

    #[test]
    fn rejects_request_bytes_as_authenticator() {
        assert!(matches!(
            Authenticator::decode(&request_bytes()),
            Err(InvalidMessage::UnexpectedMessage { .. })
        ));
    }

    #[test]
    fn rejects_extra_fourth_message() {
        let fin = Finished {
            verify_data: vec![0; 32],
        };
        let mut bytes = Authenticator::Empty(fin.clone()).to_bytes();
        fin.encode(&mut bytes);
        assert!(matches!(
            Authenticator::decode(&bytes),
            Err(InvalidMessage::TrailingBytes { .. })
        ));
    }
}
