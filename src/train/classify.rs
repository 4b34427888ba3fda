//! One classifier training run: an arm, on the first N labelled training images, from
//! one seed. Its steps allocate nothing; `experiment` runs many of them and evaluates.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::data::batch::gather_pixels;
use crate::data::{CLASSES, Mnist, PIXELS, Sampler, SubsetSampler};
use crate::model::classifier::{ClassifierWorkspace, batch_accuracy, classifier_backward};
use crate::model::classifier::{Trains, classifier_forward};
use crate::model::params::stream_seed;
use crate::model::{Adam, AdamConfig, Classifier, Params};

const INIT_STREAM: u64 = 11;
const BATCH_STREAM: u64 = 12;

/// The notebook's classifier settings: Adam at 0.01, L2 5e-4, batches of 150.
pub const LEARNING_RATE: f32 = 0.01;
pub const L2: f32 = 5e-4;
pub const BATCH_SIZE: usize = 150;

/// How the classifier's first layers start and whether they train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    /// Every layer from the seed's initialisation, every layer trains.
    Scratch,
    /// The encoder layers from the autoencoder and frozen: a softmax on the codes.
    Frozen,
    /// The encoder layers from the autoencoder, every layer trains (the notebook's "pretrained").
    FineTuned,
    /// The encoder layers from the autoencoder, frozen for the first half of the steps, then every
    /// layer trains with a fresh optimiser (as recompiling does after unfreezing): the
    /// one optimiser going on would give the encoder layers zero moments and no bias correction,
    /// first steps 3x the rate, which wrecked the encoder at 100 labels (0.59 against
    /// scratch's 0.71).
    Unfreeze,
}

impl Arm {
    pub const ALL: [Arm; 4] = [Arm::Scratch, Arm::Frozen, Arm::FineTuned, Arm::Unfreeze];

    pub fn name(self) -> &'static str {
        match self {
            Arm::Scratch => "scratch",
            Arm::Frozen => "frozen",
            Arm::FineTuned => "fine-tuned",
            Arm::Unfreeze => "unfreeze",
        }
    }

    /// Whether the encoder layers come from the autoencoder.
    pub fn pretrained(self) -> bool {
        self != Arm::Scratch
    }

    /// What step `step` (0-based) of `steps` trains.
    pub fn trains(self, step: usize, steps: usize) -> Trains {
        match self {
            Arm::Frozen => Trains::Head,
            Arm::Unfreeze if step < steps / 2 => Trains::Head,
            _ => Trains::All,
        }
    }
}

impl std::fmt::Display for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Arm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("'{s}' is not one of: scratch, frozen, fine-tuned, unfreeze"))
    }
}

/// How a run draws its batches from its labelled images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sampling {
    /// TensorFlow's `next_batch`: shuffled epochs, the remainder carried over.
    Epochs,
    /// The notebook's: each batch the head of a fresh random permutation.
    Fresh,
}

/// One run: an arm on the first `labels` training images, with one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    pub arm: Arm,
    pub labels: usize,
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub sampling: Sampling,
}

fn adam(learning_rate: f32) -> AdamConfig {
    AdamConfig {
        learning_rate,
        ..AdamConfig::RECIPE
    }
}

enum Order {
    Epochs(Sampler),
    Fresh(SubsetSampler),
}

/// A classifier being trained: parameters, optimiser, batch order, buffers.
pub struct ArmRun {
    spec: RunSpec,
    data: Arc<Mnist>,
    params: Classifier,
    adam: Adam<Classifier>,
    ws: ClassifierWorkspace,
    idx: Vec<u32>,
    order: Order,
    done: usize,
}

/// A classifier step whose loss or update was not finite.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the {arm} classifier on {labels} labels (seed {seed}) diverged at step {step}")]
pub struct Diverged {
    pub arm: Arm,
    pub labels: usize,
    pub seed: u64,
    pub step: usize,
}

impl ArmRun {
    /// A fresh classifier from the seed (the same for every arm), the encoder layers from
    /// `encoder` for the pretrained arms; a fresh Adam. `spec` must fit the data
    /// (checked by `ExperimentSpec::validate`).
    pub fn new(data: Arc<Mnist>, encoder: &Params, spec: RunSpec) -> Self {
        let init = stream_seed(spec.seed, INIT_STREAM);
        let mut params = Classifier::he_init(encoder.arch(), CLASSES, init);
        if spec.arm.pretrained() {
            params.take_encoder(encoder);
        }
        let batches = stream_seed(spec.seed, BATCH_STREAM);
        let order = match spec.sampling {
            Sampling::Epochs => Order::Epochs(Sampler::new(spec.labels, batches)),
            Sampling::Fresh => Order::Fresh(SubsetSampler::new(spec.labels, batches)),
        };
        Self {
            adam: Adam::for_tensors(adam(LEARNING_RATE), &params),
            ws: ClassifierWorkspace::new(&params, spec.batch),
            idx: vec![0; spec.batch],
            params,
            order,
            spec,
            data,
            done: 0,
        }
    }

    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    pub fn params(&self) -> &Classifier {
        &self.params
    }

    /// Steps taken so far.
    pub fn done(&self) -> usize {
        self.done
    }

    pub fn finished(&self) -> bool {
        self.done >= self.spec.steps
    }

    /// One batch: forward, backward, update. Returns the batch's cross-entropy
    /// (before the update). Allocates nothing.
    pub fn step(&mut self) -> Result<f32, Diverged> {
        match &mut self.order {
            Order::Epochs(s) => s.next_batch(&mut self.idx),
            Order::Fresh(s) => s.next_batch(&mut self.idx),
        }
        let train = &self.data.train;
        for (l, &i) in self.ws.labels.iter_mut().zip(&self.idx) {
            *l = train.labels[i as usize];
        }
        let idx = &self.idx;
        let pixels = |start: usize, out: &mut [f32]| {
            gather_pixels(train, &idx[start..start + out.len() / PIXELS], out);
        };
        let trains = self.spec.arm.trains(self.done, self.spec.steps);
        if self.spec.arm == Arm::Unfreeze && self.done == self.spec.steps / 2 {
            self.adam.restart(adam(LEARNING_RATE));
        }
        let loss = classifier_forward(&self.params, &pixels, trains, &mut self.ws);
        classifier_backward(trains, &mut self.ws);
        let trained = trains.tensors(self.params.depth());
        let updated = self
            .adam
            .update_tensors(&trained, L2, &mut self.params, &mut self.ws.grads);
        if !loss.is_finite() || updated.is_err() {
            return Err(Diverged {
                arm: self.spec.arm,
                labels: self.spec.labels,
                seed: self.spec.seed,
                step: self.done + 1,
            });
        }
        self.done += 1;
        Ok(loss)
    }

    /// The share of the last batch the classifier now gets right (the notebook's
    /// "Train accuracy", after the epoch's last update).
    pub fn last_batch_accuracy(&mut self) -> f64 {
        batch_accuracy(&self.params, &mut self.ws)
    }
}
