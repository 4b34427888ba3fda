//! Writing a file so that a crash never leaves half of it, and checking a destination
//! before the work that fills it (a long run must not end in a file it cannot write).

use std::io::Write;
use std::path::Path;

/// The folder `path` is written in.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn temporary_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".layerwise-")
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// Whether `atomically` could write `path` now: its folder takes a temporary file, and
/// `path` is not a folder.
pub fn probe(path: &Path) -> std::io::Result<()> {
    let dir = folder_of(path);
    let problem = if path.is_dir() {
        Some((
            std::io::ErrorKind::IsADirectory,
            "it is a folder".to_string(),
        ))
    } else if !dir.is_dir() {
        let no_folder = format!("no such folder {}", dir.display());
        Some((std::io::ErrorKind::NotFound, no_folder))
    } else {
        None
    };
    match problem {
        Some((kind, what)) => Err(std::io::Error::new(kind, what)),
        None => temporary_in(dir).map(drop),
    }
}

/// A temporary file in the same folder, flushed to disk, then renamed over `path`.
pub fn atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = folder_of(path);
    let mut tmp = temporary_in(dir)?;
    // A new file gets the usual permissions, a replaced one keeps its own (a temporary
    // file is made readable by its owner only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode());
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_is_checked_without_writing_it() {
        let dir = tempfile::tempdir().unwrap();
        probe(&dir.path().join("m.safetensors")).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left"
        );
        let err = probe(&dir.path().join("no/m.safetensors")).unwrap_err();
        assert!(err.to_string().starts_with("no such folder"), "{err}");
        let err = probe(dir.path()).unwrap_err();
        assert_eq!(err.to_string(), "it is a folder");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_readable_as_usual_and_a_replaced_one_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        atomically(&path, b"one").unwrap();
        assert_eq!(mode(&path), 0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        atomically(&path, b"two").unwrap();
        assert_eq!(
            (mode(&path), std::fs::read(&path).unwrap()),
            (0o600, b"two".to_vec())
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
