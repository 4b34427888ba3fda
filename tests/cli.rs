//! The `layerwise` binary: a shortened recipe end to end, eval of a saved model, and the
//! documented exit codes and messages for bad input.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

#[path = "support/cli.rs"]
mod cli;
use cli::{layerwise, model, stderr, stdout};

#[test]
fn shortened_recipe_prints_like_the_seed_and_eval_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let model = model.to_str().unwrap();
    let o = layerwise(&["train", "--epochs", "1", "--cache-hidden1", "--save", model]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Training phase #1");
    assert!(lines[1].starts_with("0 Train MSE: 0.0"), "{out}");
    assert!(out.contains("Training phase #2\n"), "{out}");
    assert!(out.contains("[hidden1 cache: "), "{out}");
    assert_eq!(
        out.matches("  [L2 term: ").count(),
        2,
        "one per epoch: {out}"
    );
    let at = lines
        .iter()
        .position(|l| l.starts_with("Test MSE: "))
        .unwrap();
    let test_line = lines[at];
    // PCA's figure on the built-in MNIST, measured apart with numpy (shared docs).
    assert!(
        lines[at + 1].starts_with("  [PCA, 150 components: test MSE 0.003424; the stack's is "),
        "{out}"
    );
    assert!(lines[at + 2].contains("PCA-150 2.68]"), "{out}");
    let test_mse: f64 = test_line
        .strip_prefix("Test MSE: ")
        .unwrap()
        .parse()
        .unwrap();
    // One epoch per phase already gets within a factor of two of the full recipe.
    assert!(test_mse > 0.005 && test_mse < 0.02, "{test_mse}");

    // eval says the same, PCA's yardstick included.
    let e = layerwise(&["eval", "--load", model]);
    assert!(e.status.success(), "{}", stderr(&e));
    let eval: Vec<String> = stdout(&e).lines().map(String::from).collect();
    assert_eq!(eval, lines[at..at + 3], "{}", stdout(&e));
}

