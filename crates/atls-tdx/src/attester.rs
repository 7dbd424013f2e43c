//! [`TdxAttester`]: TDX quotes over `binder ‖ AIK_pub_hash`, generated through configfs-tsm.

use core::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use atls_core::Binding;
use atls_evidence::{
    Attester, BoxFuture, Cmw, EvidenceError, Indicator, MediaType, Record, TDX_QUOTE_MEDIA_TYPE,
};

use crate::configfs::{ConfigfsError, ConfigfsTsm, DEFAULT_TSM_REPORT_ROOT};
use crate::verifier::report_data_for;

/// Produces TDX evidence inside a TD: a quote whose REPORTDATA is
/// `binder(32) ‖ AIK_pub_hash(32)`, in a CBOR CMW record of type [`TDX_QUOTE_MEDIA_TYPE`]
/// with the evidence indicator.
///
/// Its only entry point is [`Attester::attest`], which takes a [`Binding`] (only a session
/// can make one): no public function quotes caller-chosen REPORTDATA, so the attester cannot
/// be used as a quote oracle by a relay (RL-03).
///
/// ```compile_fail
/// // The configfs generator is not public.
/// let tsm = atls_tdx::ConfigfsTsm::new("/sys/kernel/config/tsm/report".into());
/// ```
///
/// Quote generation blocks on file IO (tens of milliseconds on hardware), so each request
/// runs on its own thread and the returned future completes when it is done: any executor
/// can poll it. A SHA-384 binding (48-byte binder and key hash) does not fit REPORTDATA and
/// is refused with [`EvidenceError::UnsupportedSuiteForProfile`] (CB-05). Generation
/// failures are [`EvidenceError::Backend`] holding a [`ConfigfsError`].
#[derive(Clone)]
pub struct TdxAttester {
    tsm: Arc<ConfigfsTsm>,
}

impl fmt::Debug for TdxAttester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TdxAttester")
            .field("tsm", &self.tsm)
            .finish()
    }
}

impl Default for TdxAttester {
    fn default() -> Self {
        Self::new()
    }
}

impl TdxAttester {
    /// An attester using the kernel's configfs-tsm at `/sys/kernel/config/tsm/report`.
    pub fn new() -> Self {
        Self::with_configfs_root(PathBuf::from(DEFAULT_TSM_REPORT_ROOT))
    }

    /// An attester using the configfs-tsm report directory at `root` (where configfs is
    /// mounted elsewhere).
    pub fn with_configfs_root(root: PathBuf) -> Self {
        Self::with_tsm(ConfigfsTsm::new(root))
    }

    pub(crate) fn with_tsm(tsm: ConfigfsTsm) -> Self {
        Self { tsm: Arc::new(tsm) }
    }

    async fn evidence(&self, binding: &Binding) -> Result<Vec<u8>, EvidenceError> {
        let report_data = report_data_for(binding)?;
        let backend = |e: ConfigfsError| EvidenceError::Backend(Box::new(e));
        let (tx, rx) = oneshot();
        let tsm = Arc::clone(&self.tsm);
        std::thread::Builder::new()
            .name("atls-tdx-quote".into())
            .spawn(move || tx.send(tsm.generate(report_data)))
            .map_err(|e| backend(ConfigfsError::Worker(e.to_string())))?;
        let quote = rx
            .await
            .ok_or_else(|| backend(ConfigfsError::Worker("ended without an answer".into())))?
            .map_err(backend)?;
        let media_type = MediaType::parse(TDX_QUOTE_MEDIA_TYPE)
            .map_err(|e| EvidenceError::Backend(Box::new(e)))?;
        let record = Record::new(media_type, quote, Some(Indicator::EVIDENCE))?;
        Ok(Cmw::new_cbor(record).encode())
    }
}

impl Attester for TdxAttester {
    fn attest<'a>(&'a self, binding: &'a Binding) -> BoxFuture<'a, Result<Vec<u8>, EvidenceError>> {
        Box::pin(self.evidence(binding))
    }
}

/// A one-value channel from a worker thread to a future.
struct Slot<T> {
    value: Option<T>,
    closed: bool,
    waker: Option<Waker>,
}

struct Sender<T>(Arc<Mutex<Slot<T>>>);
struct Receiver<T>(Arc<Mutex<Slot<T>>>);

fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        closed: false,
        waker: None,
    }));
    (Sender(Arc::clone(&slot)), Receiver(slot))
}

fn lock<T>(m: &Mutex<Slot<T>>) -> MutexGuard<'_, Slot<T>> {
    // A panic while holding the lock leaves the slot consistent (plain assignments).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T> Sender<T> {
    fn send(self, value: T) {
        let waker = {
            let mut slot = lock(&self.0);
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Also runs when the worker panics: the receiver then completes with `None`.
        let waker = {
            let mut slot = lock(&self.0);
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = lock(&self.0);
        if let Some(v) = slot.value.take() {
            return Poll::Ready(Some(v));
        }
        if slot.closed {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
