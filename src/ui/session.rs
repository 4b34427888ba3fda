//! What the app knows about training, built only from the worker's events. Panels read
//! it; nothing here draws.

use std::sync::Arc;

use egui_plot::PlotPoint;

use super::experiment_record::ExperimentRecord;
use super::notes::Note;
use crate::data::Mnist;
use crate::model::Phase;
use crate::space::Yardstick;
use crate::train::CacheInfo;
use crate::train::eval::Errors;
use crate::train::protocol::{Event, Progress, RunState, SecondEncoder, Snapshot};

/// Weight of a new batch loss in the smoothed line (an exponential moving average
/// over roughly 10 batches).
const SMOOTHING: f64 = 0.1;
/// Epoch-end snapshots kept for the history slider (2.2 MB each for the recipe's net).
pub const HISTORY_LIMIT: usize = 64;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRow {
    /// Index of the phase run in `Session::runs`.
    pub run: usize,
    pub phase: Phase,
    pub epoch: u32,
    pub train_mse: f32,
    /// The loss's L2 term after the epoch (records from before it have none).
    #[serde(default)]
    pub l2_term: Option<f32>,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseResult {
    pub run: usize,
    pub phase: Phase,
    pub cached: bool,
    pub epochs: u32,
    pub seconds: f64,
    pub test: Errors,
    /// The inner layers had never been trained when it ended (phase 1 on a fresh
    /// model): the full stack's MSE then measures random inner layers, not a result.
    #[serde(default)]
    pub inner_untrained: bool,
}

/// PCA's test MSE through some number of components.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PcaFigure {
    pub components: usize,
    pub mse: f64,
}

impl PcaFigure {
    fn at(y: &Yardstick, components: usize) -> Self {
        Self {
            components,
            mse: y.mse(components),
        }
    }

    /// "PCA-150 0.003424 (2.85x lower)": beside a test MSE of the same width.
    pub fn against(&self, mse: f64) -> String {
        let how = self.compared(mse);
        format!("PCA-{} {:.6} ({how})", self.components, self.mse)
    }

    /// "2.85x lower" (PCA's error beside `mse`), or "1.20x higher" when `mse` beats it.
    pub fn compared(&self, mse: f64) -> String {
        // As many components as inputs (a layer at least as wide as the image): PCA
        // reconstructs exactly, and a ratio to zero says nothing.
        if self.mse <= 1e-12 {
            return "exact".to_string();
        }
        let ratio = mse / self.mse.max(f64::MIN_POSITIVE);
        if ratio >= 1.0 {
            format!("{ratio:.2}x lower")
        } else {
            format!("{:.2}x higher", 1.0 / ratio.max(f64::MIN_POSITIVE))
        }
    }
}

/// The batch losses of one phase run, ready to plot without copying.
#[derive(Debug, Clone)]
pub struct LossRun {
    pub phase: Phase,
    pub cached: bool,
    /// x of the run's first batch (batches count on across runs).
    pub start: f64,
    pub raw: Vec<PlotPoint>,
    pub smooth: Vec<PlotPoint>,
    pub raw_log: Vec<PlotPoint>,
    pub smooth_log: Vec<PlotPoint>,
    /// x of each epoch end.
    pub epoch_ends: Vec<f64>,
    /// The L2 term at each epoch end, beside the reconstruction losses.
    pub l2: Vec<PlotPoint>,
    pub l2_log: Vec<PlotPoint>,
}

impl LossRun {
    pub(super) fn new(phase: Phase, cached: bool, start: f64) -> Self {
        Self {
            phase,
            cached,
            start,
            raw: Vec::new(),
            smooth: Vec::new(),
            raw_log: Vec::new(),
            smooth_log: Vec::new(),
            epoch_ends: Vec::new(),
            l2: Vec::new(),
            l2_log: Vec::new(),
        }
    }

    /// The L2 term at the epoch that ended at `x`.
    pub(super) fn push_l2(&mut self, x: f64, l2: f32) {
        let y = l2 as f64;
        self.l2.push(PlotPoint::new(x, y));
        self.l2_log.push(PlotPoint::new(x, y.max(1e-30).log10()));
    }

