//! Three mesh nodes on loopback, each accepting and connecting on one socket; every link
//! is mutually attested on one QUIC connection.
//!
//! ```text
//! cargo run -p atls-quic --example mesh
//! ```

mod common;

use atls_quic::{AtlsAcceptor, AtlsConnector, AtlsEndpoint, AttestedConnection};
use common::*;

/// A node: its certificate from the mesh CA, accepting peers that attest and connecting to
/// peers it requires to attest.
fn node(ca: &DemoCa, name: &str) -> Result<AtlsEndpoint, BoxError> {
    let (chain, key) = ca.issue(name)?;
    let client_verifier =
        rustls::server::WebPkiClientVerifier::builder(ca.roots()?.into()).build()?;
    let acceptor = AtlsAcceptor::builder(chain.clone(), key.clone_key())
        .with_client_verifier(client_verifier)
        .require_client_attestation(demo_verifiers()?)
        .with_attester(demo_attester(name))
        .build()?;
    let connector = AtlsConnector::builder()
        .with_root_certificates(ca.roots()?)
        .with_client_identity(chain, key)
        .require_server_attestation(demo_verifiers()?)
        .with_attester(demo_attester(name))
        .build()?;
    Ok(AtlsEndpoint::peer(
        "127.0.0.1:0".parse()?,
        acceptor,
        connector,
    )?)
}

fn attested_platform(conn: &AttestedConnection) -> String {
    conn.peer_attestation()
        .and_then(|a| a.claims.get_str("demo.platform").map(str::to_string))
        .unwrap_or_else(|| "<not attested>".into())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let ca = DemoCa::generate()?;
    let names = ["node-a.mesh", "node-b.mesh", "node-c.mesh"];
    let nodes = names
        .iter()
        .map(|n| node(&ca, n))
        .collect::<Result<Vec<_>, _>>()?;
    println!("WARNING: insecure test attester, for demos only");

    // Every node accepts one link (from the node before it in the ring) …
    let mut accepted = Vec::new();
    for (node, name) in nodes.iter().zip(names) {
        let node = node.clone();
        accepted.push(tokio::spawn(async move {
            let accepting = node.accept().await.ok_or("endpoint closed")?;
            let conn = accepting.attest().await?;
            println!("{name} accepted a link from {}", attested_platform(&conn));
            conn.closed().await;
            Ok::<_, BoxError>(())
        }));
    }
    // … and dials the next one.
    let mut links = Vec::new();
    for (i, (node, name)) in nodes.iter().zip(names).enumerate() {
        let next = (i + 1) % nodes.len();
        let conn = node.connect(nodes[next].local_addr()?, names[next]).await?;
        println!("{name} connected to {}", attested_platform(&conn));
        links.push(conn);
    }
    drop(links);
    for a in accepted {
        a.await??;
    }
    Ok(())
}
