use base64::Engine as _;

use super::*;

const V4: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote");
const V4_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_collateral.json");
const V5_OUTDATED: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_outdated");
const V5_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_outdated_collateral.json");
const NEAR: &[u8] = include_bytes!("../../../../testdata/tdx/near-mpc-dstack/quote.bin");
const NEAR_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/near-mpc-dstack/collateral.json");
const SGX: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/sgx_quote");
const SGX_COLLATERAL: &[u8] =
    include_bytes!("../../../../testdata/tdx/dcap-qvl/sgx_quote_collateral.json");

/// 2025-07-01T00:00:00Z; the v4 collateral is valid 1750329147 ..= 1752919235.
const V4_NOW: u64 = 1_751_328_000;
/// 2026-03-01; the v5 collateral is valid 1771412331 ..= 1774003275.
const V5_NOW: u64 = 1_772_323_200;
/// 2026-08-13T12:00:00Z; the dstack collateral is valid 1786617938 ..= 1789171031.
const NEAR_NOW: u64 = 1_786_622_400;

fn collateral(json: &[u8]) -> QuoteCollateralV3 {
    serde_json::from_slice(json).unwrap()
}

fn prod() -> Appraiser {
    Appraiser::intel_production()
}

/// The DER certificates of a quote's PCK chain (leaf, intermediate, root).
fn pck_chain_der(quote: &[u8]) -> Vec<Vec<u8>> {
    let q = Quote::parse(quote).unwrap();
    let pem = String::from_utf8_lossy(&q.signature_data().pck_cert_chain).into_owned();
    pem.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|block| {
            let b64: String = block
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        })
        .collect()
}

#[test]
fn v4_quote_is_up_to_date_at_its_time() {
    let v = prod()
        .appraise(V4, &collateral(V4_COLLATERAL), V4_NOW)
        .unwrap();
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    assert!(v.advisory_ids.is_empty());
    assert_eq!(v.tcb_date, 1_710_288_000);
    assert_eq!(v.tcb_eval_data_number, 17);
    assert_eq!(hex::encode(v.fmspc), "b0c06f000000");
    assert!(v.ppid.as_ref().is_some_and(|p| p.len() == 16));
    assert!(v.platform_instance_id.is_some());
    assert!(v.collateral_next_update >= V4_NOW);
    assert!(v.collateral_next_update <= 1_752_919_235);
    assert_eq!(v.quote, Quote::parse(V4).unwrap());

    let c = v.claims();
    assert_eq!(c.evidence_type, TDX_QUOTE_MEDIA_TYPE);
    assert_eq!(c.get_str("tdx.tcb_status"), Some("UpToDate"));
    assert_eq!(c.get("tdx.advisory_ids"), Some(&serde_json::json!([])));
    assert_eq!(
        c.get("tdx.tcb_date"),
        Some(&serde_json::json!(1_710_288_000u64))
    );
    assert_eq!(c.get_str("tdx.fmspc"), Some("b0c06f000000"));
    assert_eq!(c.get_str("tdx.ppid").map(str::len), Some(32));
    assert_eq!(
        c.get_str("tdx.platform_instance_id").map(str::len),
        Some(32)
    );
    assert_eq!(
        c.get("tdx.collateral_next_update"),
        Some(&serde_json::json!(v.collateral_next_update))
    );
    assert_eq!(c.get("tdx.debug"), Some(&serde_json::json!(false)));
    assert!(c.get_str("tdx.mr_td").unwrap().starts_with("91eb2b44"));
}

#[test]
fn v4_quote_fails_outside_its_collateral_window() {
    let col = collateral(V4_COLLATERAL);
    for now in [1_750_329_147 - 1, 1_752_919_235 + 1, 0, u64::MAX / 2] {
        match prod().appraise(V4, &col, now) {
            Err(AppraisalError::Collateral(d)) => {
                // The QE identity is issued last; a CRL expires first.
                assert!(
                    ["TCBInfo", "QE Identity", "CrlExpired"]
                        .iter()
                        .any(|w| d.contains(w)),
                    "{now}: {d}"
                );
            }
            other => panic!("{now}: {other:?}"),
        }
    }
    // The edges of the window are inside it.
    assert!(prod().appraise(V4, &col, 1_750_329_147).is_ok());
}

