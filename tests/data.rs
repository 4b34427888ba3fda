//! Loading MNIST-format folders: what a broken folder reports, and Fashion-MNIST-like
//! alternatives loading like the built-in set.
// Helpers here unwrap as the tests do: a failed unwrap is a failed run, with its line.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use layerwise::data::Mnist;

fn idx(dims: &[u32], fill: u8) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    let n: u32 = dims.iter().product();
    v.extend(std::iter::repeat_n(fill, n as usize));
    v
}

/// A minimal valid folder (raw files): 5,010 train and 20 test images.
fn folder(dir: &Path, train_labels: u32, label: u8) {
    std::fs::write(dir.join("train-images-idx3-ubyte"), idx(&[5010, 28, 28], 7)).unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx(&[train_labels], label),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(&[20, 28, 28], 9)).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[20], 1)).unwrap();
}

fn error(dir: &Path) -> String {
    Mnist::load_dir(dir).unwrap_err().to_string()
}

#[test]
fn a_raw_folder_loads_with_the_split() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), 5010, 3);
    let m = Mnist::load_dir(dir.path()).unwrap();
    assert_eq!(
        (m.train.len(), m.validation.len(), m.test.len()),
        (10, 5000, 20)
    );
    assert_eq!(m.train.image(9)[0], 7);
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), 5009, 3);
    let e = error(dir.path());
    assert!(
        e.contains("train-images-idx3-ubyte holds 5010 images"),
        "{e}"
    );
    assert!(
        e.contains("train-labels-idx1-ubyte holds 5009 labels"),
        "{e}"
    );
}

#[test]
fn labels_must_be_classes_and_shapes_28_by_28() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), 5010, 12);
    assert!(error(dir.path()).contains("label 12 at index 0 is not a class 0-9"));
    std::fs::write(
        dir.path().join("t10k-images-idx3-ubyte"),
        idx(&[20, 32, 32], 0),
    )
    .unwrap();
    train_files(dir.path(), 5010, 1);
    let e = error(dir.path());
    assert!(
        e.contains(
            "t10k-images-idx3-ubyte: expected images of shape [n, 28, 28], found [20, 32, 32]"
        ),
        "{e}"
    );
}

/// Rewrites the training images and labels: `n` of each, labelled `label`.
fn train_files(dir: &Path, n: u32, label: u8) {
    std::fs::write(dir.join("train-images-idx3-ubyte"), idx(&[n, 28, 28], 7)).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(&[n], label)).unwrap();
}

#[test]
fn too_few_training_images_for_the_split() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), 5010, 1);
    train_files(dir.path(), 100, 1);
    assert!(error(dir.path()).contains("the training set has 100 images"));
}

#[test]
fn a_gz_name_over_raw_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), 5010, 1);
    std::fs::rename(
        dir.path().join("t10k-labels-idx1-ubyte"),
        dir.path().join("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let e = error(dir.path());
    assert!(
        e.contains("t10k-labels-idx1-ubyte.gz: not a gzip file"),
        "{e}"
    );
}

/// Debian's Fashion-MNIST, if installed; CI (`LAYERWISE_CI`) must have it.
fn fashion_mnist() -> Option<&'static Path> {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if dir.exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("LAYERWISE_CI").is_none(),
        "CI must install dataset-fashion-mnist"
    );
    eprintln!("skipped: apt-get install dataset-fashion-mnist to run this");
    None
}

#[test]
fn fashion_mnist_from_debian_loads_when_installed() {
    let Some(dir) = fashion_mnist() else { return };
    let m = Mnist::load_dir(dir).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (55_000, 10_000));
    assert_ne!(m.test.pixels, Mnist::embedded().unwrap().test.pixels);
}

#[test]
fn the_dotted_spelling_of_the_file_names_loads_too() {
    // Kaggle's copy and most unzipped archives: `train-images.idx3-ubyte`.
    let dir = tempfile::tempdir().unwrap();
    folder(dir.path(), 5010, 3);
    for stem in ["train-images", "t10k-labels"] {
        let kind = if stem.ends_with("images") {
            "idx3"
        } else {
            "idx1"
        };
        std::fs::rename(
            dir.path().join(format!("{stem}-{kind}-ubyte")),
            dir.path().join(format!("{stem}.{kind}-ubyte")),
        )
        .unwrap();
    }
    let m = Mnist::load_dir(dir.path()).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (10, 20));
}

#[test]
fn a_folder_that_does_not_exist_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("nowhere");
    let e = error(&gone);
    assert_eq!(e, format!("{}: no such folder", gone.display()));
}
