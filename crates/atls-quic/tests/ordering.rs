//! Ordering over real loopback UDP (ST-01, ST-03, ST-05), with raw quinn peers that open
//! streams and write bytes without attesting.

#[path = "../../atls-tokio/tests/common/mod.rs"]
mod common;
mod util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use atls_quic::{AtlsAcceptor, AtlsConnector, AtlsError, LinkStatus};
use common::*;
use util::*;

/// An application stream's first byte (docs/wire.md §3).
const APPLICATION: u8 = 0x02;
/// An attestation exchange stream's first byte.
const ATTESTATION: u8 = 0x01;

/// Opens a bidirectional and a unidirectional application stream and writes `payload`.
async fn send_early(conn: &quinn::Connection, payload: &[u8]) {
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(&app_stream_bytes(payload)).await.unwrap();
    send.finish().unwrap();
    let mut uni = conn.open_uni().await.unwrap();
    uni.write_all(&app_stream_bytes(payload)).await.unwrap();
    uni.finish().unwrap();
    // Keep the streams' bytes flowing after the handles are gone.
    std::mem::forget((send, uni));
}

/// Sends READY on a control stream, without having attested anything.
async fn send_ready(conn: &quinn::Connection) -> quinn::SendStream {
    let mut control = conn.open_uni().await.unwrap();
    control.write_all(CONTROL_READY).await.unwrap();
    control
}

/// The first byte of every bidirectional stream the peer opens, until the connection closes.
/// The streams stay open and unanswered (dropping them would finish them).
async fn peer_stream_types(conn: quinn::Connection) -> (Vec<u8>, quinn::ConnectionError) {
    let mut types = Vec::new();
    let mut silent = Vec::new();
    loop {
        match conn.accept_bi().await {
            Ok((send, mut recv)) => {
                let mut b = [0u8; 1];
                if recv.read_exact(&mut b).await.is_ok() {
                    types.push(b[0]);
                }
                silent.push((send, recv));
            }
            Err(e) => return (types, e),
        }
    }
}

#[tokio::test]
async fn st_01_client_streams_before_attestation_are_never_delivered() {
    let pki = Pki::new();
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .allow_anonymous_clients()
        .require_client_attestation(verifiers())
        .with_attester(attester("srv"))
        .with_attestation_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let (server, addr) = server(acceptor);
    let accepted = accept_one(server);

    // A raw client: application streams first, then a READY it has not earned, and it never
    // answers the server's attestation request.
    let conn = raw_connect(&pki, addr).await;
    send_early(&conn, b"early").await;
    let _control = send_ready(&conn).await;

    // The server application never gets a connection, so never a byte of those streams.
    let err = within(20, accepted).await.unwrap().unwrap_err();
    assert!(matches!(err, AtlsError::Timeout), "{err}");
    let (types, close) = within(20, peer_stream_types(conn)).await;
    assert_eq!(
        types,
        vec![ATTESTATION],
        "the server only asked for attestation"
    );
    assert_eq!(close_code(&close), Some(0x100 + 40), "{close}");
}

#[tokio::test]
async fn st_01_early_client_streams_are_held_until_ready_is_exchanged() {
    let pki = Pki::new();
    // The server requires nothing of the client: the client's streams are deliverable once
    // READY is sent and received, not before.
    let (server, addr) = server(
        AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
            .with_attester(attester("srv"))
            .build()
            .unwrap(),
    );
    let accepted = tokio::spawn(async move {
        let conn = server.accept().await.unwrap().attest().await.unwrap();
        let at = Instant::now();
        let (_send, mut recv) = conn.accept_bi().await.unwrap();
        let bi = recv.read_to_end(64).await.unwrap();
        let uni = conn
            .accept_uni()
            .await
            .unwrap()
            .read_to_end(64)
            .await
            .unwrap();
        (at, bi, uni, conn)
    });
    let conn = raw_connect(&pki, addr).await;
    send_early(&conn, b"early").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ready_sent = Instant::now();
    let _control = send_ready(&conn).await;
    let (established, bi, uni, server_conn) = within(20, accepted).await.unwrap();
    assert!(
        established >= ready_sent,
        "the server application got the connection before the client's READY"
    );
    assert_eq!(bi, b"early");
    assert_eq!(uni, b"early");
    assert!(matches!(server_conn.status(), LinkStatus::Open));
}

