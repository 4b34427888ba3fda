//! The app driven without a window, as tests and the headless checks drive it: what it
//! shows, read back, and blocking waits on the worker's channel instead of sleeps.

use std::time::{Duration, Instant};

use super::app::LayerwiseApp;
use super::explore::{Explore, MapsState};
use super::notes::Notes;
use super::session::Session;
use super::settings::Settings;
use super::shown::Inspection;
use super::worker_link::Received;
use crate::train::protocol::{Command, CommandKind, Event};

impl LayerwiseApp {
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The shown images as the views show them.
    pub fn inspection(&self) -> &Inspection {
        &self.inspection
    }

    /// The maps, walk and drawing as the map worker last answered.
    pub fn explore(&self) -> &Explore {
        &self.explore
    }

    /// Takes the map worker's replies, blocking, until `until` holds or `timeout`
    /// passes. For tests, as `wait_until`.
    pub fn wait_for_maps(&mut self, timeout: Duration, until: impl Fn(&MapsState) -> bool) -> bool {
        self.explore.wait_until(timeout, until)
    }

    pub fn dialog_open(&self) -> bool {
        self.dialog.is_some()
    }

    pub fn restore_offered(&self) -> bool {
        self.restore_offer.is_some()
    }

    /// Errors and notices as the window shows them.
    pub fn notes(&self) -> &Notes {
        &self.notes
    }

    /// Applies the worker's events, blocking, until `until` holds for the session or
    /// `timeout` passes. For tests: they wait on the channel instead of sleeping, and
    /// events the frames already applied count too.
    pub fn wait_until(&mut self, timeout: Duration, until: impl Fn(&Session) -> bool) -> bool {
        self.wait_for(timeout, |app| until(&app.session))
    }

    /// As `wait_until`, for anything the app shows (its notes too).
    pub fn wait_for(&mut self, timeout: Duration, until: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !until(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.link.is_up() {
                return false;
            }
            match self.link.next_within(left) {
                Received::Event(e) => self.apply(e),
                Received::Nothing => return false,
                Received::Gone => {
                    self.worker_gone();
                    return false;
                }
            }
        }
        true
    }

    /// Sends a command and applies the worker's events until it is answered: then
    /// everything sent before has been carried out, and its events applied.
    pub fn barrier(&mut self, timeout: Duration) -> bool {
        self.send(Command::Barrier);
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.link.next_within(left) {
                Received::Event(Event::Handled(CommandKind::Barrier)) => return true,
                Received::Event(e) => self.apply(e),
                Received::Nothing => return false,
                Received::Gone => {
                    self.worker_gone();
                    return false;
                }
            }
        }
    }

    /// Waits until the session asked to be kept is written (its checkpoint comes from
    /// the worker first) and every export is done, or `timeout` passes.
    pub fn wait_for_disk(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.keep_asked > 0 || self.disk.busy() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if self.keep_asked > 0 {
                match self.link.next_within(left) {
                    Received::Event(e) => self.apply(e),
                    Received::Nothing | Received::Gone => return false,
                }
            } else {
                match self.disk.next_within(left) {
                    Some(done) => {
                        let error = self.finished(done);
                        self.notes.extend(error);
                    }
                    None => return false,
                }
            }
        }
        true
    }

    /// Makes the worker panic, so tests can check that the app survives it.
    pub fn inject_worker_panic(&mut self) {
        self.send(Command::InjectPanic);
    }
}
