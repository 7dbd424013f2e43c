//! The connection driver: three tasks around one sans-IO session.
//!
//! ```text
//!            TLS stream (Shared)
//!    ┌──────────────┴──────────────┐
//!  reader task                 writer task ◀── control frames (EA, READY, ALERT)
//!    │ DATA → app (only after READY sent)   ◀── app bytes (only after READY sent and received)
//!    │ EA/READY/ALERT → driver, waits for its ack
//!  driver task: atls_core::Session + attester + verifiers + policy + timers
//! ```
//!
//! The reader waits for the driver to finish each control frame (including appraisal) before
//! it reads further, so no application byte that follows a failing authenticator on the
//! stream reaches the application. The driver never blocks on the socket (the writer does),
//! so a peer that stops reading cannot stall attestation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use atls_core::{AppraisalError, Event, Role, Session};
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::error::AtlsError;
use crate::frame::{Frame, FrameError, MAX_DATA};
use crate::shared::Shared;
use crate::{Inner, LinkStatus, PeerAttestation};

/// Link state shared by the three tasks.
pub(crate) struct Flags(AtomicU8);

const READY_SENT: u8 = 1;
const PEER_READY: u8 = 2;
const FAILED: u8 = 4;

impl Flags {
    fn set(&self, bit: u8) {
        self.0.fetch_or(bit, Ordering::SeqCst);
    }

    fn has(&self, bit: u8) -> bool {
        self.0.load(Ordering::SeqCst) & bit != 0
    }

    /// DATA is accepted once we sent READY and the peer sent its READY before the data.
    fn may_receive(&self) -> bool {
        self.has(READY_SENT) && self.has(PEER_READY) && !self.has(FAILED)
    }

    fn may_send(&self) -> bool {
        self.has(READY_SENT) && self.has(PEER_READY) && !self.has(FAILED)
    }
}

enum FromReader {
    Frame(Frame, oneshot::Sender<()>),
    /// The peer sent application data before READY was exchanged.
    EarlyData,
    /// The stream ended or failed.
    Closed(Option<FrameError>),
}

enum ToWriter {
    Frame(Frame),
    /// READY was sent and received: start forwarding application bytes.
    Open,
    /// Send nothing more; close the TLS stream.
    Shutdown,
}

/// Spawns the tasks for an established TLS stream. Resolves once the link is attested in
/// every required direction (or failed).
pub(crate) async fn run<IO>(
    shared: Shared<IO>,
    mut session: Session<PeerAttestation>,
    inner: Arc<Inner>,
) -> Result<(DuplexStream, watch::Receiver<LinkStatus>), AtlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (app, ours) = tokio::io::duplex(2 * MAX_DATA);
    let (app_rx, app_tx) = tokio::io::split(ours);
    let flags = Arc::new(Flags(AtomicU8::new(0)));
    let (status_tx, status_rx) = watch::channel(LinkStatus::Attesting);
    let (reader_tx, reader_rx) = mpsc::channel(4);
    let (writer_tx, writer_rx) = mpsc::unbounded_channel();
    let (established_tx, established_rx) = oneshot::channel();

    tokio::spawn(reader(shared.clone(), app_tx, reader_tx, flags.clone()));
    tokio::spawn(writer(shared.clone(), app_rx, writer_rx, flags.clone()));

    let requires_peer = inner.requires_peer_attestation;
    if requires_peer {
        let ctx = session.request_attestation(std::time::Instant::now(), &shared);
        if let Err(e) = ctx {
            return Err(e.into());
        }
    }
    let driver = Driver {
        shared,
        inner,
        flags,
        writer: writer_tx,
        status: status_tx,
        established: Some(established_tx),
        requires_peer,
        lease_renew_at: None,
        lease_expires_at: None,
        attested_once: false,
    };
    tokio::spawn(driver.run(session, reader_rx));
    match established_rx.await {
        Ok(Ok(())) => Ok((app, status_rx)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(AtlsError::Closed),
    }
}

async fn reader<IO>(
    mut tls: Shared<IO>,
    mut app: WriteHalf<DuplexStream>,
    to_driver: mpsc::Sender<FromReader>,
    flags: Arc<Flags>,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let frame = match Frame::read(&mut tls).await {
            Ok(f) => f,
            Err(e) => {
                let _ = to_driver.send(FromReader::Closed(Some(e))).await;
                break;
            }
        };
        match frame {
            Frame::Data(bytes) => {
                if !flags.may_receive() {
                    if !flags.has(FAILED) {
                        let _ = to_driver.send(FromReader::EarlyData).await;
                    }
                    break;
                }
                if app.write_all(&bytes).await.is_err() {
                    // The application dropped its stream; keep serving attestation.
                    continue;
                }
            }
            control => {
                let (ack_tx, ack_rx) = oneshot::channel();
                if to_driver
                    .send(FromReader::Frame(control, ack_tx))
                    .await
                    .is_err()
                {
                    break;
                }
                // Wait until the driver has acted on it (appraisal included).
                if ack_rx.await.is_err() || flags.has(FAILED) {
                    break;
                }
            }
        }
    }
    let _ = app.shutdown().await;
}

