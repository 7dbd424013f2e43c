//! Intel TDX DCAP quotes (versions 4 and 5): a strict, bounds-checked parser and the claims
//! a quote's TD report yields.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! header (48)  version u16 · attestation key type u16 · TEE type u32 · reserved 4
//!              · QE vendor id 16 · user data 20
//! v5 only      body type u16 · body size u32
//! body         TD report 1.0 (584) | TD report 1.5 (648) | TD report 1.5 "ex" (885)
//! signature    length u32, then: ECDSA signature r‖s (64) · attestation key x‖y (64)
//!              · certification data type 6 (QE report certification data), size u32:
//!                  QE report (384) · QE report signature (64) · QE auth data (u16 len + data)
//!                  · certification data type 5 (PCK certificate chain, PEM), size u32
//! padding      zero bytes only
//! ```
//!
//! Parsing checks structure only; signatures, certificates and TCB are appraised by
//! [`crate::Appraiser`].

use core::fmt;

use atls_evidence::{Claims, TDX_QUOTE_MEDIA_TYPE};

/// TEE type of a TDX quote (`0x81`; SGX quotes carry 0).
pub const TEE_TYPE_TDX: u32 = 0x0000_0081;

/// Attestation key type ECDSA-256 with P-256, the only one TDX quotes use.
pub const ATTESTATION_KEY_TYPE_ECDSA_P256: u16 = 2;

/// Largest quote accepted (the kernel caps a configfs-tsm `outblob` at 32 KiB; real quotes are
/// 5–8 KiB).
pub const MAX_QUOTE_LEN: usize = 64 * 1024;

/// TDATTRIBUTES bit 0: the TD runs in debug mode (its state is visible to the host).
pub const TD_ATTRIBUTE_DEBUG: u64 = 1 << 0;

/// TDATTRIBUTES bit 29: the TD may be migrated by a migration TD.
pub const TD_ATTRIBUTE_MIGRATABLE: u64 = 1 << 29;

const HEADER_LEN: usize = 48;
const TD_REPORT10_LEN: usize = 584;
const TD_REPORT15_LEN: usize = 648;
const TD_REPORT15_EX_LEN: usize = 885;
const CERT_DATA_QE_REPORT: u16 = 6;
const CERT_DATA_PCK_CHAIN: u16 = 5;

/// Why bytes are not a well-formed TDX quote. Each variant says what was expected and what
/// was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteError {
    /// The input ends inside a field.
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Its offset in the quote.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The input is larger than [`MAX_QUOTE_LEN`].
    TooLarge {
        /// The input's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The TEE type is not TDX (e.g. an SGX quote).
    NotTdx {
        /// The TEE type seen (TDX is `0x81`).
        tee_type: u32,
    },
    /// A quote version other than 4 or 5.
    UnsupportedVersion {
        /// The version seen.
        version: u16,
    },
    /// An attestation key type other than ECDSA P-256 (2).
    UnsupportedAttestationKeyType {
        /// The type seen.
        seen: u16,
    },
    /// A v5 body type that is not a TD report (2 = TD 1.0, 3 = TD 1.5, 4 = TD 1.5 extended).
    UnsupportedBodyType {
        /// The type seen (1 = SGX enclave report).
        body_type: u16,
    },
    /// A v5 body size that does not match its body type.
    BodySizeMismatch {
        /// The body type.
        body_type: u16,
        /// The size that type has.
        expected: usize,
        /// The size declared.
        seen: u32,
    },
    /// A certification data type other than the one this position holds.
    UnexpectedCertificationDataType {
        /// What the position holds (6 = QE report certification data, 5 = PCK chain).
        expected: u16,
        /// The type seen.
        seen: u16,
    },
    /// A length field does not match the structure it covers.
    LengthMismatch {
        /// The structure.
        field: &'static str,
        /// Its declared length.
        declared: usize,
        /// The length its content uses.
        used: usize,
    },
    /// The PCK certificate chain is empty.
    EmptyCertificateChain,
    /// Non-zero bytes after the signature data (only zero padding is tolerated).
    TrailingBytes {
        /// Offset of the first non-zero byte.
        offset: usize,
    },
}

