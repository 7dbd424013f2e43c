use proptest::prelude::*;

use super::*;

const V4: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote");
const V5_OUTDATED: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/tdx_quote_outdated");
const NEAR: &[u8] = include_bytes!("../../../../testdata/tdx/near-mpc-dstack/quote.bin");
const COS: &[u8] =
    include_bytes!("../../../../testdata/tdx/go-tdx-guest-ccel/cos-113-tdx-quote.dat");
const COS_NONCE: &[u8] = include_bytes!("../../../../testdata/tdx/go-tdx-guest-ccel/nonce.dat");
const SGX: &[u8] = include_bytes!("../../../../testdata/tdx/dcap-qvl/sgx_quote");

const REAL_QUOTES: [&[u8]; 4] = [V4, V5_OUTDATED, NEAR, COS];

fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn zero48() -> String {
    "00".repeat(48)
}

/// Offset of the signature-data length field (v4: 48 + 584; v5: 54 + body).
fn sig_len_offset(q: &[u8]) -> usize {
    let quote = Quote::parse(q).unwrap();
    quote.signed_len()
}

#[test]
fn parses_dcap_qvl_v4_quote() {
    let q = Quote::parse(V4).unwrap();
    assert_eq!(q.version(), 4);
    assert_eq!(q.body_type(), BodyType::TdReport10);
    assert_eq!(q.header().tee_type, TEE_TYPE_TDX);
    assert_eq!(q.header().attestation_key_type, 2);
    assert_eq!(
        h(&q.header().qe_vendor_id),
        "939a7233f79c4ca9940a0db3957f0607"
    );
    assert_eq!(q.signed_len(), 48 + 584);
    assert_eq!(q.len(), 4936, "70 bytes of zero padding follow");
    let r = q.report();
    assert_eq!(
        h(&r.mr_td),
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
    );
    assert_eq!(
        h(&r.rtmr[0]),
        "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0"
    );
    assert_eq!(
        h(&r.rtmr[1]),
        "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378"
    );
    assert_eq!(
        h(&r.rtmr[2]),
        "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132"
    );
    assert_eq!(h(&r.rtmr[3]), zero48());
    assert_eq!(
        h(&r.report_data),
        "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"
    );
    assert_eq!(h(&r.tee_tcb_svn), "06010300000000000000000000000000");
    assert_eq!(h(&r.td_attributes), "0000001000000000");
    assert_eq!(h(&r.xfam), "e702060000000000");
    assert_eq!(
        h(&r.mr_seam),
        "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1"
    );
    assert_eq!(r.tee_tcb_svn2, None);
    assert_eq!(r.mr_service_td, None);
    assert!(!r.is_debug());
    assert!(!r.is_migratable());
    let sig = q.signature_data();
    assert_eq!(sig.qe_auth_data.len(), 32);
    assert!(
        sig.pck_cert_chain
            .starts_with(b"-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(sig.pck_cert_chain.len(), 3678);
}

#[test]
fn parses_v5_quote_with_td_report_15() {
    let q = Quote::parse(V5_OUTDATED).unwrap();
    assert_eq!(q.version(), 5);
    assert_eq!(q.body_type(), BodyType::TdReport15);
    assert_eq!(q.signed_len(), 54 + 648);
    assert_eq!(q.len(), V5_OUTDATED.len());
    let r = q.report();
    assert_eq!(
        h(&r.mr_td),
        "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd"
    );
    for rtmr in &r.rtmr {
        assert_eq!(h(rtmr), zero48());
    }
    assert_eq!(
        h(&r.report_data),
        format!(
            "d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728{}",
            "00".repeat(32)
        )
    );
    assert!(h(&r.tee_tcb_svn).starts_with("070103"));
    assert_eq!(h(&r.xfam), "e718060000000000");
    assert!(r.tee_tcb_svn2.is_some());
    assert!(r.mr_service_td.is_some());
    assert_eq!(r.extension, None);
}

#[test]
fn parses_dstack_quote() {
    let q = Quote::parse(NEAR).unwrap();
    assert_eq!(q.version(), 4);
    let r = q.report();
    assert_eq!(
        h(&r.mr_td),
        "f06dfda6dce1cf904d4e2bab1dc370634cf95cefa2ceb2de2eee127c9382698090d7a4a13e14c536ec6c9c3c8fa87077"
    );
    let rtmrs = [
        "e673be2f70beefb70b48a6109eed4715d7270d4683b3bf356fa25fafbf1aa76e39e9127e6e688ccda98bdab1d4d47f46",
        "b598fde9491427341bc4683b75d10d3e36770af3a36a6954d8b6b7b22aa66358f13e1f172e51b7d6e6710d99a8d8532f",
        "c812d42bfff1c75382e91a37c867ab117b97eb5e8d6797488928ea38e5fd38b5ed2f87d9613d392507f1c3af94657c93",
        "86f1808cffc050f3c0c09d29da2bfcec7eba3e8fa52016a7341f28884230f9ca8b56400413d57bce00b578e36790b555",
    ];
    for (i, want) in rtmrs.iter().enumerate() {
        assert_eq!(h(&r.rtmr[i]), *want, "RTMR{i}");
    }
    assert_eq!(
        h(&r.mr_config_id),
        format!(
            "01{}{}",
            "2911e1f733466216dedb862d6d669e11256ee7a34ce4dbc66c4b807ba7a9c895",
            "00".repeat(15)
        )
    );
    assert!(h(&r.tee_tcb_svn).starts_with("0b0104"));
    assert_eq!(
        h(&r.report_data),
        format!(
            "0001e4faaedae8199148eb0fe1cc9a52ecbb09045014a11342b85ed8bd727a03ceb03ccb16857e2ba693145050f84cb2f758{}",
            "00".repeat(14)
        )
    );
}

#[test]
fn parses_quote_with_long_zero_padding() {
    let q = Quote::parse(COS).unwrap();
    assert_eq!(COS.len(), 8000);
    assert_eq!(q.len(), 4935);
    let r = q.report();
    assert_eq!(r.report_data.as_slice(), COS_NONCE);
    assert_eq!(
        h(&r.mr_td),
        "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a"
    );
    assert_eq!(
        h(&r.rtmr[0]),
        "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6"
    );
    assert_eq!(
        h(&r.rtmr[1]),
        "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1"
    );
    assert_eq!(
        h(&r.rtmr[2]),
        "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1"
    );
    assert_eq!(h(&r.rtmr[3]), zero48());
    // This QE leaves the header's user data (QE id) zero.
    assert_eq!(q.header().user_data, [0; 20]);
}

#[test]
fn td_05_sgx_quote_is_rejected_as_not_tdx() {
    assert_eq!(Quote::parse(SGX), Err(QuoteError::NotTdx { tee_type: 0 }));
}

#[test]
fn td_05_wrong_quote_version_is_rejected() {
    for version in [0u16, 3, 6, 0xffff] {
        let mut q = V4.to_vec();
        q[0..2].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            Quote::parse(&q),
            Err(QuoteError::UnsupportedVersion { version })
        );
    }
}

#[test]
fn td_05_every_truncation_is_rejected() {
    for quote in REAL_QUOTES {
        let full = Quote::parse(quote).unwrap().len();
        for cut in 0..full {
            match Quote::parse(&quote[..cut]) {
                Err(QuoteError::Truncated { .. }) => {}
                other => panic!("prefix of {cut} bytes: {other:?}"),
            }
        }
        // Cutting only padding leaves a valid quote.
        for cut in full..quote.len() {
            assert!(Quote::parse(&quote[..cut]).is_ok(), "prefix of {cut} bytes");
        }
    }
}

#[test]
fn rejects_non_zero_trailing_byte() {
    let mut q = V4.to_vec();
    let last = q.len() - 1;
    q[last] = 1;
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::TrailingBytes { offset: last })
    );
    let mut q = V5_OUTDATED.to_vec();
    q.push(0);
    assert!(Quote::parse(&q).is_ok());
    q.push(7);
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::TrailingBytes {
            offset: q.len() - 1
        })
    );
}

