//! Training: Adam on the mean softmax cross-entropy over shuffled mini-batches.
//!
//! A mini-batch is split into fixed pieces computed on rayon threads and their gradients are added in
//! piece order, so a trained model is bit-identical for any thread count. The shuffle of epoch `e`
//! draws from the `(seed, Training, SHUFFLE_STREAM + e)` stream.

use super::dataset::Dataset;
use super::layers::Order;
use super::loss::SoftmaxCrossEntropy;
use super::network::Network;
use super::optim::Adam;
use super::tensor::{Tensor, add_into, data, data_mut};
use crate::error::InputError;
use crate::rng::{Purpose, stream};
use rand::Rng;
use rayon::prelude::*;

/// Images per parallel piece of a mini-batch (fixed, so results do not depend on the thread count).
const PIECE: usize = 16;

/// Stream ids of the per-epoch shuffles (initialisation uses the parameter index as id).
const SHUFFLE_STREAM: u64 = 1 << 32;

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per mini-batch (the last one of an epoch may be smaller).
    pub batch_size: usize,
    /// Adam step size.
    pub learning_rate: f32,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 64,
            learning_rate: 2e-3,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), InputError> {
        let err = |field: &str, problem: &str| Err(InputError::new("training settings", field, problem));
        if self.epochs == 0 {
            return err("epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return err("batch_size", "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return err("learning_rate", "must be a positive number");
        }
        Ok(())
    }
}

/// Where training is, reported after every mini-batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Current epoch, from 1.
    pub epoch: usize,
    /// Mini-batches done in this epoch.
    pub batch: usize,
    /// Mini-batches per epoch.
    pub batches: usize,
    /// Mean loss over this epoch's images so far (before each batch's update).
    pub loss: f64,
    /// Training accuracy over this epoch's images so far (before each batch's update).
    pub accuracy: f64,
}

/// The sum of a piece's gradients, loss and correct count.
struct PieceResult {
    grads: Vec<Tensor>,
    loss_sum: f64,
    correct: usize,
}

/// Forward and backward of one piece; the gradient is of the batch-mean loss (`scale = 1/batch`).
fn piece(net: &Network, x: Tensor, labels: &[u8], scale: f32) -> PieceResult {
    let (logits, tape) = net.forward_train(x);
    let ce = SoftmaxCrossEntropy::new(&logits, labels);
    let mut grads = net.zeros_like_params();
    net.backward(&tape, ce.gradient(labels, scale), Order::First, &mut grads);
    PieceResult {
        grads,
        loss_sum: ce.loss_sum,
        correct: ce.correct,
    }
}

/// Trains a network epoch by epoch: holds the optimiser state, the shuffle order and the epoch count.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: TrainConfig,
    adam: Adam,
    order: Vec<usize>,
    epoch: usize,
}

impl Trainer {
    /// A trainer for `net` on `dataset` (checked against the network) with `config`.
    pub fn new(net: &Network, dataset: &Dataset, config: &TrainConfig) -> Result<Self, InputError> {
        config.validate()?;
        net.check_dataset(dataset)?;
        if dataset.is_empty() {
            return Err(InputError::new(
                dataset.name(),
                "images",
                "the training set is empty",
            ));
        }
        Ok(Self {
            config: config.clone(),
            adam: Adam::new(net, config.learning_rate),
            order: (0..dataset.len()).collect(),
            epoch: 0,
        })
    }

    /// Runs one epoch over `dataset` (the one given to [`Trainer::new`]), updating `net` after every
    /// mini-batch and calling `on_batch`; returns the epoch's final [`Progress`].
    ///
    /// # Panics
    /// If `dataset` has a different size than the one the trainer was made for.
    pub fn epoch(
        &mut self,
        net: &mut Network,
        dataset: &Dataset,
        mut on_batch: impl FnMut(&Progress),
    ) -> Progress {
        let n = self.order.len();
        assert_eq!(dataset.len(), n, "the trainer's dataset");
        self.epoch += 1;
        let mut rng = stream(
            self.config.seed,
            Purpose::Training,
            SHUFFLE_STREAM + self.epoch as u64,
        );
        for i in (1..n).rev() {
            self.order.swap(i, rng.random_range(0..=i));
        }
        let batches = n.div_ceil(self.config.batch_size);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut progress = Progress {
            epoch: self.epoch,
            batch: 0,
            batches,
            loss: 0.0,
            accuracy: 0.0,
        };
        for (b, batch) in self.order.chunks(self.config.batch_size).enumerate() {
            let scale = 1.0 / batch.len() as f32;
            let net_ref: &Network = net;
            let results: Vec<PieceResult> = batch
                .par_chunks(PIECE)
                .map(|idx| {
                    let (x, labels) = dataset.gather(idx);
                    piece(net_ref, x, &labels, scale)
                })
                .collect();
            let mut results = results.into_iter();
            let mut total = results.next().expect("a batch has at least one piece");
            for r in results {
                for (g, rg) in total.grads.iter_mut().zip(&r.grads) {
                    add_into(data_mut(g), data(rg));
                }
                total.loss_sum += r.loss_sum;
                total.correct += r.correct;
            }
            self.adam.step(net, &total.grads);
            loss_sum += total.loss_sum;
            correct += total.correct;
            seen += batch.len();
            progress.batch = b + 1;
            progress.loss = loss_sum / seen as f64;
            progress.accuracy = correct as f64 / seen as f64;
            on_batch(&progress);
        }
        progress
    }
}

/// Refuses a training that diverged: a non-finite mean loss, or any non-finite parameter (a learning
/// rate far too large gives NaN weights, which would otherwise be saved as a model).
pub fn check_finite(net: &Network, progress: &Progress, config: &TrainConfig) -> Result<(), InputError> {
    let bad_param = net
        .params()
        .iter()
        .find(|p| p.value.iter().any(|v| !v.is_finite()));
    if progress.loss.is_finite() && bad_param.is_none() {
        return Ok(());
    }
    let what = match bad_param {
        Some(p) => format!("parameter {} is not finite", p.name),
        None => format!("the mean loss is {}", progress.loss),
    };
    Err(InputError::new(
        "training settings",
        "learning_rate",
        format!(
            "training diverged in epoch {} at learning rate {}: {what}; lower the learning rate",
            progress.epoch, config.learning_rate
        ),
    ))
}

/// Trains `net` in place for `config.epochs` epochs (it is not re-initialised: call
/// [`Network::initialize`] first for a fresh model) and returns the last epoch's final [`Progress`].
/// `on_batch` is called after every update.
pub fn train(
    net: &mut Network,
    dataset: &Dataset,
    config: &TrainConfig,
    mut on_batch: impl FnMut(&Progress),
) -> Result<Progress, InputError> {
    let mut trainer = Trainer::new(net, dataset, config)?;
    let mut last = None;
    for _ in 0..config.epochs {
        let progress = trainer.epoch(net, dataset, &mut on_batch);
        check_finite(net, &progress, config)?;
        last = Some(progress);
    }
    Ok(last.expect("validated: at least one epoch"))
}
