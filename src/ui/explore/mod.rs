//! The views of the code space: Map, Walk and Draw, and the app's end of the map
//! worker that computes for them. `Explore` sends the worker what changed (the shown
//! parameters, the layer, the walk's ends, the drawing), only while one of these views
//! is on screen, and keeps what it answers in `MapsState`.

pub mod dots;
mod draw_panel;
mod map_panel;
pub mod pad;
pub mod scatter;
pub mod state;
mod walk_panel;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::command::UiCommand;
use super::recon::Selection;
use super::seen::Seen;
use super::shown::Shown;
use crate::data::Mnist;
use crate::explore::{Layer, MapWorker, Method, Request};
use crate::model::Params;
use crate::space::TsneConfig;
use crate::train::protocol::Waker;
use draw_panel::DrawPanel;
use map_panel::MapPanel;
pub use state::MapsState;
use walk_panel::WalkPanel;

/// What persists of these views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExploreSettings {
    pub layer: Layer,
    pub method: Method,
    pub perplexity: f64,
    /// Digits the legend hides.
    pub hidden: [bool; 10],
    /// Normalise a drawing as MNIST's digits were before encoding it.
    pub mnist_style: bool,
    /// Brush radius in MNIST pixels.
    pub brush: f32,
}

impl Default for ExploreSettings {
    fn default() -> Self {
        Self {
            layer: Layer::Code,
            method: Method::Pca,
            perplexity: TsneConfig::default().perplexity,
            hidden: [false; 10],
            mnist_style: true,
            brush: 1.2,
        }
    }
}

/// What the worker was last sent, to send only changes.
#[derive(Debug, Default)]
struct Sent {
    data: Seen<Mnist>,
    /// The parameters and what they were called (the same parameters can be "live"
    /// and "after phase 1, epoch 3").
    params: Seen<Params>,
    source: String,
    layer: Option<Layer>,
    walk: Option<Option<[usize; 2]>>,
    drawing: Option<(u64, bool)>,
}

pub struct Explore {
    worker: Option<MapWorker>,
    pub state: MapsState,
    map: MapPanel,
    walk: WalkPanel,
    draw: DrawPanel,
    sent: Sent,
    /// One of these views was drawn in this frame.
    on_screen: bool,
}

impl Explore {
    pub fn new(data: Arc<Mnist>, wake: Waker) -> Self {
        let mut state = MapsState::default();
        let worker = match MapWorker::spawn(data, 0, wake) {
            Ok(w) => Some(w),
            Err(e) => {
                state.errors.push(e.to_string());
                None
            }
        };
        Self {
            worker,
            state,
            map: MapPanel::default(),
            walk: WalkPanel::default(),
            draw: DrawPanel::default(),
            sent: Sent::default(),
            on_screen: false,
        }
    }

    fn send(&mut self, r: Request) {
        let gone = self.worker.as_ref().is_some_and(|w| !w.send(r));
        if gone {
            self.worker = None;
            self.state
                .errors
                .push("the map worker stopped; the maps no longer update".into());
        }
    }

    /// Takes every reply the worker has sent so far.
    pub fn pump(&mut self) {
        while let Some(w) = &self.worker {
            match w.try_recv() {
                Ok(Some(r)) => self.state.apply(r),
                Ok(None) => return,
                Err(_) => {
                    self.worker = None;
                    self.state.errors.push("the map worker stopped".into());
                }
            }
        }
    }

