//! Signed TCB info and QE identity for the simulated platform.

use serde_json::json;

use super::pki::{Pki, SimKey};
use super::{QE_ISV_PROD_ID, QE_ISV_SVN, QE_MR_SIGNER, SGX_TCB_COMPONENTS, SimulatorConfig};
use crate::collateral::dates::format_rfc3339;

/// TEE_TCB_SVN of the TCB level that is UpToDate (byte 1, the module version, is 0, so all
/// 16 components are compared against `tdxtcbcomponents`).
pub(super) const TDX_TCB_UP_TO_DATE: [u8; 16] = [3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// Minimum TEE_TCB_SVN of the OutOfDate level.
pub(super) const TDX_TCB_OUT_OF_DATE_MIN: [u8; 16] =
    [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// A TEE_TCB_SVN that meets only the OutOfDate level.
pub(super) const TDX_TCB_OUT_OF_DATE: [u8; 16] = [2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/// The advisory listed on the OutOfDate level.
pub(super) const OUT_OF_DATE_ADVISORY: &str = "SIM-SA-00001";
/// PCESVN of both levels (and of the PCK certificate).
pub(super) const PCE_SVN: u16 = 11;
/// TCB evaluation data number of the simulated collateral.
pub(super) const TCB_EVALUATION_DATA_NUMBER: u32 = 17;

fn components(svns: &[u8; 16]) -> serde_json::Value {
    svns.iter().map(|svn| json!({ "svn": svn })).collect()
}

/// The TCB info text (`id` TDX, version 3) with one UpToDate and one OutOfDate level.
pub(super) fn tcb_info(config: &SimulatorConfig) -> String {
    let level = |tdx: &[u8; 16], date: u64, status: &str, advisories: &[&str]| {
        let mut l = json!({
            "tcb": {
                "sgxtcbcomponents": components(&SGX_TCB_COMPONENTS),
                "pcesvn": PCE_SVN,
                "tdxtcbcomponents": components(tdx),
            },
            "tcbDate": format_rfc3339(date),
            "tcbStatus": status,
        });
        if let (false, Some(obj)) = (advisories.is_empty(), l.as_object_mut()) {
            obj.insert("advisoryIDs".into(), json!(advisories));
        }
        l
    };
    json!({
        "id": "TDX",
        "version": 3,
        "issueDate": format_rfc3339(config.issue_time.saturating_sub(3600)),
        "nextUpdate": format_rfc3339(config.issue_time.saturating_add(config.collateral_validity_secs)),
        "fmspc": hex::encode_upper(config.fmspc),
        "pceId": "0000",
        "tcbType": 0,
        "tcbEvaluationDataNumber": TCB_EVALUATION_DATA_NUMBER,
        "tdxModule": {
            "mrsigner": hex::encode_upper([0u8; 48]),
            "attributes": "0000000000000000",
            "attributesMask": "FFFFFFFFFFFFFFFF",
        },
        "tdxModuleIdentities": [],
        "tcbLevels": [
            level(&TDX_TCB_UP_TO_DATE, config.up_to_date_tcb_date, "UpToDate", &[]),
            level(
                &TDX_TCB_OUT_OF_DATE_MIN,
                config.out_of_date_tcb_date,
                "OutOfDate",
                &[OUT_OF_DATE_ADVISORY],
            ),
        ],
    })
    .to_string()
}

/// The QE identity text (`id` TD_QE, version 2) matching the simulated QE report.
pub(super) fn qe_identity(config: &SimulatorConfig) -> String {
    json!({
        "id": "TD_QE",
        "version": 2,
        "issueDate": format_rfc3339(config.issue_time.saturating_sub(3600)),
        "nextUpdate": format_rfc3339(config.issue_time.saturating_add(config.collateral_validity_secs)),
        "tcbEvaluationDataNumber": TCB_EVALUATION_DATA_NUMBER,
        "miscselect": "00000000",
        "miscselectMask": "FFFFFFFF",
        "attributes": "11000000000000000000000000000000",
        "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": hex::encode_upper(QE_MR_SIGNER),
        "isvprodid": QE_ISV_PROD_ID,
        "tcbLevels": [{
            "tcb": { "isvsvn": QE_ISV_SVN },
            "tcbDate": format_rfc3339(config.up_to_date_tcb_date),
            "tcbStatus": "UpToDate",
        }],
    })
    .to_string()
}

/// The whole collateral, signed by the simulated TCB signing key.
pub(super) fn collateral(config: &SimulatorConfig, pki: &Pki) -> dcap_qvl::QuoteCollateralV3 {
    let sign = |key: &SimKey, text: &str| key.sign_raw(text.as_bytes()).to_vec();
    let tcb_info = tcb_info(config);
    let qe_identity = qe_identity(config);
    let signer_chain = [pki.tcb_signing_pem.as_str(), pki.root_pem.as_str()].concat();
    dcap_qvl::QuoteCollateralV3 {
        pck_crl_issuer_chain: [pki.platform_ca_pem.as_str(), pki.root_pem.as_str()].concat(),
        root_ca_crl: pki.root_crl_der.clone(),
        pck_crl: pki.pck_crl_der.clone(),
        tcb_info_issuer_chain: signer_chain.clone(),
        tcb_info_signature: sign(&pki.tcb_signing_key, &tcb_info),
        tcb_info,
        qe_identity_issuer_chain: signer_chain,
        qe_identity_signature: sign(&pki.tcb_signing_key, &qe_identity),
        qe_identity,
        pck_certificate_chain: None,
    }
}
