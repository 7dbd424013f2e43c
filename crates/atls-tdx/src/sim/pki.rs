//! The simulated PKI: seeded P-256 keys, certificates and CRLs shaped like Intel's.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, PublicKeyData,
    RevokedCertParams, SerialNumber,
};
use sha2::{Digest, Sha256};

use super::SimulatorError;

/// OID of Intel's SGX extension in PCK certificates, as rcgen wants it.
const SGX_EXTENSION_ARCS: [u64; 7] = [1, 2, 840, 113_741, 1, 13, 1];

/// A P-256 key derived from a seed and a label; signs deterministically (RFC 6979), so a
/// seed and a time give byte-identical certificates, CRLs and quotes.
#[derive(Clone)]
pub(super) struct SimKey {
    key: SigningKey,
    public: Vec<u8>,
}

impl SimKey {
    pub(super) fn derive(seed: &[u8; 32], label: &str) -> Result<Self, SimulatorError> {
        for counter in 0u8..=255 {
            let mut h = Sha256::new();
            h.update(b"atls-tdx simulator key\0");
            h.update(seed);
            h.update(label.as_bytes());
            h.update([counter]);
            let scalar: [u8; 32] = h.finalize().into();
            if let Ok(key) = SigningKey::from_slice(&scalar) {
                let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                return Ok(Self { key, public });
            }
        }
        Err(SimulatorError::Pki(format!(
            "no valid P-256 scalar for {label}"
        )))
    }

    /// `x ‖ y` (64 bytes): the raw public key as quotes carry it.
    pub(super) fn raw_public(&self) -> &[u8] {
        self.public.get(1..).unwrap_or_default()
    }

    /// ECDSA-P256-SHA256 over `msg` as `r ‖ s` (64 bytes).
    pub(super) fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        let sig: Signature = self.key.sign(msg);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        out
    }
}

impl PublicKeyData for SimKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for SimKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let sig: Signature = self.key.sign(msg);
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// Unix seconds as rcgen's date type (inferred, so the `time` crate need not be named).
macro_rules! at {
    ($unix:expr) => {
        rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs($unix)
    };
}

/// Validity of every simulated certificate: from a day before `issue_time` for ten years.
const CERT_VALIDITY_SECS: u64 = 10 * 365 * 86_400;

/// Serial numbers of the simulated certificates.
pub(super) mod serial {
    pub(in crate::sim) const ROOT: u8 = 0x01;
    pub(in crate::sim) const PLATFORM_CA: u8 = 0x02;
    pub(in crate::sim) const PCK: u8 = 0x03;
    pub(in crate::sim) const REVOKED_PCK: u8 = 0x04;
    pub(in crate::sim) const TCB_SIGNING: u8 = 0x05;
    pub(in crate::sim) const ROGUE_CA: u8 = 0x06;
    pub(in crate::sim) const ROGUE_PCK: u8 = 0x07;
}

/// What the PCK leaf's SGX extension says about the platform.
#[derive(Clone, Debug)]
pub(super) struct PckInfo {
    pub(super) ppid: [u8; 16],
    pub(super) cpu_svn: [u8; 16],
    pub(super) pce_svn: u16,
    pub(super) pce_id: [u8; 2],
    pub(super) fmspc: [u8; 6],
    pub(super) platform_instance_id: [u8; 16],
    pub(super) dynamic_platform: bool,
    pub(super) cached_keys: bool,
    pub(super) smt_enabled: bool,
}

/// The whole simulated PKI.
pub(super) struct Pki {
    pub(super) root_der: Vec<u8>,
    pub(super) root_pem: String,
    pub(super) platform_ca_pem: String,
    pub(super) tcb_signing_pem: String,
    pub(super) tcb_signing_key: SimKey,
    /// PEM chain leaf → platform CA → root, as quotes carry it.
    pub(super) pck_chain_pem: String,
    pub(super) pck_key: SimKey,
    pub(super) revoked_pck_chain_pem: String,
    pub(super) revoked_pck_key: SimKey,
    /// A PCK chain under a CA the root never certified.
    pub(super) rogue_pck_chain_pem: String,
    pub(super) rogue_pck_key: SimKey,
    pub(super) root_crl_der: Vec<u8>,
    pub(super) pck_crl_der: Vec<u8>,
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "INSECURE SIMULATION, NOT INTEL");
    dn.push(DnType::CountryName, "XX");
    dn
}

