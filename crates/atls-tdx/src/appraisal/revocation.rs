//! Which certificate of a quote's PCK chain the collateral's CRLs list.
//!
//! dcap-qvl reports a revoked certificate with the same message whichever chain it was
//! checking (the collateral signer's or the PCK chain), after it has verified the CRLs'
//! signatures. Looking the PCK chain up in those CRLs tells a revoked platform apart.

use dcap_qvl::QuoteCollateralV3;
use der::Decode as _;
use x509_cert::Certificate;
use x509_cert::crl::CertificateList;

use crate::collateral::pem_certificates;
use crate::quote::Quote;

/// A certificate of the PCK chain that a CRL lists.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Listed {
    /// 0 for the PCK certificate, 1 for its CA, …
    pub(super) depth: usize,
    /// Its serial number.
    pub(super) serial: Vec<u8>,
}

/// The first certificate of the PCK chain dcap-qvl verifies (the collateral's, if it carries
/// one, else the quote's) that is listed on the root CA CRL or the PCK CRL by its issuer.
pub(super) fn listed_pck_certificate(
    quote: &Quote,
    collateral: &QuoteCollateralV3,
) -> Option<Listed> {
    let chain = match &collateral.pck_certificate_chain {
        Some(pem) => pem.as_bytes(),
        None => quote.signature_data().pck_cert_chain.as_slice(),
    };
    let crls: Vec<CertificateList> = [&collateral.root_ca_crl, &collateral.pck_crl]
        .into_iter()
        .filter_map(|der| CertificateList::from_der(der).ok())
        .collect();
    pem_certificates(chain)
        .enumerate()
        .find_map(|(depth, der)| {
            let cert = Certificate::from_der(&der?).ok()?;
            let tbs = cert.tbs_certificate();
            let listed = crls.iter().any(|crl| {
                let list = &crl.tbs_cert_list;
                list.issuer == *tbs.issuer()
                    && list
                        .revoked_certificates
                        .iter()
                        .flatten()
                        .any(|r| r.serial_number == *tbs.serial_number())
            });
            listed.then(|| Listed {
                depth,
                serial: tbs.serial_number().as_bytes().to_vec(),
            })
        })
}
