//! A thread that answers messages over two channels: the plumbing the training worker,
//! the map worker and the session keeper share (spawn, send, receive, shut down, and
//! what a panic said), written once.

use std::any::Any;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The thread is gone: it was shut down, or it died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the thread is gone")]
pub struct Gone;

/// The app's end of a thread that takes `C`s and sends back `E`s.
pub struct Actor<C, E> {
    commands: Sender<C>,
    events: Receiver<E>,
    thread: Option<JoinHandle<()>>,
    /// The message that makes the thread return.
    stop: fn() -> C,
}

impl<C: Send + 'static, E: Send + 'static> Actor<C, E> {
    /// Runs `body` on a thread named `name`, with the receiving end of the commands and
    /// the sending end of the events; `stop` makes it return.
    pub fn spawn(
        name: &str,
        stop: fn() -> C,
        body: impl FnOnce(Receiver<C>, Sender<E>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (commands, command_rx) = mpsc::channel();
        let (event_tx, events) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(command_rx, event_tx))?;
        Ok(Self {
            commands,
            events,
            thread: Some(thread),
            stop,
        })
    }

    /// Sends a command; false if the thread is gone.
    pub fn send(&self, c: C) -> bool {
        self.commands.send(c).is_ok()
    }

    /// The next event if there is one, without waiting.
    pub fn try_recv(&self) -> Result<Option<E>, Gone> {
        match self.events.try_recv() {
            Ok(e) => Ok(Some(e)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(Gone),
        }
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<E>, Gone> {
        match self.events.recv_timeout(timeout) {
            Ok(e) => Ok(Some(e)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(Gone),
        }
    }

    /// Asks the thread to stop and waits for it. `Some` says how it panicked, if it
    /// did (a panic must be said, not dropped with the join's result).
    pub fn shutdown(&mut self) -> Option<String> {
        let _ = self.commands.send((self.stop)());
        let t = self.thread.take()?;
        let name = t.thread().name().unwrap_or("a thread").to_string();
        t.join()
            .err()
            .map(|p| format!("{name} panicked: {}", panic_message(p.as_ref())))
    }
}

impl<C, E> Drop for Actor<C, E> {
    fn drop(&mut self) {
        let _ = self.commands.send((self.stop)());
        if let Some(t) = self.thread.take()
            && let Err(p) = t.join()
        {
            log::error!("a thread panicked: {}", panic_message(p.as_ref()));
        }
    }
}

/// What a panic's payload says (`panic!` with a literal or a formatted message).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `f`; a panic in it becomes `Err` with its message.
pub fn catching<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_answers_and_stops() {
        let mut a: Actor<Option<u32>, u32> = Actor::spawn(
            "echo",
            || None,
            |rx, tx| {
                while let Ok(Some(n)) = rx.recv() {
                    let _ = tx.send(n * 2);
                }
            },
        )
        .unwrap();
        assert!(a.send(Some(21)));
        assert_eq!(a.recv_timeout(Duration::from_secs(10)), Ok(Some(42)));
        assert_eq!(a.shutdown(), None);
        assert_eq!(a.try_recv(), Err(Gone));
    }

    #[test]
    fn a_panic_is_said_by_the_join() {
        let mut a: Actor<(), ()> =
            Actor::spawn("doomed", || (), |_, _| panic!("broke at step {}", 3)).unwrap();
        let said = a.shutdown().expect("the panic is reported");
        assert_eq!(said, "doomed panicked: broke at step 3");
        assert_eq!(
            catching(|| panic!("boom")),
            Err::<(), _>("boom".to_string())
        );
    }
}