#[test]
fn json_holds_every_figure() {
    let o = layerwise(&["train", "--epochs", "1", "--batch-size", "1000", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["settings"]["batch_size"], 1000);
    assert_eq!(
        v["settings"]["learning_rate"].as_f64().unwrap() as f32,
        0.01
    );
    assert_eq!(v["phases"].as_array().unwrap().len(), 2);
    assert_eq!(v["phases"][0]["epochs"][0]["epoch"], 0);
    assert!(v["phases"][1]["epochs"][0]["train_mse"].as_f64().unwrap() > 0.0);
    assert!(v["phases"][0]["seconds"].as_f64().unwrap() > 0.0);
    let test_mse = v["test_mse"].as_f64().unwrap();
    assert!(test_mse > 0.0);
    assert!(v["phases"][1]["cache"].is_null());
    let l2 = v["phases"][1]["epochs"][0]["l2_term"].as_f64().unwrap();
    assert!(l2 > 0.001 && l2 < 0.1, "phase 2's L2 term {l2}");
    assert!((v["test_per_image"].as_f64().unwrap() - 784.0 * test_mse).abs() < 1e-9);
    let pca = &v["pca"];
    assert_eq!(pca["components"], 150);
    let pca_mse = pca["test_mse"].as_f64().unwrap();
    assert!((pca_mse - 0.003424).abs() < 5e-7, "{pca_mse}");
    assert!((pca["per_image"].as_f64().unwrap() - 784.0 * pca_mse).abs() < 1e-9);
    assert!((pca["ratio"].as_f64().unwrap() - test_mse / pca_mse).abs() < 1e-9);
    // Each autoencoder beside PCA of its own target: the images through 300
    // components (0.000915 in the shared docs' table), hidden1 through 150.
    let a = v["autoencoders"].as_array().unwrap();
    assert_eq!(
        (a[0]["autoencoder"].as_str(), a[0]["components"].as_u64()),
        (Some("outer"), Some(300))
    );
    assert!(
        (a[0]["pca_test_mse"].as_f64().unwrap() - 0.000915).abs() < 5e-7,
        "{a:?}"
    );
    assert_eq!(
        (a[1]["autoencoder"].as_str(), a[1]["components"].as_u64()),
        (Some("inner"), Some(150))
    );
    let inner = a[1]["test_mse"].as_f64().unwrap();
    assert!(
        inner > a[1]["pca_test_mse"].as_f64().unwrap() && inner < 0.1,
        "{a:?}"
    );
}

#[test]
fn phase3_and_end_to_end_print_the_test_mse_and_appear_in_json() {
    let short = ["train", "--epochs", "1", "--batch-size", "1000"];
    let o = layerwise(&[&short[..], &["--phases", "1,2,3", "--test-each-epoch"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Training fine-tune\n0 Train MSE: "), "{out}");
    assert_eq!(out.matches("  [test MSE: ").count(), 3, "{out}");
    assert!(out.contains("\nTest MSE: 0.0"), "{out}");

    let o = layerwise(&[&short[..], &["--end-to-end", "--test-each-epoch", "--json"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["settings"]["end_to_end"], true);
    let phases = v["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 1);
    assert_eq!(phases[0]["phase"], "e2e");
    let epochs = phases[0]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 2, "as many epochs as phases 1 and 2 together");
    let elapsed: Vec<f64> = epochs
        .iter()
        .map(|e| e["elapsed_seconds"].as_f64().unwrap())
        .collect();
    assert!(elapsed[0] > 0.0 && elapsed[1] > elapsed[0], "{elapsed:?}");
    let last = epochs[1]["test_mse"].as_f64().unwrap();
    assert_eq!(last, v["test_mse"].as_f64().unwrap());
    assert!(v["train_seconds"].as_f64().unwrap() >= elapsed[1]);

    let o = layerwise(&["train", "--end-to-end", "--load", "m.safetensors"]);
    assert_fails(&o, 2, "--load");
}

fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("stack backtrace"), "{err}");
    // Each cause once: anyhow's `{:#}` repeated the causes our errors already name
    // ("... not 0: epochs: must be between 1 and 10000, not 0").
    let line = err.lines().find(|l| l.starts_with("layerwise: error: "));
    let parts: Vec<&str> = line.map_or(vec![], |l| l.split(": ").collect());
    for (i, part) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(part), "{part:?} twice in {err:?}");
    }
}

#[test]
fn bad_arguments_exit_2() {
    assert_fails(
        &layerwise(&["train", "--learning-rate", "-1"]),
        2,
        "learning rate",
    );
    assert_fails(&layerwise(&["train", "--batch-size", "0"]), 2, "batch size");
    assert_fails(
        &layerwise(&["train", "--epochs", "0"]),
        2,
        "invalid hyperparameter epochs: must be between 1 and 10000, not 0",
    );
    assert_fails(
        &layerwise(&["eval", "--load", "/nonexistent/model.safetensors"]),
        2,
        "/nonexistent/model.safetensors: cannot read",
    );
    // The app refuses a model it cannot open before any window opens.
    assert_fails(
        &layerwise(&["/nonexistent/model.safetensors"]),
        2,
        "/nonexistent/model.safetensors: cannot read",
    );
    assert_fails(
        &layerwise(&["--load", "/nonexistent/model.safetensors"]),
        2,
        "/nonexistent/model.safetensors: cannot read",
    );
    assert_fails(&layerwise(&["train", "--phases", "4"]), 2, "4");
    assert_fails(&layerwise(&["train", "--epochs", "x"]), 2, "invalid value");
}

#[test]
fn bad_data_folder_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert_fails(
        &layerwise(&["--data", d, "train"]),
        2,
        "missing file train-images-idx3-ubyte",
    );
    // A truncated copy of the real training images.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let victim = dir.path().join("train-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    let o = layerwise(&["--data", d, "train"]);
    assert_fails(&o, 2, "train-labels-idx1-ubyte.gz");
    assert!(
        stderr(&o).contains("truncated") || stderr(&o).contains("gzip"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_checkpoint_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.safetensors");
    std::fs::write(&p, b"definitely not tensors").unwrap();
    let o = layerwise(&["eval", "--load", p.to_str().unwrap()]);
    assert_fails(&o, 2, "bad.safetensors: not a safetensors file");
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let missing = |name: &str| dir.path().join("no").join(name);
    let (save, chart, csv) = (missing("m.safetensors"), missing("c.png"), missing("m.csv"));
    let o = layerwise(&["train", "--save", save.to_str().unwrap()]);
    assert_fails(&o, 2, "m.safetensors: cannot write: no such folder");
    assert!(
        !stdout(&o).contains("Training"),
        "it trained: {}",
        stdout(&o)
    );
    let o = layerwise(&["classify", "--chart", chart.to_str().unwrap()]);
    assert_fails(&o, 2, "c.png: cannot write: no such folder");
    assert!(
        !stderr(&o).contains("training the recipe"),
        "{}",
        stderr(&o)
    );
    let dir_itself = dir.path().to_str().unwrap();
    let o = layerwise(&["map", "--load", "model.safetensors", "--out", dir_itself]);
    assert_fails(&o, 2, "cannot write: it is a folder");
    let o = layerwise(&["map", "--load", "x", "--out", csv.to_str().unwrap()]);
    assert_fails(&o, 2, "m.csv: cannot write: no such folder");
}

#[test]
fn a_diverged_run_saves_the_model_from_before_the_blow_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let p = path.to_str().unwrap();
    let o = layerwise(&["train", "--learning-rate", "10", "--save", p]);
    assert_fails(&o, 1, "diverged");
    assert!(stderr(&o).contains(&format!("the model is saved to {p}")));
    let e = layerwise(&["eval", "--load", p]);
    assert!(e.status.success(), "{}", stderr(&e));
    let mse: f32 = stdout(&e)
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("Test MSE: ")
        .parse()
        .unwrap();
    assert!(mse.is_finite(), "{mse}");
}

#[test]
fn divergence_exits_1_with_where_it_happened() {
    let o = layerwise(&["train", "--learning-rate", "10", "--phases", "1"]);
    assert_fails(&o, 1, "phase 1 diverged in epoch 0 at batch");
}

#[test]
fn export_writes_the_views_of_a_saved_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = &model(dir.path(), &["--phases", "1"]);
    let out = dir.path().join("png");
    let e = layerwise(&[
        "export",
        "--load",
        m,
        "--images",
        "0,1,2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert_eq!(stdout(&e).lines().count(), 6);
    let (w, h) = image::image_dimensions(out.join("reconstructions.png")).unwrap();
    assert_eq!((w, h), (4 * 112 + 5 * 8, 3 * 120 + 8));
    // The code map is square-plotted with a legend; the walk is three rows of ten.
    let (w, h) = image::image_dimensions(out.join("code_map.png")).unwrap();
    assert!(w > 640 && h > 640, "{w} x {h}");
    let (_, h) = image::image_dimensions(out.join("walk.png")).unwrap();
    assert_eq!(h, 2 * 16 + 3 * 84 + 2 * 6);
    assert!(stderr(&e).is_empty(), "{}", stderr(&e));
    // One image: no walk, and a note that says why.
    let one = dir.path().join("one");
    let e = layerwise(&[
        "export",
        "--load",
        m,
        "--images",
        "5",
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert!(!one.join("walk.png").exists());
    assert!(stderr(&e).contains("no walk.png: a walk needs two --images"));
    assert_fails(
        &layerwise(&[
            "export",
            "--load",
            m,
            "--images",
            "10000",
            "--out",
            out.to_str().unwrap(),
        ]),
        2,
        "no test image 10000",
    );
}

#[test]
fn a_loaded_model_of_other_widths_is_saved_with_its_own_widths() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    let short = ["--epochs", "1", "--batch-size", "1000", "--phases", "1"];
    let mut first = vec!["train", "--hidden1", "32", "--hidden2", "16", "--save"];
    first.push(a.to_str().unwrap());
    first.extend(short);
    assert!(layerwise(&first).status.success());
    // Loaded with the default flags (300 and 150): the tensors decide the widths.
    let mut second = vec![
        "train",
        "--load",
        a.to_str().unwrap(),
        "--save",
        b.to_str().unwrap(),
    ];
    second.extend(short);
    let o = layerwise(&second);
    assert!(o.status.success(), "{}", stderr(&o));
    let ck = layerwise::checkpoint::load(&b, None).unwrap();
    assert_eq!(ck.params.arch().to_string(), "784-32-16-32-784");
    let hp: layerwise::train::Hyperparams =
        serde_json::from_str(ck.settings.as_deref().unwrap()).unwrap();
    assert_eq!(hp.layers.to_vec(), [32, 16]);
    assert_eq!(ck.epochs_done, [2, 0, 0, 0]);
}

#[test]
fn info_logs_go_to_stderr_and_leave_the_printout_alone() {
    let args = [
        "train",
        "--epochs",
        "1",
        "--batch-size",
        "1000",
        "--cache-hidden1",
    ];
    let quiet = layerwise(&args);
    let logged = Command::new(env!("CARGO_BIN_EXE_layerwise"))
        .args(args)
        .env_remove("LAYERWISE_DATA")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(quiet.status.success() && logged.status.success());
    assert!(
        stderr(&quiet).is_empty(),
        "quiet by default: {}",
        stderr(&quiet)
    );
    let log = stderr(&logged);
    for needle in [
        "opened built-in MNIST: 55000 train, 5000 validation, 10000 test images",
        "phase 1 started: 1 epochs of 55 batches of 1000",
        "phase 1 ended: 1 epochs in",
        "hidden1 cache built in",
        "phase 2 started: 1 epochs of 55 batches of 1000, hidden1 cached",
    ] {
        assert!(log.contains(needle), "{needle:?} not in {log}");
    }
    // The seed's printout is the same, but for the timings.
    let strip = |o: &Output| -> Vec<String> {
        stdout(o)
            .lines()
            .filter(|l| !l.trim_start().starts_with('['))
            .map(String::from)
            .collect()
    };
    assert_eq!(strip(&quiet), strip(&logged));
}

/// Runs `desktop-file-validate` on `file` where it is installed; CI must have it.
fn validate_desktop_file(file: &Path) {
    match Command::new("desktop-file-validate").arg(file).output() {
        Ok(o) => assert!(
            o.status.success() && o.stdout.is_empty(),
            "{}{}",
            stdout(&o),
            stderr(&o)
        ),
        Err(_) if std::env::var_os("LAYERWISE_CI").is_none() => {
            eprintln!("skipped desktop-file-validate: apt-get install desktop-file-utils")
        }
        Err(e) => panic!("desktop-file-validate: {e} (CI must install desktop-file-utils)"),
    }
}

#[test]
fn the_desktop_entry_installs_validates_and_removes() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/layerwise.desktop");
    validate_desktop_file(&shipped);
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_layerwise"))
            .args(args)
            .env("XDG_DATA_HOME", home.path())
            .output()
            .unwrap()
    };
    let o = run(&["install-desktop-entry"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let entry = home.path().join("applications/layerwise.desktop");
    let icon = home.path().join("icons/hicolor/128x128/apps/layerwise.png");
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(
        text.contains(&format!("\nExec={}\n", env!("CARGO_BIN_EXE_layerwise"))),
        "{text}"
    );
    assert_eq!(image::image_dimensions(&icon).unwrap(), (128, 128));
    validate_desktop_file(&entry);
    let o = run(&["install-desktop-entry", "--remove"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!entry.exists() && !icon.exists());
}

#[test]
fn map_writes_every_test_image_with_its_label_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let m = &model(dir.path(), &[]);
    let csv = dir.path().join("map.csv");
    let c = csv.to_str().unwrap();
    let o = layerwise(&["map", "--load", m, "--layer", "hidden1", "--out", c]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = stdout(&o);
    assert!(summary.contains("PCA of the hidden1: PC1 "), "{summary}");
    assert!(summary.contains("same digit for "), "{summary}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "index,label,x,y");
    assert_eq!(lines.len(), 1 + 10_000);
    let labels = layerwise::data::Mnist::embedded().unwrap().test.labels;
    for (i, line) in lines[1..].iter().enumerate().step_by(997) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0].parse::<usize>().unwrap(), i);
        assert_eq!(f[1].parse::<u8>().unwrap(), labels[i]);
        assert!(f[2].parse::<f32>().unwrap().is_finite());
        assert!(f[3].parse::<f32>().unwrap().is_finite());
    }
    // The PCA coordinates are centred.
    let mean_x: f64 = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(2).unwrap().parse::<f64>().unwrap())
        .sum::<f64>()
        / 10_000.0;
    assert!(mean_x.abs() < 1e-3, "{mean_x}");
    // t-SNE, cut short: the same file, another layout.
    let o = layerwise(&[
        "map",
        "--load",
        m,
        "--method",
        "tsne",
        "--iterations",
        "20",
        "--out",
        c,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("t-SNE of the codes"), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap().lines().count(),
        1 + 10_000
    );
    assert_fails(
        &layerwise(&["map", "--load", m, "--layer", "hidden3", "--out", c]),
        2,
        "--layer hidden3: the model has 2 hidden layer(s) in its encoder",
    );
    assert_fails(
        &layerwise(&["map", "--load", m, "--layer", "hidden9", "--out", c]),
        2,
        "'hidden9' is not one of: code, hidden1 to hidden8, pixels",
    );
    // A deeper stack offers each hidden layer, and its code is its innermost.
    let deep = tempfile::tempdir().unwrap();
    let d = &model(deep.path(), &["--layers", "32,24,16"]);
    let o = layerwise(&["map", "--load", d, "--layer", "hidden2", "--out", c]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("PCA of the hidden2: PC1 "),
        "{}",
        stdout(&o)
    );
    let o = layerwise(&["map", "--load", d, "--out", c]);
    assert!(
        stdout(&o).contains("PCA of the codes (hidden3)"),
        "{}",
        stdout(&o)
    );
    assert_fails(
        &layerwise(&[
            "map",
            "--load",
            m,
            "--method",
            "tsne",
            "--perplexity",
            "0",
            "--out",
            c,
        ]),
        2,
        "perplexity 0 is out of range",
    );
}

/// Ctrl-C in the middle of a run: it stops after the batch in hand, saves what it has
/// to `--save`, and exits 130.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_stops_the_run_and_keeps_the_model_so_far() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let p = path.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_layerwise"))
        .args(["train", "--epochs", "1000", "--save", p])
        .env_remove("LAYERWISE_DATA")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Interrupted once an epoch is done: by then the handler is in place.
    let first = lines.find(|l| l.as_ref().unwrap().contains("Train MSE"));
    assert!(first.is_some(), "no epoch ended");
    // SAFETY: a signal to our own child, which is still running (its stdout is open).
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let o = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the run did not stop")
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted by Ctrl-C in phase 1, epoch "),
        "{err}"
    );
    assert!(err.contains(&format!("the model is saved to {p}")), "{err}");
    let e = layerwise(&["eval", "--load", p]);
    assert!(e.status.success(), "{}", stderr(&e));
}

#[test]
fn a_deeper_stack_trains_phase_by_phase_saves_as_format_3_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("deep.safetensors");
    let model_arg = model.to_str().unwrap();
    let o = layerwise(&[
        "train",
        "--layers",
        "64,32,16",
        "--epochs",
        "1",
        "--batch-size",
        "1000",
        "--phases",
        "1,2,3,fine-tune",
        "--cache",
        "--json",
        "--save",
        model_arg,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let tags: Vec<&str> = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["1", "2", "3", "ft"]);
    // Phases 2 and 3 read their input from the cache of hidden1 and hidden2.
    assert!(v["phases"][1]["cache"]["bytes"].as_u64() == Some(55_000 * 64 * 4));
    assert!(v["phases"][2]["cache"]["bytes"].as_u64() == Some(55_000 * 32 * 4));
    assert_eq!(v["pca"]["components"], 16);
    assert_eq!(v["settings"]["layers"], serde_json::json!([64, 32, 16]));
    let o = layerwise(&["eval", "--load", model_arg, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(e["arch"], "784-64-32-16-32-64-784");
    assert_eq!(e["test_mse"], v["test_mse"]);
    assert_eq!(e["epochs_done"], serde_json::json!([1, 1, 1, 0, 1]));
    for key in ["components", "test_mse", "per_image", "ratio"] {
        assert_eq!(e["pca"][key], v["pca"][key], "{key}");
    }
}

#[test]
fn widths_depth_and_phases_are_refused_up_front() {
    let o = layerwise(&["train", "--layers", "300,0"]);
    assert_fails(&o, 2, "layer 2 must have between 1 and 4096 units, not 0");
    let o = layerwise(&["train", "--layers", "9,9,9,9,9,9,9,9,9"]);
    assert_fails(&o, 2, "9 layers is deeper than the 8 layerwise builds");
    let o = layerwise(&["train", "--layers", "300,x"]);
    assert_fails(&o, 2, "'x' is not a number of units");
    let o = layerwise(&["train", "--phases", "1,4"]);
    assert_fails(&o, 2, "--phases: no phase 4 in a stack of 2");
    let o = layerwise(&["train", "--preset", "hinton"]);
    assert_fails(&o, 2, "not one of: recipe, hinton2006");
}

#[test]
fn nonsensical_variants_are_refused_up_front_by_train_and_by_the_app() {
    for app in [false, true] {
        let args = |rest: &[&'static str]| {
            let mut v = if app { vec![] } else { vec!["train"] };
            v.extend_from_slice(rest);
            v
        };
        let o = layerwise(&args(&["--noise", "mask:2"]));
        assert_fails(
            &o,
            2,
            "the masked fraction must lie strictly between 0 and 1, not 2",
        );
        let o = layerwise(&args(&["--noise", "salt:0.1"]));
        assert_fails(&o, 2, "is not a noise");
        let o = layerwise(&args(&["--sparsity", "kl:0.1:0.2"]));
        assert_fails(
            &o,
            2,
            "a KL target is a firing rate, which only a sigmoid code has",
        );
        let o = layerwise(&args(&["--activation", "tanh"]));
        assert_fails(&o, 2, "tanh");
    }
}
