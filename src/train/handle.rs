//! The app's end of the training worker: the thread, and the two channels to it.

use std::sync::Arc;
use std::time::Duration;

use super::protocol::{Command, Event, Waker};
use super::worker::Worker;
use super::{Hyperparams, TrainError, Trainer};
use crate::actor::{Actor, Gone};
use crate::data::Mnist;

/// The app's end of the worker.
pub struct WorkerHandle(Actor<Command, Event>);

impl WorkerHandle {
    /// Starts a worker on a fresh model.
    pub fn spawn(data: Arc<Mnist>, hp: Hyperparams, wake: Waker) -> Result<Self, TrainError> {
        let trainer = Trainer::new(data, hp)?;
        Actor::spawn(
            "layerwise-training",
            || Command::Shutdown,
            move |commands, events| Worker::new(trainer, events, wake).run(commands),
        )
        .map(Self)
        .map_err(|e| TrainError::Worker(e.to_string()))
    }

    /// Sends a command; false if the worker is gone.
    pub fn send(&self, c: Command) -> bool {
        self.0.send(c)
    }

    /// The next event if there is one, without waiting. `Err` if the worker is gone.
    pub fn try_recv(&self) -> Result<Option<Event>, Gone> {
        self.0.try_recv()
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, Gone> {
        self.0.recv_timeout(timeout)
    }

    /// Stops the worker within one batch and waits for its thread to end; says how it
    /// panicked, if it did.
    pub fn shutdown(&mut self) -> Option<String> {
        self.0.shutdown()
    }
}
