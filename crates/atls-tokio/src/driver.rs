//! The TCP driver: three tasks around one attestation [`Engine`].
//!
//! ```text
//!            TLS stream (Shared)
//!    ┌──────────────┴──────────────┐
//!  reader task                 writer task ◀── control frames (EA, READY, ALERT)
//!    │ DATA → app (only while the gate is open) ◀── app bytes (only while the gate is open)
//!    │ EA/READY/ALERT → driver, waits for its ack
//!  driver task: Engine (session, attester, verifiers, policy, lease) + one timer
//! ```
//!
//! The reader waits for the driver to finish each control frame (including appraisal) before
//! it reads further, so no application byte that follows a failing authenticator on the
//! stream reaches the application. The driver never blocks on the socket (the writer does),
//! so a peer that stops reading cannot stall attestation.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::LinkStatus;
use crate::engine::{Action, Engine, Established, Gate};
use crate::error::AtlsError;
use crate::frame::{Frame, FrameError, MAX_DATA};
use crate::shared::Shared;

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
    engine: Engine,
    established: Established,
) -> Result<
    (
        DuplexStream,
        watch::Receiver<LinkStatus>,
        mpsc::UnboundedSender<Command>,
    ),
    AtlsError,
>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (app, ours) = tokio::io::duplex(2 * MAX_DATA);
    let (app_rx, app_tx) = tokio::io::split(ours);
    let (reader_tx, reader_rx) = mpsc::channel(4);
    let (writer_tx, writer_rx) = mpsc::unbounded_channel();

    tokio::spawn(reader(shared.clone(), app_tx, reader_tx, engine.gate()));
    tokio::spawn(writer(shared.clone(), app_rx, writer_rx, engine.gate()));
    let driver = Driver {
        shared,
        writer: writer_tx,
    };
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    tokio::spawn(driver.run(engine, reader_rx, command_rx));
    let status = established.wait().await?;
    Ok((app, status, command_tx))
}

/// What the application asks of a live link.
#[derive(Debug)]
pub(crate) enum Command {
    /// Re-attest the peer now.
    Reattest,
}

async fn reader<IO>(
    mut tls: Shared<IO>,
    mut app: WriteHalf<DuplexStream>,
    to_driver: mpsc::Sender<FromReader>,
    gate: Arc<Gate>,
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
                if !gate.is_open() {
                    if !gate.has_failed() {
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
                // Wait until the driver has acted on it (appraisal included); a failure drops
                // the ack.
                if ack_rx.await.is_err() || gate.has_failed() {
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
    gate: Arc<Gate>,
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
                    if !gate.is_open() {
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
    writer: mpsc::UnboundedSender<ToWriter>,
}

impl<IO> Driver<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn run(
        self,
        mut engine: Engine,
        mut from_reader: mpsc::Receiver<FromReader>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        if let Err(e) = self
            .serve(&mut engine, &mut from_reader, &mut commands)
            .await
            && let Some((code, reason)) = engine.fail(e)
        {
            let _ = self
                .writer
                .send(ToWriter::Frame(Frame::Alert(code, reason)));
        }
        let _ = self.writer.send(ToWriter::Shutdown);
    }

    async fn serve(
        &self,
        engine: &mut Engine,
        from_reader: &mut mpsc::Receiver<FromReader>,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Result<(), AtlsError> {
        engine.start(&self.shared)?;
        self.flush(engine);
        loop {
            let deadline = engine.poll_timeout();
            tokio::select! {
                msg = from_reader.recv() => match msg {
                    Some(FromReader::Frame(frame, ack)) => {
                        // On error the ack is dropped, after the engine failed: the reader
                        // stops before the next frame.
                        self.on_frame(engine, frame).await?;
                        let _ = ack.send(());
                    }
                    Some(FromReader::EarlyData) => {
                        return Err(AtlsError::Protocol(
                            "application data before READY was exchanged".into(),
                        ));
                    }
                    Some(FromReader::Closed(None)) | None => return engine.closed(),
                    Some(FromReader::Closed(Some(FrameError::Eof))) => return engine.closed(),
                    Some(FromReader::Closed(Some(FrameError::Io(e)))) => {
                        return match engine.is_established() {
                            false => Err(AtlsError::Io(e)),
                            true => engine.closed(),
                        };
                    }
                    Some(FromReader::Closed(Some(FrameError::Invalid(why)))) => {
                        return Err(AtlsError::Framing(why));
                    }
                },
                () = tokio::time::sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    engine.handle_timeout(&self.shared)?;
                }
                Some(Command::Reattest) = commands.recv() => {
                    engine.request_attestation(&self.shared)?;
                }
            }
            self.flush(engine);
        }
    }

    async fn on_frame(&self, engine: &mut Engine, frame: Frame) -> Result<(), AtlsError> {
        match frame {
            Frame::Ea(bytes) => engine.handle_message(&bytes, &self.shared).await,
            Frame::Ready => engine.handle_ready(),
            Frame::Alert(code, reason) => Err(AtlsError::PeerAlert { code, reason }),
            Frame::Data(_) => Err(AtlsError::Protocol(
                "data frame routed to the driver".into(),
            )),
        }
    }

    /// Hands the engine's queued actions to the writer, in order.
    fn flush(&self, engine: &mut Engine) {
        while let Some(action) = engine.poll_action() {
            let cmd = match action {
                Action::Request(m) | Action::Answer(m) => ToWriter::Frame(Frame::Ea(m)),
                Action::Ready => ToWriter::Frame(Frame::Ready),
                Action::Open => ToWriter::Open,
            };
            let _ = self.writer.send(cmd);
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}
