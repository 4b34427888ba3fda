//! `layerwise install-desktop-entry`: puts the app in the desktop's applications menu,
//! with its icon, for this user (freedesktop.org's desktop entry and icon theme specs).

use std::path::{Path, PathBuf};

use clap::Args;

use super::Failure;

/// The desktop entry shipped in `assets/`; its `Exec` line is rewritten to this binary.
const ENTRY: &str = include_str!("../../assets/layerwise.desktop");
const ICON: &[u8] = include_bytes!("../../assets/icon.png");

#[derive(Debug, Args)]
pub struct DesktopArgs {
    /// Remove the entry and the icon instead.
    #[arg(long)]
    pub remove: bool,
}

/// `$XDG_DATA_HOME`, else `~/.local/share`.
fn data_home() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty());
    xdg.map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
}

/// The entry with `Exec` pointing at `exe`, quoted as the spec asks when needed.
pub fn entry_for(exe: &Path) -> String {
    let path = exe.display().to_string();
    let needs_quotes = path
        .chars()
        .any(|c| c.is_whitespace() || "\"'\\><~|&;$*?#()`".contains(c));
    let exec = if needs_quotes {
        let escaped: String = path
            .chars()
            .flat_map(|c| match c {
                '"' | '`' | '$' | '\\' => vec!['\\', '\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    } else {
        path
    };
    ENTRY
        .lines()
        .map(|l| {
            if l.starts_with("Exec=") {
                format!("Exec={exec}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub fn run(args: DesktopArgs) -> Result<(), Failure> {
    let io =
        |what: &Path, e: std::io::Error| Failure::input(anyhow::anyhow!("{}: {e}", what.display()));
    let home = data_home()
        .ok_or_else(|| Failure::input(anyhow::anyhow!("neither XDG_DATA_HOME nor HOME is set")))?;
    let entry = home.join("applications/layerwise.desktop");
    let icon = home.join("icons/hicolor/128x128/apps/layerwise.png");
    if args.remove {
        for f in [&entry, &icon] {
            match std::fs::remove_file(f) {
                Ok(()) => println!("removed {}", f.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(f, e)),
            }
        }
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| io(Path::new("layerwise"), e))?;
    for (file, bytes) in [
        (&entry, entry_for(&exe).into_bytes()),
        (&icon, ICON.to_vec()),
    ] {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::write(file, bytes).map_err(|e| io(file, e))?;
        println!("{}", file.display());
    }
    log::info!("desktop entry installed for {}", exe.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_points_at_the_binary_and_is_quoted_when_it_must_be() {
        let e = entry_for(Path::new("/opt/lw/bin/layerwise"));
        assert!(e.contains("\nExec=/opt/lw/bin/layerwise\n"), "{e}");
        assert!(e.contains("\nIcon=layerwise\n"));
        let e = entry_for(Path::new("/home/a b/$x/layerwise"));
        assert!(e.contains("\nExec=\"/home/a b/\\\\$x/layerwise\"\n"), "{e}");
    }
}
