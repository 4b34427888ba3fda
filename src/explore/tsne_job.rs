//! A t-SNE run on a thread of its own (started by the map worker), so that the PCA map
//! keeps following training while it runs. It reports progress about ten times a
//! second, the layout so far about twice a second, and checks its cancel token before
//! every iteration and every block of the neighbour search.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ndarray::Array2;
use rayon::ThreadPool;

use super::CancelToken;
use super::maps::{self, Layer, Map};
use super::protocol::{Reply, TsneState};
use super::worker::Outbox;
use crate::actor;
use crate::space::TsneConfig;
use crate::space::tsne::{Affinities, Optimizer};

const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
const LAYOUT_INTERVAL: Duration = Duration::from_millis(500);

/// A perplexity that makes the run panic once it iterates, so tests can check that a
/// panic there ends the run visibly.
#[cfg(feature = "test-hooks")]
pub const PANICKING_PERPLEXITY: f64 = 12.345;

/// The last finished layout of each layer: where the next t-SNE of that layer starts.
#[derive(Debug, Default)]
pub(super) struct Warm {
    layouts: [Option<Array2<f32>>; Layer::COUNT],
}

/// What to run t-SNE on.
pub(super) struct Input {
    /// n x d: one layer's activations of the test set.
    pub x: Arc<Array2<f32>>,
    pub labels: Arc<Vec<u8>>,
    pub layer: Layer,
    pub source: String,
}

impl Input {
    /// The map of a layout of this input, `start` being when its job began.
    fn map(&self, layout: Array2<f32>, start: Instant) -> Arc<Map> {
        let seconds = start.elapsed().as_secs_f64();
        let (labels, source) = (self.labels.clone(), self.source.clone());
        Arc::new(maps::tsne_map(layout, labels, self.layer, seconds, source))
    }
}

pub(super) struct Job {
    thread: JoinHandle<()>,
    cancel: Arc<CancelToken>,
}

impl Job {
    /// Cancels the run and waits for its thread (within about one iteration). The
    /// thread catches its own panics, so a failed join is a bug worth a log line.
    pub fn stop(self) {
        self.cancel.cancel();
        if let Err(p) = self.thread.join() {
            log::error!(
                "the t-SNE thread panicked: {}",
                actor::panic_message(p.as_ref())
            );
        }
    }
}

pub(super) fn start(
    input: Input,
    config: TsneConfig,
    cancel: Arc<CancelToken>,
    pool: Arc<ThreadPool>,
    out: Outbox,
    warm: Arc<Mutex<Warm>>,
) -> std::io::Result<Job> {
    let token = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("layerwise-tsne".into())
        .spawn(move || {
            let run = || run(&input, &config, &token, &out, &warm);
            let error = match actor::catching(|| pool.install(run)) {
                Ok(Ok(())) => return,
                Ok(Err(e)) => format!("t-SNE: {e}"),
                Err(what) => {
                    format!("internal error in the t-SNE ({what}); the map was left as it was")
                }
            };
            let layer = input.layer;
            out.send(Reply::Tsne(TsneState::Failed { layer, error }));
        })?;
    Ok(Job { thread, cancel })
}

fn run(
    input: &Input,
    config: &TsneConfig,
    cancel: &CancelToken,
    out: &Outbox,
    warm: &Mutex<Warm>,
) -> Result<(), crate::space::TsneError> {
    let start = Instant::now();
    let layer = input.layer;
    let n = input.x.nrows();
    let init = warm.lock().unwrap_or_else(|e| e.into_inner()).layouts[layer.index()]
        .clone()
        .filter(|l| l.nrows() == n);
    // From a layout that has converged already, half the iterations settle it.
    let config = match &init {
        Some(_) => &TsneConfig {
            iterations: config.iterations.div_ceil(2),
            ..config.clone()
        },
        None => config,
    };
    let plan = config.check(n, init.is_some())?;
    out.send(Reply::Tsne(TsneState::Neighbours { layer }));
    let cancelled = |iterations| {
        out.send(Reply::Tsne(TsneState::Cancelled {
            layer,
            iterations,
            latency: cancel.since(),
        }))
    };
    let Some(p) = Affinities::new(input.x.view(), &plan, cancel.flag())? else {
        cancelled(0);
        return Ok(());
    };
    let mut opt = Optimizer::new(p, &plan, init.as_ref().map(|l| l.view()))?;
    let (mut progress_at, mut layout_at) = (Instant::now(), Instant::now());
    while opt.iteration() < plan.iterations() {
        if cancel.is_cancelled() {
            cancelled(opt.iteration());
            return Ok(());
        }
        #[cfg(feature = "test-hooks")]
        if config.perplexity == PANICKING_PERPLEXITY {
            panic!("injected by a test");
        }
        opt.step();
        if progress_at.elapsed() >= PROGRESS_INTERVAL {
            progress_at = Instant::now();
            let layout = (layout_at.elapsed() >= LAYOUT_INTERVAL).then(|| {
                layout_at = Instant::now();
                input.map(opt.layout(), start)
            });
            out.send(Reply::Tsne(TsneState::Iterating {
                layer,
                done: opt.iteration(),
                total: plan.iterations(),
                layout,
            }));
        }
    }
    let layout = opt.layout();
    warm.lock().unwrap_or_else(|e| e.into_inner()).layouts[layer.index()] = Some(layout.clone());
    out.send(Reply::Tsne(TsneState::Done(input.map(layout, start))));
    Ok(())
}
