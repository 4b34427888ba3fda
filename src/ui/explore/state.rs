//! What the app knows of the maps, walks and drawings, built only from the map
//! worker's replies. Panels read it; nothing here draws.

use std::sync::Arc;
use std::time::Duration;

use ndarray::Array2;

use crate::explore::{Drawn, Layer, Map, Method, Reply, TsneState, Walk};

/// A t-SNE that is running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TsneRun {
    Neighbours {
        layer: Layer,
    },
    Iterating {
        layer: Layer,
        done: usize,
        total: usize,
    },
}

impl TsneRun {
    pub fn layer(self) -> Layer {
        match self {
            TsneRun::Neighbours { layer } | TsneRun::Iterating { layer, .. } => layer,
        }
    }

    /// How far it is, in [0, 1].
    pub fn fraction(self) -> f32 {
        match self {
            TsneRun::Neighbours { .. } => 0.0,
            TsneRun::Iterating { done, total, .. } => done as f32 / total.max(1) as f32,
        }
    }
}

#[derive(Debug, Default)]
pub struct MapsState {
    /// The newest PCA map (of the layer asked for last).
    pub pca: Option<Arc<Map>>,
    /// Seconds the encoding of the test set took before the newest PCA map.
    pub encode_seconds: f64,
    /// Each layer's newest t-SNE, finished or forming.
    pub tsne: [Option<Arc<Map>>; Layer::COUNT],
    pub tsne_run: Option<TsneRun>,
    /// How the last t-SNE that was cancelled stopped: iterations, and how long after
    /// the Cancel.
    pub cancelled: Option<(usize, Duration)>,
    /// Each digit's mean code, decoded: 10 x 784.
    pub means: Option<Arc<Array2<f32>>>,
    pub walk: Option<Arc<Walk>>,
    pub drawn: Option<Arc<Drawn>>,
    /// What the parameters sent last are called (a map's `source` when it shows them).
    pub source: String,
    /// Errors not yet handed on to the session.
    pub errors: Vec<String>,
    /// Counts the replies taken, so that views know when to redraw.
    pub generation: u64,
}

impl MapsState {
    pub fn apply(&mut self, r: Reply) {
        self.generation += 1;
        match r {
            Reply::Pca {
                map,
                encode_seconds,
            } => {
                self.pca = Some(map);
                self.encode_seconds = encode_seconds;
            }
            Reply::Means(m) => self.means = Some(m),
            Reply::Walk(w) => self.walk = Some(w),
            Reply::Drawn(d) => self.drawn = Some(d),
            Reply::Tsne(t) => self.tsne(t),
            Reply::Error(e) => self.errors.push(e),
        }
    }

    fn tsne(&mut self, t: TsneState) {
        match t {
            TsneState::Neighbours { layer } => {
                self.tsne_run = Some(TsneRun::Neighbours { layer });
                self.cancelled = None;
            }
            TsneState::Iterating {
                layer,
                done,
                total,
                layout,
            } => {
                self.tsne_run = Some(TsneRun::Iterating { layer, done, total });
                if let Some(m) = layout {
                    self.tsne[layer.index()] = Some(m);
                }
            }
            TsneState::Done(map) => {
                self.tsne_run = None;
                let i = map.layer.index();
                self.tsne[i] = Some(map);
            }
            TsneState::Cancelled {
                iterations,
                latency,
                ..
            } => {
                self.tsne_run = None;
                self.cancelled = Some((iterations, latency));
            }
            TsneState::Failed { error, .. } => {
                self.tsne_run = None;
                self.errors.push(error);
            }
        }
    }

    /// The map of `layer` made by `method`, if there is one yet.
    pub fn map(&self, layer: Layer, method: Method) -> Option<&Arc<Map>> {
        match method {
            Method::Pca => self.pca.as_ref().filter(|m| m.layer == layer),
            Method::Tsne => self.tsne[layer.index()].as_ref(),
        }
    }

    /// Forgets what belongs to another dataset.
    pub fn clear(&mut self) {
        *self = Self {
            errors: std::mem::take(&mut self.errors),
            source: std::mem::take(&mut self.source),
            generation: self.generation + 1,
            ..Self::default()
        };
    }
}