impl fmt::Display for QuoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                field,
                offset,
                needed,
                available,
            } => write!(
                f,
                "quote truncated in {field} at offset {offset}: need {needed} bytes, {available} left"
            ),
            Self::TooLarge { len, max } => {
                write!(f, "quote of {len} bytes exceeds the {max}-byte limit")
            }
            Self::NotTdx { tee_type } => write!(
                f,
                "not a TDX quote: TEE type {tee_type:#x}, expected {TEE_TYPE_TDX:#x}"
            ),
            Self::UnsupportedVersion { version } => {
                write!(f, "quote version {version}, expected 4 or 5")
            }
            Self::UnsupportedAttestationKeyType { seen } => write!(
                f,
                "attestation key type {seen}, expected {ATTESTATION_KEY_TYPE_ECDSA_P256} (ECDSA P-256)"
            ),
            Self::UnsupportedBodyType { body_type } => write!(
                f,
                "quote body type {body_type}, expected a TD report (2, 3 or 4)"
            ),
            Self::BodySizeMismatch {
                body_type,
                expected,
                seen,
            } => write!(
                f,
                "body type {body_type} declares {seen} bytes, expected {expected}"
            ),
            Self::UnexpectedCertificationDataType { expected, seen } => {
                write!(f, "certification data type {seen}, expected {expected}")
            }
            Self::LengthMismatch {
                field,
                declared,
                used,
            } => write!(
                f,
                "{field} declares {declared} bytes but its content uses {used}"
            ),
            Self::EmptyCertificateChain => write!(f, "PCK certificate chain is empty"),
            Self::TrailingBytes { offset } => write!(
                f,
                "non-zero byte at offset {offset} after the signature data (only zero padding allowed)"
            ),
        }
    }
}

impl std::error::Error for QuoteError {}

/// The 48-byte quote header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuoteHeader {
    /// Quote version (4 or 5).
    pub version: u16,
    /// Attestation key type (2 = ECDSA P-256).
    pub attestation_key_type: u16,
    /// TEE type (`0x81` for TDX).
    pub tee_type: u32,
    /// Bytes 8..12, reserved for TDX (SGX v3 quotes carry QE and PCE SVNs here).
    pub reserved: [u8; 4],
    /// Vendor of the quoting enclave (Intel: `939a7233f79c4ca9940a0db3957f0607`).
    pub qe_vendor_id: [u8; 16],
    /// User data; Intel's QE puts its QE id in the first 16 bytes.
    pub user_data: [u8; 20],
}

/// Which TD report a quote carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyType {
    /// TD report 1.0 (584 bytes; body type 2, and every v4 quote).
    TdReport10,
    /// TD report 1.5 (648 bytes; body type 3): adds TEE_TCB_SVN2 and MRSERVICETD.
    TdReport15,
    /// TD report 1.5 extended (885 bytes; body type 4): adds the instance and service-TD
    /// fields of [`TdReportExtension`].
    TdReport15Ex,
}

impl BodyType {
    /// The v5 body descriptor code.
    pub fn code(self) -> u16 {
        match self {
            Self::TdReport10 => 2,
            Self::TdReport15 => 3,
            Self::TdReport15Ex => 4,
        }
    }

    /// The body's length in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            Self::TdReport10 => TD_REPORT10_LEN,
            Self::TdReport15 => TD_REPORT15_LEN,
            Self::TdReport15Ex => TD_REPORT15_EX_LEN,
        }
    }

    fn from_code(code: u16) -> Result<Self, QuoteError> {
        match code {
            2 => Ok(Self::TdReport10),
            3 => Ok(Self::TdReport15),
            4 => Ok(Self::TdReport15Ex),
            body_type => Err(QuoteError::UnsupportedBodyType { body_type }),
        }
    }
}

