//! The CCEL ACPI table and its TCG crypto-agile event log.

use super::{
    EV_NO_ACTION, EventLogError, MAX_LOG_EVENTS, MEASUREMENT_LEN, Measurement, Reader, TdEvent,
};

/// Length of the CCEL ACPI table (revision 1): 36-byte ACPI header, CC type, CC subtype,
/// 2 reserved bytes, LAML, LASA.
pub const CCEL_TABLE_LEN: usize = 56;

/// CC type of Intel TDX in the CCEL table.
const CC_TYPE_TDX: u8 = 2;

/// TCG algorithm id of SHA-384.
const TPM_ALG_SHA384: u16 = 0x000c;

/// Signature of the Spec ID event (with its NUL).
const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";

/// At most this many algorithms in the Spec ID event.
const MAX_ALGORITHMS: u32 = 32;

/// The CCEL ACPI table: where the firmware's event log is and what kind of TEE wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CcelTable {
    /// ACPI table revision.
    pub revision: u8,
    /// ACPI OEM id.
    pub oem_id: [u8; 6],
    /// CC type (2 = TDX).
    pub cc_type: u8,
    /// CC subtype.
    pub cc_subtype: u8,
    /// Log area minimum length (LAML).
    pub log_area_min_len: u64,
    /// Log area start address (LASA), a guest-physical address.
    pub log_area_start: u64,
}

impl CcelTable {
    /// Parses and checks the table: signature `CCEL`, length, checksum, CC type TDX.
    pub fn parse(table: &[u8]) -> Result<Self, EventLogError> {
        let bad = |expected, seen: String| EventLogError::CcelTable { expected, seen };
        let mut r = Reader::new(table);
        let signature: [u8; 4] = r.array("CCEL signature")?;
        if &signature != b"CCEL" {
            return Err(bad(
                "signature \"CCEL\"",
                format!("{:?}", String::from_utf8_lossy(&signature)),
            ));
        }
        let length = r.u32("CCEL length")?;
        let len = usize::try_from(length).unwrap_or(usize::MAX);
        if len < CCEL_TABLE_LEN || len > table.len() {
            return Err(bad(
                "a table length of at least 56 bytes, within the data",
                format!("length {length} with {} bytes of data", table.len()),
            ));
        }
        let table = table.get(..len).unwrap_or(table);
        let sum = table.iter().fold(0u8, |acc, b| acc.wrapping_add(*b));
        if sum != 0 {
            return Err(bad("bytes summing to 0 mod 256", format!("sum {sum:#04x}")));
        }
        let revision = r.u8("CCEL revision")?;
        let _checksum = r.u8("CCEL checksum")?;
        let oem_id = r.array("CCEL OEM id")?;
        // OEM table id (8), OEM revision (4), creator id (4), creator revision (4).
        r.take(20, "CCEL header")?;
        let cc_type = r.u8("CCEL CC type")?;
        let cc_subtype = r.u8("CCEL CC subtype")?;
        r.take(2, "CCEL reserved")?;
        let log_area_min_len = r.u64("CCEL LAML")?;
        let log_area_start = r.u64("CCEL LASA")?;
        if cc_type != CC_TYPE_TDX {
            return Err(EventLogError::UnsupportedCcType { seen: cc_type });
        }
        Ok(Self {
            revision,
            oem_id,
            cc_type,
            cc_subtype,
            log_area_min_len,
            log_area_start,
        })
    }
}

/// Digest sizes declared by the Spec ID event.
struct Algorithms(Vec<(u16, u16)>);

impl Algorithms {
    fn size(&self, alg: u16) -> Option<u16> {
        self.0.iter().find(|(a, _)| *a == alg).map(|(_, s)| *s)
    }
}

