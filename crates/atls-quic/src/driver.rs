//! The QUIC driver: one task around the attestation [`Engine`], one task per stream.
//!
//! ```text
//!  quinn::Connection
//!    accept task ── accept_bi / accept_uni ──▶ one classify task per peer stream (type byte)
//!        control (uni)      READY / ALERT frames ─────────────▶ driver
//!        attestation (bidi) request ─▶ driver ─▶ answer written back, stream finished
//!        application        ─▶ driver: held until READY is sent and received, then the app
//!    exchange task per request: open_bi, request, finish; the authenticator ─▶ driver
//!    control task: open_uni, READY; kept open for the connection's life
//!  driver task: Engine + one timer; on failure closes the connection with 0x100 + alert
//! ```
//!
//! The driver never waits on the network: streams are opened, read and written by their
//! own tasks, so a peer that stalls one stream cannot stall attestation or its deadlines.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use atls_core::{CipherSuite, Exporter, ExporterError, HandshakeType, Role};
use atls_tokio::AtlsError;
use atls_tokio::engine::{Action, AttestationConfig, EaChainVerifier, Engine, Frame, FrameError};
use quinn::{ConnectionError, RecvStream, SendStream, VarInt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::connection::{AppStreams, AttestedConnection};
use crate::stream::StreamType;

/// Application error codes `0x100 + alert` close a connection with a TLS alert.
pub(crate) const ALERT_BASE: u32 = 0x100;

/// The TLS exporter of a QUIC connection.
struct QuicExporter(quinn::Connection);

impl Exporter for QuicExporter {
    fn export(&self, label: &[u8], context: &[u8], out: &mut [u8]) -> Result<(), ExporterError> {
        self.0
            .export_keying_material(out, label, context)
            .map_err(|_| ExporterError::Other("QUIC exporter unavailable".into()))
    }
}

/// A peer application stream, its type byte consumed.
pub(crate) enum AppStream {
    Bi(SendStream, RecvStream),
    Uni(RecvStream),
}

pub(crate) enum ToDriver {
    /// The application asks for a re-attestation of the peer now.
    Reattest,
    /// A request from an attestation stream the peer opened; the answer goes to the sender.
    Request(Vec<u8>, oneshot::Sender<Vec<u8>>),
    /// The authenticator read from an attestation stream we opened.
    Answer(Vec<u8>),
    /// The peer opened a control stream.
    ControlOpened,
    /// A READY or ALERT frame from the peer's control stream.
    Control(Frame),
    /// A peer application stream.
    App(AppStream),
    /// A peer stream broke the rules of docs/wire.md §3.
    Violation(String),
}

/// Runs attestation on an established QUIC connection; resolves once the link is attested
/// in every required direction, or failed (the connection is then closed).
pub(crate) async fn establish(
    conn: quinn::Connection,
    chain: EaChainVerifier,
    config: &Arc<AttestationConfig>,
    role: Role,
) -> Result<AttestedConnection, AtlsError> {
    // Only SHA-256 suites are enabled (see `atls_tokio::sha256_suites_provider`): the session needs the hash,
    // which quinn does not report through the negotiated suite.
    let (engine, established) = match Engine::new(
        config.clone(),
        chain,
        role,
        CipherSuite::TLS13_AES_128_GCM_SHA256,
    ) {
        Ok(e) => e,
        Err(e) => {
            close_with_alert(&conn, e.alert_code(), &e.to_string());
            return Err(e);
        }
    };
    let (tx, rx) = mpsc::channel(16);
    let (bi_tx, bi_rx) = mpsc::unbounded_channel();
    let (uni_tx, uni_rx) = mpsc::unbounded_channel();
    tokio::spawn(accept_streams(conn.clone(), tx.clone()));
    let driver = Driver {
        exporter: QuicExporter(conn.clone()),
        conn: conn.clone(),
        to_driver: tx.clone(),
        held: Vec::new(),
        bi: bi_tx,
        uni: uni_tx,
        control_seen: false,
    };
    tokio::spawn(driver.run(engine, rx));
    let status = established.wait().await?;
    let reattest = config.requires_peer_attestation().then_some(tx);
    Ok(AttestedConnection::new(
        conn,
        status,
        AppStreams {
            bi: bi_rx,
            uni: uni_rx,
        },
        reattest,
    ))
}

struct Driver {
    conn: quinn::Connection,
    exporter: QuicExporter,
    to_driver: mpsc::Sender<ToDriver>,
    held: Vec<AppStream>,
    bi: mpsc::UnboundedSender<(SendStream, RecvStream)>,
    uni: mpsc::UnboundedSender<RecvStream>,
    control_seen: bool,
}

impl Driver {
    async fn run(mut self, mut engine: Engine, mut rx: mpsc::Receiver<ToDriver>) {
        if let Err(e) = self.serve(&mut engine, &mut rx).await {
            match engine.fail(e) {
                Some((code, reason)) => close_with_alert(&self.conn, code, &reason),
                // The peer or the transport ended it; make sure it is closed.
                None => self.conn.close(VarInt::from_u32(0), b""),
            }
        }
        // Held peer streams are dropped undelivered.
        self.held.clear();
    }

    async fn serve(
        &mut self,
        engine: &mut Engine,
        rx: &mut mpsc::Receiver<ToDriver>,
    ) -> Result<(), AtlsError> {
        engine.start(&self.exporter)?;
        self.flush(engine, None)?;
        let conn = self.conn.clone();
        loop {
            let deadline = engine.poll_timeout();
            tokio::select! {
                biased;
                msg = rx.recv() => match msg {
                    Some(msg) => self.on_message(engine, msg).await?,
                    None => return engine.closed(),
                },
                e = conn.closed() => return on_close(engine, e),
                () = tokio::time::sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    engine.handle_timeout(&self.exporter)?;
                    self.flush(engine, None)?;
                }
            }
        }
    }

    async fn on_message(&mut self, engine: &mut Engine, msg: ToDriver) -> Result<(), AtlsError> {
        match msg {
            ToDriver::Reattest => {
                engine.request_attestation(&self.exporter)?;
                self.flush(engine, None)
            }
            ToDriver::Request(bytes, reply) => {
                if !is_request(&bytes) {
                    return Err(AtlsError::Protocol(
                        "an authenticator on a peer-opened attestation stream".into(),
                    ));
                }
                engine.handle_message(&bytes, &self.exporter).await?;
                self.flush(engine, Some(reply))
            }
            ToDriver::Answer(bytes) => {
                if is_request(&bytes) {
                    return Err(AtlsError::Protocol(
                        "a request in answer on an attestation stream".into(),
                    ));
                }
                engine.handle_message(&bytes, &self.exporter).await?;
                self.flush(engine, None)
            }
            ToDriver::ControlOpened => match std::mem::replace(&mut self.control_seen, true) {
                true => Err(AtlsError::Protocol("a second control stream".into())),
                false => Ok(()),
            },
            ToDriver::Control(Frame::Ready) => {
                engine.handle_ready()?;
                self.flush(engine, None)
            }
            ToDriver::Control(Frame::Alert(code, reason)) => {
                Err(AtlsError::PeerAlert { code, reason })
            }
            ToDriver::Control(_) => Err(AtlsError::Protocol(
                "a frame other than READY or ALERT on the control stream".into(),
            )),
            ToDriver::App(stream) => {
                match engine.gate().is_open() {
                    true => self.deliver(stream),
                    // Held, unread, until READY is sent and received; dropped if the link
                    // fails first.
                    false => self.held.push(stream),
                }
                Ok(())
            }
            ToDriver::Violation(why) => Err(AtlsError::Protocol(why)),
        }
    }

    /// Carries out the engine's queued actions; `reply` takes the answer to the peer request
    /// just handled.
    fn flush(
        &mut self,
        engine: &mut Engine,
        mut reply: Option<oneshot::Sender<Vec<u8>>>,
    ) -> Result<(), AtlsError> {
        while let Some(action) = engine.poll_action() {
            match action {
                Action::Request(m) => {
                    tokio::spawn(exchange(self.conn.clone(), m, self.to_driver.clone()));
                }
                Action::Answer(m) => match reply.take() {
                    Some(r) => {
                        let _ = r.send(m);
                    }
                    None => {
                        return Err(AtlsError::Protocol(
                            "an answer without a request stream".into(),
                        ));
                    }
                },
                Action::Ready => {
                    tokio::spawn(send_ready(self.conn.clone()));
                }
                Action::Open => {
                    for stream in std::mem::take(&mut self.held) {
                        self.deliver(stream);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn deliver(&self, stream: AppStream) {
        // The application may have dropped its receivers; the streams are then dropped.
        let _ = match stream {
            AppStream::Bi(send, recv) => self.bi.send((send, recv)).map_err(drop),
            AppStream::Uni(recv) => self.uni.send(recv).map_err(drop),
        };
    }
}

/// Closes `conn` with application error code `0x100 + alert` and `reason`.
pub(crate) fn close_with_alert(conn: &quinn::Connection, alert: u8, reason: &str) {
    conn.close(
        VarInt::from_u32(ALERT_BASE + u32::from(alert)),
        reason.as_bytes(),
    );
}

fn on_close(engine: &mut Engine, e: ConnectionError) -> Result<(), AtlsError> {
    match e {
        ConnectionError::ApplicationClosed(close) => {
            let code = close.error_code.into_inner();
            match code.checked_sub(u64::from(ALERT_BASE)).map(u8::try_from) {
                Some(Ok(alert)) => Err(AtlsError::PeerAlert {
                    code: alert,
                    reason: String::from_utf8_lossy(&close.reason).into_owned(),
                }),
                _ => engine.closed(),
            }
        }
        ConnectionError::LocallyClosed => engine.closed(),
        other => match engine.is_established() {
            false => Err(AtlsError::Io(io::Error::from(other))),
            true => engine.closed(),
        },
    }
}

fn is_request(message: &[u8]) -> bool {
    message.first().is_some_and(|&t| {
        matches!(
            HandshakeType::from(t),
            HandshakeType::CertificateRequest | HandshakeType::ClientCertificateRequest
        )
    })
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Accepts every peer stream and classifies each in its own task.
async fn accept_streams(conn: quinn::Connection, tx: mpsc::Sender<ToDriver>) {
    loop {
        tokio::select! {
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => {
                    tokio::spawn(classify(Some(send), recv, tx.clone()));
                }
                Err(_) => break,
            },
            uni = conn.accept_uni() => match uni {
                Ok(recv) => {
                    tokio::spawn(classify(None, recv, tx.clone()));
                }
                Err(_) => break,
            },
            () = tx.closed() => break,
        }
    }
}

/// Reads a peer stream's type byte and routes the stream.
async fn classify(send: Option<SendStream>, mut recv: RecvStream, tx: mpsc::Sender<ToDriver>) {
    let mut byte = [0u8; 1];
    if recv.read_exact(&mut byte).await.is_err() {
        // Ended or reset before its type: nothing to route.
        return;
    }
    let bidirectional = send.is_some();
    let msg = match (StreamType::of_peer_stream(byte[0], bidirectional), send) {
        (Some(StreamType::Control), None) => return control_stream(recv, tx).await,
        (Some(StreamType::Attestation), Some(send)) => return answer_stream(send, recv, tx).await,
        (Some(StreamType::Application), Some(send)) => ToDriver::App(AppStream::Bi(send, recv)),
        (Some(StreamType::Application), None) => ToDriver::App(AppStream::Uni(recv)),
        _ => ToDriver::Violation(format!(
            "stream type {:#04x} on a {} stream",
            byte[0],
            match bidirectional {
                true => "bidirectional",
                false => "unidirectional",
            }
        )),
    };
    let _ = tx.send(msg).await;
}

/// Forwards the frames of the peer's control stream.
async fn control_stream(mut recv: RecvStream, tx: mpsc::Sender<ToDriver>) {
    if tx.send(ToDriver::ControlOpened).await.is_err() {
        return;
    }
    loop {
        let msg = match Frame::read(&mut recv).await {
            Ok(f @ (Frame::Ready | Frame::Alert(..))) => ToDriver::Control(f),
            Ok(_) => ToDriver::Violation("an EA or DATA frame on the control stream".into()),
            Err(FrameError::Invalid(why)) => ToDriver::Violation(why),
            // The peer is going away; its connection close says why.
            Err(FrameError::Eof | FrameError::Io(_)) => return,
        };
        let stop = matches!(msg, ToDriver::Violation(_));
        if tx.send(msg).await.is_err() || stop {
            return;
        }
    }
}

/// Reads the one EA frame of an attestation stream direction, then its end.
async fn read_exchange_message(recv: &mut RecvStream) -> Result<Vec<u8>, Option<String>> {
    let message = match Frame::read(recv).await {
        Ok(Frame::Ea(m)) => m,
        Ok(_) => {
            return Err(Some(
                "a frame other than EA on an attestation stream".into(),
            ));
        }
        Err(FrameError::Invalid(why)) => return Err(Some(why)),
        Err(FrameError::Eof) => return Err(Some("an attestation stream ended empty".into())),
        // Reset or connection lost: the exchange times out or the close says why.
        Err(FrameError::Io(_)) => return Err(None),
    };
    match Frame::read(recv).await {
        Err(FrameError::Eof) => Ok(message),
        Err(FrameError::Io(_)) => Err(None),
        _ => Err(Some(
            "bytes after the EA frame on an attestation stream".into(),
        )),
    }
}

/// Serves one attestation exchange the peer opened: its request to the driver, the answer
/// back on the same stream.
async fn answer_stream(mut send: SendStream, mut recv: RecvStream, tx: mpsc::Sender<ToDriver>) {
    let request = match read_exchange_message(&mut recv).await {
        Ok(m) => m,
        Err(Some(why)) => {
            let _ = tx.send(ToDriver::Violation(why)).await;
            return;
        }
        Err(None) => return,
    };
    let (reply_tx, reply_rx) = oneshot::channel();
    if tx.send(ToDriver::Request(request, reply_tx)).await.is_err() {
        return;
    }
    let Ok(answer) = reply_rx.await else {
        return;
    };
    if send.write_all(&Frame::Ea(answer).encode()).await.is_ok() {
        let _ = send.finish();
    }
}

/// Runs one exchange as relying party: a fresh stream, the request, the authenticator.
async fn exchange(conn: quinn::Connection, request: Vec<u8>, tx: mpsc::Sender<ToDriver>) {
    let Ok((mut send, mut recv)) = conn.open_bi().await else {
        return;
    };
    let mut bytes = vec![StreamType::Attestation.byte()];
    bytes.extend_from_slice(&Frame::Ea(request).encode());
    if send.write_all(&bytes).await.is_err() || send.finish().is_err() {
        return;
    }
    let msg = match read_exchange_message(&mut recv).await {
        Ok(answer) => ToDriver::Answer(answer),
        Err(Some(why)) => ToDriver::Violation(why),
        Err(None) => return,
    };
    let _ = tx.send(msg).await;
}

/// Opens the control stream with READY and keeps it open for the connection's life.
async fn send_ready(conn: quinn::Connection) {
    let Ok(mut send) = conn.open_uni().await else {
        return;
    };
    let mut bytes = vec![StreamType::Control.byte()];
    bytes.extend_from_slice(&Frame::Ready.encode());
    if send.write_all(&bytes).await.is_ok() {
        // Dropping the stream would finish it.
        conn.closed().await;
    }
}