    /// Takes replies, blocking, until `until` holds or `timeout` passes. For tests:
    /// they wait on the channel instead of sleeping.
    #[cfg(feature = "test-hooks")]
    pub fn wait_until(
        &mut self,
        timeout: std::time::Duration,
        until: impl Fn(&MapsState) -> bool,
    ) -> bool {
        use std::time::Instant;
        let deadline = Instant::now() + timeout;
        while !until(&self.state) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(w) = &self.worker else { return false };
            match w.recv_timeout(left) {
                Ok(Some(r)) => self.state.apply(r),
                Ok(None) | Err(_) => return false,
            }
        }
        true
    }

    /// Sends the worker what changed, if one of these views was on screen in this frame
    /// (call it after drawing them): nothing is computed for views nobody looks at.
    pub fn follow(
        &mut self,
        shown: Option<&Shown>,
        live_epochs: Option<crate::model::PhaseEpochs>,
        data: &Arc<Mnist>,
        settings: &ExploreSettings,
        sel: &Selection,
    ) {
        let on_screen = std::mem::take(&mut self.on_screen);
        if !on_screen {
            return;
        }
        // The worker started on the first data it is sent for; only a change is news.
        let known = self.sent.data.any();
        if self.sent.data.changed(Some(data)) && known {
            self.send(Request::Data(data.clone()));
            self.state.clear();
            self.sent = Sent::default();
            self.sent.data.changed(Some(data));
        }
        if self.sent.layer != Some(settings.layer) {
            self.send(Request::Layer(settings.layer));
            self.sent.layer = Some(settings.layer);
        }
        if let Some(s) = shown {
            let source = match (s.label.as_str(), live_epochs) {
                ("live", Some(epochs)) => format!("live, after {}", epochs),
                _ => s.label.clone(),
            };
            let new_params = self.sent.params.changed(Some(&s.params));
            if new_params || self.sent.source != source {
                let params = s.params.clone();
                self.state.source = source.clone();
                self.send(Request::Params {
                    params,
                    source: source.clone(),
                });
                self.sent.source = source;
            }
        }
        let ends = self.walk.ends(sel);
        if self.sent.walk != Some(ends) {
            self.send(Request::Walk(ends));
            self.sent.walk = Some(ends);
        }
        let drawing = (self.draw.revision(), settings.mnist_style);
        if self.sent.drawing != Some(drawing) {
            let image = self.draw.image(settings.mnist_style).map(Arc::new);
            if image.is_none() {
                self.state.drawn = None;
            }
            self.send(Request::Draw(image));
            self.sent.drawing = Some(drawing);
        }
    }

    pub fn run_tsne(&mut self, settings: &ExploreSettings) {
        let config = TsneConfig {
            perplexity: settings.perplexity,
            ..TsneConfig::default()
        };
        if let Some(w) = &mut self.worker {
            w.start_tsne(config);
        }
    }

    pub fn cancel_tsne(&mut self) {
        if let Some(w) = &mut self.worker {
            w.cancel_tsne();
        }
    }

    pub fn clear_drawing(&mut self) {
        self.draw.clear();
    }

    /// Stops a t-SNE and the worker (the window closes); says how the worker
    /// panicked, if it did.
    pub fn close(&mut self) -> Option<String> {
        self.worker.take().and_then(|mut w| w.shutdown())
    }

    #[must_use]
    pub fn map_ui(
        &mut self,
        ui: &mut egui::Ui,
        test: &crate::data::Images,
        settings: &mut ExploreSettings,
        sel: &mut Selection,
        depth: usize,
    ) -> Vec<UiCommand> {
        self.on_screen = true;
        self.map.ui(ui, &self.state, test, settings, sel, depth)
    }

    pub fn walk_ui(&mut self, ui: &mut egui::Ui, test: &crate::data::Images, sel: &Selection) {
        self.on_screen = true;
        self.walk.ui(ui, &self.state, test, sel);
    }

    #[must_use]
    pub fn draw_ui(
        &mut self,
        ui: &mut egui::Ui,
        test: &crate::data::Images,
        settings: &mut ExploreSettings,
    ) -> Vec<UiCommand> {
        self.on_screen = true;
        self.draw.ui(ui, &self.state, test, settings)
    }

    /// Where test image `i` is on the screen in the map drawn last (for tests).
    #[cfg(feature = "test-hooks")]
    pub fn map_point_on_screen(&self, i: usize, settings: &ExploreSettings) -> Option<egui::Pos2> {
        let map = self.state.map(settings.layer, settings.method)?;
        let t = self.map.transform()?;
        (i < map.len()).then(|| t.to_screen([map.coords[[i, 0]], map.coords[[i, 1]]]))
    }
}