#[test]
fn rejects_oversized_input() {
    let mut q = V4.to_vec();
    q.resize(MAX_QUOTE_LEN + 1, 0);
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::TooLarge {
            len: MAX_QUOTE_LEN + 1,
            max: MAX_QUOTE_LEN
        })
    );
}

#[test]
fn rejects_other_attestation_key_type() {
    let mut q = V4.to_vec();
    q[2] = 3;
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::UnsupportedAttestationKeyType { seen: 3 })
    );
}

#[test]
fn rejects_v5_body_that_is_not_a_td_report() {
    let mut q = V5_OUTDATED.to_vec();
    q[48..50].copy_from_slice(&1u16.to_le_bytes());
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::UnsupportedBodyType { body_type: 1 })
    );
    q[48..50].copy_from_slice(&9u16.to_le_bytes());
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::UnsupportedBodyType { body_type: 9 })
    );
}

#[test]
fn rejects_v5_body_size_that_does_not_match_type() {
    let mut q = V5_OUTDATED.to_vec();
    q[50..54].copy_from_slice(&584u32.to_le_bytes());
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::BodySizeMismatch {
            body_type: 3,
            expected: 648,
            seen: 584
        })
    );
}

/// Turns the v5 TD 1.5 quote into a TD 1.5 extended one (body type 4) with a recognisable
/// extension.
fn td15_ex_quote() -> Vec<u8> {
    let body_end = 54 + 648;
    let mut q = V5_OUTDATED[..body_end].to_vec();
    q[48..50].copy_from_slice(&4u16.to_le_bytes());
    q[50..54].copy_from_slice(&885u32.to_le_bytes());
    let ext: Vec<u8> = (0..237u32).map(|i| (i % 251) as u8 + 1).collect();
    q.extend_from_slice(&ext);
    q.extend_from_slice(&V5_OUTDATED[body_end..]);
    q
}

