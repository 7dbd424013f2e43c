//! The attested connection handed to the application.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use atls_tokio::{AtlsError, LinkStatus, PeerAttestation};
use quinn::{RecvStream, SendStream, VarInt};
use tokio::sync::{Mutex, mpsc, watch};

use crate::stream::StreamType;

/// The peer's application streams, delivered by the driver once READY was sent and received.
pub(crate) struct AppStreams {
    pub(crate) bi: mpsc::UnboundedReceiver<(SendStream, RecvStream)>,
    pub(crate) uni: mpsc::UnboundedReceiver<RecvStream>,
}

struct Inner {
    conn: quinn::Connection,
    status: watch::Receiver<LinkStatus>,
    bi: Mutex<mpsc::UnboundedReceiver<(SendStream, RecvStream)>>,
    uni: Mutex<mpsc::UnboundedReceiver<RecvStream>>,
    /// The driver, when this side attests its peer.
    reattest: Option<mpsc::Sender<crate::driver::ToDriver>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.conn.close(VarInt::from_u32(0), b"");
    }
}

/// A QUIC connection attested in every direction its configuration requires.
///
/// Application streams are opened and accepted only through it: the wrappers write (and
/// strip) the stream-type byte of docs/wire.md §3, so the application sees plain quinn
/// streams. When the link fails (e.g. a re-attestation is rejected) the connection is closed
/// with the alert: every stream fails, and the methods here return the reason.
///
/// Clones share the connection; it is closed (application error code 0) when the last clone
/// is dropped, streams included, so keep one while streams are in use.
#[derive(Clone)]
pub struct AttestedConnection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AttestedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestedConnection")
            .field("remote", &self.inner.conn.remote_address())
            .field("status", &*self.inner.status.borrow())
            .finish_non_exhaustive()
    }
}

impl AttestedConnection {
    pub(crate) fn new(
        conn: quinn::Connection,
        status: watch::Receiver<LinkStatus>,
        streams: AppStreams,
        reattest: Option<mpsc::Sender<crate::driver::ToDriver>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                conn,
                status,
                bi: Mutex::new(streams.bi),
                uni: Mutex::new(streams.uni),
                reattest,
            }),
        }
    }

    /// Re-attests the peer now, on a fresh attestation stream; application streams keep
    /// flowing. The outcome arrives through [`Self::watch_status`]: a new
    /// [`LinkStatus::Attested`], or [`LinkStatus::Failed`] and the connection closed.
    pub async fn reattest(&self) -> Result<(), AtlsError> {
        let Some(tx) = &self.inner.reattest else {
            return Err(AtlsError::Config(
                "this side does not attest its peer (no verifiers configured)".into(),
            ));
        };
        if let LinkStatus::Failed(e) = &*self.inner.status.borrow() {
            return Err(AtlsError::Protocol(format!("link already failed: {e}")));
        }
        tx.send(crate::driver::ToDriver::Reattest)
            .await
            .map_err(|_| AtlsError::Closed)
    }

    /// The current link status.
    pub fn status(&self) -> LinkStatus {
        self.inner.status.borrow().clone()
    }

    /// The peer's latest accepted attestation, if this side required one.
    pub fn peer_attestation(&self) -> Option<Arc<PeerAttestation>> {
        match &*self.inner.status.borrow() {
            LinkStatus::Attested(a) => Some(a.clone()),
            _ => None,
        }
    }

    /// A receiver that is notified of every later status change (re-attestation, failure);
    /// the current status counts as seen.
    pub fn watch_status(&self) -> watch::Receiver<LinkStatus> {
        let mut rx = self.inner.status.clone();
        rx.borrow_and_update();
        rx
    }

    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.inner.conn.remote_address()
    }

    /// Opens a bidirectional application stream.
    pub async fn open_bi(&self) -> Result<(SendStream, RecvStream), AtlsError> {
        self.check()?;
        let (mut send, recv) = self.inner.conn.open_bi().await.map_err(|e| self.lost(e))?;
        self.write_type(&mut send).await?;
        Ok((send, recv))
    }

    /// Opens a unidirectional application stream.
    pub async fn open_uni(&self) -> Result<SendStream, AtlsError> {
        self.check()?;
        let mut send = self.inner.conn.open_uni().await.map_err(|e| self.lost(e))?;
        self.write_type(&mut send).await?;
        Ok(send)
    }

    /// The next bidirectional application stream the peer opened.
    pub async fn accept_bi(&self) -> Result<(SendStream, RecvStream), AtlsError> {
        let next = self.inner.bi.lock().await.recv().await;
        next.ok_or_else(|| self.ended())
    }

    /// The next unidirectional application stream the peer opened.
    pub async fn accept_uni(&self) -> Result<RecvStream, AtlsError> {
        let next = self.inner.uni.lock().await.recv().await;
        next.ok_or_else(|| self.ended())
    }

    /// Closes the connection gracefully (application error code 0).
    pub fn close(&self) {
        self.inner.conn.close(VarInt::from_u32(0), b"");
    }

    /// Waits until the connection is closed, by either side or by a failure, and returns
    /// the final status.
    pub async fn closed(&self) -> LinkStatus {
        self.inner.conn.closed().await;
        let mut rx = self.inner.status.clone();
        // The driver records the close right after quinn reports it.
        let _ = rx
            .wait_for(|s| matches!(s, LinkStatus::Failed(_) | LinkStatus::Closed))
            .await;
        rx.borrow().clone()
    }

    async fn write_type(&self, send: &mut SendStream) -> Result<(), AtlsError> {
        send.write_all(&[StreamType::Application.byte()])
            .await
            .map_err(|e| match e {
                quinn::WriteError::ConnectionLost(e) => self.lost(e),
                other => AtlsError::Io(other.into()),
            })
    }

    fn check(&self) -> Result<(), AtlsError> {
        match &*self.inner.status.borrow() {
            LinkStatus::Failed(e) => Err(failed(e)),
            _ => Ok(()),
        }
    }

    /// The error for a connection that went away: the failure if the link failed.
    fn lost(&self, e: quinn::ConnectionError) -> AtlsError {
        match &*self.inner.status.borrow() {
            LinkStatus::Failed(f) => failed(f),
            _ => AtlsError::Io(e.into()),
        }
    }

    fn ended(&self) -> AtlsError {
        match self.inner.conn.close_reason() {
            Some(e) => self.lost(e),
            None => match &*self.inner.status.borrow() {
                LinkStatus::Failed(f) => failed(f),
                _ => AtlsError::Closed,
            },
        }
    }
}

fn failed(e: &AtlsError) -> AtlsError {
    AtlsError::Io(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        e.to_string(),
    ))
}
