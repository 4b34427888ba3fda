//! A set of files replaced as one unit: each version is written whole into a folder of
//! its own (`kept-N`), flushed, and only then named current by a pointer file
//! (`CURRENT`, itself replaced atomically). A kill at any moment leaves the previous
//! set or the new one, never a mix: the app keeps a session (model, record, history)
//! this way while it trains.

use std::io::Write;
use std::path::{Path, PathBuf};

const POINTER: &str = "CURRENT";
const PREFIX: &str = "kept-";

/// The folder of the current set in `dir`, if one was completed.
pub fn current(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let name = match std::fs::read_to_string(dir.join(POINTER)) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let name = name.trim();
    // Only a name of ours: the pointer must not lead out of `dir`.
    if generation(name).is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: '{name}' is not a kept set",
                dir.join(POINTER).display()
            ),
        ));
    }
    Ok(Some(dir.join(name)))
}

/// Writes `files` (name, bytes) as the new current set in `dir` (created if needed),
/// then removes older sets. Returns the new set's folder.
pub fn write(dir: &Path, files: &[(&str, &[u8])]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let next = sets(dir)?
        .into_iter()
        .map(|(n, _)| n + 1)
        .max()
        .unwrap_or(1);
    let name = format!("{PREFIX}{next}");
    let staging = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging)?;
    for (file, bytes) in files {
        let mut f = std::fs::File::create(staging.join(file))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    sync_dir(&staging);
    let folder = dir.join(&name);
    std::fs::rename(&staging, &folder)?;
    sync_dir(dir);
    crate::output::atomically(&dir.join(POINTER), name.as_bytes())?;
    for (n, path) in sets(dir)? {
        if n != next {
            let _ = std::fs::remove_dir_all(path);
        }
    }
    Ok(folder)
}

/// Removes every set in `dir`, the pointer first (so a kill half-way leaves nothing
/// that claims to be whole).
pub fn discard(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(POINTER)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    for (_, path) in sets(dir)? {
        std::fs::remove_dir_all(path)?;
    }
    Ok(())
}

/// Every set folder in `dir` (complete or left half-written by a kill), by number.
fn sets(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let n = generation(&name).or_else(|| {
            let staged = name.strip_prefix('.')?.strip_suffix(".tmp")?;
            generation(staged)
        });
        if let Some(n) = n {
            out.push((n, entry.path()));
        }
    }
    Ok(out)
}

fn generation(name: &str) -> Option<u64> {
    name.strip_prefix(PREFIX)?.parse().ok()
}

/// Makes renames and new entries in `dir` durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_set_replaces_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(current(dir.path()).unwrap(), None);
        let first = write(dir.path(), &[("a", b"1"), ("b", b"one")]).unwrap();
        assert_eq!(current(dir.path()).unwrap(), Some(first.clone()));
        let second = write(dir.path(), &[("a", b"2"), ("b", b"two")]).unwrap();
        assert_eq!(current(dir.path()).unwrap(), Some(second.clone()));
        assert_eq!(std::fs::read(second.join("b")).unwrap(), b"two");
        assert!(!first.exists(), "the old set is removed");
        discard(dir.path()).unwrap();
        assert_eq!(current(dir.path()).unwrap(), None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_half_written_set_is_ignored_and_cleared_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), &[("a", b"1")]).unwrap();
        // What a kill during the next write leaves: a staging folder, no pointer to it.
        std::fs::create_dir(dir.path().join(".kept-2.tmp")).unwrap();
        assert_eq!(current(dir.path()).unwrap(), Some(first));
        let third = write(dir.path(), &[("a", b"3")]).unwrap();
        assert!(third.ends_with("kept-3"));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "set and pointer"
        );
    }

    #[test]
    fn a_pointer_out_of_the_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(POINTER), "../../etc").unwrap();
        let e = current(dir.path()).unwrap_err();
        assert!(e.to_string().contains("is not a kept set"), "{e}");
    }
}
