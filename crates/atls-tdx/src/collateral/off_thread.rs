//! Running a blocking closure on a thread of its own, as a future any executor can poll.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex, PoisonError};

/// The result of a closure run on its own thread, as a future (executor-agnostic). Resolves
/// to `None` if the thread could not be started or the closure panicked.
pub(crate) struct OffThread<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

struct Slot<T> {
    value: Option<T>,
    done: bool,
    waker: Option<Waker>,
}

impl<T: Send + 'static> OffThread<T> {
    pub(crate) fn spawn(f: impl FnOnce() -> T + Send + 'static) -> Self {
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            done: false,
            waker: None,
        }));
        let theirs = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("atls-tdx-blocking".into())
            .spawn(move || {
                // If `f` panics, `Finish` still marks the slot done so the future ends.
                let finish = Finish(theirs);
                let value = f();
                finish.complete(Some(value));
            });
        if spawned.is_err() {
            let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
            s.done = true;
        }
        Self { slot }
    }
}

struct Finish<T>(Arc<Mutex<Slot<T>>>);

impl<T> Finish<T> {
    fn complete(&self, value: Option<T>) {
        let waker = {
            let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if s.done {
                return;
            }
            s.value = value;
            s.done = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Finish<T> {
    fn drop(&mut self) {
        self.complete(None);
    }
}

impl<T> Future for OffThread<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if s.done {
            return Poll::Ready(s.value.take());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
