//! Quote bytes: DCAP quote v4 (TDX) and v3 (SGX) with QE report and PCK chain.

use sha2::{Digest, Sha256};

use super::pki::SimKey;
use super::{QE_ISV_PROD_ID, QE_ISV_SVN, QE_MR_SIGNER, SimulatedTd};

/// Intel's QE vendor id.
const QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
];
/// Certification data type 5: PCK certificate chain (PEM).
const CERT_TYPE_PCK_CHAIN: u16 = 5;
/// Certification data type 6: QE report certification data.
const CERT_TYPE_QE_REPORT: u16 = 6;

/// Everything that certifies a quote's attestation key.
pub(super) struct Certification<'a> {
    pub(super) attestation_key: &'a SimKey,
    pub(super) pck_key: &'a SimKey,
    pub(super) pck_chain_pem: &'a str,
    pub(super) qe_auth_data: &'a [u8],
    pub(super) cpu_svn: [u8; 16],
    /// Flip a bit of the QE report after the PCK signed it.
    pub(super) tamper_qe_report: bool,
}

fn header(version: u16, tee_type: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(48);
    h.extend_from_slice(&version.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes()); // ECDSA-256 with P-256
    h.extend_from_slice(&tee_type.to_le_bytes());
    h.extend_from_slice(&[0; 4]); // reserved (QE SVN / PCE SVN in SGX v3)
    h.extend_from_slice(&QE_VENDOR_ID);
    // User data: the QE id in the first 16 bytes.
    h.extend_from_slice(b"SIMULATED-TD-QE\0");
    h.extend_from_slice(&[0; 4]);
    h
}

/// The 584-byte TD report 1.0 body.
pub(super) fn td_report_body(td: &SimulatedTd, report_data: &[u8; 64]) -> Vec<u8> {
    let mut b = Vec::with_capacity(584);
    b.extend_from_slice(&td.tee_tcb_svn);
    b.extend_from_slice(&td.mr_seam);
    b.extend_from_slice(&[0; 48]); // MRSIGNERSEAM: Intel's module
    b.extend_from_slice(&[0; 8]); // SEAMATTRIBUTES
    b.extend_from_slice(&td.td_attributes.to_le_bytes());
    b.extend_from_slice(&td.xfam);
    b.extend_from_slice(&td.mr_td);
    b.extend_from_slice(&td.mr_config_id);
    b.extend_from_slice(&td.mr_owner);
    b.extend_from_slice(&td.mr_owner_config);
    for rtmr in &td.rtmr {
        b.extend_from_slice(rtmr);
    }
    b.extend_from_slice(report_data);
    b
}

/// A 384-byte SGX enclave report.
fn enclave_report(
    cpu_svn: &[u8; 16],
    attributes: [u8; 16],
    mr_enclave: &[u8; 32],
    mr_signer: &[u8; 32],
    isv_prod_id: u16,
    isv_svn: u16,
    report_data: &[u8; 64],
) -> Vec<u8> {
    let mut r = Vec::with_capacity(384);
    r.extend_from_slice(cpu_svn);
    r.extend_from_slice(&0u32.to_le_bytes()); // MISCSELECT
    r.extend_from_slice(&[0; 28]);
    r.extend_from_slice(&attributes);
    r.extend_from_slice(mr_enclave);
    r.extend_from_slice(&[0; 32]);
    r.extend_from_slice(mr_signer);
    r.extend_from_slice(&[0; 96]);
    r.extend_from_slice(&isv_prod_id.to_le_bytes());
    r.extend_from_slice(&isv_svn.to_le_bytes());
    r.extend_from_slice(&[0; 60]);
    r.extend_from_slice(report_data);
    r
}

