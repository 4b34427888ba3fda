//! Saving is atomic: a process killed (SIGKILL) while it saves checkpoints in a loop
//! leaves the old file or the new one, and either loads; one killed while it keeps
//! sessions of several files leaves one whole session.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use layerwise::checkpoint::{self, Checkpoint};
use layerwise::model::{Arch, Params, PhaseEpochs};

const CHILD: &str = "LAYERWISE_SAVE_LOOP";
const TEST: &str = "a_killed_saver_leaves_a_loadable_checkpoint";

fn model(seed: u64) -> Checkpoint {
    Checkpoint {
        epochs_done: PhaseEpochs::from_counts(&[seed as u32]),
        ..Checkpoint::bare(Params::he_init(Arch::RECIPE, seed))
    }
}

/// The child: saves model 1 and model 2 alternately, forever, announcing each save.
fn save_forever(path: &Path) -> ! {
    let models = [model(1), model(2)];
    for n in 0.. {
        checkpoint::save(path, &models[n % 2]).expect("save");
        println!("saved {n}");
    }
    unreachable!()
}

#[test]
fn a_killed_saver_leaves_a_loadable_checkpoint() {
    if let Some(path) = std::env::var_os(CHILD) {
        save_forever(Path::new(&path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let (one, two) = (model(1).params, model(2).params);
    for round in 0..12 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Kill right after the k-th save: the next one is then being written.
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let saves = lines
            .map_while(Result::ok)
            .filter(|l| l.starts_with("saved "))
            .take(1 + round % 5)
            .count();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(saves, 1 + round % 5, "the child saved");
        let loaded = checkpoint::load(&path, Some(Arch::RECIPE))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            loaded.params == one || loaded.params == two,
            "round {round}: a mix of two models"
        );
    }
}

const KEEPER: &str = "LAYERWISE_KEEP_LOOP";
const KEEPER_TEST: &str = "a_killed_keeper_leaves_one_whole_session";

/// The files of the `n`-th session the child keeps: each says `n` all through.
fn session_files(n: u32) -> [(&'static str, Vec<u8>); 3] {
    let b = (n % 251) as u8;
    [
        ("model.safetensors", vec![b; 3 << 20]),
        ("session.json", n.to_string().into_bytes()),
        ("history.safetensors", vec![b; 1 << 20]),
    ]
}

/// The child: keeps session after session, announcing each.
fn keep_forever(dir: &Path) -> ! {
    for n in 0.. {
        let files = session_files(n);
        let files: Vec<(&str, &[u8])> = files.iter().map(|(f, b)| (*f, b.as_slice())).collect();
        layerwise::keep::write(dir, &files).expect("keep");
        println!("kept {n}");
    }
    unreachable!()
}

/// A session is several files; a kill at any moment leaves all of one session, never
/// a mix of two or a part of one.
#[test]
fn a_killed_keeper_leaves_one_whole_session() {
    if let Some(dir) = std::env::var_os(KEEPER) {
        keep_forever(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut last_seen = None;
    for round in 0..10u32 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", KEEPER_TEST, "--nocapture", "--test-threads=1"])
            .env(KEEPER, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let announced: Vec<u32> = lines
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("kept ")?.parse().ok())
            .take(1 + (round * 7 % 4) as usize)
            .collect();
        child.kill().unwrap();
        child.wait().unwrap();
        let set = layerwise::keep::current(dir.path())
            .unwrap()
            .unwrap_or_else(|| panic!("round {round}: nothing kept"));
        let record = std::fs::read_to_string(set.join("session.json")).unwrap();
        let n: u32 = record.parse().unwrap();
        for (file, bytes) in session_files(n) {
            let on_disk = std::fs::read(set.join(file)).unwrap();
            assert!(
                on_disk == bytes,
                "round {round}: {file} is not session {n}'s"
            );
        }
        // The last one announced, or the one after it (written whole before the kill).
        let last = *announced.last().unwrap();
        assert!(
            n == last || n == last + 1,
            "round {round}: kept {n} after {last}"
        );
        last_seen = Some(n);
    }
    assert!(last_seen.is_some());
}
