//! Saving is atomic: a process killed (SIGKILL) while it saves checkpoints in a loop
//! leaves the old file or the new one, and either loads.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use layerwise::checkpoint::{self, Checkpoint};
use layerwise::model::{Arch, Params};

const CHILD: &str = "LAYERWISE_SAVE_LOOP";
const TEST: &str = "a_killed_saver_leaves_a_loadable_checkpoint";

fn model(seed: u64) -> Checkpoint {
    Checkpoint {
        epochs_done: [seed as u32, 0, 0, 0],
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
