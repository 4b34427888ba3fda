//! The app's end of the map worker: the thread, its pool, and the two channels.

use std::sync::Arc;
use std::time::Duration;

use super::maps::TestSet;
use super::protocol::{CancelToken, Reply, Request};
use super::worker::{Outbox, Worker};
use crate::actor::{Actor, Gone};
use crate::data::Mnist;
use crate::space::TsneConfig;
use crate::train::protocol::Waker;

/// The map worker could not be started.
#[derive(Debug, thiserror::Error)]
#[error("the map worker could not be started: {0}")]
pub struct SpawnError(String);

pub struct MapWorker {
    thread: Actor<Request, Reply>,
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
        let thread = Actor::spawn(
            "layerwise-maps",
            || Request::Shutdown,
            move |requests, tx| {
                // The f32 copy of the test set is made here, off the caller's thread.
                let test = TestSet::new(&data.test);
                Worker::new(test, Arc::new(pool), Outbox { tx, wake }).run(requests)
            },
        )
        .map_err(|e| SpawnError(e.to_string()))?;
        Ok(Self { thread, tsne: None })
    }

    /// Sends a request; false if the worker is gone.
    pub fn send(&self, r: Request) -> bool {
        self.thread.send(r)
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
    pub fn try_recv(&self) -> Result<Option<Reply>, Gone> {
        self.thread.try_recv()
    }

    /// Waits up to `timeout` for the next reply.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Reply>, Gone> {
        self.thread.recv_timeout(timeout)
    }

    /// Cancels a t-SNE, stops the worker and waits for its thread; says how it
    /// panicked, if it did.
    pub fn shutdown(&mut self) -> Option<String> {
        self.cancel_tsne();
        self.thread.shutdown()
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
        self.cancel_tsne();
    }
}