async fn writer<IO>(
    mut tls: Shared<IO>,
    mut app: ReadHalf<DuplexStream>,
    mut from_driver: mpsc::UnboundedReceiver<ToWriter>,
    flags: Arc<Flags>,
) where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut open = false;
    let mut app_done = false;
    let mut buf = vec![0u8; MAX_DATA];
    loop {
        tokio::select! {
            biased;
            cmd = from_driver.recv() => match cmd {
                Some(ToWriter::Frame(f)) => {
                    if f.write(&mut tls).await.is_err() || tls.flush().await.is_err() {
                        break;
                    }
                }
                Some(ToWriter::Open) => open = true,
                Some(ToWriter::Shutdown) | None => break,
            },
            n = app.read(&mut buf), if open && !app_done => match n {
                Ok(0) | Err(_) => {
                    // The application finished writing: close our direction of TLS.
                    app_done = true;
                    let _ = tls.shutdown().await;
                }
                Ok(n) => {
                    if !flags.may_send() {
                        break;
                    }
                    let chunk = buf.get(..n).unwrap_or_default().to_vec();
                    if Frame::Data(chunk).write(&mut tls).await.is_err() || tls.flush().await.is_err() {
                        break;
                    }
                }
            },
        }
    }
    let _ = tls.shutdown().await;
}

struct Driver<IO> {
    shared: Shared<IO>,
    inner: Arc<Inner>,
    flags: Arc<Flags>,
    writer: mpsc::UnboundedSender<ToWriter>,
    status: watch::Sender<LinkStatus>,
    established: Option<oneshot::Sender<Result<(), AtlsError>>>,
    requires_peer: bool,
    lease_renew_at: Option<Instant>,
    lease_expires_at: Option<Instant>,
    attested_once: bool,
}

