//! The app's end of the map worker: the thread, its pool, and the two channels.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::maps::TestSet;
use super::protocol::{CancelToken, Reply, Request};
use super::worker::{Outbox, Worker};
use crate::data::Mnist;
use crate::space::TsneConfig;
use crate::train::protocol::Waker;

/// The map worker could not be started.
#[derive(Debug, thiserror::Error)]
#[error("the map worker could not be started: {0}")]
pub struct SpawnError(String);

/// The map worker is gone (it was shut down, or died).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapWorkerGone;

pub struct MapWorker {
    requests: Sender<Request>,
    replies: Receiver<Reply>,
    thread: Option<JoinHandle<()>>,
    /// The running (or last) t-SNE's token: cancelled from here, at once, not through
    /// the worker's queue.
    tsne: Option<Arc<CancelToken>>,
}

impl MapWorker {
    /// Starts the worker on `data`'s test set, with a rayon pool of `threads` threads
    /// (0: one per core).
    pub fn spawn(data: Arc<Mnist>, threads: usize, wake: Waker) -> Result<Self, SpawnError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("layerwise-maps-{i}"))
            .start_handler(|_| background_priority())
            .build()
            .map_err(|e| SpawnError(e.to_string()))?;
        let (requests, request_rx) = mpsc::channel();
        let (tx, replies) = mpsc::channel();
        let out = Outbox { tx, wake };
        let thread = std::thread::Builder::new()
            .name("layerwise-maps".into())
            .spawn(move || {
                // The f32 copy of the test set is made here, off the caller's thread.
                let test = TestSet::new(&data.test);
                Worker::new(test, Arc::new(pool), out).run(request_rx)
            })
            .map_err(|e| SpawnError(e.to_string()))?;
        Ok(Self {
            requests,
            replies,
            thread: Some(thread),
            tsne: None,
        })
    }

    /// Sends a request; false if the worker is gone.
    pub fn send(&self, r: Request) -> bool {
        self.requests.send(r).is_ok()
    }

    /// Starts a t-SNE (cancelling one that runs).
    pub fn start_tsne(&mut self, config: TsneConfig) -> bool {
        self.cancel_tsne();
        let cancel = Arc::new(CancelToken::default());
        self.tsne = Some(cancel.clone());
        self.send(Request::Tsne { config, cancel })
    }

    /// Cancels the running t-SNE, if any; it answers `TsneState::Cancelled`.
    pub fn cancel_tsne(&mut self) {
        if let Some(t) = self.tsne.take() {
            t.cancel();
        }
    }

    /// The next reply if there is one, without waiting.
    pub fn try_recv(&self) -> Result<Option<Reply>, MapWorkerGone> {
        match self.replies.try_recv() {
            Ok(r) => Ok(Some(r)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(MapWorkerGone),
        }
    }

    /// Waits up to `timeout` for the next reply.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Reply>, MapWorkerGone> {
        match self.replies.recv_timeout(timeout) {
            Ok(r) => Ok(Some(r)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(MapWorkerGone),
        }
    }

    /// Cancels a t-SNE, stops the worker and waits for its thread.
    pub fn shutdown(&mut self) {
        self.cancel_tsne();
        let _ = self.requests.send(Request::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Lowers the calling thread's priority (Linux: nice 10, for this thread alone), so
/// that the maps take the CPU time the UI and training leave: on two cores, a map
/// computed at the same priority delays the UI's frames while training runs.
fn background_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; on Linux, PRIO_PROCESS with
    // 0 names the calling thread. A failure (it cannot be one: lowering is always
    // allowed) would leave the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

impl Drop for MapWorker {
    fn drop(&mut self) {
        self.shutdown();
    }
}
