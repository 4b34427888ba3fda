//! The app's end of the training worker: starting it, sending commands, receiving
//! events, keeping the worker's hyperparameters in step, and closing it.

use std::sync::Arc;
use std::time::Duration;

use crate::data::Mnist;
use crate::train::WorkerHandle;
use crate::train::protocol::{Command, Event, Waker};
use crate::train::{Hyperparams, TrainError};

/// What asking the worker for an event gave.
#[derive(Debug)]
pub enum Received {
    Event(Event),
    /// Nothing yet (or nothing within the time given).
    Nothing,
    /// The worker is gone: it died, or was never started.
    Gone,
}

/// The worker is not running (a command could not be sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the training worker is not running; press Reset to restart it")]
pub struct NotRunning;

pub struct WorkerLink {
    worker: Option<WorkerHandle>,
    wake: Waker,
    /// The hyperparameters the worker has.
    sent: Hyperparams,
}

impl WorkerLink {
    /// No worker yet; `wake` is how it will wake the UI.
    pub fn new(wake: Waker) -> Self {
        Self {
            worker: None,
            wake,
            sent: Hyperparams::default(),
        }
    }

    /// Starts a worker on a fresh model (at launch, and after one died).
    pub fn start(
        &mut self,
        data: Arc<Mnist>,
        hp: Hyperparams,
        cache_hidden1: bool,
    ) -> Result<(), TrainError> {
        let w = WorkerHandle::spawn(data, hp.clone(), self.wake.clone())?;
        w.send(Command::SetCacheHidden1(cache_hidden1));
        self.worker = Some(w);
        self.sent = hp;
        Ok(())
    }

    pub fn is_up(&self) -> bool {
        self.worker.is_some()
    }

    pub fn send(&self, c: Command) -> Result<(), NotRunning> {
        match &self.worker {
            Some(w) if w.send(c) => Ok(()),
            _ => Err(NotRunning),
        }
    }

    /// Sends `hp` if it differs from what the worker has (the caller checks that the
    /// worker is idle and `hp` valid).
    pub fn sync_hyperparams(&mut self, hp: &Hyperparams) -> Result<(), NotRunning> {
        if *hp == self.sent {
            return Ok(());
        }
        self.send(Command::SetHyperparams(hp.clone()))?;
        self.sent = hp.clone();
        Ok(())
    }

    /// The next event, without waiting.
    pub fn try_next(&mut self) -> Received {
        let r = self.worker.as_ref().map(|w| w.try_recv());
        self.received(r)
    }

    /// The next event, waiting up to `timeout`.
    pub fn next_within(&mut self, timeout: Duration) -> Received {
        let r = self.worker.as_ref().map(|w| w.recv_timeout(timeout));
        self.received(r)
    }

    fn received<E>(&mut self, r: Option<Result<Option<Event>, E>>) -> Received {
        match r {
            Some(Ok(Some(e))) => Received::Event(e),
            Some(Ok(None)) => Received::Nothing,
            Some(Err(_)) | None => {
                self.worker = None;
                Received::Gone
            }
        }
    }

    /// Stops training within one batch and joins the worker. Returns the errors it
    /// reported on the way out.
    pub fn close(&mut self) -> Vec<String> {
        let Some(mut w) = self.worker.take() else {
            return Vec::new();
        };
        w.send(Command::Stop);
        let panicked = w.shutdown();
        let mut errors: Vec<String> = panicked.into_iter().collect();
        while let Ok(Some(e)) = w.try_recv() {
            if let Event::Error(msg) = e {
                errors.push(msg);
            }
        }
        errors
    }
}