#[test]
fn v5_outdated_quote_has_no_matching_tcb_level() {
    match prod().appraise(V5_OUTDATED, &collateral(V5_COLLATERAL), V5_NOW) {
        Err(AppraisalError::TcbLevel(d)) => assert!(d.contains("No matching TCB level"), "{d}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn v5_outdated_quote_fails_outside_its_collateral_window() {
    let col = collateral(V5_COLLATERAL);
    for now in [1_771_412_331 - 1, 1_774_003_275 + 1] {
        assert!(
            matches!(
                prod().appraise(V5_OUTDATED, &col, now),
                Err(AppraisalError::Collateral(_))
            ),
            "{now}"
        );
    }
}

#[test]
fn dstack_quote_is_up_to_date_at_its_time() {
    let v = prod()
        .appraise(NEAR, &collateral(NEAR_COLLATERAL), NEAR_NOW)
        .unwrap();
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    assert!(v.advisory_ids.is_empty());
    assert_eq!(v.tcb_date, 1_755_043_200);
    // The lower of TCB info (20) and QE identity (19).
    assert_eq!(v.tcb_eval_data_number, 19);
    assert_eq!(hex::encode(v.fmspc), "b0c06f000000");
}

#[test]
fn dstack_quote_fails_after_its_collateral_expires() {
    // 2026-09-20.
    match prod().appraise(NEAR, &collateral(NEAR_COLLATERAL), 1_789_862_400) {
        Err(AppraisalError::Collateral(d)) => assert!(d.contains("expired"), "{d}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn td_05_sgx_quote_is_rejected_by_the_tdx_appraiser() {
    match prod().appraise(SGX, &collateral(SGX_COLLATERAL), V4_NOW) {
        Err(AppraisalError::QuoteFormat(QuoteError::NotTdx { tee_type: 0 })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn td_05_truncated_quote_is_a_format_error() {
    let col = collateral(V4_COLLATERAL);
    for cut in [0, 47, 48 + 583, 1000, 4935] {
        assert!(
            matches!(
                prod().appraise(&V4[..cut], &col, V4_NOW),
                Err(AppraisalError::QuoteFormat(QuoteError::Truncated { .. }))
            ),
            "{cut}"
        );
    }
}

fn flipped(quote: &[u8], at: usize) -> Vec<u8> {
    let mut q = quote.to_vec();
    q[at] ^= 0x01;
    q
}

#[test]
fn td_02_any_signed_byte_changed_breaks_the_quote_signature() {
    let col = collateral(V4_COLLATERAL);
    // REPORTDATA, MRTD, RTMR0, the debug bit of TDATTRIBUTES, a header byte (user data).
    for at in [48 + 520, 48 + 136, 48 + 328, 48 + 120, 30] {
        match prod().appraise(&flipped(V4, at), &col, V4_NOW) {
            Err(AppraisalError::QuoteSignature(d)) => {
                assert!(d.contains("ISV enclave report signature"), "{at}: {d}")
            }
            other => panic!("{at}: {other:?}"),
        }
    }
}

#[test]
fn td_02_broken_signature_data_is_rejected() {
    let col = collateral(V4_COLLATERAL);
    let sig = Quote::parse(V4).unwrap().signed_len() + 4;
    // Quote signature, attestation key, QE report, QE report signature, QE auth data.
    let cases = [
        sig + 10,
        sig + 64 + 10,
        sig + 128 + 6 + 100,
        sig + 128 + 6 + 384 + 10,
        sig + 128 + 6 + 384 + 64 + 2 + 5,
    ];
    for at in cases {
        assert!(
            matches!(
                prod().appraise(&flipped(V4, at), &col, V4_NOW),
                Err(AppraisalError::QuoteSignature(_))
            ),
            "{at}"
        );
    }
}

#[test]
fn other_platforms_collateral_is_rejected() {
    // The v5 collateral is for FMSPC 90C06F000000, the v4 quote's platform is B0C06F000000.
    let err = prod()
        .appraise(V4, &collateral(V5_COLLATERAL), V5_NOW)
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppraisalError::Collateral(_) | AppraisalError::QuoteSignature(_)
        ),
        "{err:?}"
    );
}

#[test]
fn test_root_is_the_only_anchor_used() {
    let chain = pck_chain_der(V4);
    assert_eq!(chain.len(), 3);
    // Intel's root given explicitly gives the same verdict as the production constructor.
    let explicit = Appraiser::with_test_root_ca_for_testing(chain[2].clone());
    assert!(!explicit.is_intel_production());
    assert!(prod().is_intel_production());
    let v = explicit
        .appraise(V4, &collateral(V4_COLLATERAL), V4_NOW)
        .unwrap();
    assert_eq!(v.tcb_status, TcbStatus::UpToDate);
    // Another root does not verify Intel's collateral.
    let other = Appraiser::with_test_root_ca_for_testing(chain[1].clone());
    assert!(matches!(
        other.appraise(V4, &collateral(V4_COLLATERAL), V4_NOW),
        Err(AppraisalError::Collateral(_))
    ));
    assert!(format!("{other:?}").contains("TEST"));
}

#[test]
fn non_intel_qe_vendor_is_rejected() {
    let mut q = V4.to_vec();
    q[12] ^= 0xff;
    assert!(matches!(
        prod().appraise(&q, &collateral(V4_COLLATERAL), V4_NOW),
        Err(AppraisalError::UnknownQeVendor { .. })
    ));
}

fn chain(msgs: &[&str]) -> Vec<String> {
    msgs.iter().map(|s| s.to_string()).collect()
}

#[test]
fn td_attribute_failures_map_to_distinct_errors() {
    let mut debug = V4.to_vec();
    debug[48 + 120] |= 1;
    let debug = Quote::parse(&debug).unwrap();
    let plain = Quote::parse(V4).unwrap();
    let c = collateral(V4_COLLATERAL);
    assert!(matches!(
        classify(&chain(&["Debug mode is enabled"]), &debug, &c),
        AppraisalError::DebugTd { td_attributes } if td_attributes[0] & 1 == 1
    ));
    assert!(matches!(
        classify(&chain(&["TD migration is enabled"]), &plain, &c),
        AppraisalError::MigratableTd { .. }
    ));
    assert!(matches!(
        classify(&chain(&["SEPT_VE_DISABLE is not enabled"]), &plain, &c),
        AppraisalError::TdAttributes { .. }
    ));
    // The QE's own debug flag is a QE problem, not a debug TD.
    assert!(matches!(
        classify(
            &chain(&["QE report validation failed", "Debug mode is enabled"]),
            &debug,
            &c
        ),
        AppraisalError::QuoteSignature(_)
    ));
    assert!(matches!(
        classify(&chain(&["TCB status is invalid: Revoked"]), &plain, &c),
        AppraisalError::TcbRevoked
    ));
    // A revoked certificate outside the PCK chain (which the CRLs do not list) is no
    // revoked platform.
    assert!(matches!(
        classify(
            &chain(&["Failed to verify certificate chain", "CertRevoked"]),
            &plain,
            &c
        ),
        AppraisalError::QuoteSignature(_)
    ));
    assert!(matches!(
        classify(&chain(&["something new"]), &plain, &c),
        AppraisalError::Verification(_)
    ));
}

#[test]
fn genuine_pck_chains_are_not_on_their_crls() {
    for (quote, json) in [
        (V4, V4_COLLATERAL),
        (V5_OUTDATED, V5_COLLATERAL),
        (NEAR, NEAR_COLLATERAL),
    ] {
        let q = Quote::parse(quote).unwrap();
        let c = collateral(json);
        // The PCK CRLs are real and list other platforms' certificates.
        let crl: x509_cert::crl::CertificateList = der::Decode::from_der(&c.pck_crl).unwrap();
        assert!(
            crl.tbs_cert_list
                .revoked_certificates
                .is_some_and(|r| r.len() > 40)
        );
        assert_eq!(revocation::listed_pck_certificate(&q, &c), None);
    }
}