/// The TD report (quote body): the TD's measurements and attributes as the TDX module
/// reported them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TdReport {
    /// TEE_TCB_SVN: SVNs of the TDX module and its components.
    pub tee_tcb_svn: [u8; 16],
    /// MRSEAM: measurement of the TDX module.
    pub mr_seam: [u8; 48],
    /// MRSIGNERSEAM: signer of the TDX module (zero for Intel's).
    pub mr_signer_seam: [u8; 48],
    /// SEAMATTRIBUTES.
    pub seam_attributes: [u8; 8],
    /// TDATTRIBUTES (see [`TD_ATTRIBUTE_DEBUG`], [`TD_ATTRIBUTE_MIGRATABLE`]).
    pub td_attributes: [u8; 8],
    /// XFAM: extended features the TD may use.
    pub xfam: [u8; 8],
    /// MRTD: measurement of the TD's initial contents.
    pub mr_td: [u8; 48],
    /// MRCONFIGID: host-supplied configuration id.
    pub mr_config_id: [u8; 48],
    /// MROWNER: host-supplied owner id.
    pub mr_owner: [u8; 48],
    /// MROWNERCONFIG: host-supplied owner configuration.
    pub mr_owner_config: [u8; 48],
    /// RTMR0..RTMR3: run-time extendable measurement registers.
    pub rtmr: [[u8; 48]; 4],
    /// REPORTDATA: the 64 bytes the TD chose.
    pub report_data: [u8; 64],
    /// TEE_TCB_SVN2 (TD report 1.5 and later): SVNs of the current TDX module.
    pub tee_tcb_svn2: Option<[u8; 16]>,
    /// MRSERVICETD (TD report 1.5 and later): hash of the bound service TDs.
    pub mr_service_td: Option<[u8; 48]>,
    /// The extra fields of TD report 1.5 extended.
    pub extension: Option<TdReportExtension>,
}

/// Fields TD report 1.5 extended (v5 body type 4) appends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TdReportExtension {
    /// VM index within a partitioned TD (0 for an unpartitioned TD).
    pub vmid: u8,
    /// TD instance id, regenerated on relaunch.
    pub td_id: [u8; 32],
    /// Hash of the device information.
    pub dev_info: [u8; 48],
    /// Hash of the service TDs bound at creation.
    pub init_service_td_hash: [u8; 48],
    /// Attributes of the service TD bound at creation.
    pub init_service_td_attributes: [u8; 8],
    /// CPUSVN at creation.
    pub init_cpu_svn: [u8; 16],
    /// TEE_TCB_SVN at creation.
    pub init_tee_tcb_svn: [u8; 16],
    /// Platform model the creation TCB was captured on.
    pub init_tee_fmspc: [u8; 12],
    /// Hash of the currently bound service TDs.
    pub cur_service_td_hash: [u8; 48],
    /// Attributes of the currently bound service TD.
    pub cur_service_td_attributes: [u8; 8],
}

impl TdReport {
    /// TDATTRIBUTES as an integer.
    pub fn td_attributes_u64(&self) -> u64 {
        u64::from_le_bytes(self.td_attributes)
    }

    /// Whether the TD runs in debug mode (TDATTRIBUTES bit 0).
    pub fn is_debug(&self) -> bool {
        self.td_attributes_u64() & TD_ATTRIBUTE_DEBUG != 0
    }

    /// Whether the TD is migratable (TDATTRIBUTES bit 29).
    pub fn is_migratable(&self) -> bool {
        self.td_attributes_u64() & TD_ATTRIBUTE_MIGRATABLE != 0
    }
}

/// The signature data of a quote: the attestation key's signature, the QE report that
/// certifies the key, and the PCK certificate chain that certifies the QE report.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuoteSignatureData {
    /// ECDSA P-256 signature `r‖s` over the header and body.
    pub signature: [u8; 64],
    /// The attestation public key `x‖y`.
    pub attestation_key: [u8; 64],
    /// The QE's SGX report (its REPORTDATA binds the attestation key).
    pub qe_report: [u8; 384],
    /// PCK signature `r‖s` over the QE report.
    pub qe_report_signature: [u8; 64],
    /// QE authentication data.
    pub qe_auth_data: Vec<u8>,
    /// PCK certificate chain, PEM (leaf, intermediate CA, root), as carried.
    pub pck_cert_chain: Vec<u8>,
}

