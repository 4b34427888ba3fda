//! Running the `layerwise` binary from the CLI tests.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary on the built-in MNIST (whatever `LAYERWISE_DATA` says).
pub fn layerwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_layerwise"))
        .args(args)
        .env_remove("LAYERWISE_DATA")
        .output()
        .expect("run layerwise")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A quickly trained autoencoder (one epoch of 1000-image batches, and `extra`
/// arguments), saved as `m.safetensors` in `dir`; its path.
pub fn model(dir: &Path, extra: &[&str]) -> String {
    let m = dir.join("m.safetensors");
    let m = m.to_str().unwrap().to_string();
    let mut args = vec![
        "train",
        "--epochs",
        "1",
        "--batch-size",
        "1000",
        "--save",
        &m,
    ];
    args.extend(extra);
    let o = layerwise(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    m
}
