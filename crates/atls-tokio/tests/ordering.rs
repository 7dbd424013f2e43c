//! Ordering and downgrade over real sockets (ST-01, ST-02, ST-03, ST-05), with a raw peer that
//! speaks TLS and the frame format directly so it can misbehave.

mod common;

use std::sync::Arc;
use std::time::Duration;

use atls_tokio::{AtlsAcceptor, AtlsConnector, AtlsError, LinkStatus};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DATA_FRAME: &[u8] = &[0x02, 0, 0, 5, b'e', b'a', b'r', b'l', b'y'];

fn raw_client_config(pki: &Pki) -> Arc<rustls::ClientConfig> {
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(pki.roots())
    .with_no_client_auth();
    Arc::new(cfg)
}

fn raw_server_config(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(pki.server_chain.clone(), key(&pki.server_key))
    .unwrap();
    Arc::new(cfg)
}

/// Reads frames until EOF and returns their type bytes.
async fn frame_types<R: AsyncReadExt + Unpin>(r: &mut R) -> Vec<u8> {
    let mut types = Vec::new();
    let mut header = [0u8; 4];
    while r.read_exact(&mut header).await.is_ok() {
        types.push(header[0]);
        let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let mut payload = vec![0u8; len];
        if r.read_exact(&mut payload).await.is_err() {
            break;
        }
    }
    types
}

#[tokio::test]
async fn st_01_client_data_before_attestation_is_never_delivered_and_closes() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_attester(attester("srv"))
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        acceptor.accept(tcp).await
    });
    let connector = tokio_rustls::TlsConnector::from(raw_client_config(&pki));
    let mut tls = connector.connect(name(), tcp(addr).await).await.unwrap();
    tls.write_all(DATA_FRAME).await.unwrap();
    tls.flush().await.unwrap();
    let err = server.await.unwrap().unwrap_err();
    assert!(matches!(err, AtlsError::Protocol(_)), "{err}");
    assert_eq!(err.alert_code(), 10);
    // The raw client sees an ALERT, and never a DATA frame.
    let types = frame_types(&mut tls).await;
    assert!(types.contains(&0x04), "{types:?}");
    assert!(!types.contains(&0x02), "{types:?}");
}

#[tokio::test]
async fn st_01_server_data_before_attestation_is_never_delivered_and_closes() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let raw = tokio_rustls::TlsAcceptor::from(raw_server_config(&pki));
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut tls = raw.accept(tcp).await.unwrap();
        tls.write_all(DATA_FRAME).await.unwrap();
        tls.flush().await.unwrap();
        frame_types(&mut tls).await
    });
    let connector = connector_requiring_server::<AtlsConnector>(&pki)
        .build()
        .unwrap();
    let err = connector
        .connect(name(), tcp(addr).await)
        .await
        .unwrap_err();
    assert!(matches!(err, AtlsError::Protocol(_)), "{err}");
    let types = server.await.unwrap();
    // The client sent its request and the alert; no application data.
    assert_eq!(types.first(), Some(&0x01));
    assert!(!types.contains(&0x02), "{types:?}");
}

#[tokio::test]
async fn st_02_st_03_silent_server_times_out_and_client_sends_no_data() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let raw = tokio_rustls::TlsAcceptor::from(raw_server_config(&pki));
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut tls = raw.accept(tcp).await.unwrap();
        frame_types(&mut tls).await
    });
    let connector = AtlsConnector::builder()
        .with_root_certificates(pki.roots())
        .require_server_attestation(verifiers())
        .with_attestation_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = connector
        .connect(name(), tcp(addr).await)
        .await
        .unwrap_err();
    assert!(matches!(err, AtlsError::Timeout), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // No stream was handed out, so the application could not write; on the wire there is
    // the request and the alert, and no DATA.
    assert_eq!(server.await.unwrap(), vec![0x01, 0x04]);
}