impl fmt::Debug for QuoteSignatureData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuoteSignatureData")
            .field("signature", &hex::encode(self.signature))
            .field("attestation_key", &hex::encode(self.attestation_key))
            .field("qe_auth_data", &hex::encode(&self.qe_auth_data))
            .field("pck_cert_chain_len", &self.pck_cert_chain.len())
            .finish_non_exhaustive()
    }
}

/// A parsed TDX quote.
///
/// ```
/// # fn main() -> Result<(), atls_tdx::QuoteError> {
/// let err = atls_tdx::Quote::parse(&[4, 0, 2, 0]).unwrap_err();
/// assert!(matches!(err, atls_tdx::QuoteError::Truncated { .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    header: QuoteHeader,
    body_type: BodyType,
    report: TdReport,
    signature_data: QuoteSignatureData,
    signed_len: usize,
    len: usize,
}

impl Quote {
    /// Parses a TDX quote (v4, or v5 with a TD report body). Zero padding after the signature
    /// data is tolerated; anything else that does not fit the format is an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, QuoteError> {
        if bytes.len() > MAX_QUOTE_LEN {
            return Err(QuoteError::TooLarge {
                len: bytes.len(),
                max: MAX_QUOTE_LEN,
            });
        }
        let mut r = Reader::new(bytes);
        let header = read_header(&mut r)?;
        let body_type = match header.version {
            4 => BodyType::TdReport10,
            _ => {
                let code = r.u16("body type")?;
                let size = r.u32("body size")?;
                let body_type = BodyType::from_code(code)?;
                if usize::try_from(size).ok() != Some(body_type.byte_len()) {
                    return Err(QuoteError::BodySizeMismatch {
                        body_type: code,
                        expected: body_type.byte_len(),
                        seen: size,
                    });
                }
                body_type
            }
        };
        let report = read_td_report(&mut r, body_type)?;
        let signed_len = r.pos;

        let sig_len = r.len_u32("signature data length")?;
        let sig_start = r.pos;
        let sig_bytes = r.take(sig_len, "signature data")?;
        let signature_data = read_signature_data(sig_bytes, sig_start)?;

        let end = r.pos;
        if let Some(i) = r.rest().iter().position(|&b| b != 0) {
            return Err(QuoteError::TrailingBytes {
                offset: end.saturating_add(i),
            });
        }
        Ok(Self {
            header,
            body_type,
            report,
            signature_data,
            signed_len,
            len: end,
        })
    }

    /// The header.
    pub fn header(&self) -> &QuoteHeader {
        &self.header
    }

    /// The quote version (4 or 5).
    pub fn version(&self) -> u16 {
        self.header.version
    }

    /// Which TD report the body is.
    pub fn body_type(&self) -> BodyType {
        self.body_type
    }

    /// The TD report.
    pub fn report(&self) -> &TdReport {
        &self.report
    }

    /// The signature data.
    pub fn signature_data(&self) -> &QuoteSignatureData {
        &self.signature_data
    }

    /// Length of the signed part (header, v5 body descriptor and body).
    pub fn signed_len(&self) -> usize {
        self.signed_len
    }

    /// Length of the quote without trailing padding.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a parsed quote has at least a header and a body.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The quote's claims (`evidence_type` is [`TDX_QUOTE_MEDIA_TYPE`]); see
    /// [`Quote::insert_claims`].
    pub fn claims(&self) -> Claims {
        let mut claims = Claims::new(TDX_QUOTE_MEDIA_TYPE);
        self.insert_claims(&mut claims);
        claims
    }

    /// Adds the TD report's claims: `tdx.quote_version`, `tdx.tee_tcb_svn`, `tdx.mr_seam`,
    /// `tdx.mr_signer_seam`, `tdx.seam_attributes`, `tdx.td_attributes`, `tdx.xfam`,
    /// `tdx.mr_td`, `tdx.mr_config_id`, `tdx.mr_owner`, `tdx.mr_owner_config`,
    /// `tdx.rtmr0`..`tdx.rtmr3`, `tdx.report_data`, `tdx.debug`, and for TD report 1.5
    /// `tdx.tee_tcb_svn2` and `tdx.mr_service_td`. Byte strings are lower-case hex.
    pub fn insert_claims(&self, claims: &mut Claims) {
        let r = &self.report;
        claims.insert("tdx.quote_version", self.header.version);
        claims.insert_hex("tdx.tee_tcb_svn", &r.tee_tcb_svn);
        claims.insert_hex("tdx.mr_seam", &r.mr_seam);
        claims.insert_hex("tdx.mr_signer_seam", &r.mr_signer_seam);
        claims.insert_hex("tdx.seam_attributes", &r.seam_attributes);
        claims.insert_hex("tdx.td_attributes", &r.td_attributes);
        claims.insert_hex("tdx.xfam", &r.xfam);
        claims.insert_hex("tdx.mr_td", &r.mr_td);
        claims.insert_hex("tdx.mr_config_id", &r.mr_config_id);
        claims.insert_hex("tdx.mr_owner", &r.mr_owner);
        claims.insert_hex("tdx.mr_owner_config", &r.mr_owner_config);
        for (name, rtmr) in ["tdx.rtmr0", "tdx.rtmr1", "tdx.rtmr2", "tdx.rtmr3"]
            .into_iter()
            .zip(&r.rtmr)
        {
            claims.insert_hex(name, rtmr);
        }
        claims.insert_hex("tdx.report_data", &r.report_data);
        if let Some(svn2) = &r.tee_tcb_svn2 {
            claims.insert_hex("tdx.tee_tcb_svn2", svn2);
        }
        if let Some(mr) = &r.mr_service_td {
            claims.insert_hex("tdx.mr_service_td", mr);
        }
        claims.insert("tdx.debug", r.is_debug());
    }
}

