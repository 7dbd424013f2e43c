//! Attested connections over real loopback sockets: server-attested, client-attested,
//! mutual, re-attestation with a short lease, refusal, policy, concurrency.

mod common;

use std::sync::Arc;
use std::time::Duration;

use atls_tokio::{AtlsAcceptor, AtlsConnector, AtlsError, LinkStatus};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn server_attesting(pki: &Pki, attester: Arc<dyn atls_evidence::Attester>) -> AtlsAcceptor {
    AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_attester(attester)
        .build()
        .unwrap()
}

fn client_requiring(pki: &Pki) -> AtlsConnector {
    connector_requiring_server::<AtlsConnector>(pki)
        .build()
        .unwrap()
}

/// Serves one echo connection.
async fn echo_once(
    acceptor: AtlsAcceptor,
    listener: tokio::net::TcpListener,
) -> Result<(), AtlsError> {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut s = acceptor.accept(tcp).await?;
    let mut buf = vec![0u8; 1024];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        s.write_all(&buf[..n]).await?;
    }
}

#[tokio::test]
async fn server_attested_echo() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let server = tokio::spawn(echo_once(server_attesting(&pki, attester("srv")), l));
    let mut s = client_requiring(&pki)
        .connect(name(), tcp(addr).await)
        .await
        .unwrap();
    let att = s.peer_attestation().expect("server attested");
    assert_eq!(att.claims.get_str("test.platform"), Some("srv"));
    s.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    s.shutdown().await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn client_attested_to_server_with_client_certificates() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_client_verifier(pki.client_verifier())
        .require_client_attestation(verifiers())
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let s = acceptor.accept(tcp).await.unwrap();
        s.peer_attestation()
            .unwrap()
            .claims
            .get_str("test.platform")
            .map(str::to_string)
    });
    let connector = AtlsConnector::builder()
        .with_root_certificates(pki.roots())
        .with_client_identity(pki.client_chain.clone(), key(&pki.client_key))
        .with_attester(attester("client-tee"))
        .build()
        .unwrap();
    let s = connector.connect(name(), tcp(addr).await).await.unwrap();
    assert!(
        s.peer_attestation().is_none(),
        "the client did not require attestation"
    );
    assert_eq!(server.await.unwrap().as_deref(), Some("client-tee"));
}

#[tokio::test]
async fn mutual_attestation() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_client_verifier(pki.client_verifier())
        .require_client_attestation(verifiers())
        .with_attester(attester("srv"))
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let s = acceptor.accept(tcp).await.unwrap();
        s.peer_attestation().is_some()
    });
    let connector = AtlsConnector::builder()
        .with_root_certificates(pki.roots())
        .with_client_identity(pki.client_chain.clone(), key(&pki.client_key))
        .with_attester(attester("cli"))
        .require_server_attestation(verifiers())
        .build()
        .unwrap();
    let s = connector.connect(name(), tcp(addr).await).await.unwrap();
    assert!(s.peer_attestation().is_some());
    assert!(server.await.unwrap());
}

#[tokio::test]
async fn reattestation_renews_a_short_lease_while_data_flows() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let recording = Arc::new(Recording::default());
    let server = tokio::spawn(echo_once(server_attesting(&pki, recording.clone()), l));
    let connector = AtlsConnector::builder()
        .with_root_certificates(pki.roots())
        .require_server_attestation(verifiers())
        .with_attestation_lease(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut s = connector.connect(name(), tcp(addr).await).await.unwrap();
    let mut renewals = s.watch_status();
    let mut buf = [0u8; 2];
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen < 3 && tokio::time::Instant::now() < deadline {
        s.write_all(b"hi").await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(200), renewals.changed())
            .await
            .is_ok()
        {
            assert!(matches!(*renewals.borrow(), LinkStatus::Attested(_)));
            seen += 1;
        }
    }
    assert!(seen >= 3, "lease renewed {seen} times");
    let binders = recording.binders.lock().unwrap().clone();
    assert!(binders.len() >= 4);
    let unique: std::collections::HashSet<_> = binders.iter().collect();
    assert_eq!(
        unique.len(),
        binders.len(),
        "every renewal has its own binder"
    );
    s.shutdown().await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn server_without_attester_refuses_and_client_fails_closed() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        acceptor.accept(tcp).await
    });
    let err = client_requiring(&pki)
        .connect(name(), tcp(addr).await)
        .await
        .unwrap_err();
    assert!(
        matches!(err.attestation_error(), Some(atls_core::Error::PeerRefused)),
        "{err}"
    );
    // The server learns why, from the alert.
    assert_alert_delivered(&err, &server.await.unwrap().unwrap_err(), 116);
}

