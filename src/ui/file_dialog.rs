//! A file and folder dialog drawn with egui itself, so it works on any Linux desktop,
//! without portals or GTK, and under Xvfb.

use std::path::{Path, PathBuf};

use egui::{RichText, Ui};

/// What the dialog is for, which decides what it lets you pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    OpenData,
    LoadCheckpoint,
    /// A checkpoint whose encoder sweeps compare the model's with.
    LoadEncoderB,
    SaveCheckpoint,
    ExportImages,
    ExportLosses,
    ExportExperiment,
}

enum Pick {
    Folder,
    ExistingFile(&'static str),
    NewFile(&'static str),
}

impl Purpose {
    fn title(self) -> &'static str {
        match self {
            Purpose::OpenData => "Open an MNIST-format folder",
            Purpose::LoadCheckpoint => "Load a checkpoint",
            Purpose::LoadEncoderB => "Load a checkpoint as encoder B",
            Purpose::SaveCheckpoint => "Save the model",
            Purpose::ExportImages => "Export the views as PNG into a folder",
            Purpose::ExportLosses => "Export the loss history as CSV",
            Purpose::ExportExperiment => "Export the experiment's chart and results into a folder",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Purpose::OpenData => "Open folder",
            Purpose::LoadCheckpoint | Purpose::LoadEncoderB => "Load",
            Purpose::SaveCheckpoint | Purpose::ExportLosses => "Save",
            Purpose::ExportImages | Purpose::ExportExperiment => "Export here",
        }
    }

    fn pick(self) -> Pick {
        match self {
            Purpose::OpenData | Purpose::ExportImages | Purpose::ExportExperiment => Pick::Folder,
            Purpose::LoadCheckpoint | Purpose::LoadEncoderB => Pick::ExistingFile("safetensors"),
            Purpose::SaveCheckpoint => Pick::NewFile("layerwise.safetensors"),
            Purpose::ExportLosses => Pick::NewFile("losses.csv"),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    is_dir: bool,
}

pub enum Outcome {
    Open,
    Cancelled,
    Chosen(PathBuf),
}

pub struct FileDialog {
    pub purpose: Purpose,
    dir: PathBuf,
    /// The editable path: a folder to browse to, or (file modes) a file.
    path_text: String,
    name: String,
    entries: Vec<Entry>,
    problem: Option<String>,
}

impl FileDialog {
    pub fn new(purpose: Purpose, start: &Path) -> Self {
        let name = match purpose.pick() {
            Pick::NewFile(n) => n.to_string(),
            _ => String::new(),
        };
        let mut d = Self {
            purpose,
            dir: PathBuf::new(),
            path_text: String::new(),
            name,
            entries: Vec::new(),
            problem: None,
        };
        d.go(start.to_path_buf());
        d
    }

    /// The folder being browsed.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn go(&mut self, dir: PathBuf) {
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                let ext = match self.purpose.pick() {
                    Pick::ExistingFile(e) => Some(e),
                    _ => None,
                };
                let mut entries: Vec<Entry> = rd
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let is_dir = e.path().is_dir();
                        let shown = !name.starts_with('.')
                            && (is_dir || ext.is_none_or(|x| name.ends_with(&format!(".{x}"))));
                        shown.then_some(Entry { name, is_dir })
                    })
                    .collect();
                entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
                self.entries = entries;
                self.path_text = dir.display().to_string();
                self.dir = dir;
                self.problem = None;
            }
            Err(e) => self.problem = Some(format!("{}: {e}", dir.display())),
        }
    }

    /// What the action button would choose right now, if anything.
    fn choice(&self) -> Result<PathBuf, String> {
        let typed = PathBuf::from(self.path_text.trim());
        match self.purpose.pick() {
            Pick::Folder => {
                if typed.is_dir() {
                    Ok(typed)
                } else {
                    Err(format!("{} is not a folder", typed.display()))
                }
            }
            Pick::ExistingFile(_) => {
                if typed.is_file() {
                    Ok(typed)
                } else {
                    Err("choose a file".into())
                }
            }
            Pick::NewFile(_) => {
                let name = self.name.trim();
                if name.is_empty() || name.contains('/') {
                    Err("type a file name".into())
                } else if typed.is_dir() {
                    Ok(typed.join(name))
                } else {
                    Err(format!("{} is not a folder", typed.display()))
                }
            }
        }
    }

    pub fn show(&mut self, ctx: &egui::Context) -> Outcome {
        let mut outcome = Outcome::Open;
        let modal = egui::Modal::new(egui::Id::unique("layerwise-file-dialog")).show(ctx, |ui| {
            ui.set_width(560.0);
            ui.heading(self.purpose.title());
            outcome = self.contents_ui(ui);
        });
        if modal.should_close() && matches!(outcome, Outcome::Open) {
            outcome = Outcome::Cancelled;
        }
        outcome
    }

    fn contents_ui(&mut self, ui: &mut Ui) -> Outcome {
        self.path_ui(ui);
        if let Some(chosen) = self.entries_ui(ui) {
            return chosen;
        }
        if let Pick::NewFile(_) = self.purpose.pick() {
            ui.horizontal(|ui| {
                let label = ui.label("File name");
                ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(300.0))
                    .labelled_by(label.id);
            });
        }
        if let Some(p) = &self.problem {
            ui.colored_label(ui.visuals().error_fg_color, p);
        }
        self.buttons_ui(ui)
    }

    /// "Up" and the path field (Enter goes there).
    fn path_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            if ui.button("Up").on_hover_text("Parent folder").clicked()
                && let Some(p) = self.dir.parent()
            {
                self.go(p.to_path_buf());
            }
            let label = ui.label("Path");
            let edit = ui
                .add(egui::TextEdit::singleline(&mut self.path_text).desired_width(440.0))
                .labelled_by(label.id);
            if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                let p = PathBuf::from(self.path_text.trim());
                if p.is_dir() {
                    self.go(p);
                }
            }
        });
    }

    /// The folder's entries: a click selects, a double click enters a folder or picks a
    /// file (the dialog's outcome then).
    fn entries_ui(&mut self, ui: &mut Ui) -> Option<Outcome> {
        let mut enter = None;
        let mut pick_file = None;
        egui::ScrollArea::vertical()
            .max_height(300.0)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for e in &self.entries {
                    let text = if e.is_dir {
                        format!("{}/", e.name)
                    } else {
                        e.name.clone()
                    };
                    let selected = !e.is_dir && self.path_text.ends_with(&format!("/{}", e.name));
                    let r = ui.selectable_label(selected, text);
                    if e.is_dir && r.double_clicked() {
                        enter = Some(self.dir.join(&e.name));
                    } else if r.clicked() {
                        if e.is_dir {
                            self.path_text = self.dir.join(&e.name).display().to_string();
                        } else {
                            pick_file = Some((self.dir.join(&e.name), r.double_clicked()));
                        }
                    }
                }
                if self.entries.is_empty() {
                    ui.weak("(empty)");
                }
            });
        if let Some(d) = enter {
            self.go(d);
        }
        let (file, now) = pick_file?;
        match self.purpose.pick() {
            Pick::NewFile(_) => {
                self.name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }
            _ => self.path_text = file.display().to_string(),
        }
        now.then(|| self.choice().ok())
            .flatten()
            .map(Outcome::Chosen)
    }

    /// The action and Cancel; the reason the action is not possible yet, if so.
    fn buttons_ui(&mut self, ui: &mut Ui) -> Outcome {
        let mut outcome = Outcome::Open;
        let choice = self.choice();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    choice.is_ok(),
                    egui::Button::new(RichText::new(self.purpose.action()).strong()),
                )
                .clicked()
                && let Ok(p) = &choice
            {
                outcome = Outcome::Chosen(p.clone());
            }
            if ui.button("Cancel").clicked() {
                outcome = Outcome::Cancelled;
            }
            if let Err(why) = &choice {
                ui.weak(why);
            }
        });
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_folders_first_and_filters_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("zeta")).unwrap();
        std::fs::write(dir.path().join("a.safetensors"), b"x").unwrap();
        std::fs::write(dir.path().join("b.txt"), b"x").unwrap();
        let d = FileDialog::new(Purpose::LoadCheckpoint, dir.path());
        let names: Vec<&str> = d.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["zeta", "a.safetensors"]);
        assert!(d.choice().is_err(), "a folder is not a checkpoint");

        let mut s = FileDialog::new(Purpose::SaveCheckpoint, dir.path());
        assert_eq!(
            s.choice().unwrap(),
            dir.path().join("layerwise.safetensors")
        );
        s.name = String::new();
        assert!(s.choice().is_err());

        let f = FileDialog::new(Purpose::OpenData, dir.path());
        assert_eq!(f.choice().unwrap(), dir.path());
    }

    #[test]
    fn an_unreadable_folder_is_reported_and_the_old_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = FileDialog::new(Purpose::OpenData, dir.path());
        d.go(dir.path().join("missing"));
        assert!(d.problem.as_deref().unwrap().contains("missing"));
        assert_eq!(d.dir(), dir.path());
    }
}