    pub(super) fn push(&mut self, x: f64, loss: f32) {
        let y = loss as f64;
        let s = match self.smooth.last() {
            Some(p) => p.y + SMOOTHING * (y - p.y),
            None => y,
        };
        self.raw.push(PlotPoint::new(x, y));
        self.smooth.push(PlotPoint::new(x, s));
        // Losses are positive; clamp so a zero cannot produce -inf.
        self.raw_log.push(PlotPoint::new(x, y.max(1e-30).log10()));
        self.smooth_log
            .push(PlotPoint::new(x, s.max(1e-30).log10()));
    }
}

/// What the app knows of training. Only `apply` (the worker's events) and `restore` (a
/// kept record) change it; everything else reads it.
#[derive(Debug, Clone)]
pub struct Session {
    data: Arc<Mnist>,
    state: RunState,
    progress: Option<Progress>,
    epochs: Vec<EpochRow>,
    results: Vec<PhaseResult>,
    runs: Vec<LossRun>,
    /// Batches trained since the model was created, the plot's x axis.
    batches: u64,
    cache: Option<CacheInfo>,
    /// Latest parameters, for the live views.
    snapshot: Option<Snapshot>,
    /// The snapshot taken at each epoch end, oldest first.
    history: Vec<Snapshot>,
    /// The newest mean code per class, kept across snapshots that do not carry one.
    class_means: Option<Arc<ndarray::Array2<f32>>>,
    test: Option<Errors>,
    /// PCA's test MSE at every rank on `data`, once measured.
    yardstick: Option<Arc<Yardstick>>,
    /// How much of a one-stage decoder's row space lies in PCA's subspace of as many
    /// axes, for the latest snapshot (what a linear autoencoder converges to).
    subspace_overlap: Option<f64>,
    /// The latest classifier experiment and its results.
    experiment: ExperimentRecord,
    /// The encoder the worker keeps for sweeps to compare the model's with.
    second: Option<SecondEncoder>,
    /// Its parameters, kept with the session.
    second_params: Option<Arc<crate::model::Params>>,
}

/// A kept record, as `Session::restore` takes it back.
pub struct Restored {
    pub runs: Vec<LossRun>,
    pub epochs: Vec<EpochRow>,
    pub results: Vec<PhaseResult>,
    pub batches: u64,
    pub test: Option<Errors>,
    pub history: Vec<Snapshot>,
    pub experiment: ExperimentRecord,
}

