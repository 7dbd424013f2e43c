//! Attested QUIC connections over real loopback UDP: server-attested, client-attested,
//! mutual, peer-to-peer, re-attestation with a short lease, refusal, policy, concurrency.

// The test PKI and attesters are the TCP adapter's fixtures.
#[path = "../../atls-tokio/tests/common/mod.rs"]
mod common;
mod util;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use atls_quic::{AtlsAcceptor, AtlsConnector, AtlsEndpoint, LinkStatus};
use common::*;
use util::*;

fn server_attesting(pki: &Pki, attester: Arc<dyn atls_evidence::Attester>) -> AtlsAcceptor {
    acceptor_attesting(pki, attester).build().unwrap()
}

fn client_requiring(pki: &Pki) -> AtlsConnector {
    connector_requiring_server(pki).build().unwrap()
}

/// Serves echo on the first `n` connections.
fn spawn_echo_server(endpoint: AtlsEndpoint, n: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..n {
            let accepting = endpoint.accept().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let conn = accepting.attest().await.unwrap();
                serve_echo(conn).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    })
}

#[tokio::test]
async fn server_attested_echo() {
    let pki = Pki::new();
    let (server, addr) = server(server_attesting(&pki, attester("srv")));
    let echo_server = spawn_echo_server(server, 1);
    let conn = connect(client_requiring(&pki), addr).await.unwrap();
    let att = conn.peer_attestation().expect("server attested");
    assert_eq!(att.claims.get_str("test.platform"), Some("srv"));
    assert_eq!(within(20, echo(&conn, b"ping")).await, b"ping");
    // Several streams on one attestation.
    assert_eq!(within(20, echo(&conn, b"pong")).await, b"pong");
    drop(conn);
    within(20, echo_server).await.unwrap();
}

#[tokio::test]
async fn client_attested_to_server_with_client_certificates() {
    let pki = Pki::new();
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_client_verifier(pki.client_verifier())
        .require_client_attestation(verifiers())
        .build()
        .unwrap();
    let (server, addr) = server(acceptor);
    let accepted = tokio::spawn(async move {
        let conn = server.accept().await.unwrap().attest().await.unwrap();
        let platform = conn
            .peer_attestation()
            .unwrap()
            .claims
            .get_str("test.platform")
            .map(str::to_string);
        let (mut send, _recv) = conn.accept_bi().await.unwrap();
        send.write_all(b"ok").await.unwrap();
        send.finish().unwrap();
        conn.closed().await;
        platform
    });
    let connector = AtlsConnector::builder()
        .with_root_certificates(pki.roots())
        .with_client_identity(pki.client_chain.clone(), key(&pki.client_key))
        .with_attester(attester("client-tee"))
        .build()
        .unwrap();
    let conn = connect(connector, addr).await.unwrap();
    assert!(
        conn.peer_attestation().is_none(),
        "the client did not require attestation"
    );
    assert!(matches!(conn.status(), LinkStatus::Open));
    let (_send, mut recv) = conn.open_bi().await.unwrap();
    assert_eq!(within(20, recv.read_to_end(16)).await.unwrap(), b"ok");
    drop(conn);
    assert_eq!(
        within(20, accepted).await.unwrap().as_deref(),
        Some("client-tee")
    );
}

#[tokio::test]
async fn mutual_attestation_with_uni_streams_both_ways() {
    let pki = Pki::new();
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_client_verifier(pki.client_verifier())
        .require_client_attestation(verifiers())
        .with_attester(attester("srv"))
        .build()
        .unwrap();
    let (server, addr) = server(acceptor);
    let accepted = tokio::spawn(async move {
        let conn = server.accept().await.unwrap().attest().await.unwrap();
        let attested = conn.peer_attestation().is_some();
        let mut recv = conn.accept_uni().await.unwrap();
        let got = recv.read_to_end(64).await.unwrap();
        let mut send = conn.open_uni().await.unwrap();
        send.write_all(b"from server").await.unwrap();
        send.finish().unwrap();
        conn.closed().await;
        (attested, got)
    });
    let connector = connector_requiring_server(&pki)
        .with_client_identity(pki.client_chain.clone(), key(&pki.client_key))
        .with_attester(attester("cli"))
        .build()
        .unwrap();
    let conn = connect(connector, addr).await.unwrap();
    assert_eq!(
        conn.peer_attestation()
            .unwrap()
            .claims
            .get_str("test.platform"),
        Some("srv")
    );
    let mut send = conn.open_uni().await.unwrap();
    send.write_all(b"from client").await.unwrap();
    send.finish().unwrap();
    let mut recv = within(20, conn.accept_uni()).await.unwrap();
    assert_eq!(recv.read_to_end(64).await.unwrap(), b"from server");
    drop(conn);
    let (server_saw_attestation, got) = within(20, accepted).await.unwrap();
    assert!(server_saw_attestation);
    assert_eq!(got, b"from client");
}

