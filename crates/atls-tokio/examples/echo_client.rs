//! Connects to `echo_server`, requires its attestation (DCAP appraisal under the
//! simulator's **test** root, binder, and a policy pinning the simulated TD's MRTD), then
//! sends a line and prints the echo and the verified claims.
//!
//! Run `cargo run -p atls-tokio --example echo_client [ADDR]` after starting `echo_server`.

use std::sync::Arc;

use atls_evidence::{Claims, VerifierSet};
use atls_tdx::{Appraiser, StaticCollateral, TdxVerifier};
use atls_tokio::AtlsConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("atls-echo");
    let addr = match std::env::args().nth(1) {
        Some(a) => a,
        None => std::fs::read_to_string(dir.join("addr"))?,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(dir.join("ca.pem"))?)?;

    // TESTING ONLY: the simulator's root. A real client uses `Appraiser::intel_production()`.
    let appraiser =
        Appraiser::with_test_root_ca_for_testing(std::fs::read(dir.join("sim-root-ca.der"))?);
    let collateral = StaticCollateral::from_json(&std::fs::read(dir.join("sim-collateral.json"))?)?;
    let tdx = TdxVerifier::new(appraiser, Arc::new(collateral), unix_now);

    // Accept only UpToDate platforms, no debug TD, and the simulated TD's MRTD.
    let policy = atls_policy::Policy::from_toml_str(&format!(
        "version = 1\n[evidence]\naccept = [\"tdx\"]\n[[tdx.measurements]]\nname = \"echo\"\nmr_td = \"{}\"\n[tdx.tcb]\nstatuses = [\"UpToDate\"]\n",
        hex::encode(atls_tdx::sim::SimulatedTd::default().mr_td)
    ))?;
    let check = move |claims: &Claims| -> Result<serde_json::Value, atls_core::BoxError> {
        let verdict = policy.evaluate(
            claims,
            &atls_policy::EvaluationContext::new(unix_now() as i64),
        );
        let json = serde_json::to_value(&verdict)?;
        verdict.into_result().map(|_| json).map_err(Into::into)
    };

    let connector = AtlsConnector::builder()
        .with_root_certificates(roots)
        .require_server_attestation(VerifierSet::new().with(Arc::new(tdx)))
        .with_policy(Arc::new(check))
        .build()?;
    let tcp = tokio::net::TcpStream::connect(addr.trim()).await?;
    let mut stream = connector.connect("localhost".try_into()?, tcp).await?;
    if let Some(a) = stream.peer_attestation() {
        println!(
            "server attested: TCB {}, MRTD {}",
            a.claims.get_str("tdx.tcb_status").unwrap_or("?"),
            a.claims.get_str("tdx.mr_td").unwrap_or("?")
        );
    }
    stream.write_all(b"hello, attested world\n").await?;
    let mut buf = [0u8; 22];
    stream.read_exact(&mut buf).await?;
    print!("echo: {}", String::from_utf8_lossy(&buf));
    Ok(())
}