fn read_header(r: &mut Reader<'_>) -> Result<QuoteHeader, QuoteError> {
    // Read the whole header first so a short input is reported as truncated.
    let mut h = Reader::new(r.take(HEADER_LEN, "header")?);
    let version = h.u16("version")?;
    let attestation_key_type = h.u16("attestation key type")?;
    let tee_type = h.u32("TEE type")?;
    let header = QuoteHeader {
        version,
        attestation_key_type,
        tee_type,
        reserved: h.array("reserved")?,
        qe_vendor_id: h.array("QE vendor id")?,
        user_data: h.array("user data")?,
    };
    if tee_type != TEE_TYPE_TDX {
        return Err(QuoteError::NotTdx { tee_type });
    }
    if !matches!(version, 4 | 5) {
        return Err(QuoteError::UnsupportedVersion { version });
    }
    if attestation_key_type != ATTESTATION_KEY_TYPE_ECDSA_P256 {
        return Err(QuoteError::UnsupportedAttestationKeyType {
            seen: attestation_key_type,
        });
    }
    Ok(header)
}

fn read_td_report(r: &mut Reader<'_>, body_type: BodyType) -> Result<TdReport, QuoteError> {
    let mut b = Reader::new(r.take(body_type.byte_len(), "TD report")?);
    b.base = r.pos.saturating_sub(body_type.byte_len());
    let mut report = TdReport {
        tee_tcb_svn: b.array("TEE_TCB_SVN")?,
        mr_seam: b.array("MRSEAM")?,
        mr_signer_seam: b.array("MRSIGNERSEAM")?,
        seam_attributes: b.array("SEAMATTRIBUTES")?,
        td_attributes: b.array("TDATTRIBUTES")?,
        xfam: b.array("XFAM")?,
        mr_td: b.array("MRTD")?,
        mr_config_id: b.array("MRCONFIGID")?,
        mr_owner: b.array("MROWNER")?,
        mr_owner_config: b.array("MROWNERCONFIG")?,
        rtmr: [
            b.array("RTMR0")?,
            b.array("RTMR1")?,
            b.array("RTMR2")?,
            b.array("RTMR3")?,
        ],
        report_data: b.array("REPORTDATA")?,
        tee_tcb_svn2: None,
        mr_service_td: None,
        extension: None,
    };
    if matches!(body_type, BodyType::TdReport15 | BodyType::TdReport15Ex) {
        report.tee_tcb_svn2 = Some(b.array("TEE_TCB_SVN2")?);
        report.mr_service_td = Some(b.array("MRSERVICETD")?);
    }
    if body_type == BodyType::TdReport15Ex {
        report.extension = Some(TdReportExtension {
            vmid: b.u8("VMID")?,
            td_id: b.array("TD_ID")?,
            dev_info: b.array("DEV_INFO")?,
            init_service_td_hash: b.array("INIT_SERVICETD_HASH")?,
            init_service_td_attributes: b.array("INIT_SERVICETD_ATTRIBUTES")?,
            init_cpu_svn: b.array("INIT_CPUSVN")?,
            init_tee_tcb_svn: b.array("INIT_TEE_TCB_SVN")?,
            init_tee_fmspc: b.array("INIT_TEE_FMSPC")?,
            cur_service_td_hash: b.array("CUR_SERVICETD_HASH")?,
            cur_service_td_attributes: b.array("CUR_SERVICETD_ATTRIBUTES")?,
        });
    }
    b.finish("TD report")?;
    Ok(report)
}

