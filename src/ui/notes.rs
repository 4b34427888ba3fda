//! What the app tells the user beside the training record: errors to read and dismiss,
//! and one short notice ("saved ..."). Kept apart from `Session`, which only the
//! worker's events build.

/// A message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Error(String),
    Notice(String),
}

#[derive(Debug, Clone, Default)]
pub struct Notes {
    errors: Vec<String>,
    notice: Option<String>,
}

impl Notes {
    pub fn take(&mut self, note: Note) {
        match note {
            Note::Error(e) => self.errors.push(e),
            Note::Notice(n) => self.notice = Some(n),
        }
    }

    pub fn error(&mut self, e: impl Into<String>) {
        self.errors.push(e.into());
    }

    pub fn notice(&mut self, n: impl Into<String>) {
        self.notice = Some(n.into());
    }

    /// Errors not yet dismissed, newest last.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The latest notice.
    pub fn latest(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    pub fn dismiss_errors(&mut self) {
        self.errors.clear();
    }
}

impl Extend<String> for Notes {
    fn extend<I: IntoIterator<Item = String>>(&mut self, errors: I) {
        self.errors.extend(errors);
    }
}