impl<IO> Driver<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn run(
        mut self,
        mut session: Session<PeerAttestation>,
        mut from_reader: mpsc::Receiver<FromReader>,
    ) {
        let setup_deadline = Instant::now() + self.inner.attestation_timeout;
        let result = self
            .serve(&mut session, &mut from_reader, setup_deadline)
            .await;
        if let Err(e) = result {
            self.fail(e);
        }
        let _ = self.writer.send(ToWriter::Shutdown);
    }

    async fn serve(
        &mut self,
        session: &mut Session<PeerAttestation>,
        from_reader: &mut mpsc::Receiver<FromReader>,
        setup_deadline: Instant,
    ) -> Result<(), AtlsError> {
        self.pump(session).await?;
        loop {
            let deadline = self.next_deadline(session, setup_deadline);
            tokio::select! {
                msg = from_reader.recv() => match msg {
                    Some(FromReader::Frame(frame, ack)) => {
                        let r = self.on_frame(session, frame).await;
                        let _ = ack.send(());
                        r?;
                    }
                    Some(FromReader::EarlyData) => {
                        return Err(AtlsError::Protocol(
                            "application data before READY was exchanged".into(),
                        ));
                    }
                    Some(FromReader::Closed(None)) | None => return self.closed(),
                    Some(FromReader::Closed(Some(FrameError::Eof))) => return self.closed(),
                    Some(FromReader::Closed(Some(FrameError::Io(e)))) => {
                        return match self.established.is_some() {
                            true => Err(AtlsError::Io(e)),
                            false => self.closed(),
                        };
                    }
                    Some(FromReader::Closed(Some(FrameError::Invalid(why)))) => {
                        return Err(AtlsError::Protocol(why));
                    }
                },
                () = tokio::time::sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    self.on_deadline(session, setup_deadline)?;
                }
            }
            self.pump(session).await?;
        }
    }

    fn closed(&mut self) -> Result<(), AtlsError> {
        match self.established.is_some() {
            true => Err(AtlsError::Closed),
            false => {
                let _ = self.status.send(LinkStatus::Closed);
                Ok(())
            }
        }
    }

    async fn on_frame(
        &mut self,
        session: &mut Session<PeerAttestation>,
        frame: Frame,
    ) -> Result<(), AtlsError> {
        match frame {
            Frame::Ea(bytes) => {
                session.handle_message(std::time::Instant::now(), &bytes, &self.shared)?;
                self.pump(session).await
            }
            Frame::Ready => {
                if self.flags.has(PEER_READY) {
                    return Err(AtlsError::Protocol("second READY".into()));
                }
                self.flags.set(PEER_READY);
                self.maybe_open();
                Ok(())
            }
            Frame::Alert(code, reason) => Err(AtlsError::PeerAlert { code, reason }),
            Frame::Data(_) => Err(AtlsError::Protocol(
                "data frame routed to the driver".into(),
            )),
        }
    }

    fn on_deadline(
        &mut self,
        session: &mut Session<PeerAttestation>,
        setup_deadline: Instant,
    ) -> Result<(), AtlsError> {
        let now = Instant::now();
        if self.established.is_some() && now >= setup_deadline {
            return Err(AtlsError::Timeout);
        }
        if self.lease_expires_at.is_some_and(|t| now >= t) {
            return Err(AtlsError::LeaseExpired);
        }
        if self.lease_renew_at.is_some_and(|t| now >= t) {
            self.lease_renew_at = None;
            session.request_attestation(std::time::Instant::now(), &self.shared)?;
        }
        session.handle_timeout(std::time::Instant::now())?;
        Ok(())
    }

    fn next_deadline(
        &self,
        session: &Session<PeerAttestation>,
        setup_deadline: Instant,
    ) -> Option<Instant> {
        let session_deadline = session.poll_timeout().map(|(t, _)| Instant::from_std(t));
        [
            session_deadline,
            self.established.is_some().then_some(setup_deadline),
            self.lease_renew_at,
            self.lease_expires_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Sends queued messages and handles session events until none is left.
    async fn pump(&mut self, session: &mut Session<PeerAttestation>) -> Result<(), AtlsError> {
        loop {
            while let Some(m) = session.poll_transmit() {
                let _ = self.writer.send(ToWriter::Frame(Frame::Ea(m)));
            }
            let Some(event) = session.poll_event() else {
                break;
            };
            match event {
                Event::EvidenceRequested { id, binding } => {
                    let evidence = match &self.inner.attester {
                        Some(a) => a
                            .attest(&binding)
                            .await
                            .map_err(|e| -> atls_core::BoxError { Box::new(e) }),
                        None => Err("no attester configured".into()),
                    };
                    if let Err(e) = &evidence {
                        tracing::warn!(error = %e, "refusing an attestation request");
                    }
                    session.handle_evidence(id, evidence)?;
                }
                Event::AppraisalRequested {
                    id,
                    evidence,
                    binding,
                    peer_chain,
                } => {
                    let verdict = self.appraise(&evidence, &binding).await;
                    let verdict = verdict.map(|(claims, policy)| PeerAttestation {
                        claims,
                        policy_verdict: policy,
                        peer_chain,
                    });
                    session.handle_appraisal(id, verdict)?;
                }
                Event::Attested { claims, .. } => {
                    tracing::info!(evidence = %claims.claims.evidence_type, "peer attested");
                    let _ = self.status.send(LinkStatus::Attested(Arc::new(claims)));
                    self.attested_once = true;
                    if let Some(lease) = self.inner.lease {
                        let now = Instant::now();
                        self.lease_renew_at = Some(now + lease.mul_f64(2.0 / 3.0));
                        self.lease_expires_at = Some(now + lease);
                    }
                    self.maybe_ready();
                }
                _ => {}
            }
        }
        if !self.requires_peer {
            self.maybe_ready();
        }
        Ok(())
    }

    async fn appraise(
        &self,
        evidence: &[u8],
        binding: &atls_core::Binding,
    ) -> Result<(atls_evidence::Claims, Option<serde_json::Value>), AppraisalError> {
        let claims = self.inner.verifiers.appraise(evidence, binding).await?;
        let verdict = match &self.inner.policy {
            Some(policy) => Some(policy.check(&claims).map_err(AppraisalError::Policy)?),
            None => None,
        };
        Ok((claims, verdict))
    }

    fn maybe_ready(&mut self) {
        if self.flags.has(READY_SENT) || (self.requires_peer && !self.attested_once) {
            return;
        }
        self.flags.set(READY_SENT);
        let _ = self.writer.send(ToWriter::Frame(Frame::Ready));
        self.maybe_open();
    }

    fn maybe_open(&mut self) {
        if self.flags.may_send() {
            let _ = self.writer.send(ToWriter::Open);
            if let Some(tx) = self.established.take() {
                if !self.attested_once {
                    let _ = self.status.send(LinkStatus::Open);
                }
                let _ = tx.send(Ok(()));
            }
        }
    }

    fn fail(&mut self, e: AtlsError) {
        self.flags.set(FAILED);
        tracing::warn!(error = %e, "attested connection failed");
        if !matches!(
            e,
            AtlsError::PeerAlert { .. } | AtlsError::Closed | AtlsError::Io(_)
        ) {
            let _ = self
                .writer
                .send(ToWriter::Frame(Frame::Alert(e.alert_code(), e.to_string())));
        }
        // Before establishment the caller of connect/accept gets the error; after it, the
        // application sees it through the stream's status.
        match self.established.take() {
            Some(tx) => {
                let _ = tx.send(Err(e));
            }
            None => {
                let _ = self.status.send(LinkStatus::Failed(Arc::new(e)));
            }
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// The role a session plays.
pub(crate) fn role_of(client: bool) -> Role {
    match client {
        true => Role::Client,
        false => Role::Server,
    }
}
