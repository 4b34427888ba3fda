//! What the app does with files: the file dialog and what its choice leads to, PNG and
//! CSV export, and the offer to restore the model kept by the last session.

use std::path::PathBuf;

use super::app::LayerwiseApp;
use super::autosave;
use super::disk::{Job, Work};
use super::file_dialog::{FileDialog, Outcome, Purpose};
use super::shown;
use crate::train::protocol::{Command, SecondSource};

impl LayerwiseApp {
    pub(super) fn open_dialog(&mut self, purpose: Purpose) {
        let start = self
            .settings
            .last_dir
            .clone()
            .filter(|d| d.is_dir())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"));
        self.dialog = Some(FileDialog::new(purpose, &start));
    }

    pub(super) fn dialog_ui(&mut self, ctx: &egui::Context) {
        let Some(d) = &mut self.dialog else { return };
        let purpose = d.purpose;
        let dir = d.dir().to_path_buf();
        match d.show(ctx) {
            Outcome::Open => {}
            Outcome::Cancelled => self.dialog = None,
            Outcome::Chosen(path) => {
                self.dialog = None;
                self.settings.last_dir = Some(dir);
                self.chosen(purpose, path);
            }
        }
    }

    /// Carries out what the file dialog chose.
    fn chosen(&mut self, purpose: Purpose, path: PathBuf) {
        match purpose {
            Purpose::OpenData => self.send(Command::OpenData(path)),
            Purpose::LoadCheckpoint => self.send(Command::LoadCheckpoint(path)),
            Purpose::LoadEncoderB => {
                self.send(Command::SetSecondEncoder(Some(SecondSource::File(path))))
            }
            Purpose::SaveCheckpoint => self.send(Command::SaveCheckpoint(path)),
            Purpose::ExportImages => match self.export_images(path) {
                Ok(work) => self.export(work),
                Err(e) => self.notes.error(e),
            },
            Purpose::ExportExperiment => {
                let work = self.export_experiment(path);
                self.export(work);
            }
            Purpose::ExportLosses => {
                let csv = self.session.losses_csv();
                self.export(Box::new(move || {
                    crate::output::atomically(&path, csv.as_bytes())
                        .map(|()| format!("wrote {}", path.display()))
                        .map_err(|e| format!("{}: {e}", path.display()))
                }));
            }
        }
    }

    /// Runs an export on the disk thread; its notice or error comes back from there.
    fn export(&mut self, work: Work) {
        self.notes.notice("exporting…");
        if let Some(done) = self.disk.send(Job::Export(work)) {
            let error = self.finished(done);
            self.notes.extend(error);
        }
    }

    /// Writing the shown parameters' views as PNG files into `dir`, as `layerwise
    /// export` (the class means computed there, off the UI thread, when the snapshot
    /// has none).
    fn export_images(&self, dir: PathBuf) -> Result<Work, &'static str> {
        let shown =
            shown::pick(&self.session, self.history_pick).ok_or("no model to export yet")?;
        let data = self.session.data().clone();
        let indices = self.settings.selection.shown();
        Ok(Box::new(move || {
            let test = &data.test;
            let means = match &shown.class_means {
                Some(m) => m.as_ref().clone(),
                None => crate::train::eval::class_mean_codes(&shown.params, test),
            };
            let written = crate::export::write_pngs(&dir, &shown.params, test, &indices, &means)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "wrote {} PNG files to {}",
                written.len(),
                dir.display()
            ))
        }))
    }

    /// Writing the experiment's results (`experiment.csv`) and chart (`experiment.png`)
    /// into `dir`.
    fn export_experiment(&self, dir: PathBuf) -> Work {
        let record = &self.session.experiment();
        let (csv_text, summary) = (record.results_csv(), record.summary());
        Box::new(move || {
            let csv = dir.join("experiment.csv");
            crate::output::atomically(&csv, csv_text.as_bytes())
                .map_err(|e| format!("{}: {e}", csv.display()))?;
            let png = dir.join("experiment.png");
            let title = "TEST ACCURACY AGAINST LABELS, PER ARM";
            crate::chart::accuracy_chart(&summary, title)
                .save_png(&png)
                .map_err(|e| e.to_string())?;
            Ok(format!("wrote {} and {}", csv.display(), png.display()))
        })
    }

    /// The offer to restore the last session's model, until the user decides.
    pub(super) fn restore_ui(&mut self, ctx: &egui::Context) {
        let Some(offer) = &self.restore_offer else {
            return;
        };
        let Some(choice) = autosave::offer_ui(ctx, offer) else {
            return;
        };
        let Some(offer) = self.restore_offer.take() else {
            return;
        };
        match choice {
            autosave::Choice::Restore => {
                // The worker takes only a model of its own network, and after a kill
                // the saved settings are older than the kept model's: take the model's
                // settings (or at least its shape), and build its network first.
                let train = self.session.data().train.len();
                let kept = (offer.hyperparams).filter(|k| k.validate(train).is_ok());
                let hp = &mut self.settings.hyperparams;
                let old = hp.clone();
                if let Some(k) = kept {
                    *hp = k;
                }
                hp.take_shape(offer.arch);
                if *hp != old || offer.arch != super::app::model_arch(&self.session, hp) {
                    self.reset();
                }
                self.pending_record = offer.record.map(|r| (offer.path.clone(), r));
                self.send(Command::LoadCheckpoint(offer.path));
                if let Some((path, b)) = offer.second {
                    let name = b.name;
                    self.send(Command::SetSecondEncoder(Some(SecondSource::Kept {
                        path,
                        name,
                    })));
                }
            }
            autosave::Choice::Discard => {
                if let Some(dir) = &self.data_dir {
                    let errors = autosave::discard(dir);
                    self.notes.extend(errors);
                }
            }
        }
    }
}