#[test]
fn parses_td_report_15_extended() {
    let q = Quote::parse(&td15_ex_quote()).unwrap();
    assert_eq!(q.body_type(), BodyType::TdReport15Ex);
    assert_eq!(q.signed_len(), 54 + 885);
    let ext = q.report().extension.as_ref().unwrap();
    assert_eq!(ext.vmid, 1);
    assert_eq!(ext.td_id[0], 2);
    assert_eq!(ext.cur_service_td_attributes[7], 237);
    assert_eq!(
        q.report().mr_td,
        Quote::parse(V5_OUTDATED).unwrap().report().mr_td
    );
}

#[test]
fn rejects_wrong_certification_data_types() {
    let off = sig_len_offset(V4) + 4 + 128;
    let mut q = V4.to_vec();
    q[off..off + 2].copy_from_slice(&5u16.to_le_bytes());
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::UnexpectedCertificationDataType {
            expected: 6,
            seen: 5
        })
    );
    // Nested type: after the outer header (6), QE report, its signature and auth data.
    let inner = off + 6 + 384 + 64 + 2 + 32;
    let mut q = V4.to_vec();
    assert_eq!(u16::from_le_bytes([q[inner], q[inner + 1]]), 5);
    q[inner..inner + 2].copy_from_slice(&3u16.to_le_bytes());
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::UnexpectedCertificationDataType {
            expected: 5,
            seen: 3
        })
    );
}

#[test]
fn rejects_signature_length_that_does_not_match_content() {
    let off = sig_len_offset(V4);
    let declared = u32::from_le_bytes(V4[off..off + 4].try_into().unwrap());
    // One byte longer: the extra (padding) byte is inside the signature data but unused.
    let mut q = V4.to_vec();
    q[off..off + 4].copy_from_slice(&(declared + 1).to_le_bytes());
    assert_eq!(
        Quote::parse(&q),
        Err(QuoteError::LengthMismatch {
            field: "signature data",
            declared: declared as usize + 1,
            used: declared as usize
        })
    );
    // One byte shorter: the nested certification data no longer fits.
    q[off..off + 4].copy_from_slice(&(declared - 1).to_le_bytes());
    assert!(matches!(
        Quote::parse(&q),
        Err(QuoteError::Truncated { .. })
    ));
    // A huge declared length is truncation, not an allocation.
    q[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Quote::parse(&q),
        Err(QuoteError::Truncated { .. })
    ));
}

#[test]
fn rejects_empty_certificate_chain() {
    // Rebuild the V4 signature data with a zero-length chain.
    let quote = Quote::parse(V4).unwrap();
    let sig = quote.signature_data();
    let mut qe = Vec::new();
    qe.extend_from_slice(&sig.qe_report);
    qe.extend_from_slice(&sig.qe_report_signature);
    qe.extend_from_slice(&(sig.qe_auth_data.len() as u16).to_le_bytes());
    qe.extend_from_slice(&sig.qe_auth_data);
    qe.extend_from_slice(&5u16.to_le_bytes());
    qe.extend_from_slice(&0u32.to_le_bytes());
    let mut s = Vec::new();
    s.extend_from_slice(&sig.signature);
    s.extend_from_slice(&sig.attestation_key);
    s.extend_from_slice(&6u16.to_le_bytes());
    s.extend_from_slice(&(qe.len() as u32).to_le_bytes());
    s.extend_from_slice(&qe);
    let mut q = V4[..quote.signed_len()].to_vec();
    q.extend_from_slice(&(s.len() as u32).to_le_bytes());
    q.extend_from_slice(&s);
    assert_eq!(Quote::parse(&q), Err(QuoteError::EmptyCertificateChain));
}