fn params(common_name: &str, serial: u8, issue_time: u64, ca: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(common_name);
    p.serial_number = Some(SerialNumber::from_slice(&[serial]));
    p.not_before = at!(issue_time.saturating_sub(86_400));
    p.not_after = at!(issue_time.saturating_add(CERT_VALIDITY_SECS));
    p.key_identifier_method = KeyIdMethod::Sha256;
    p.use_authority_key_identifier_extension = true;
    match ca {
        Some(pathlen) => {
            p.is_ca = IsCa::Ca(if pathlen == u8::MAX {
                BasicConstraints::Unconstrained
            } else {
                BasicConstraints::Constrained(pathlen)
            });
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
        None => {
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ];
        }
    }
    p
}

fn pki_err(what: &'static str) -> impl Fn(rcgen::Error) -> SimulatorError {
    move |e| SimulatorError::Pki(format!("{what}: {e}"))
}

impl Pki {
    pub(super) fn new(
        seed: &[u8; 32],
        issue_time: u64,
        collateral_validity: u64,
        pck: &PckInfo,
    ) -> Result<Self, SimulatorError> {
        let root_key = SimKey::derive(seed, "root ca")?;
        let root_params = params(
            "INSECURE Simulated SGX Root CA",
            serial::ROOT,
            issue_time,
            Some(u8::MAX),
        );
        let root = root_params
            .self_signed(&root_key)
            .map_err(pki_err("root CA"))?;
        let root_issuer = Issuer::from_params(&root_params, &root_key);

        let platform_key = SimKey::derive(seed, "pck platform ca")?;
        let platform_params = params(
            "INSECURE Simulated SGX PCK Platform CA",
            serial::PLATFORM_CA,
            issue_time,
            Some(0),
        );
        let platform_ca = platform_params
            .signed_by(&platform_key, &root_issuer)
            .map_err(pki_err("platform CA"))?;
        let platform_issuer = Issuer::from_params(&platform_params, &platform_key);

        let tcb_signing_key = SimKey::derive(seed, "tcb signing")?;
        let tcb_signing = params(
            "INSECURE Simulated SGX TCB Signing",
            serial::TCB_SIGNING,
            issue_time,
            None,
        )
        .signed_by(&tcb_signing_key, &root_issuer)
        .map_err(pki_err("TCB signing certificate"))?;

        let pck_leaf = |label: &str, serial: u8, issuer: &Issuer<'_, &SimKey>| {
            let key = SimKey::derive(seed, label)?;
            let mut p = params(
                "INSECURE Simulated SGX PCK Certificate",
                serial,
                issue_time,
                None,
            );
            p.custom_extensions = vec![CustomExtension::from_oid_content(
                &SGX_EXTENSION_ARCS,
                sgx_extension(pck),
            )];
            let cert = p
                .signed_by(&key, issuer)
                .map_err(pki_err("PCK certificate"))?;
            Ok::<_, SimulatorError>((cert, key))
        };
        let (pck_cert, pck_key) = pck_leaf("pck", serial::PCK, &platform_issuer)?;
        let (revoked_cert, revoked_pck_key) =
            pck_leaf("revoked pck", serial::REVOKED_PCK, &platform_issuer)?;

        // A look-alike platform CA under a root nobody trusts.
        let rogue_root_key = SimKey::derive(seed, "rogue root")?;
        let rogue_root_params = params(
            "INSECURE Simulated SGX Root CA",
            serial::ROOT,
            issue_time,
            Some(u8::MAX),
        );
        let rogue_root_issuer = Issuer::from_params(&rogue_root_params, &rogue_root_key);
        let rogue_ca_key = SimKey::derive(seed, "rogue platform ca")?;
        let rogue_ca_params = params(
            "INSECURE Simulated SGX PCK Platform CA",
            serial::ROGUE_CA,
            issue_time,
            Some(0),
        );
        let rogue_ca = rogue_ca_params
            .signed_by(&rogue_ca_key, &rogue_root_issuer)
            .map_err(pki_err("rogue CA"))?;
        let rogue_issuer = Issuer::from_params(&rogue_ca_params, &rogue_ca_key);
        let (rogue_cert, rogue_pck_key) = pck_leaf("rogue pck", serial::ROGUE_PCK, &rogue_issuer)?;