#[tokio::test]
async fn st_01_server_streams_before_attestation_are_never_delivered() {
    let pki = Pki::new();
    let (raw, addr) = raw_server(&pki);
    let server = tokio::spawn(async move {
        let conn = raw.accept().await.unwrap().await.unwrap();
        send_early(&conn, b"early").await;
        let _control = send_ready(&conn).await;
        peer_stream_types(conn).await
    });
    let connector = connector_requiring_server::<AtlsConnector>(&pki)
        .with_attestation_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = connect(connector, addr).await.unwrap_err();
    assert!(matches!(err, AtlsError::Timeout), "{err}");
    let (types, close) = within(20, server).await.unwrap();
    assert_eq!(types, vec![ATTESTATION]);
    assert_eq!(close_code(&close), Some(0x100 + 40), "{close}");
}

#[tokio::test]
async fn st_03_silent_server_times_out_and_client_opens_no_application_stream() {
    let pki = Pki::new();
    let (raw, addr) = raw_server(&pki);
    let server = tokio::spawn(async move {
        let conn = raw.accept().await.unwrap().await.unwrap();
        let uni = conn.clone();
        let uni_types = tokio::spawn(async move {
            let mut types = Vec::new();
            while let Ok(mut recv) = uni.accept_uni().await {
                let mut b = [0u8; 1];
                if recv.read_exact(&mut b).await.is_ok() {
                    types.push(b[0]);
                }
            }
            types
        });
        let (bi_types, close) = peer_stream_types(conn).await;
        (bi_types, uni_types.await.unwrap(), close)
    });
    let connector = connector_requiring_server::<AtlsConnector>(&pki)
        .with_attestation_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = connect(connector, addr).await.unwrap_err();
    assert!(matches!(err, AtlsError::Timeout), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (bi_types, uni_types, close) = within(20, server).await.unwrap();
    assert_eq!(
        bi_types,
        vec![ATTESTATION],
        "one request, no application stream"
    );
    assert!(
        !uni_types.contains(&APPLICATION),
        "no application stream: {uni_types:?}"
    );
    assert_eq!(close_code(&close), Some(0x100 + 40), "{close}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn st_05_failed_reattestation_closes_the_connection() {
    let pki = Pki::new();
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_attester(Arc::new(GoesBad {
            good: std::sync::Mutex::new(1),
        }))
        .build()
        .unwrap();
    let (server, addr) = server(acceptor);
    let server = tokio::spawn(async move {
        let conn = server.accept().await.unwrap().attest().await.unwrap();
        let mut send = conn.open_uni().await.unwrap();
        // Keep sending until the link dies.
        let mut sent = 0u64;
        while send.write_all(&sent.to_be_bytes()).await.is_ok() {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
            if sent > 20_000 {
                break;
            }
        }
        (sent, conn.closed().await)
    });
    let connector = connector_requiring_server::<AtlsConnector>(&pki)
        .with_attestation_lease(Duration::from_millis(600))
        .build()
        .unwrap();
    let conn = connect(connector, addr).await.unwrap();
    let mut recv = within(20, conn.accept_uni()).await.unwrap();
    let mut buf = [0u8; 8];
    let err = within(20, async {
        loop {
            if let Err(e) = recv.read_exact(&mut buf).await {
                break e;
            }
        }
    })
    .await;
    assert!(
        matches!(
            err,
            quinn::ReadExactError::ReadError(quinn::ReadError::ConnectionLost(
                quinn::ConnectionError::LocallyClosed
            ))
        ),
        "{err:?}"
    );
    match conn.status() {
        LinkStatus::Failed(e) => assert!(
            matches!(e.attestation_error(), Some(atls_core::Error::Evidence(_))),
            "{e}"
        ),
        other => panic!("expected a failed link, got {other:?}"),
    }
    // Nothing more can be opened on the failed link.
    assert!(conn.open_bi().await.is_err());
    let (sent, server_status) = within(20, server).await.unwrap();
    assert!(
        sent < 5_000,
        "the server's writes fail once the link is torn down"
    );
    match server_status {
        LinkStatus::Failed(e) => assert!(matches!(*e, AtlsError::PeerAlert { .. }), "{e}"),
        other => panic!("expected the server to learn the alert, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_stream_type_closes_with_unexpected_message() {
    let pki = Pki::new();
    let (server, addr) = server(
        AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
            .build()
            .unwrap(),
    );
    let accepted = accept_one(server);
    let conn = raw_connect(&pki, addr).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(&[0x07, 1, 2, 3]).await.unwrap();
    let err = within(20, accepted).await.unwrap().unwrap_err();
    assert!(matches!(err, AtlsError::Protocol(_)), "{err}");
    let close = within(20, conn.closed()).await;
    assert_eq!(close_code(&close), Some(0x100 + 10), "{close}");
}