#[tokio::test]
async fn policy_rejection_closes_with_access_denied() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let acceptor = server_attesting(&pki, attester("wrong-platform"));
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        acceptor.accept(tcp).await
    });
    let connector = connector_requiring_server::<AtlsConnector>(&pki)
        .with_policy(platform_policy("expected-platform"))
        .build()
        .unwrap();
    let err = connector
        .connect(name(), tcp(addr).await)
        .await
        .unwrap_err();
    assert!(
        matches!(err.attestation_error(), Some(atls_core::Error::Policy(_))),
        "{err}"
    );
    assert_alert_delivered(&err, &server.await.unwrap().unwrap_err(), 49);
}

#[tokio::test]
async fn two_hundred_concurrent_connections_each_with_its_own_binder() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let recording = Arc::new(Recording::default());
    let acceptor = server_attesting(&pki, recording.clone());
    let server = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let (tcp, _) = l.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = acceptor.accept(tcp).await.unwrap();
                let mut b = [0u8; 1];
                s.read_exact(&mut b).await.unwrap();
                s.write_all(&b).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let connector = client_requiring(&pki);
    let mut clients = Vec::new();
    for i in 0..200u32 {
        let connector = connector.clone();
        clients.push(tokio::spawn(async move {
            let mut s = connector.connect(name(), tcp(addr).await).await.unwrap();
            let b = [(i % 251) as u8];
            s.write_all(&b).await.unwrap();
            let mut r = [0u8; 1];
            s.read_exact(&mut r).await.unwrap();
            assert_eq!(r, b);
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    server.await.unwrap();
    let binders = recording.binders.lock().unwrap().clone();
    assert_eq!(binders.len(), 200);
    let unique: std::collections::HashSet<_> = binders.iter().collect();
    assert_eq!(unique.len(), 200);
}

#[test]
fn configurations_that_allow_resumption_or_early_data_are_refused() {
    let pki = Pki::new();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(pki.server_chain.clone(), key(&pki.server_key))
    .unwrap();
    // rustls' defaults send tickets and cache sessions.
    let err = atls_tokio::check_server_config(&config).unwrap_err();
    assert!(err.to_string().contains("tickets") || err.to_string().contains("resume"));
    let mut config = config;
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.max_early_data_size = 1024;
    assert!(
        atls_tokio::check_server_config(&config)
            .unwrap_err()
            .to_string()
            .contains("0-RTT")
    );
    config.max_early_data_size = 0;
    atls_tokio::check_server_config(&config).unwrap();

    // Builders refuse incomplete attestation configs.
    assert!(
        AtlsConnector::builder()
            .with_root_certificates(pki.roots())
            .require_server_attestation(atls_evidence::VerifierSet::new())
            .build()
            .is_err()
    );
    assert!(
        AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
            .require_client_attestation(verifiers())
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn reattestation_on_demand_uses_a_new_binder_while_data_flows() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let recording = Arc::new(Recording::default());
    let server = tokio::spawn(echo_once(server_attesting(&pki, recording.clone()), l));
    let mut s = client_requiring(&pki)
        .connect(name(), tcp(addr).await)
        .await
        .unwrap();
    let mut status = s.watch_status();
    s.reattest().unwrap();
    s.write_all(b"during").await.unwrap();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"during");
    tokio::time::timeout(Duration::from_secs(10), status.changed())
        .await
        .expect("re-attestation completes")
        .unwrap();
    assert!(matches!(*status.borrow(), LinkStatus::Attested(_)));
    let binders = recording.binders.lock().unwrap().clone();
    assert_eq!(binders.len(), 2);
    assert_ne!(binders[0], binders[1]);
    s.shutdown().await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn reattest_is_refused_when_this_side_does_not_attest_its_peer() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let acceptor = server_attesting(&pki, attester("srv"));
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        acceptor.accept(tcp).await.map(|s| s.reattest().is_err())
    });
    let _client = client_requiring(&pki)
        .connect(name(), tcp(addr).await)
        .await
        .unwrap();
    assert!(server.await.unwrap().unwrap());
}
