//! An attested QUIC echo server on loopback, attesting with the insecure test attester.
//!
//! ```text
//! cargo run -p atls-quic --example echo_server            # serve on 127.0.0.1:4433
//! cargo run -p atls-quic --example echo_client            # in another terminal
//! cargo run -p atls-quic --example echo_server -- --once  # self-contained: serve one
//!                                                         # in-process client, then exit
//! ```
//!
//! The CA is generated at startup and saved to the temporary directory for `echo_client`.

mod common;

use common::*;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let once = std::env::args().any(|a| a == "--once");
    let addr = match std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        Some(a) => a.parse()?,
        None if once => "127.0.0.1:0".parse()?,
        None => DEFAULT_ADDR.parse()?,
    };
    let ca = DemoCa::generate()?;
    let (chain, key) = ca.issue(SERVER_NAME)?;
    let acceptor = atls_quic::AtlsAcceptor::builder(chain, key)
        .with_attester(demo_attester("echo-server"))
        .build()?;
    let endpoint = atls_quic::AtlsEndpoint::server(addr, acceptor)?;
    let addr = endpoint.local_addr()?;
    println!("WARNING: insecure test attester, for demos only");
    println!(
        "attested echo server on {addr} (QUIC), CA saved to {}",
        ca.save()?.display()
    );
    if once {
        let server = tokio::spawn(serve_echo(endpoint.clone(), Some(1)));
        echo_once(addr, ca.roots()?, "hello over attested QUIC").await?;
        server.await?;
        return Ok(());
    }
    serve_echo(endpoint, None).await;
    Ok(())
}