/// Read access, one method per part: a copy of the small parts, the others borrowed.
macro_rules! getters {
    (copied { $($(#[$cdoc:meta])* $cname:ident: $cty:ty;)* }
     borrowed { $($(#[$doc:meta])* $name:ident: $ty:ty;)* }) => {
        impl Session {
            $($(#[$cdoc])* pub fn $cname(&self) -> $cty {
                self.$cname
            })*
            $($(#[$doc])* pub fn $name(&self) -> &$ty {
                &self.$name
            })*
        }
    };
}

getters! {
    copied {
        state: RunState;
        /// The subspace overlap of a one-stage decoder with PCA's (1 = the same), once
        /// the yardstick is measured.
        subspace_overlap: Option<f64>;
        progress: Option<Progress>;
        /// Batches trained since the model was created, the plot's x axis.
        batches: u64;
        cache: Option<CacheInfo>;
        test: Option<Errors>;
    }
    borrowed {
        data: Arc<Mnist>;
        epochs: Vec<EpochRow>;
        results: Vec<PhaseResult>;
        runs: Vec<LossRun>;
        /// Latest parameters, for the live views.
        snapshot: Option<Snapshot>;
        /// The snapshot taken at each epoch end, oldest first.
        history: Vec<Snapshot>;
        /// The newest mean code per class, kept across snapshots that do not carry one.
        class_means: Option<Arc<ndarray::Array2<f32>>>;
        /// The latest classifier experiment and its results.
        experiment: ExperimentRecord;
        /// PCA's test MSE at every rank on the data, once measured.
        yardstick: Option<Arc<Yardstick>>;
        /// The encoder the worker keeps for sweeps to compare the model's with.
        second: Option<SecondEncoder>;
        /// Its parameters, kept with the session.
        second_params: Option<Arc<crate::model::Params>>;
    }
}

impl Session {
    pub fn new(data: Arc<Mnist>) -> Self {
        Self {
            data,
            state: RunState::Idle,
            progress: None,
            epochs: Vec::new(),
            results: Vec::new(),
            runs: Vec::new(),
            batches: 0,
            cache: None,
            snapshot: None,
            history: Vec::new(),
            class_means: None,
            test: None,
            yardstick: None,
            subspace_overlap: None,
            experiment: ExperimentRecord::default(),
            second: None,
            second_params: None,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.state == RunState::Idle
    }

    /// Seconds per epoch of the latest uncached and cached phase 2, once measured.
    pub fn phase2_epoch_seconds(&self) -> [Option<f64>; 2] {
        let last = |cached: bool| {
            self.results
                .iter()
                .rev()
                .find(|r| r.phase == Phase::TWO && r.cached == cached)
                .map(|r| r.seconds / r.epochs.max(1) as f64)
        };
        [last(false), last(true)]
    }

    /// Every batch loss as CSV: one line per batch, with the run, its phase (`1`, `2`,
    /// `3` or `e2e`), whether
    /// phase 2 used the cache, the smoothed loss, and the seed's train MSE on the
    /// batches that ended an epoch.
    pub fn losses_csv(&self) -> String {
        let mut out =
            String::from("run,phase,cached,batch,loss,smoothed,epoch_train_mse,epoch_l2_term\n");
        for (i, run) in self.runs.iter().enumerate() {
            let mut ends = self.epochs.iter().filter(|e| e.run == i);
            let mut next_end = run.epoch_ends.iter().zip(ends.by_ref());
            let mut pending = next_end.next();
            for (raw, smooth) in run.raw.iter().zip(&run.smooth) {
                let (epoch_mse, epoch_l2) = match pending {
                    Some((&x, row)) if x == raw.x => {
                        pending = next_end.next();
                        let l2 = row.l2_term.map(|v| v.to_string()).unwrap_or_default();
                        (row.train_mse.to_string(), l2)
                    }
                    _ => Default::default(),
                };
                out.push_str(&format!(
                    "{i},{},{},{},{},{},{epoch_mse},{epoch_l2}\n",
                    run.phase.tag(),
                    run.cached as u8,
                    raw.x,
                    raw.y as f32,
                    smooth.y as f32
                ));
            }
        }
        out
    }

    /// Whether any phase that trains the inner layers has run on the current model.
    pub fn inner_trained(&self) -> bool {
        let Some(s) = self.snapshot.as_ref() else {
            return false;
        };
        // One autoencoder has no inner layers: phase 1 trains all of it.
        let one = s.params.depth() == 1;
        s.epochs_done
            .iter()
            .any(|(p, e)| (one || p != Phase::ONE) && e > 0)
    }

    /// The shape of the worker's model, once it has shown it.
    pub fn arch(&self) -> Option<crate::model::Arch> {
        self.snapshot.as_ref().map(|s| s.params.arch())
    }

    /// Whether the worker's model has never trained an epoch (fresh from the seed): new
    /// widths may then replace it without losing anything.
    pub fn untrained(&self) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|s| s.epochs_done.iter().all(|(_, e)| e == 0))
            && self.batches == 0
    }

    /// Index of the latest phase run in `runs`.
    fn current_run(&self) -> usize {
        self.runs.len().saturating_sub(1)
    }

    /// Forgets the training record (a new model: reset, or a loaded checkpoint).
    fn clear_record(&mut self) {
        self.progress = None;
        self.epochs.clear();
        self.results.clear();
        self.runs.clear();
        self.batches = 0;
        self.history.clear();
        self.test = None;
    }

    /// Takes a worker's event; returns what the user should be told of it.
    pub fn apply(&mut self, e: Event) -> Option<Note> {
        let notice = |n: String| Some(Note::Notice(n));
        match e {
            Event::State(s) => {
                self.state = s;
                if s == RunState::Idle {
                    self.progress = None;
                }
            }
            Event::PhaseStarted { phase, cached, .. } => {
                let start = self.batches as f64;
                self.runs.push(LossRun::new(phase, cached, start));
            }
            Event::BatchLoss { loss, .. } => self.batch_loss(loss),
            Event::Progress(p) => self.progress = Some(p),
            Event::EpochDone {
                phase,
                epoch,
                train_mse,
                l2_term,
                seconds,
            } => self.epoch_done(EpochRow {
                run: self.current_run(),
                phase,
                epoch,
                train_mse,
                l2_term: Some(l2_term),
                seconds,
            }),
            Event::CacheBuilt(info) => self.cache = Some(info),
            Event::PhaseDone {
                phase,
                epochs,
                seconds,
                cached,
                test,
            } => {
                self.test = Some(test);
                let run = self.current_run();
                let inner_untrained = phase == Phase::ONE && !self.inner_trained();
                self.results.push(PhaseResult {
                    run,
                    phase,
                    cached,
                    epochs,
                    seconds,
                    test,
                    inner_untrained,
                });
            }
            Event::Stopped(phase) => return notice(format!("{phase} stopped")),
            Event::Snapshot(s) => self.take_snapshot(s),
            Event::Evaluated(test) => self.test = Some(test),
            Event::Reset => {
                self.clear_record();
                self.cache = None;
                return notice("model re-initialised from the seed".into());
            }
            Event::DataLoaded(data) => return notice(self.data_loaded(data)),
            // Measured for data since replaced: not this data's.
            Event::Yardstick { data, pca } => {
                if Arc::ptr_eq(&data, &self.data) {
                    self.yardstick = Some(pca);
                    self.subspace_overlap = self.measure_overlap();
                }
            }
            Event::CheckpointLoaded { path, note } => {
                self.clear_record();
                let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
                return notice(format!("loaded {}{note}", path.display()));
            }
            Event::CheckpointSaved(path) => return notice(format!("saved {}", path.display())),
            Event::Experiment(e) => self.experiment.apply(e),
            Event::SecondEncoder(second) => {
                let said = match &second {
                    Some((e, _)) => format!("kept {} to compare encoders with", e.name),
                    None => "forgot the second encoder".into(),
                };
                (self.second, self.second_params) =
                    second.map(|(e, p)| (Some(e), Some(p))).unwrap_or_default();
                return notice(said);
            }
            Event::Error(msg) => return Some(Note::Error(msg)),
            // The app keeps the session with it; nothing here changes.
            Event::Checkpointed(_) | Event::Handled(_) => {}
        }
        None
    }

    /// PCA through as many components as the code is wide, once measured.
    pub fn code_yardstick(&self) -> Option<PcaFigure> {
        let width = self.snapshot.as_ref()?.params.arch().code();
        Some(PcaFigure::at(self.yardstick.as_deref()?, width))
    }

    /// PCA through as many components as hidden1 is wide: phase 1's yardstick.
    pub fn outer_yardstick(&self) -> Option<PcaFigure> {
        let width = self.snapshot.as_ref()?.params.arch().hidden1();
        Some(PcaFigure::at(self.yardstick.as_deref()?, width))
    }

    /// Puts a kept record back: curves, epochs, results, history, the experiment. The
    /// model itself comes back through the worker, before this.
    pub fn restore(&mut self, r: Restored) {
        self.runs = r.runs;
        self.epochs = r.epochs;
        self.results = r.results;
        self.batches = r.batches;
        self.test = r.test;
        self.history = r.history;
        self.experiment = r.experiment;
    }

    /// The worker stopped unexpectedly: nothing runs any more.
    pub fn worker_gone(&mut self) {
        self.state = RunState::Idle;
        self.progress = None;
    }

    fn data_loaded(&mut self, data: Arc<Mnist>) -> String {
        let opened = format!("opened {}", data.source);
        self.data = data;
        self.cache = None;
        self.class_means = None;
        self.yardstick = None;
        opened
    }

    fn batch_loss(&mut self, loss: f32) {
        self.batches += 1;
        let x = self.batches as f64;
        if let Some(run) = self.runs.last_mut() {
            run.push(x, loss);
        }
    }

    fn epoch_done(&mut self, row: EpochRow) {
        let x = self.batches as f64;
        if let Some(run) = self.runs.last_mut() {
            run.epoch_ends.push(x);
            if let Some(l2) = row.l2_term {
                run.push_l2(x, l2);
            }
        }
        self.epochs.push(row);
    }

    fn take_snapshot(&mut self, s: Snapshot) {
        if let Some(m) = &s.class_means {
            self.class_means = Some(m.clone());
        }
        if s.epoch_end.is_some() {
            if self.history.len() == HISTORY_LIMIT {
                self.history.remove(0);
            }
            self.history.push(s.clone());
        }
        self.snapshot = Some(s);
        self.subspace_overlap = self.measure_overlap();
    }

    /// Once per snapshot (about 20 ms at 784x150), not per frame.
    fn measure_overlap(&self) -> Option<f64> {
        let p = &self.snapshot.as_ref()?.params;
        match p.depth() {
            1 => self.yardstick.as_ref()?.overlap(p.w[1].view()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_yardstick_is_kept_for_its_own_data_only() {
        let data = Arc::new(Mnist::embedded().unwrap());
        let mut s = Session::new(data.clone());
        let x = ndarray::Array2::from_shape_fn((8, 6), |(r, c)| ((r * 7 + c * 3) % 5) as f32);
        let pca = Arc::new(Yardstick::of(x.view(), x.view()).unwrap());
        let arch = crate::model::Arch::two(6, 4, 2);
        s.apply(Event::Snapshot(Snapshot {
            params: Arc::new(crate::model::Params::zeros(arch)),
            epochs_done: Default::default(),
            epoch_end: None,
            class_means: None,
        }));
        // Measured for a dataset since replaced (another Arc, even of equal data).
        let other = Arc::new((*data).clone());
        s.apply(Event::Yardstick {
            data: other,
            pca: pca.clone(),
        });
        assert!(s.yardstick().is_none() && s.code_yardstick().is_none());
        s.apply(Event::Yardstick {
            data: data.clone(),
            pca: pca.clone(),
        });
        let code = s.code_yardstick().unwrap();
        assert_eq!((code.components, code.mse), (2, pca.mse(2)));
        assert_eq!(s.outer_yardstick().unwrap().mse, pca.mse(4));
        let f = PcaFigure {
            components: 150,
            mse: 0.003424,
        };
        assert_eq!(f.against(0.009767), "PCA-150 0.003424 (2.85x lower)");
        assert_eq!(f.compared(0.001712), "2.00x higher");
        let exact = PcaFigure {
            components: 1000,
            mse: 0.0,
        };
        assert_eq!(exact.compared(0.000331), "exact");
        s.apply(Event::DataLoaded(Arc::new((*data).clone())));
        assert!(s.yardstick().is_none(), "a new dataset waits for its own");
    }

    #[test]
    fn losses_epochs_and_results_follow_the_events() {
        let data = Arc::new(Mnist::embedded().unwrap());
        let mut s = Session::new(data);
        s.apply(Event::PhaseStarted {
            phase: Phase::ONE,
            cached: false,
            epochs: 1,
            batches: 2,
        });
        for loss in [0.5, 0.25] {
            s.apply(Event::BatchLoss {
                phase: Phase::ONE,
                loss,
            });
        }
        s.apply(Event::EpochDone {
            phase: Phase::ONE,
            epoch: 0,
            train_mse: 0.2,
            l2_term: 0.125,
            seconds: 1.0,
        });
        s.apply(Event::PhaseDone {
            phase: Phase::TWO,
            epochs: 2,
            seconds: 3.0,
            cached: true,
            test: Errors {
                outer: 0.008,
                full: 0.01,
                inner: 0.002,
                own: [0.008, 0.002, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            },
        });
        let run = &s.runs[0];
        assert_eq!(run.raw.len(), 2);
        assert_eq!((run.raw[1].x, run.raw[1].y), (2.0, 0.25));
        assert!((run.smooth[1].y - (0.5 - 0.1 * 0.25)).abs() < 1e-12);
        assert!((run.raw_log[1].y - 0.25f64.log10()).abs() < 1e-12);
        assert_eq!(run.epoch_ends, vec![2.0]);
        assert_eq!((run.l2[0].x, run.l2[0].y), (2.0, 0.125));
        assert!((run.l2_log[0].y - 0.125f64.log10()).abs() < 1e-12);
        assert_eq!(s.epochs.len(), 1);
        assert_eq!(s.epochs[0].l2_term, Some(0.125));
        assert_eq!(s.phase2_epoch_seconds(), [None, Some(1.5)]);
        let csv = s.losses_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "run,phase,cached,batch,loss,smoothed,epoch_train_mse,epoch_l2_term"
        );
        assert_eq!(lines[1], "0,1,0,1,0.5,0.5,,");
        assert_eq!(lines[2], "0,1,0,2,0.25,0.475,0.2,0.125");
        s.apply(Event::Reset);
        assert!(s.runs.is_empty() && s.epochs.is_empty() && s.batches == 0);
    }
}
