//! Two in-memory sessions on one simulated TLS 1.3 connection: the server attests to the
//! client with post-handshake attestation, then the client re-attests it.
//!
//! The "evidence" here is the binding itself (`binder ‖ aik_pub_hash`), which is what a TDX
//! quote carries in REPORTDATA; a real deployment puts a quote there and appraises it.
//!
//! Run: `cargo run -p atls-core --example in_memory`

use std::sync::Arc;
use std::time::Instant;

use atls_core::{
    AppraisalError, BoxError, CertifiedKey, CipherSuite, Config, Event, ExporterMasterSecret,
    HashAlgorithm, PinnedKeyVerifier, Role, Session, signing_key_from_pkcs8_der,
};

fn main() -> Result<(), BoxError> {
    // The attester's TLS identity (self-signed for the example).
    let cert = rcgen::generate_simple_self_signed(vec!["attester.example".into()])?;
    let cert_der = cert.cert.der().to_vec();
    let identity = CertifiedKey {
        chain: vec![cert_der.clone().into()],
        key: signing_key_from_pkcs8_der(&cert.signing_key.serialize_der())?,
    };

    // Both sides see the same exporter: they share one TLS connection.
    let suite = CipherSuite::TLS13_AES_128_GCM_SHA256;
    let exporter = ExporterMasterSecret::new(HashAlgorithm::Sha256, &[0x5a; 32])?;
    let verifier = Arc::new(PinnedKeyVerifier::for_certificate(&cert_der)?);
    let server_cfg = Arc::new(Config::new(verifier.clone()).with_identity(identity));
    let client_cfg = Arc::new(Config::new(verifier));
    let mut server = Session::<String>::new(server_cfg, Role::Server, suite, [1; 32])?;
    let mut client = Session::<String>::new(client_cfg, Role::Client, suite, [2; 32])?;
    // The host owns the clock; the core only takes `now` as an input.
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();

    for round in 1..=2 {
        let ctx = client.request_attestation(now, &exporter)?;
        println!(
            "round {round}: client requests attestation, context {}",
            hex(&ctx[..8])
        );
        let mut moved = true;
        while moved {
            moved = false;
            while let Some(msg) = client.poll_transmit() {
                println!(
                    "  client -> server  {:>4} bytes (type {})",
                    msg.len(),
                    msg[0]
                );
                server.handle_message(now, &msg, &exporter)?;
                moved = true;
            }
            while let Some(msg) = server.poll_transmit() {
                println!(
                    "  server -> client  {:>4} bytes (type {})",
                    msg.len(),
                    msg[0]
                );
                client.handle_message(now, &msg, &exporter)?;
                moved = true;
            }
            while let Some(ev) = server.poll_event() {
                if let Event::EvidenceRequested { id, binding } = ev {
                    println!(
                        "  server: evidence for binder {}…",
                        hex(&binding.binder()[..8])
                    );
                    let evidence = [binding.binder(), binding.aik_pub_hash()].concat();
                    server.handle_evidence(id, Ok(evidence))?;
                    moved = true;
                }
            }
            while let Some(ev) = client.poll_event() {
                match ev {
                    Event::AppraisalRequested {
                        id,
                        evidence,
                        binding,
                        ..
                    } => {
                        let expected = [binding.binder(), binding.aik_pub_hash()].concat();
                        let verdict = match evidence == expected {
                            true => Ok(format!("bound to context {}", hex(&ctx[..8]))),
                            false => Err(AppraisalError::Evidence("binder mismatch".into())),
                        };
                        println!(
                            "  client: appraised evidence: {}",
                            if verdict.is_ok() {
                                "accepted"
                            } else {
                                "rejected"
                            }
                        );
                        client.handle_appraisal(id, verdict)?;
                        moved = true;
                    }
                    Event::Attested { claims, .. } => {
                        println!("  client: peer attested ({claims})")
                    }
                    _ => {}
                }
            }
        }
    }
    println!(
        "client may now send application data: {}",
        client.is_peer_attested()
    );
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
