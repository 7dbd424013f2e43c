//! An attested echo server on loopback, attesting with the **insecure TDX simulator**.
//!
//! Run `cargo run -p atls-tokio --example echo_server`, then in another terminal
//! `cargo run -p atls-tokio --example echo_client`. The server writes what the client needs to
//! trust it (a throwaway CA, the simulator's test root and its collateral) into
//! `<temp dir>/atls-echo/`, and its address into `addr`.

use std::sync::Arc;

use atls_tdx::sim::{SimulatedTd, SimulatedTdxAttester, SimulatorConfig, TdxSimulator};
use atls_tokio::AtlsAcceptor;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("atls-echo");
    std::fs::create_dir_all(&dir)?;

    // A throwaway CA and a certificate for "localhost".
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert =
        rcgen::CertificateParams::new(vec!["localhost".to_string()])?.signed_by(&key, &issuer)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;

    // The simulated TDX platform; a real server uses `atls_tdx::TdxAttester::new()`.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let sim = Arc::new(TdxSimulator::new(SimulatorConfig::new(
        [0x11; 32],
        now - 3600,
    ))?);
    std::fs::write(dir.join("sim-root-ca.der"), sim.test_root_ca_der())?;
    std::fs::write(dir.join("sim-collateral.json"), sim.collateral_json())?;
    let attester = Arc::new(SimulatedTdxAttester::new(sim, SimulatedTd::default()));

    let acceptor = AtlsAcceptor::builder(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .with_attester(attester)
    .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    std::fs::write(dir.join("addr"), addr.to_string())?;
    println!(
        "attested echo server on {addr} (simulated TDX; trust files in {})",
        dir.display()
    );
    let one_shot = std::env::args().any(|a| a == "--once");
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let task = tokio::spawn(async move {
            let mut stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => return eprintln!("{peer}: {e}"),
            };
            println!("{peer}: attested connection open");
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        if one_shot {
            task.await?;
            return Ok(());
        }
    }
}