fn read_signature_data(bytes: &[u8], base: usize) -> Result<QuoteSignatureData, QuoteError> {
    let mut s = Reader::new(bytes);
    s.base = base;
    let signature = s.array("quote signature")?;
    let attestation_key = s.array("attestation key")?;
    let cert_type = s.u16("certification data type")?;
    if cert_type != CERT_DATA_QE_REPORT {
        return Err(QuoteError::UnexpectedCertificationDataType {
            expected: CERT_DATA_QE_REPORT,
            seen: cert_type,
        });
    }
    let qe_len = s.len_u32("QE report certification data size")?;
    let qe_base = s.base.saturating_add(s.pos);
    let mut q = Reader::new(s.take(qe_len, "QE report certification data")?);
    q.base = qe_base;
    s.finish("signature data")?;

    let qe_report = q.array("QE report")?;
    let qe_report_signature = q.array("QE report signature")?;
    let auth_len = usize::from(q.u16("QE auth data length")?);
    let qe_auth_data = q.take(auth_len, "QE auth data")?.to_vec();
    let inner_type = q.u16("PCK certification data type")?;
    if inner_type != CERT_DATA_PCK_CHAIN {
        return Err(QuoteError::UnexpectedCertificationDataType {
            expected: CERT_DATA_PCK_CHAIN,
            seen: inner_type,
        });
    }
    let chain_len = q.len_u32("PCK certificate chain size")?;
    let pck_cert_chain = q.take(chain_len, "PCK certificate chain")?.to_vec();
    q.finish("QE report certification data")?;
    if pck_cert_chain.iter().all(|&b| b == 0) {
        return Err(QuoteError::EmptyCertificateChain);
    }
    Ok(QuoteSignatureData {
        signature,
        attestation_key,
        qe_report,
        qe_report_signature,
        qe_auth_data,
        pck_cert_chain,
    })
}

/// A bounds-checked cursor; every read returns a typed error instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole quote, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], QuoteError> {
        let rest = self.rest();
        let out = rest.get(..n).ok_or(QuoteError::Truncated {
            field,
            offset: self.base.saturating_add(self.pos),
            needed: n,
            available: rest.len(),
        })?;
        self.pos = self.pos.saturating_add(n);
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], QuoteError> {
        let bytes = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, QuoteError> {
        Ok(u8::from_le_bytes(self.array(field)?))
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, QuoteError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, QuoteError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// A u32 length, as usize (saturating: a length that does not fit is truncation anyway).
    fn len_u32(&mut self, field: &'static str) -> Result<usize, QuoteError> {
        Ok(usize::try_from(self.u32(field)?).unwrap_or(usize::MAX))
    }

    fn finish(&self, field: &'static str) -> Result<(), QuoteError> {
        match self.pos == self.buf.len() {
            true => Ok(()),
            false => Err(QuoteError::LengthMismatch {
                field,
                declared: self.buf.len(),
                used: self.pos,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
