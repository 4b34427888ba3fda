//! The MNIST dataset (or any dataset in its format): u8 storage and the recipe's split.

use std::path::{Path, PathBuf};

use super::idx::{self, Idx, IdxError};

pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;
pub const CLASSES: usize = 10;
/// The first 5,000 training images are the validation set (TensorFlow's `input_data`).
pub const VALIDATION_SIZE: usize = 5_000;

/// The four files of an MNIST-format folder, by the names the MNIST site gave them.
pub const FILE_STEMS: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

static EMBEDDED: [&[u8]; 4] = [
    include_bytes!("../../assets/mnist/train-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../assets/mnist/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist/t10k-labels-idx1-ubyte.gz"),
];

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Idx(#[from] IdxError),
    #[error("{dir}: missing file {stem} (or {stem}.gz, or with a dot before idx)")]
    Missing { dir: String, stem: &'static str },
    #[error("{0}: no such folder")]
    NoFolder(String),
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: String },
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        images: String,
        n_images: usize,
        labels: String,
        n_labels: usize,
    },
}

/// Images as bytes (one row of `PIXELS` per image) with their labels.
#[derive(Clone, Default)]
pub struct Images {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

/// How many, not the 47 million pixels: datasets travel in logged events.
impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Images({} of {PIXELS} pixels)", self.len())
    }
}

impl Images {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// The recipe's three sets: 55,000 train, 5,000 validation, 10,000 test.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// Where the data came from, for the UI and for messages.
    pub source: String,
    pub train: Images,
    pub validation: Images,
    pub test: Images,
}

impl Mnist {
    /// The MNIST files compiled into the binary.
    pub fn embedded() -> Result<Self, DataError> {
        let sets = FILE_STEMS.map(|stem| format!("embedded {stem}.gz"));
        let parsed: Vec<Idx> = sets
            .iter()
            .zip(EMBEDDED)
            .map(|(name, bytes)| idx::parse(name, bytes))
            .collect::<Result<_, _>>()?;
        Self::from_idx(
            "built-in MNIST".to_string(),
            sets.into_iter().zip(parsed).collect(),
        )
    }

    /// Any folder holding the four files, raw or gzipped, named as on the MNIST site
    /// (`train-images-idx3-ubyte`) or as many copies name them (`train-images.idx3-ubyte`).
    pub fn load_dir(dir: &Path) -> Result<Self, DataError> {
        if !dir.is_dir() {
            return Err(DataError::NoFolder(dir.display().to_string()));
        }
        let mut named = Vec::with_capacity(4);
        for stem in FILE_STEMS {
            let path = find(dir, stem)?;
            let parsed = idx::read(&path)?;
            named.push((path.display().to_string(), parsed));
        }
        Self::from_idx(dir.display().to_string(), named)
    }

    /// `--data DIR` if given, else `$LAYERWISE_DATA`, else the built-in MNIST.
    pub fn load(dir: Option<&Path>) -> Result<Self, DataError> {
        match dir {
            Some(d) => Self::load_dir(d),
            None => match std::env::var_os("LAYERWISE_DATA") {
                Some(d) if !d.is_empty() => Self::load_dir(Path::new(&d)),
                _ => Self::embedded(),
            },
        }
    }

    fn from_idx(source: String, mut named: Vec<(String, Idx)>) -> Result<Self, DataError> {
        let mut take = |i: usize| std::mem::take(&mut named[i]);
        let (train_img, train_lbl) = (take(0), take(1));
        let (test_img, test_lbl) = (take(2), take(3));
        let mut train = images(train_img, train_lbl)?;
        let test = images(test_img, test_lbl)?;
        if train.len() <= VALIDATION_SIZE {
            return Err(DataError::Invalid {
                file: source,
                problem: format!(
                    "the training set has {} images; at least {} are needed (the first {} are the validation set)",
                    train.len(),
                    VALIDATION_SIZE + 1,
                    VALIDATION_SIZE
                ),
            });
        }
        if test.is_empty() {
            return Err(DataError::Invalid {
                file: source,
                problem: "the test set is empty".into(),
            });
        }
        // Drain in place rather than split_off: no second copy of the training pixels.
        let validation = Images {
            pixels: train.pixels.drain(..VALIDATION_SIZE * PIXELS).collect(),
            labels: train.labels.drain(..VALIDATION_SIZE).collect(),
        };
        log::info!(
            "opened {source}: {} train, {} validation, {} test images",
            train.len(),
            validation.len(),
            test.len()
        );
        Ok(Self {
            source,
            train,
            validation,
            test,
        })
    }
}

fn find(dir: &Path, stem: &'static str) -> Result<PathBuf, DataError> {
    // Kaggle's and most unzipped archives' spelling: a dot before "idx".
    let dotted = stem.replacen("-idx", ".idx", 1);
    [stem.to_string(), dotted]
        .into_iter()
        .flat_map(|name| [format!("{name}.gz"), name])
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::Missing {
            dir: dir.display().to_string(),
            stem,
        })
}

fn images(
    (img_name, img): (String, Idx),
    (lbl_name, lbl): (String, Idx),
) -> Result<Images, DataError> {
    let invalid = |file: &str, problem: String| DataError::Invalid {
        file: file.to_string(),
        problem,
    };
    if img.dims.len() != 3 || img.dims[1] != SIDE || img.dims[2] != SIDE {
        return Err(invalid(
            &img_name,
            format!("expected images of shape [n, 28, 28], found {:?}", img.dims),
        ));
    }
    if lbl.dims.len() != 1 {
        return Err(invalid(
            &lbl_name,
            format!("expected labels of shape [n], found {:?}", lbl.dims),
        ));
    }
    if img.dims[0] != lbl.dims[0] {
        return Err(DataError::CountMismatch {
            images: img_name,
            n_images: img.dims[0],
            labels: lbl_name,
            n_labels: lbl.dims[0],
        });
    }
    if let Some(pos) = lbl.data.iter().position(|&l| l as usize >= CLASSES) {
        return Err(invalid(
            &lbl_name,
            format!("label {} at index {pos} is not a class 0-9", lbl.data[pos]),
        ));
    }
    Ok(Images {
        pixels: img.data,
        labels: lbl.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_mnist_has_the_recipe_split() {
        let m = Mnist::embedded().unwrap();
        assert_eq!(m.train.len(), 55_000);
        assert_eq!(m.validation.len(), 5_000);
        assert_eq!(m.test.len(), 10_000);
        assert_eq!(m.train.pixels.len(), 55_000 * PIXELS);
        // Known first labels of the MNIST files: train starts 5 0 4 1, test 7 2 1 0.
        assert_eq!(&m.validation.labels[..4], &[5, 0, 4, 1]);
        assert_eq!(&m.test.labels[..4], &[7, 2, 1, 0]);
    }
}
