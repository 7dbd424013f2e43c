use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use super::*;
use crate::sim::{SimulatedTd, SimulatorConfig, TdxSimulator};

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A loopback PCCS serving `c` for FMSPC `fmspc`, for at most `requests` requests.
fn serve(c: QuoteCollateralV3, fmspc: &str, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let tcb_path = format!("/tdx/certification/v4/tcb?fmspc={fmspc}");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let (status, header, body): (&str, Option<(&str, String)>, Vec<u8>) =
                match path.as_str() {
                    "/sgx/certification/v4/pckcrl?ca=platform&encoding=der" => (
                        "200 OK",
                        Some((
                            "SGX-PCK-CRL-Issuer-Chain",
                            percent_encode(&c.pck_crl_issuer_chain),
                        )),
                        c.pck_crl.clone(),
                    ),
                    p if p == tcb_path => (
                        "200 OK",
                        Some((
                            "TCB-Info-Issuer-Chain",
                            percent_encode(&c.tcb_info_issuer_chain),
                        )),
                        format!(
                            "{{\"tcbInfo\":{},\"signature\":\"{}\"}}",
                            c.tcb_info,
                            hex::encode(&c.tcb_info_signature)
                        )
                        .into_bytes(),
                    ),
                    "/tdx/certification/v4/qe/identity" => (
                        "200 OK",
                        Some((
                            "SGX-Enclave-Identity-Issuer-Chain",
                            percent_encode(&c.qe_identity_issuer_chain),
                        )),
                        format!(
                            "{{\"enclaveIdentity\":{},\"signature\":\"{}\"}}",
                            c.qe_identity,
                            hex::encode(&c.qe_identity_signature)
                        )
                        .into_bytes(),
                    ),
                    "/sgx/certification/v4/rootcacrl" => {
                        ("200 OK", None, hex::encode(&c.root_ca_crl).into_bytes())
                    }
                    _ => ("404 Not Found", None, b"not found".to_vec()),
                };
            let mut response = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if let Some((name, value)) = header {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            stream.write_all(response.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    format!("http://{addr}")
}

fn sim() -> TdxSimulator {
    TdxSimulator::new(SimulatorConfig::new([21; 32], 1_800_000_000).without_generation_delay())
        .unwrap()
}

#[test]
fn fetches_collateral_that_verifies() {
    let sim = sim();
    let base = serve(sim.collateral().clone(), "5A5A00000000", 4);
    let source = PccsCollateral::new(PccsConfig::new(base).with_timeout(Duration::from_secs(10)));
    let quote = sim.quote(&SimulatedTd::default(), &[0; 64]);
    let parsed = Quote::parse(&quote).unwrap();
    let c = pollster::block_on(source.collateral(&parsed, 1_800_000_000)).unwrap();
    assert_eq!(*c, *sim.collateral());
    crate::Appraiser::with_test_root_ca_for_testing(sim.test_root_ca_der().to_vec())
        .appraise(&quote, &c, 1_800_000_000)
        .unwrap();
}

#[test]
fn unknown_platform_is_not_found() {
    let sim = sim();
    let base = serve(sim.collateral().clone(), "000000000000", 2);
    let source = PccsCollateral::new(PccsConfig::new(base));
    let parsed = Quote::parse(&sim.quote(&SimulatedTd::default(), &[0; 64])).unwrap();
    let err = pollster::block_on(source.collateral(&parsed, 0)).unwrap_err();
    assert!(matches!(err, CollateralError::NotFound(_)), "{err}");
}

#[test]
fn decodes_crls_and_headers_in_every_form() {
    let der = sim().collateral().pck_crl.clone();
    assert_eq!(decode_crl(&der).unwrap(), der);
    assert_eq!(decode_crl(hex::encode(&der).as_bytes()).unwrap(), der);
    use base64::Engine as _;
    let pem = format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    assert_eq!(decode_crl(pem.as_bytes()).unwrap(), der);
    assert!(decode_crl(b"").is_err());
    assert!(decode_crl(b"zz").is_err());
    assert_eq!(percent_decode("a%20b%0A%zz%"), "a b\n%zz%");
}