#[tokio::test]
async fn st_05_failed_reattestation_tears_down_and_stops_delivery() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let acceptor = AtlsAcceptor::builder(pki.server_chain.clone(), key(&pki.server_key))
        .with_attester(Arc::new(GoesBad {
            good: std::sync::Mutex::new(1),
        }))
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut s = acceptor.accept(tcp).await.unwrap();
        // Keep sending until the link dies.
        let mut sent = 0u64;
        while s.write_all(&sent.to_be_bytes()).await.is_ok() {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
            if sent > 20_000 {
                break;
            }
        }
        sent
    });
    let connector = AtlsConnector::builder()
        .with_root_certificates(pki.roots())
        .require_server_attestation(verifiers())
        .with_attestation_lease(Duration::from_millis(600))
        .build()
        .unwrap();
    let mut s = connector.connect(name(), tcp(addr).await).await.unwrap();
    let mut buf = [0u8; 8];
    let err = loop {
        match s.read_exact(&mut buf).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted, "{err}");
    match s.status() {
        LinkStatus::Failed(e) => assert!(
            matches!(e.attestation_error(), Some(atls_core::Error::Evidence(_))),
            "{e}"
        ),
        other => panic!("expected a failed link, got {other:?}"),
    }
    let sent = server.await.unwrap();
    assert!(
        sent < 5_000,
        "the server's writes must fail once the link is torn down"
    );
}

/// The server side of a raw connection as an `atls_core::Exporter`.
struct RawExporter<'a>(&'a rustls::ServerConnection);

impl atls_core::Exporter for RawExporter<'_> {
    fn export(
        &self,
        label: &[u8],
        context: &[u8],
        out: &mut [u8],
    ) -> Result<(), atls_core::ExporterError> {
        self.0
            .export_keying_material(out, label, Some(context))
            .map(|_| ())
            .map_err(|e| atls_core::ExporterError::Other(e.to_string()))
    }
}

#[tokio::test]
async fn st_04_valid_authenticator_without_evidence_fails_closed() {
    let pki = Pki::new();
    let (l, addr) = listener().await;
    let raw = tokio_rustls::TlsAcceptor::from(raw_server_config(&pki));
    let server_key = key(&pki.server_key);
    let chain = pki.server_chain.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut tls = raw.accept(tcp).await.unwrap();
        // Read the client's request frame.
        let mut header = [0u8; 4];
        tls.read_exact(&mut header).await.unwrap();
        assert_eq!(header[0], 0x01, "an EA frame");
        let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let mut request = vec![0u8; len];
        tls.read_exact(&mut request).await.unwrap();
        // A correct RFC 9261 authenticator for it, signed with the server's key, without
        // cmw_attestation.
        use atls_core::Codec;
        let ctx = atls_core::AuthenticatorRequest::decode(&request)
            .unwrap()
            .context;
        let identity = atls_core::CertifiedKey {
            chain,
            key: atls_core::signing_key_from_pkcs8_der(server_key.secret_der()).unwrap(),
        };
        let hash = atls_core::HashAlgorithm::Sha256;
        let auth = {
            let exporter = RawExporter(tls.get_ref().1);
            let keys =
                atls_core::AuthenticatorKeys::derive(&exporter, hash, atls_core::Role::Server)
                    .unwrap();
            atls_core::build_authenticator(hash, &keys, &request, &ctx, &identity, vec![]).unwrap()
        };
        let frame = [
            &[0x01u8][..],
            &(auth.len() as u32).to_be_bytes()[1..],
            &auth,
        ]
        .concat();
        tls.write_all(&frame).await.unwrap();
        tls.flush().await.unwrap();
        frame_types(&mut tls).await
    });
    let connector = connector_requiring_server::<AtlsConnector>(&pki)
        .build()
        .unwrap();
    let err = connector
        .connect(name(), tcp(addr).await)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.attestation_error(),
            Some(atls_core::Error::AttestationMissing)
        ),
        "{err}"
    );
    assert_eq!(err.alert_code(), 109);
    // The raw server sees the alert and never any application data.
    let types = server.await.unwrap();
    assert_eq!(types, vec![0x04], "{types:?}");
}
