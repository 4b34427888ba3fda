//! The app's end of the training worker: the thread, and the two channels to it.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::protocol::{Command, Event, Waker};
use super::worker::Worker;
use super::{Hyperparams, TrainError, Trainer};
use crate::data::Mnist;

/// The app's end of the worker.
pub struct WorkerHandle {
    commands: Sender<Command>,
    events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts a worker on a fresh model.
    pub fn spawn(data: Arc<Mnist>, hp: Hyperparams, wake: Waker) -> Result<Self, TrainError> {
        let (commands, command_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::channel();
        let worker = Worker::new(Trainer::new(data, hp)?, event_tx, wake);
        let thread = std::thread::Builder::new()
            .name("layerwise-training".into())
            .spawn(move || worker.run(command_rx))
            .map_err(|e| TrainError::Worker(e.to_string()))?;
        Ok(Self {
            commands,
            events,
            thread: Some(thread),
        })
    }

    /// Sends a command; false if the worker is gone.
    pub fn send(&self, c: Command) -> bool {
        self.commands.send(c).is_ok()
    }

    /// The next event if there is one, without waiting. `Err` if the worker is gone.
    pub fn try_recv(&self) -> Result<Option<Event>, WorkerGone> {
        match self.events.try_recv() {
            Ok(e) => Ok(Some(e)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(WorkerGone),
        }
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, WorkerGone> {
        match self.events.recv_timeout(timeout) {
            Ok(e) => Ok(Some(e)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(WorkerGone),
        }
    }

    /// Stops the worker within one batch and waits for its thread to end.
    pub fn shutdown(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The worker thread ended (it panicked outside a command, or was shut down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerGone;
