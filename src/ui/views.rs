//! Draws each docked view (`layout::Pane`) with the panel that owns it, from the
//! session and the shared inspection; collects the commands they return.

use egui_tiles::{Behavior, SimplificationOptions, TileId, UiResponse};

use super::codes::CodesPanel;
use super::command::UiCommand;
use super::experiments::ExperimentsPanel;
use super::explore::Explore;
use super::features::FeaturesPanel;
use super::layout::Pane;
use super::losses::LossesPanel;
use super::recon::ReconPanel;
use super::session::Session;
use super::settings::Settings;
use super::shown::Inspection;

/// The panels and what they read, borrowed for one frame.
pub struct Views<'a> {
    pub session: &'a Session,
    pub settings: &'a mut Settings,
    pub inspection: &'a Inspection,
    pub losses: &'a mut LossesPanel,
    pub recon: &'a mut ReconPanel,
    pub codes: &'a mut CodesPanel,
    pub features: &'a mut FeaturesPanel,
    pub experiments: &'a mut ExperimentsPanel,
    pub explore: &'a mut Explore,
    pub clicked: &'a mut Vec<UiCommand>,
}

impl Behavior<Pane> for Views<'_> {
    fn tab_title_for_pane(&mut self, pane: &Pane) -> egui::WidgetText {
        pane.title().into()
    }

    fn pane_ui(&mut self, ui: &mut egui::Ui, _tile: TileId, pane: &mut Pane) -> UiResponse {
        let margin = egui::Frame::new().inner_margin(egui::Margin::same(6));
        margin.show(ui, |ui| match pane {
            Pane::Losses => {
                let log = self.settings.log_scale;
                self.clicked.extend(self.losses.ui(ui, self.session, log));
            }
            Pane::Reconstructions => {
                let noise = self.settings.hyperparams.noise;
                let (test, sel) = (&self.session.data().test, &mut self.settings.selection);
                self.clicked
                    .extend(self.recon.ui(ui, test, self.inspection, sel, noise));
            }
            Pane::Features => scrolled(ui, "features", |ui| self.features.ui(ui)),
            Pane::Codes => scrolled(ui, "codes", |ui| self.codes.ui(ui)),
            Pane::Experiments => {
                let (record, idle) = (&self.session.experiment(), self.session.is_idle());
                let s = &mut *self.settings;
                let arch = super::app::model_arch(self.session, &s.hyperparams);
                let (choice, second) = (&mut s.experiment, self.session.second().as_ref());
                let clicked = (self.experiments).ui(ui, record, idle, arch, second, choice);
                self.clicked.extend(clicked);
            }
            Pane::Map => {
                let (test, s) = (&self.session.data().test, &mut *self.settings);
                let depth = super::app::model_arch(self.session, &s.hyperparams).depth();
                let clicked =
                    (self.explore).map_ui(ui, test, &mut s.explore, &mut s.selection, depth);
                self.clicked.extend(clicked);
            }
            Pane::Walk => {
                let (test, sel) = (&self.session.data().test, &self.settings.selection);
                self.explore.walk_ui(ui, test, sel);
            }
            Pane::Draw => {
                let (test, s) = (&self.session.data().test, &mut self.settings.explore);
                self.clicked.extend(self.explore.draw_ui(ui, test, s));
            }
        });
        UiResponse::None
    }

    fn simplification_options(&self) -> SimplificationOptions {
        SimplificationOptions {
            // Every view keeps a tab: its title, and the handle to drag it elsewhere.
            all_panes_must_have_tabs: true,
            ..Default::default()
        }
    }
}

fn scrolled(ui: &mut egui::Ui, id: &str, add: impl FnOnce(&mut egui::Ui)) {
    egui::ScrollArea::vertical()
        .id_salt(id)
        .auto_shrink([false, false])
        .show(ui, add);
}
