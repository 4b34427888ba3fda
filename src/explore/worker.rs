//! The map worker: a thread that turns the app's requests into maps, walks and
//! drawings run through the stack. It computes in a rayon pool of its own, so its
//! work never lands inside a training step's joins, and it maps new parameters at
//! most every `MIN_INTERVAL` and at most a third of the time, so that training keeps
//! most of the machine while the map follows it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ndarray::Array2;
use rayon::ThreadPool;

use super::drawn;
use super::maps::{self, Layer, Map, TestSet};
use super::protocol::{Reply, Request, Walk};
use super::tsne_job::{self, Job, Warm};
use crate::model::Params;
use crate::space::{self, Encoded};
use crate::train::protocol::Waker;

/// New parameters are mapped at most this often.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// Steps of a walk, both ends included.
pub const WALK_STEPS: usize = 10;
/// Nearest test images found for a drawing, in each layer.
pub const NEIGHBOURS: usize = 10;

/// Sends replies and wakes the app; shared with the t-SNE thread.
#[derive(Clone)]
pub(super) struct Outbox {
    pub tx: Sender<Reply>,
    pub wake: Waker,
}

impl Outbox {
    pub fn send(&self, r: Reply) {
        // The app may be gone already (closing): nothing to do then.
        let _ = self.tx.send(r);
        (self.wake)();
    }
}

/// What needs computing.
#[derive(Debug, Default)]
struct Dirty {
    /// New parameters to encode the test set with (throttled).
    params: bool,
    map: bool,
    means: bool,
    walk: bool,
    drawn: bool,
}

pub(super) struct Worker {
    out: Outbox,
    pool: Arc<ThreadPool>,
    test: Arc<TestSet>,
    params: Option<(Arc<Params>, String)>,
    encoded: Option<Arc<Encoded>>,
    layer: Layer,
    /// Each layer's last PCA axes, to align the next map to.
    axes: [Option<Array2<f32>>; Layer::COUNT],
    /// The PCA map of the pixels, which no parameter changes.
    pixels_map: Option<Arc<Map>>,
    walk: Option<[usize; 2]>,
    drawing: Option<Arc<Vec<f32>>>,
    dirty: Dirty,
    /// When new parameters may be mapped next.
    next_map: Instant,
    tsne: Option<Job>,
    warm: Arc<Mutex<Warm>>,
}

enum Flow {
    Continue,
    Exit,
}

impl Worker {
    pub fn new(test: TestSet, pool: Arc<ThreadPool>, out: Outbox) -> Self {
        Self {
            out,
            pool,
            test: Arc::new(test),
            params: None,
            encoded: None,
            layer: Layer::Code,
            axes: Default::default(),
            pixels_map: None,
            walk: None,
            drawing: None,
            dirty: Dirty::default(),
            next_map: Instant::now(),
            tsne: None,
            warm: Arc::default(),
        }
    }