        let crl = |issuer: &Issuer<'_, &SimKey>, revoked: Vec<u8>| {
            CertificateRevocationListParams {
                this_update: at!(issue_time.saturating_sub(3600)),
                next_update: at!(issue_time.saturating_add(collateral_validity)),
                crl_number: SerialNumber::from_slice(&[1]),
                issuing_distribution_point: None,
                revoked_certs: revoked
                    .into_iter()
                    .map(|s| RevokedCertParams {
                        serial_number: SerialNumber::from_slice(&[s]),
                        revocation_time: at!(issue_time.saturating_sub(3600)),
                        reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: KeyIdMethod::Sha256,
            }
            .signed_by(issuer)
            .map(|crl| crl.der().to_vec())
            .map_err(pki_err("CRL"))
        };
        let root_crl_der = crl(&root_issuer, vec![])?;
        let pck_crl_der = crl(&platform_issuer, vec![serial::REVOKED_PCK])?;

        let root_pem = root.pem();
        let platform_ca_pem = platform_ca.pem();
        Ok(Self {
            root_der: root.der().to_vec(),
            pck_chain_pem: [pck_cert.pem(), platform_ca_pem.clone(), root_pem.clone()].concat(),
            revoked_pck_chain_pem: [
                revoked_cert.pem(),
                platform_ca_pem.clone(),
                root_pem.clone(),
            ]
            .concat(),
            rogue_pck_chain_pem: [rogue_cert.pem(), rogue_ca.pem(), root_pem.clone()].concat(),
            tcb_signing_pem: tcb_signing.pem(),
            root_pem,
            platform_ca_pem,
            tcb_signing_key,
            pck_key,
            revoked_pck_key,
            rogue_pck_key,
            root_crl_der,
            pck_crl_der,
        })
    }
}

// --- A minimal DER writer for the SGX extension -------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => (0, &[][..]),
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        body.extend(groups.iter().rev());
    }
    tlv(0x06, &body)
}

fn integer(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut content = bytes.get(skip..).unwrap_or_default().to_vec();
    if content.first().is_some_and(|b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

fn sgx_oid(sub: &[u64]) -> Vec<u8> {
    let arcs: Vec<u64> = SGX_EXTENSION_ARCS.iter().chain(sub).copied().collect();
    oid(&arcs)
}

fn entry(sub: &[u64], value: Vec<u8>) -> Vec<u8> {
    seq(&[sgx_oid(sub), value])
}

/// The SGX extension (OID 1.2.840.113741.1.13.1) of a Platform-CA PCK certificate: PPID,
/// TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type, platform instance id
/// and configuration flags.
pub(super) fn sgx_extension(pck: &PckInfo) -> Vec<u8> {
    let boolean = |b: bool| tlv(0x01, &[if b { 0xff } else { 0x00 }]);
    let mut tcb: Vec<Vec<u8>> = pck
        .cpu_svn
        .iter()
        .zip(1u64..)
        .map(|(svn, i)| entry(&[2, i], integer(u64::from(*svn))))
        .collect();
    tcb.push(entry(&[2, 17], integer(u64::from(pck.pce_svn))));
    tcb.push(entry(&[2, 18], tlv(0x04, &pck.cpu_svn)));
    seq(&[
        entry(&[1], tlv(0x04, &pck.ppid)),
        entry(&[2], seq(&tcb)),
        entry(&[3], tlv(0x04, &pck.pce_id)),
        entry(&[4], tlv(0x04, &pck.fmspc)),
        // SGX type: 1 = scalable (what TDX platforms report).
        entry(&[5], tlv(0x0a, &[1])),
        entry(&[6], tlv(0x04, &pck.platform_instance_id)),
        entry(
            &[7],
            seq(&[
                entry(&[7, 1], boolean(pck.dynamic_platform)),
                entry(&[7, 2], boolean(pck.cached_keys)),
                entry(&[7, 3], boolean(pck.smt_enabled)),
            ]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_helpers_encode_known_values() {
        assert_eq!(
            oid(&[1, 2, 840, 113_741, 1, 13, 1]),
            hex::decode("06092a864886f84d010d01").unwrap()
        );
        assert_eq!(integer(0), [2, 1, 0]);
        assert_eq!(integer(0x80), [2, 2, 0, 0x80]);
        assert_eq!(integer(11), [2, 1, 11]);
        assert_eq!(tlv(4, &[0; 200])[..3], [4, 0x81, 200]);
    }

    #[test]
    fn keys_are_deterministic() {
        let a = SimKey::derive(&[1; 32], "x").unwrap();
        let b = SimKey::derive(&[1; 32], "x").unwrap();
        let c = SimKey::derive(&[1; 32], "y").unwrap();
        assert_eq!(a.raw_public(), b.raw_public());
        assert_ne!(a.raw_public(), c.raw_public());
        assert_eq!(a.raw_public().len(), 64);
        assert_eq!(a.sign_raw(b"m"), b.sign_raw(b"m"));
    }
}