#[test]
fn claims_carry_every_td_report_field() {
    let c = Quote::parse(V4).unwrap().claims();
    assert_eq!(c.evidence_type, TDX_QUOTE_MEDIA_TYPE);
    assert_eq!(c.get("tdx.quote_version"), Some(&serde_json::json!(4)));
    assert_eq!(c.get("tdx.debug"), Some(&serde_json::json!(false)));
    assert_eq!(c.get_str("tdx.td_attributes"), Some("0000001000000000"));
    assert_eq!(
        c.get_str("tdx.tee_tcb_svn"),
        Some("06010300000000000000000000000000")
    );
    assert_eq!(c.get_str("tdx.rtmr3"), Some(zero48().as_str()));
    assert!(c.get_str("tdx.mr_td").unwrap().starts_with("91eb2b44"));
    assert!(c.get_str("tdx.rtmr0").unwrap().starts_with("44c0197b"));
    for name in [
        "tdx.mr_seam",
        "tdx.mr_signer_seam",
        "tdx.seam_attributes",
        "tdx.xfam",
        "tdx.mr_config_id",
        "tdx.mr_owner",
        "tdx.mr_owner_config",
        "tdx.rtmr1",
        "tdx.rtmr2",
        "tdx.report_data",
    ] {
        assert!(c.get_str(name).is_some(), "{name}");
    }
    assert_eq!(c.get("tdx.tee_tcb_svn2"), None);
    assert_eq!(c.get("tdx.mr_service_td"), None);

    let c5 = Quote::parse(V5_OUTDATED).unwrap().claims();
    assert_eq!(c5.get("tdx.quote_version"), Some(&serde_json::json!(5)));
    assert_eq!(c5.get_str("tdx.tee_tcb_svn2").map(str::len), Some(32));
    assert_eq!(c5.get_str("tdx.mr_service_td").map(str::len), Some(96));
}

#[test]
fn debug_bit_shows_in_report_and_claims() {
    let mut q = V4.to_vec();
    q[48 + 120] |= 1;
    let quote = Quote::parse(&q).unwrap();
    assert!(quote.report().is_debug());
    assert_eq!(
        quote.claims().get("tdx.debug"),
        Some(&serde_json::json!(true))
    );
    let mut q = V4.to_vec();
    q[48 + 120 + 3] |= 0x20; // bit 29
    assert!(Quote::parse(&q).unwrap().report().is_migratable());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        let _ = Quote::parse(&bytes);
    }

    #[test]
    fn random_header_then_random_bytes_never_panic(
        version in prop_oneof![Just(4u16), Just(5u16)],
        body in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let mut q = V5_OUTDATED[..48].to_vec();
        q[0..2].copy_from_slice(&version.to_le_bytes());
        q.extend_from_slice(&body);
        let _ = Quote::parse(&q);
    }

    #[test]
    fn mutated_real_quotes_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut q = REAL_QUOTES[which].to_vec();
        for (i, v) in edits {
            let at = i.index(q.len());
            q[at] = v;
        }
        if truncate {
            q.truncate(cut.index(q.len()));
        }
        let _ = Quote::parse(&q);
    }

    #[test]
    fn mutated_length_fields_never_panic(which in 0usize..4, field in 0usize..4, value in any::<u32>()) {
        let mut q = REAL_QUOTES[which].to_vec();
        let sig = sig_len_offset(&q);
        let qe_size = sig + 4 + 128 + 2;
        let auth_len = qe_size + 4 + 384 + 64;
        let auth = u16::from_le_bytes([q[auth_len], q[auth_len + 1]]) as usize;
        let chain_size = auth_len + 2 + auth + 2;
        match field {
            0 => q[sig..sig + 4].copy_from_slice(&value.to_le_bytes()),
            1 => q[qe_size..qe_size + 4].copy_from_slice(&value.to_le_bytes()),
            2 => q[auth_len..auth_len + 2].copy_from_slice(&(value as u16).to_le_bytes()),
            _ => q[chain_size..chain_size + 4].copy_from_slice(&value.to_le_bytes()),
        }
        let _ = Quote::parse(&q);
    }
}
