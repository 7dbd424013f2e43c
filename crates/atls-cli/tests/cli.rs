//! End-to-end tests of the `atls` binary.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use sha2::Digest;

fn atls() -> Command {
    Command::cargo_bin("atls").unwrap()
}

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tdx")
        .join(rel)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = atls().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn demo_runs_an_attested_exchange() {
    let (code, out, err) = run(&["demo"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, quic, err) = run(&["demo", "--quic"]);
    assert_eq!(code, 0, "{quic}{err}");
    assert!(
        quic.contains("over QUIC") && quic.contains("echoed:"),
        "{quic}"
    );
    assert!(out.contains("SIMULATED"), "{out}");
    assert!(out.contains("DCAP appraisal ✓"), "{out}");
    assert!(out.contains("binder ✓"), "{out}");
    assert!(out.contains("policy ✓"), "{out}");
    assert!(
        out.contains("echoed: \"hello from the relying party\""),
        "{out}"
    );
}

#[test]
fn demo_attacks_are_rejected_for_the_right_reason() {
    for (attack, reason) in [
        ("replay", "is not this request's binder"),
        ("relay", "is not this request's binder"),
        ("diversion", "not valid for name \"attested.example\""),
        ("debug-td", "debug"),
    ] {
        let (code, out, err) = run(&["demo", "--attack", attack]);
        assert_eq!(code, 0, "{attack}: {out}{err}");
        assert!(out.contains("Rejected:"), "{attack}: {out}");
        assert!(
            out.contains(reason),
            "{attack}: expected {reason:?} in {out}"
        );
        assert!(
            out.contains("rejected for the right reason"),
            "{attack}: {out}"
        );
    }
}

fn verify_json(quote: &str, collateral: &str, at: &str) -> (i32, serde_json::Value) {
    let (code, out, err) = run(&[
        "tdx",
        "verify",
        "--quote",
        testdata(quote).to_str().unwrap(),
        "--collateral",
        testdata(collateral).to_str().unwrap(),
        "--at",
        at,
        "--json",
    ]);
    let json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, json)
}

#[test]
fn tdx_verify_gives_the_documented_outcomes() {
    let (code, v) = verify_json(
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        "1751328000",
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["accepted"], true);
    assert_eq!(v["tcb_status"], "UpToDate");
    assert_eq!(v["advisory_ids"], serde_json::json!([]));
    assert!(v["mr_td"].as_str().unwrap().starts_with("91eb2b44d141d4ec"));
    for k in ["rtmr0", "rtmr1", "rtmr2", "rtmr3", "report_data"] {
        assert!(v[k].is_string(), "{k}");
    }

    let (code, v) = verify_json(
        "near-mpc-dstack/quote.bin",
        "near-mpc-dstack/collateral.json",
        "1786622400",
    );
    assert_eq!(
        (code, &v["tcb_status"]),
        (0, &serde_json::json!("UpToDate")),
        "{v}"
    );

    let (code, v) = verify_json(
        "dcap-qvl/tdx_quote_outdated",
        "dcap-qvl/tdx_quote_outdated_collateral.json",
        "1772323200",
    );
    assert_eq!(code, 1);
    assert_eq!(v["accepted"], false);
    assert!(
        v["reasons"].to_string().contains("No matching TCB level"),
        "{v}"
    );

    let (code, v) = verify_json(
        "dcap-qvl/sgx_quote",
        "dcap-qvl/sgx_quote_collateral.json",
        "1751328000",
    );
    assert_eq!(code, 1);
    assert!(v["reasons"].to_string().contains("not a TDX quote"), "{v}");

    // Outside the collateral's validity window.
    let (code, v) = verify_json(
        "dcap-qvl/tdx_quote",
        "dcap-qvl/tdx_quote_collateral.json",
        "1760000000",
    );
    assert_eq!(code, 1);
    assert!(v["reasons"].to_string().contains("expired"), "{v}");
}