    pub fn run(mut self, requests: Receiver<Request>) {
        loop {
            let first = if self.dirty.params {
                let wait = self.next_map.saturating_duration_since(Instant::now());
                match requests.recv_timeout(wait) {
                    Ok(r) => Some(r),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match requests.recv() {
                    Ok(r) => Some(r),
                    Err(_) => break,
                }
            };
            // Take everything that is waiting: only the newest of each kind counts.
            let mut next = first;
            let mut exit = false;
            while let Some(r) = next {
                if let Flow::Exit = self.take(r) {
                    exit = true;
                    break;
                }
                next = match requests.try_recv() {
                    Ok(r) => Some(r),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => {
                        exit = true;
                        None
                    }
                };
            }
            if exit {
                break;
            }
            self.guarded(Self::compute);
        }
        if let Some(job) = self.tsne.take() {
            job.stop();
        }
    }

    fn take(&mut self, r: Request) -> Flow {
        match r {
            Request::Params { params, source } => {
                self.params = Some((params, source));
                self.dirty.params = true;
            }
            Request::Data(data) => {
                self.test = Arc::new(TestSet::new(&data.test));
                self.encoded = None;
                self.axes = Default::default();
                self.pixels_map = None;
                self.walk = None;
                *self.warm.lock().unwrap_or_else(|e| e.into_inner()) = Warm::default();
                self.dirty.params = self.params.is_some();
            }
            Request::Layer(l) => {
                self.layer = l;
                self.dirty.map = true;
            }
            Request::Tsne { config, cancel } => {
                if let Some(old) = self.tsne.take() {
                    old.stop();
                }
                if self.dirty.params {
                    // A t-SNE is of the newest parameters, throttle or not.
                    self.next_map = Instant::now();
                    self.guarded(Self::compute);
                }
                self.start_tsne(config, cancel);
            }
            Request::Walk(w) => {
                self.walk = w;
                self.dirty.walk = true;
            }
            Request::Draw(d) => {
                self.drawing = d;
                self.dirty.drawn = true;
            }
            Request::Shutdown => return Flow::Exit,
        }
        Flow::Continue
    }

    /// Runs `f`, turning a panic into an error reply: a bug in a view's math must not
    /// take the views down.
    fn guarded(&mut self, f: impl FnOnce(&mut Self)) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            self.dirty = Dirty::default();
            self.out.send(Reply::Error(format!(
                "internal error in the map worker ({what})"
            )));
        }
    }

    /// Computes what is due, in the pool.
    fn compute(&mut self) {
        let pool = self.pool.clone();
        pool.install(|| {
            if self.dirty.params && Instant::now() >= self.next_map {
                let start = Instant::now();
                let encode_seconds = self.encode();
                if self.dirty.map {
                    self.map(encode_seconds);
                }
                // At most a third of the time: the next map waits twice as long as this
                // one took.
                self.next_map = Instant::now() + MIN_INTERVAL.max(2 * start.elapsed());
            } else if self.dirty.map {
                self.map(0.0);
            }
            if self.dirty.means {
                self.means();
            }
            if self.dirty.walk {
                self.walk();
            }
            if self.dirty.drawn {
                self.drawn();
            }
        });
    }

    /// Encodes the test set with the newest parameters; the seconds it took.
    fn encode(&mut self) -> f64 {
        self.dirty.params = false;
        let Some((p, _)) = &self.params else {
            return 0.0;
        };
        let start = Instant::now();
        match space::encode(p, self.test.pixels.view()) {
            Ok(e) => {
                self.encoded = Some(Arc::new(e));
                self.dirty.map = true;
                self.dirty.means = true;
                self.dirty.walk = true;
                self.dirty.drawn = true;
            }
            Err(e) => self.out.send(Reply::Error(e.to_string())),
        }
        start.elapsed().as_secs_f64()
    }

    fn source(&self) -> String {
        self.params
            .as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    fn map(&mut self, encode_seconds: f64) {
        self.dirty.map = false;
        let layer = self.layer;
        if layer == Layer::Pixels
            && let Some(m) = &self.pixels_map
        {
            let map = Arc::new(Map {
                id: maps::next_id(),
                source: self.source(),
                ..Map::clone(m)
            });
            return self.out.send(Reply::Pca {
                map,
                encode_seconds,
            });
        }
        let Some(enc) = self.encoded.clone() else {
            return;
        };
        let x = self.test.layer(&enc, layer);
        let previous = self.axes[layer.index()].as_ref().map(|a| a.view());
        let labels = self.test.labels.clone();
        match maps::pca_map(x, labels, layer, previous, self.source()) {
            Ok(map) => {
                let map = Arc::new(map);
                if let Some(p) = &map.projection {
                    self.axes[layer.index()] = Some(p.axes.clone());
                }
                if layer == Layer::Pixels {
                    self.pixels_map = Some(map.clone());
                }
                self.out.send(Reply::Pca {
                    map,
                    encode_seconds,
                });
            }
            Err(e) => self.out.send(Reply::Error(format!("PCA: {e}"))),
        }
    }

    fn means(&mut self) {
        self.dirty.means = false;
        let (Some((p, _)), Some(enc)) = (&self.params, &self.encoded) else {
            return;
        };
        let means = maps::class_means(enc.code().view(), &self.test.labels);
        match space::decode_codes(p, means.view()) {
            Ok(images) => self.out.send(Reply::Means(Arc::new(images))),
            Err(e) => self.out.send(Reply::Error(e.to_string())),
        }
    }

    fn walk(&mut self) {
        self.dirty.walk = false;
        let (Some((p, _)), Some(ends)) = (&self.params, self.walk) else {
            return;
        };
        let n = self.test.len();
        if ends.iter().any(|&i| i >= n) {
            return;
        }
        let row = |i: usize| self.test.pixels.row(i);
        match space::walks(p, row(ends[0]), row(ends[1]), WALK_STEPS) {
            Ok(walks) => self.out.send(Reply::Walk(Arc::new(Walk { ends, walks }))),
            Err(e) => self.out.send(Reply::Error(e.to_string())),
        }
    }

    fn drawn(&mut self) {
        self.dirty.drawn = false;
        let (Some((p, _)), Some(enc), Some(input)) = (&self.params, &self.encoded, &self.drawing)
        else {
            return;
        };
        match drawn::run(p, &self.test, enc, input) {
            Ok(d) => self.out.send(Reply::Drawn(Arc::new(d))),
            Err(e) => self.out.send(Reply::Error(e.to_string())),
        }
    }

    fn start_tsne(&mut self, config: crate::space::TsneConfig, cancel: Arc<super::CancelToken>) {
        let layer = self.layer;
        let x: Arc<Array2<f32>> = match (layer, &self.encoded) {
            (Layer::Pixels, _) => Arc::new(self.test.pixels.clone()),
            (_, Some(enc)) => Arc::new(self.test.layer(enc, layer).to_owned()),
            (_, None) => {
                return self
                    .out
                    .send(Reply::Error("t-SNE: no model to map yet".into()));
            }
        };
        let input = tsne_job::Input {
            x,
            labels: self.test.labels.clone(),
            layer,
            source: self.source(),
        };
        let job = tsne_job::start(
            input,
            config,
            cancel,
            self.pool.clone(),
            self.out.clone(),
            self.warm.clone(),
        );
        match job {
            Ok(j) => self.tsne = Some(j),
            Err(e) => self
                .out
                .send(Reply::Error(format!("t-SNE: cannot start a thread: {e}"))),
        }
    }
}