pub(super) fn parse_log(data: &[u8]) -> Result<Vec<TdEvent>, EventLogError> {
    let mut r = Reader::new(data);
    let algorithms = spec_id_event(&mut r)?;
    let mut events = Vec::new();
    loop {
        let rest = r.remaining();
        // The log ends with the area, or where the 0xff fill (an MR index of 0xffffffff)
        // starts.
        if rest.len() < 4 || rest.get(..4) == Some(&[0xff; 4]) {
            break;
        }
        let offset = r.pos();
        let mr_index = r.u32("event MR index")?;
        let event_type = r.u32("event type")?;
        let count = r.u32("event digest count")?;
        if count > MAX_ALGORITHMS {
            return Err(EventLogError::TooManyDigests { offset, count });
        }
        let mut sha384: Option<Measurement> = None;
        for _ in 0..count {
            let alg = r.u16("digest algorithm")?;
            let size = algorithms
                .size(alg)
                .ok_or(EventLogError::UnknownAlgorithm { offset, alg })?;
            let digest = r.take(usize::from(size), "digest")?;
            if alg == TPM_ALG_SHA384 {
                let mut d = [0u8; MEASUREMENT_LEN];
                if digest.len() == MEASUREMENT_LEN {
                    d.copy_from_slice(digest);
                    sha384 = Some(d);
                }
            }
        }
        let size = r.u32("event data size")?;
        let event_data = r.take(usize::try_from(size).unwrap_or(usize::MAX), "event data")?;
        if event_type == EV_NO_ACTION {
            continue;
        }
        let imr = match mr_index {
            1..=4 => u8::try_from(mr_index - 1).unwrap_or(u8::MAX),
            _ => {
                return Err(EventLogError::UnknownMrIndex {
                    offset,
                    index: mr_index,
                });
            }
        };
        let digest = sha384.ok_or(EventLogError::NoSha384Digest { offset })?;
        if events.len() >= MAX_LOG_EVENTS {
            return Err(EventLogError::TooManyEvents {
                max: MAX_LOG_EVENTS,
            });
        }
        events.push(TdEvent::new(imr, event_type, digest)?.with_payload(event_data.to_vec()));
    }
    Ok(events)
}

/// Reads the legacy-format first event holding "Spec ID Event03" and returns the declared
/// digest sizes, which must include SHA-384 (48 bytes).
fn spec_id_event(r: &mut Reader<'_>) -> Result<Algorithms, EventLogError> {
    let bad = |expected, seen: String| EventLogError::SpecIdEvent { expected, seen };
    let _mr_index = r.u32("header MR index")?;
    let event_type = r.u32("header event type")?;
    if event_type != EV_NO_ACTION {
        return Err(bad(
            "EV_NO_ACTION (3)",
            format!("event type {event_type:#x}"),
        ));
    }
    r.take(20, "header SHA-1 digest")?;
    let size = r.u32("header event size")?;
    let body = r.take(usize::try_from(size).unwrap_or(usize::MAX), "header event")?;
    let mut b = Reader::new(body);
    let signature: [u8; 16] = b.array("Spec ID signature")?;
    if &signature != SPEC_ID_SIGNATURE {
        return Err(bad(
            "signature \"Spec ID Event03\"",
            format!("{:?}", String::from_utf8_lossy(&signature)),
        ));
    }
    let _platform_class = b.u32("platform class")?;
    let _minor = b.u8("spec version minor")?;
    let major = b.u8("spec version major")?;
    let _errata = b.u8("spec errata")?;
    let _uintn_size = b.u8("uintn size")?;
    if major != 2 {
        return Err(bad("spec version 2", format!("spec version {major}")));
    }
    let n = b.u32("number of algorithms")?;
    if n == 0 || n > MAX_ALGORITHMS {
        return Err(bad("1 to 32 algorithms", format!("{n} algorithms")));
    }
    let mut algorithms = Vec::new();
    for _ in 0..n {
        let alg = b.u16("algorithm id")?;
        let size = b.u16("digest size")?;
        if alg == TPM_ALG_SHA384 && usize::from(size) != MEASUREMENT_LEN {
            return Err(bad("a 48-byte SHA-384 digest", format!("{size} bytes")));
        }
        algorithms.push((alg, size));
    }
    let vendor_len = b.u8("vendor info size")?;
    b.take(usize::from(vendor_len), "vendor info")?;
    let algorithms = Algorithms(algorithms);
    if algorithms.size(TPM_ALG_SHA384).is_none() {
        return Err(bad("SHA-384 among the algorithms", "none".to_string()));
    }
    Ok(algorithms)
}