/// A mesh node: accepts and connects on one socket, requiring and giving attestation.
fn mesh_node(pki: &Pki, name: &str) -> AtlsEndpoint {
    let (chain, key_der) = pki.leaf(name);
    let acceptor = AtlsAcceptor::builder(chain.clone(), key(&key_der))
        .with_client_verifier(pki.client_verifier())
        .require_client_attestation(verifiers())
        .with_attester(attester(name))
        .build()
        .unwrap();
    let connector = AtlsConnector::builder()
        .with_root_certificates(pki.roots())
        .with_client_identity(chain, key(&key_der))
        .require_server_attestation(verifiers())
        .with_attester(attester(name))
        .build()
        .unwrap();
    AtlsEndpoint::peer(loopback(), acceptor, connector).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_to_peer_nodes_attest_each_other_on_one_connection() {
    let pki = Pki::new();
    let a = mesh_node(&pki, "node-a.mesh");
    let b = mesh_node(&pki, "node-b.mesh");
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());

    // Each node accepts one link and reports whom it attested.
    let serve = |node: AtlsEndpoint| {
        tokio::spawn(async move {
            let conn = node.accept().await.unwrap().attest().await.unwrap();
            let peer = conn
                .peer_attestation()
                .unwrap()
                .claims
                .get_str("test.platform")
                .map(str::to_string);
            serve_echo(conn).await;
            peer
        })
    };
    let a_accepts = serve(a.clone());
    let b_accepts = serve(b.clone());

    // Both nodes dial each other at once: two links, each mutually attested.
    let (a_to_b, b_to_a) = within(30, async {
        tokio::join!(
            a.connect(b_addr, "node-b.mesh"),
            b.connect(a_addr, "node-a.mesh")
        )
    })
    .await;
    let (a_to_b, b_to_a) = (a_to_b.unwrap(), b_to_a.unwrap());
    let platform = |c: &atls_quic::AttestedConnection| {
        c.peer_attestation()
            .unwrap()
            .claims
            .get_str("test.platform")
            .map(str::to_string)
    };
    assert_eq!(platform(&a_to_b).as_deref(), Some("node-b.mesh"));
    assert_eq!(platform(&b_to_a).as_deref(), Some("node-a.mesh"));
    assert_eq!(within(20, echo(&a_to_b, b"a->b")).await, b"a->b");
    assert_eq!(within(20, echo(&b_to_a, b"b->a")).await, b"b->a");
    drop((a_to_b, b_to_a));
    assert_eq!(
        within(20, b_accepts).await.unwrap().as_deref(),
        Some("node-a.mesh")
    );
    assert_eq!(
        within(20, a_accepts).await.unwrap().as_deref(),
        Some("node-b.mesh")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattestation_renews_a_short_lease_on_fresh_streams_while_data_flows() {
    let pki = Pki::new();
    let recording = Arc::new(Recording::default());
    let (server, addr) = server(server_attesting(&pki, recording.clone()));
    let echo_server = spawn_echo_server(server, 1);
    let connector = connector_requiring_server(&pki)
        .with_attestation_lease(Duration::from_millis(600))
        .build()
        .unwrap();
    let conn = connect(connector, addr).await.unwrap();
    let mut renewals = conn.watch_status();
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen < 3 && tokio::time::Instant::now() < deadline {
        assert_eq!(within(20, echo(&conn, b"hi")).await, b"hi");
        if tokio::time::timeout(Duration::from_millis(200), renewals.changed())
            .await
            .is_ok()
        {
            assert!(
                matches!(*renewals.borrow(), LinkStatus::Attested(_)),
                "{:?}",
                *renewals.borrow()
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "lease renewed {seen} times");
    let binders = recording.binders.lock().unwrap().clone();
    assert!(binders.len() >= 4);
    let unique: HashSet<_> = binders.iter().collect();
    assert_eq!(
        unique.len(),
        binders.len(),
        "every renewal has its own binder"
    );
    drop(conn);
    within(20, echo_server).await.unwrap();
}

#[tokio::test]
async fn server_without_attester_refuses_and_client_fails_closed() {
    let pki = Pki::new();
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .build()
        .unwrap();
    let (server, addr) = server(acceptor);
    let accepted = accept_one(server);
    let err = within(
        20,
        client(client_requiring(&pki)).connect(addr, "attested.example"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.attestation_error(), Some(atls_core::Error::PeerRefused)),
        "{err}"
    );
    // The server learns why, from the alert.
    assert_alert_delivered(&err, &within(20, accepted).await.unwrap().unwrap_err(), 116);
}

#[tokio::test]
async fn policy_rejection_closes_with_access_denied() {
    let pki = Pki::new();
    let (server, addr) = server(server_attesting(&pki, attester("wrong-platform")));
    let accepted = accept_one(server);
    let connector = connector_requiring_server(&pki)
        .with_policy(platform_policy("expected-platform"))
        .build()
        .unwrap();
    let err = connect(connector, addr).await.unwrap_err();
    assert!(
        matches!(err.attestation_error(), Some(atls_core::Error::Policy(_))),
        "{err}"
    );
    let server_err = within(20, accepted).await.unwrap().unwrap_err();
    assert_alert_delivered(&err, &server_err, 49);
    // The reason travels in the close frame.
    assert!(
        server_err.to_string().contains("expected-platform"),
        "{server_err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections_each_with_its_own_binder() {
    let pki = Pki::new();
    let recording = Arc::new(Recording::default());
    let (server, addr) = server(server_attesting(&pki, recording.clone()));
    let echo_server = spawn_echo_server(server, 200);
    let client = client(client_requiring(&pki));
    let started = std::time::Instant::now();
    let mut clients = Vec::new();
    for i in 0..200u32 {
        let client = client.clone();
        clients.push(tokio::spawn(async move {
            let conn = client.connect(addr, "attested.example").await.unwrap();
            assert!(conn.peer_attestation().is_some());
            let b = [(i % 251) as u8];
            assert_eq!(echo(&conn, &b).await, b);
        }));
    }
    for c in clients {
        within(120, c).await.unwrap();
    }
    within(60, echo_server).await.unwrap();
    eprintln!("200 attested QUIC connections in {:?}", started.elapsed());
    let binders = recording.binders.lock().unwrap().clone();
    assert_eq!(binders.len(), 200);
    let unique: HashSet<_> = binders.iter().collect();
    assert_eq!(unique.len(), 200);
}

/// Records the session tickets a client is given.
#[derive(Debug, Default)]
struct TicketCounter {
    tickets: std::sync::atomic::AtomicUsize,
}

impl rustls::client::ClientSessionStore for TicketCounter {
    fn set_kx_hint(&self, _: rustls::pki_types::ServerName<'static>, _: rustls::NamedGroup) {}
    fn kx_hint(&self, _: &rustls::pki_types::ServerName<'_>) -> Option<rustls::NamedGroup> {
        None
    }
    fn set_tls12_session(
        &self,
        _: rustls::pki_types::ServerName<'static>,
        _: rustls::client::Tls12ClientSessionValue,
    ) {
    }
    fn tls12_session(
        &self,
        _: &rustls::pki_types::ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        None
    }
    fn remove_tls12_session(&self, _: &rustls::pki_types::ServerName<'static>) {}
    fn insert_tls13_ticket(
        &self,
        _: rustls::pki_types::ServerName<'static>,
        _: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn take_tls13_ticket(
        &self,
        _: &rustls::pki_types::ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        None
    }
}

#[tokio::test]
async fn rp_06_server_sends_no_tickets_and_refuses_0rtt() {
    let pki = Pki::new();
    let (server, addr) = server(server_attesting(&pki, attester("srv")));
    let accepting = tokio::spawn(async move {
        while let Some(a) = server.accept().await {
            tokio::spawn(a.attest());
        }
    });
    // A client that would resume and send early data if it could.
    let tickets = Arc::new(TicketCounter::default());
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(pki.roots())
    .with_no_client_auth();
    tls.enable_early_data = true;
    tls.resumption = rustls::client::Resumption::store(tickets.clone());
    let mut raw = quinn::Endpoint::client(loopback()).unwrap();
    raw.set_default_client_config(quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
    )));
    for _ in 0..2 {
        let connecting = raw.connect(addr, "attested.example").unwrap();
        let conn = match connecting.into_0rtt() {
            Ok(_) => panic!("0-RTT keys on an attested endpoint"),
            Err(connecting) => within(20, connecting).await.unwrap(),
        };
        // Tickets, if any, arrive right after the handshake.
        tokio::time::sleep(Duration::from_millis(200)).await;
        conn.close(0u32.into(), b"");
    }
    assert_eq!(
        tickets.tickets.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the server sent session tickets"
    );
    accepting.abort();
}

#[tokio::test]
async fn reattestation_on_demand_uses_a_fresh_binder() {
    let pki = Pki::new();
    let recording = Arc::new(Recording::default());
    let (server, addr) = server(server_attesting(&pki, recording.clone()));
    let echo_server = spawn_echo_server(server, 1);
    let conn = connect(client_requiring(&pki), addr).await.unwrap();
    let mut status = conn.watch_status();
    conn.reattest().await.unwrap();
    assert_eq!(within(20, echo(&conn, b"during")).await, b"during");
    within(20, status.changed()).await.unwrap();
    assert!(matches!(*status.borrow(), LinkStatus::Attested(_)));
    let binders = recording.binders.lock().unwrap().clone();
    assert_eq!(binders.len(), 2);
    assert_ne!(binders[0], binders[1]);
    drop(conn);
    within(20, echo_server).await.unwrap();
}