#[test]
fn tdx_verify_unusable_input_exits_2() {
    let (code, _, err) = run(&[
        "tdx",
        "verify",
        "--quote",
        "/nonexistent/quote",
        "--collateral",
        testdata("dcap-qvl/tdx_quote_collateral.json")
            .to_str()
            .unwrap(),
        "--at",
        "1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read quote"), "{err}");
    let (code, _, err) = run(&[
        "tdx",
        "verify",
        "--quote",
        testdata("dcap-qvl/tdx_quote").to_str().unwrap(),
        "--collateral",
        testdata("dcap-qvl/tdx_quote").to_str().unwrap(),
        "--at",
        "1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("QuoteCollateralV3"), "{err}");
}

#[test]
fn tdx_inspect_prints_every_field() {
    let (code, out, _) = run(&[
        "tdx",
        "inspect",
        testdata("dcap-qvl/tdx_quote_outdated").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["header.version"], 5);
    assert_eq!(v["body_type"], 3);
    assert!(
        v["td.mr_td"]
            .as_str()
            .unwrap()
            .starts_with("273828c46252fcbd")
    );
    assert!(v["td.tee_tcb_svn2"].is_string());
    assert!(
        v["signature.pck_cert_chain_pem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atls-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const DCAP_MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
const DCAP_RTMR1: &str = "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378";

#[test]
fn policy_test_prints_the_failing_rule() {
    let dir = temp_dir("policy");
    let policy = dir.join("p.toml");
    let mut bad_rtmr1 = DCAP_RTMR1.to_string();
    bad_rtmr1.replace_range(0..1, "f");
    std::fs::write(
        &policy,
        format!("version = 1\n[evidence]\naccept = [\"tdx\"]\n[[tdx.measurements]]\nname = \"release\"\nmr_td = \"{DCAP_MRTD}\"\nrtmr1 = \"{bad_rtmr1}\"\n[tdx.tcb]\nstatuses = [\"UpToDate\"]\n"),
    )
    .unwrap();
    let quote = testdata("dcap-qvl/tdx_quote");
    let collateral = testdata("dcap-qvl/tdx_quote_collateral.json");
    let args = [
        "policy",
        "test",
        "--policy",
        policy.to_str().unwrap(),
        "--quote",
        quote.to_str().unwrap(),
        "--collateral",
        collateral.to_str().unwrap(),
        "--at",
        "1751328000",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("REJECTED"), "{out}");
    assert!(out.contains("tdx.rtmr1"), "{out}");

    // The same policy with the right register accepts.
    std::fs::write(
        &policy,
        format!("version = 1\n[evidence]\naccept = [\"tdx\"]\n[[tdx.measurements]]\nname = \"release\"\nmr_td = \"{DCAP_MRTD}\"\nrtmr1 = \"{DCAP_RTMR1}\"\n[tdx.tcb]\nstatuses = [\"UpToDate\"]\n"),
    )
    .unwrap();
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ACCEPTED"), "{out}");

    // Against recorded claims.
    let claims = dir.join("claims.json");
    std::fs::write(&claims, r#"{"evidence_type":"application/vnd.atls.insecure-test-evidence","values":{"test.platform":"lab-2"}}"#).unwrap();
    let dev = dir.join("dev.toml");
    std::fs::write(&dev, "version = 1\nmode = \"dev\"\n[evidence]\naccept = [\"insecure-test\"]\n[[claims]]\nclaim = \"test.platform\"\none_of = [\"lab-1\"]\n").unwrap();
    let (code, out, err) = run(&[
        "policy",
        "test",
        "--policy",
        dev.to_str().unwrap(),
        "--claims",
        claims.to_str().unwrap(),
        "--at",
        "1800000000",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("test.platform") && out.contains("lab-2"),
        "{out}"
    );
}

/// Writes a CA and a `localhost` certificate; returns (ca.pem, cert.pem, key.pem).
fn write_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(params, ca_key);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, leaf.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    (ca_pem, cert_pem, key_pem)
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plaintext echo backend.
fn echo_backend() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn simulated_mrtd() -> String {
    hex::encode(sha2::Sha384::digest(b"simulated MRTD"))
}

#[test]
fn serve_and_proxy_carry_bytes_over_an_attested_link_and_refuse_a_failing_peer() {
    serve_and_proxy(&[]);
}

#[test]
fn serve_and_proxy_over_quic() {
    serve_and_proxy(&["--quic"]);
}

fn serve_and_proxy(transport: &[&str]) {
    let dir = temp_dir(if transport.is_empty() {
        "proxy-tcp"
    } else {
        "proxy-quic"
    });
    let (ca, cert, key) = write_pki(&dir);
    let backend = echo_backend();
    let serve_addr = free_port();
    let sim = dir.join("sim");
    let mut serve = atls()
        .args([
            "serve",
            "--listen",
            &serve_addr.to_string(),
            "--backend",
            &backend.to_string(),
        ])
        .args([
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
        .args(["--insecure-simulator", sim.to_str().unwrap()])
        .args(transport)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready once it says where it serves (works for TCP and UDP alike).
    let mut lines = std::io::BufReader::new(serve.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("serving attested connections") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut lines, &mut line).unwrap() > 0,
            "serve exited"
        );
    }
    let _serve = Kill(serve);

    let good = dir.join("good.toml");
    std::fs::write(&good, format!("version = 1\n[evidence]\naccept = [\"tdx\"]\n[[tdx.measurements]]\nname = \"sim\"\nmr_td = \"{}\"\n[tdx.tcb]\nstatuses = [\"UpToDate\"]\n", simulated_mrtd())).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, format!("version = 1\n[evidence]\naccept = [\"tdx\"]\n[[tdx.measurements]]\nname = \"other\"\nmr_td = \"{}\"\n[tdx.tcb]\nstatuses = [\"UpToDate\"]\n", DCAP_MRTD)).unwrap();

    let proxy = |policy: &Path| {
        let addr = free_port();
        let child = atls()
            .args([
                "proxy",
                "--listen",
                &addr.to_string(),
                "--connect",
                &serve_addr.to_string(),
            ])
            .args([
                "--policy",
                policy.to_str().unwrap(),
                "--ca",
                ca.to_str().unwrap(),
            ])
            .args([
                "--collateral",
                sim.join("sim-collateral.json").to_str().unwrap(),
            ])
            .args([
                "--tdx-test-root-ca-for-testing",
                sim.join("sim-root-ca.der").to_str().unwrap(),
            ])
            .args(transport)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(addr);
        (Kill(child), addr)
    };

    let (_good_proxy, addr) = proxy(&good);
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    client.write_all(b"through the attested link").unwrap();
    let mut buf = [0u8; 25];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"through the attested link");

    let (mut bad_proxy, addr) = proxy(&bad);
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = client.write_all(b"must not arrive");
    let mut buf = [0u8; 16];
    let n = client.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "a refused peer carries no bytes");
    let _ = bad_proxy.0.kill();
    let mut err = String::new();
    bad_proxy
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("refusing") && err.contains("tdx.mr_td"),
        "{err}"
    );

    // `atls connect`: the verdict on stderr, then stdin piped through.
    let out = atls()
        .args([
            "connect",
            &serve_addr.to_string(),
            "--policy",
            good.to_str().unwrap(),
        ])
        .args(["--ca", ca.to_str().unwrap()])
        .args([
            "--collateral",
            sim.join("sim-collateral.json").to_str().unwrap(),
        ])
        .args([
            "--tdx-test-root-ca-for-testing",
            sim.join("sim-root-ca.der").to_str().unwrap(),
        ])
        .args(transport)
        .write_stdin_and_wait(b"ping\n");
    assert!(out.1.contains("\"accepted\":true"), "{}", out.1);
    assert!(out.0.contains("ping"), "{}", out.0);
}

trait StdinExt {
    fn write_stdin_and_wait(&mut self, input: &[u8]) -> (String, String);
}

impl StdinExt for Command {
    fn write_stdin_and_wait(&mut self, input: &[u8]) -> (String, String) {
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.as_mut().unwrap().write_all(input).unwrap();
        // Give the echo time to come back, then close stdin so the connection ends.
        std::thread::sleep(Duration::from_millis(1500));
        drop(child.stdin.take());
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn tdx_verify_with_an_unreachable_pccs_is_unusable_input() {
    // Port 9 on loopback: nothing listens there.
    let (code, _, err) = run(&[
        "tdx",
        "verify",
        "--quote",
        testdata("dcap-qvl/tdx_quote").to_str().unwrap(),
        "--pccs",
        "http://127.0.0.1:9/sgx/certification/v4",
        "--at",
        "1751328000",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("fetching collateral for") && err.contains("collateral from"),
        "{err}"
    );
}
