//! The contract between the app and the map worker: plain messages both ways.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ndarray::Array2;

use super::maps::{Layer, Map};
use crate::data::Mnist;
use crate::model::Params;
use crate::space::{Neighbour, TsneConfig, Walks};

/// What the app asks of the map worker. Every request but `Shutdown` makes it
/// recompute what depends on it and reply; requests that arrive faster than it
/// computes are coalesced (only the newest parameters are mapped).
#[derive(Debug, Clone)]
pub enum Request {
    /// The parameters the views show (live, or from the history), and what to call
    /// them. Mapped at most every `MIN_INTERVAL`, and busy at most a third of the
    /// time: the map follows training without slowing it much.
    Params {
        params: Arc<Params>,
        source: String,
    },
    /// Another dataset: its test set is what gets mapped from now on.
    Data(Arc<Mnist>),
    /// The layer of the PCA map (answered at once, not throttled).
    Layer(Layer),
    /// A t-SNE of the current layer under the current parameters, warm-started from
    /// the last finished t-SNE of that layer when there is one (then with half the
    /// iterations: it starts converged). `cancel` stops it (and a newer `Tsne` cancels
    /// an older one).
    Tsne {
        config: TsneConfig,
        cancel: Arc<CancelToken>,
    },
    /// Walk between these two test images (or stop walking).
    Walk(Option<[usize; 2]>),
    /// A drawn digit, 784 pixels as the encoder should see them (or none).
    Draw(Option<Arc<Vec<f32>>>),
    Shutdown,
}

/// What the map worker tells the app.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The PCA map of the chosen layer under the newest parameters, with the time the
    /// encoding of the test set took before it.
    Pca {
        map: Arc<Map>,
        encode_seconds: f64,
    },
    /// Each digit's mean code over the test set, decoded by the full stack: 10 x 784.
    Means(Arc<Array2<f32>>),
    Walk(Arc<Walk>),
    Drawn(Arc<Drawn>),
    Tsne(TsneState),
    Error(String),
}

/// A t-SNE run's news.
#[derive(Debug, Clone)]
pub enum TsneState {
    /// Finding every point's nearest neighbours and their affinities.
    Neighbours {
        layer: Layer,
    },
    /// `done` of `total` iterations; now and then, the layout so far.
    Iterating {
        layer: Layer,
        done: usize,
        total: usize,
        layout: Option<Arc<Map>>,
    },
    Done(Arc<Map>),
    /// Stopped after `iterations`, `latency` after the cancel was asked for.
    Cancelled {
        layer: Layer,
        iterations: usize,
        latency: Duration,
    },
    /// The run could not go on (its input was refused, or its math panicked).
    Failed {
        layer: Layer,
        error: String,
    },
}

/// The three walks between two test images under the current parameters.
#[derive(Debug, Clone)]
pub struct Walk {
    pub ends: [usize; 2],
    pub walks: Walks,
}

/// A drawn digit run through the stack.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// What the encoder saw (784).
    pub input: Vec<f32>,
    /// `levels[k - 1]`: hidden k, k = 1..=K (the last the code).
    pub levels: Vec<Vec<f32>>,
    /// Phase 1's reconstruction (outer autoencoder).
    pub outer: Vec<f32>,
    /// The full stack's.
    pub full: Vec<f32>,
    /// The nearest test images in each layer (by `Layer::index`), nearest first.
    pub neighbours: [Vec<Neighbour>; Layer::COUNT],
}

impl Drawn {
    /// The drawing's activations at `layer`.
    pub fn at(&self, layer: Layer) -> &[f32] {
        match layer {
            Layer::Code => self.code(),
            Layer::Hidden(k) => {
                let k = (k as usize).clamp(1, self.levels.len());
                &self.levels[k - 1]
            }
            Layer::Pixels => &self.input,
        }
    }

    /// The drawing's code, the innermost level.
    pub fn code(&self) -> &[f32] {
        self.levels.last().map_or(&[], |v| v.as_slice())
    }
}

/// Stops a t-SNE run, and remembers when it was asked to, so that the run can say how
/// long it took to stop.
#[derive(Debug, Default)]
pub struct CancelToken {
    flag: AtomicBool,
    at: Mutex<Option<Instant>>,
}

impl CancelToken {
    pub fn cancel(&self) {
        let mut at = self.at.lock().unwrap_or_else(|e| e.into_inner());
        at.get_or_insert_with(Instant::now);
        self.flag.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// The flag itself, for `space::tsne`.
    pub fn flag(&self) -> &AtomicBool {
        &self.flag
    }

    /// How long ago the cancel was asked for (zero if it was not).
    pub fn since(&self) -> Duration {
        let at = self.at.lock().unwrap_or_else(|e| e.into_inner());
        at.map(|t| t.elapsed()).unwrap_or_default()
    }
}
