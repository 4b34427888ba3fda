//! The app's thread for disk and whole-set work, so that no frame waits on a file: the
//! kept session (encoded and written as one unit, the newest of several asked for
//! meanwhile) and the exports (PNG views, which may compute class means over the test
//! set, and CSV files).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use super::record::Keeping;
use crate::actor::{self, Actor};
use crate::train::protocol::Waker;

/// An export: its work, and what it is (for the notice while it runs).
pub type Work = Box<dyn FnOnce() -> Result<String, String> + Send>;

pub enum Job {
    /// Keep the session in `dir` (replacing the set kept before).
    Keep {
        dir: PathBuf,
        keeping: Box<Keeping>,
    },
    Export(Work),
    Stop,
}

/// What a job came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// The session is kept in this folder, written in `seconds`.
    Kept(Result<(PathBuf, f64), String>),
    /// An export's notice, or its error.
    Exported(Result<String, String>),
}

pub struct Disk {
    thread: Option<Actor<Job, Done>>,
    /// Jobs sent and not yet done.
    pending: usize,
}

impl Disk {
    pub fn new(wake: Waker) -> Self {
        let thread = Actor::spawn(
            "layerwise-disk",
            || Job::Stop,
            move |jobs, done| run(&jobs, &done, &wake),
        );
        if let Err(e) = &thread {
            log::error!("the disk thread could not be started: {e}");
        }
        Self {
            thread: thread.ok(),
            pending: 0,
        }
    }

    /// Whether a job is under way.
    pub fn busy(&self) -> bool {
        self.pending > 0
    }

    /// Hands `job` to the thread; without one (it could not start or died), does it here.
    pub fn send(&mut self, job: Job) -> Option<Done> {
        match &self.thread {
            Some(t) => {
                let sent = t.send(job);
                self.pending += usize::from(sent);
                (!sent).then(|| Done::Exported(Err("the disk thread is gone".into())))
            }
            None => carry_out(job),
        }
    }

    /// What finished since the last call.
    pub fn finished(&mut self) -> Vec<Done> {
        let mut out = Vec::new();
        if let Some(t) = &self.thread {
            while let Ok(Some(d)) = t.try_recv() {
                out.push(d);
            }
        }
        self.pending = self.pending.saturating_sub(out.len());
        out
    }

    /// The next job's result, waiting up to `timeout` (for tests).
    #[cfg(feature = "test-hooks")]
    pub fn next_within(&mut self, timeout: std::time::Duration) -> Option<Done> {
        let d = self.thread.as_ref()?.recv_timeout(timeout).ok().flatten()?;
        self.pending = self.pending.saturating_sub(1);
        Some(d)
    }

    /// Finishes every job sent (the window closes) and ends the thread; returns what
    /// they came to.
    pub fn close(&mut self) -> Vec<Done> {
        let Some(mut t) = self.thread.take() else {
            return Vec::new();
        };
        let panicked = t.shutdown();
        let mut out = Vec::new();
        while let Ok(Some(d)) = t.try_recv() {
            out.push(d);
        }
        if let Some(p) = panicked {
            out.push(Done::Exported(Err(p)));
        }
        self.pending = 0;
        out
    }
}

fn run(jobs: &Receiver<Job>, done: &Sender<Done>, wake: &Waker) {
    while let Ok(mut job) = jobs.recv() {
        if let Job::Stop = job {
            return;
        }
        // A keep waiting behind another is out of date: only the newest is written.
        let mut stop = false;
        while let Ok(next) = jobs.try_recv() {
            match (&job, next) {
                (_, Job::Stop) => stop = true,
                (Job::Keep { .. }, next @ Job::Keep { .. }) => job = next,
                (_, next) => {
                    finish(carry_out(job), done, wake);
                    job = next;
                }
            }
        }
        finish(carry_out(job), done, wake);
        if stop {
            return;
        }
    }
}

fn finish(d: Option<Done>, done: &Sender<Done>, wake: &Waker) {
    if let Some(d) = d {
        let _ = done.send(d);
        wake();
    }
}

fn carry_out(job: Job) -> Option<Done> {
    match job {
        Job::Keep { dir, keeping } => Some(Done::Kept(keep(&dir, &keeping))),
        Job::Export(work) => Some(Done::Exported(
            actor::catching(work).unwrap_or_else(|p| Err(format!("internal error: {p}"))),
        )),
        Job::Stop => None,
    }
}

fn keep(dir: &std::path::Path, keeping: &Keeping) -> Result<(PathBuf, f64), String> {
    let start = Instant::now();
    let files = keeping.encode().map_err(|e| e.to_string())?;
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let folder = crate::keep::write(dir, &files)
        .map_err(|e| format!("{}: cannot keep the session: {e}", dir.display()))?;
    Ok((folder, start.elapsed().as_secs_f64()))
}