/// The QE report certifying the attestation key, and the PCK's signature over it.
fn qe_report(c: &Certification<'_>) -> (Vec<u8>, [u8; 64]) {
    let mut h = Sha256::new();
    h.update(c.attestation_key.raw_public());
    h.update(c.qe_auth_data);
    let mut report_data = [0u8; 64];
    report_data
        .iter_mut()
        .zip(h.finalize().iter())
        .for_each(|(d, s)| *d = *s);
    let mr_enclave: [u8; 32] = Sha256::digest(b"simulated TD quoting enclave").into();
    let mut attributes = [0u8; 16];
    attributes[0] = 0x11; // INIT | MODE64BIT, not DEBUG
    let mut report = enclave_report(
        &c.cpu_svn,
        attributes,
        &mr_enclave,
        &QE_MR_SIGNER,
        QE_ISV_PROD_ID,
        QE_ISV_SVN,
        &report_data,
    );
    let sig = c.pck_key.sign_raw(&report);
    if c.tamper_qe_report {
        // A reserved byte: the report still parses, the PCK signature no longer covers it.
        if let Some(b) = report.get_mut(100) {
            *b ^= 0x01;
        }
    }
    (report, sig)
}

fn pck_chain_data(c: &Certification<'_>) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&CERT_TYPE_PCK_CHAIN.to_le_bytes());
    d.extend_from_slice(&(c.pck_chain_pem.len() as u32).to_le_bytes());
    d.extend_from_slice(c.pck_chain_pem.as_bytes());
    d
}

fn auth_data(c: &Certification<'_>) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&(c.qe_auth_data.len() as u16).to_le_bytes());
    d.extend_from_slice(c.qe_auth_data);
    d
}

/// Signs `header ‖ body` with the attestation key and appends the signature data.
fn finish(
    mut quote: Vec<u8>,
    c: &Certification<'_>,
    certification: Vec<u8>,
    tamper_sig: bool,
) -> Vec<u8> {
    let mut sig = c.attestation_key.sign_raw(&quote);
    if tamper_sig {
        sig[10] ^= 0x01;
    }
    let mut sig_data = Vec::new();
    sig_data.extend_from_slice(&sig);
    sig_data.extend_from_slice(c.attestation_key.raw_public());
    sig_data.extend_from_slice(&certification);
    quote.extend_from_slice(&(sig_data.len() as u32).to_le_bytes());
    quote.extend_from_slice(&sig_data);
    quote
}

/// A TDX quote v4 with a TD report 1.0 body.
pub(super) fn tdx_v4(
    td: &SimulatedTd,
    report_data: &[u8; 64],
    c: &Certification<'_>,
    tamper_sig: bool,
) -> Vec<u8> {
    let mut quote = header(4, 0x81);
    quote.extend_from_slice(&td_report_body(td, report_data));
    let (qe_report, qe_sig) = qe_report(c);
    let mut inner = Vec::new();
    inner.extend_from_slice(&qe_report);
    inner.extend_from_slice(&qe_sig);
    inner.extend_from_slice(&auth_data(c));
    inner.extend_from_slice(&pck_chain_data(c));
    let mut certification = Vec::new();
    certification.extend_from_slice(&CERT_TYPE_QE_REPORT.to_le_bytes());
    certification.extend_from_slice(&(inner.len() as u32).to_le_bytes());
    certification.extend_from_slice(&inner);
    finish(quote, c, certification, tamper_sig)
}

/// An SGX quote v3 (TEE type 0) for an enclave with `report_data`.
pub(super) fn sgx_v3(report_data: &[u8; 64], c: &Certification<'_>) -> Vec<u8> {
    let mut quote = header(3, 0);
    let mr_enclave: [u8; 32] = Sha256::digest(b"simulated application enclave").into();
    let mr_signer: [u8; 32] = Sha256::digest(b"simulated enclave signer").into();
    let mut attributes = [0u8; 16];
    attributes[0] = 0x05; // INIT | MODE64BIT
    quote.extend_from_slice(&enclave_report(
        &c.cpu_svn,
        attributes,
        &mr_enclave,
        &mr_signer,
        1,
        1,
        report_data,
    ));
    let (qe_report, qe_sig) = qe_report(c);
    let mut certification = Vec::new();
    certification.extend_from_slice(&qe_report);
    certification.extend_from_slice(&qe_sig);
    certification.extend_from_slice(&auth_data(c));
    certification.extend_from_slice(&pck_chain_data(c));
    finish(quote, c, certification, false)
}
