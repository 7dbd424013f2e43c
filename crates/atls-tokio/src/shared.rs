//! A TLS stream shared between a reader task, a writer task and the exporter.
//!
//! `tokio::io::split` gives halves without access to the connection, but the session needs
//! the connection's exporter at any time (each new request context has its own binder
//! exporter), so the halves here share the stream behind a mutex held only inside a poll.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use atls_core::{Exporter, ExporterError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsStream;

pub(crate) struct Shared<IO>(Arc<Mutex<TlsStream<IO>>>);

impl<IO> Clone for Shared<IO> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<IO> Shared<IO> {
    pub(crate) fn new(stream: TlsStream<IO>) -> Self {
        Self(Arc::new(Mutex::new(stream)))
    }

    fn with<R>(&self, f: impl FnOnce(&mut TlsStream<IO>) -> R) -> R {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// DER certificates the peer presented in the handshake.
    pub(crate) fn peer_certificates(&self) -> Vec<Vec<u8>> {
        self.with(|s| {
            let certs = match s {
                TlsStream::Client(c) => c.get_ref().1.peer_certificates(),
                TlsStream::Server(c) => c.get_ref().1.peer_certificates(),
            };
            certs
                .map(|c| c.iter().map(|d| d.to_vec()).collect())
                .unwrap_or_default()
        })
    }

    /// The negotiated cipher suite's codepoint.
    pub(crate) fn cipher_suite(&self) -> Option<u16> {
        self.with(|s| {
            let suite = match s {
                TlsStream::Client(c) => c.get_ref().1.negotiated_cipher_suite(),
                TlsStream::Server(c) => c.get_ref().1.negotiated_cipher_suite(),
            };
            suite.map(|s| u16::from(s.suite()))
        })
    }
}

impl<IO> Exporter for Shared<IO> {
    fn export(&self, label: &[u8], context: &[u8], out: &mut [u8]) -> Result<(), ExporterError> {
        self.with(|s| {
            let res = match s {
                TlsStream::Client(c) => {
                    c.get_ref()
                        .1
                        .export_keying_material(&mut *out, label, Some(context))
                }
                TlsStream::Server(c) => {
                    c.get_ref()
                        .1
                        .export_keying_material(&mut *out, label, Some(context))
                }
            };
            res.map(|_| ()).map_err(|e| match e {
                rustls::Error::HandshakeNotComplete => ExporterError::HandshakeNotComplete,
                other => ExporterError::Other(other.to_string()),
            })
        })
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Shared<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.with(|s| Pin::new(s).poll_read(cx, buf))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Shared<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(|s| Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|s| Pin::new(s).poll_shutdown(cx))
    }
}
