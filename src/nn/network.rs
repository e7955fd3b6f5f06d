//! A network: a sequence of layers and the named parameter tensors they use.
//!
//! Parameters live in one list, in PyTorch state_dict order and names; layers refer to them by index.
//! Gradients and second derivatives are lists of tensors aligned with that list. Batches are processed
//! in fixed-size chunks on rayon threads; each chunk is computed by one thread, so results never
//! depend on the thread count.

use super::dataset::Dataset;
use super::layers::{Cache, Layer, Order, backward_all, forward_all, forward_train_all};
use super::param::Param;
use super::tensor::{SampleShape, Tensor, data};
use crate::error::InputError;
use ndarray::{Array2, ArrayView4, Axis, s};
use rayon::prelude::*;

/// Images per chunk in parallel inference: small enough that a chunk's activations stay in cache,
/// large enough for efficient matrix products in the fully connected layers.
const INFER_CHUNK: usize = 32;

/// A feed-forward network (possibly with residual blocks) ending in class logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    arch: String,
    input: SampleShape,
    classes: usize,
    layers: Vec<Layer>,
    params: Vec<Param>,
}

/// What a training forward pass keeps for the backward passes: one cache per layer.
#[derive(Debug, Clone)]
pub struct Tape {
    caches: Vec<Cache>,
}

/// Correctly classified images out of a total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accuracy {
    /// Images classified correctly.
    pub correct: usize,
    /// Images classified.
    pub images: usize,
}

impl Accuracy {
    /// The fraction correct, in [0, 1] (0 for no images).
    pub fn fraction(&self) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            self.correct as f64 / self.images as f64
        }
    }
}

/// The index of the largest value (the first on ties).
pub(crate) fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

impl Network {
    /// The architecture's name (`lenet`, ...), used in messages.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// The shape of one input sample.
    pub fn input_shape(&self) -> SampleShape {
        self.input
    }

    /// The number of output classes (logits).
    pub fn num_classes(&self) -> usize {
        self.classes
    }

    /// Whether the network can run (false for weights-only models, see [`super::timing`]).
    pub fn is_runnable(&self) -> bool {
        !self.layers.is_empty()
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// All parameter tensors, in PyTorch state_dict order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The parameter at `index`.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn param(&self, index: usize) -> &Param {
        &self.params[index]
    }

    /// The index of the parameter named `name` (`conv1.weight`).
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.param_index(name).map(|i| &self.params[i].value)
    }

    /// The values of parameter `index` in row-major PyTorch layout, for in-place replacement (the
    /// Monte-Carlo evaluator writes read-back weights here). The shape cannot change.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn values_mut(&mut self, index: usize) -> &mut [f32] {
        self.params[index]
            .value
            .as_slice_mut()
            .expect("parameters are in standard layout")
    }

    /// Replaces the values of the tensor named `name` (row-major PyTorch layout).
    pub fn set_tensor(&mut self, name: &str, values: &[f32]) -> Result<(), InputError> {
        let index = self.param_index(name).ok_or_else(|| {
            InputError::new(
                &self.arch,
                name,
                format!("no such tensor; tensors: {}", self.param_names().join(", ")),
            )
        })?;
        let len = self.params[index].len();
        if len != values.len() {
            return Err(InputError::new(
                &self.arch,
                name,
                format!("expected {len} values, got {}", values.len()),
            ));
        }
        self.values_mut(index).copy_from_slice(values);
        Ok(())
    }

    /// All parameter names, in order.
    pub fn param_names(&self) -> Vec<&str> {
        self.params.iter().map(|p| p.name.as_str()).collect()
    }

    /// Indices of the programmable tensors (conv and linear weights), in order.
    pub fn programmable(&self) -> Vec<usize> {
        (0..self.params.len())
            .filter(|&i| self.params[i].kind.is_programmable())
            .collect()
    }

    /// The number of programmable weights (the values stored in NVM devices).
    pub fn num_programmable_weights(&self) -> usize {
        self.params
            .iter()
            .filter(|p| p.kind.is_programmable())
            .map(Param::len)
            .sum()
    }

    /// Re-initialises every parameter from `seed` (PyTorch's default rules; parameter `i` draws from
    /// the `(seed, Training, i)` stream, so one tensor's values do not depend on the others).
    pub fn initialize(&mut self, seed: u64) {
        for (i, p) in self.params.iter_mut().enumerate() {
            p.initialize(seed, i as u64);
        }
    }

    /// Zero tensors shaped like every parameter (for gradients and second derivatives).
    pub fn zeros_like_params(&self) -> Vec<Tensor> {
        self.params
            .iter()
            .map(|p| Tensor::zeros(p.value.raw_dim()))
            .collect()
    }

    /// Checks that `x` is a batch of this network's input samples.
    fn check_batch(&self, dims: &[usize], source: &str) -> Result<(), InputError> {
        if self.layers.is_empty() {
            return Err(InputError::new(
                &self.arch,
                "layers",
                "this model holds weight tensors only (for timing): it cannot run inference",
            ));
        }
        let want = self.input.batch_dims(dims.first().copied().unwrap_or(0));
        if dims != want.as_slice() {
            return Err(InputError::new(
                source,
                "images",
                format!(
                    "architecture {} expects samples of {}, got a batch of shape {dims:?}",
                    self.arch, self.input
                ),
            ));
        }
        Ok(())
    }

    /// Checks that `data` fits this network: sample shape and label range.
    pub fn check_dataset(&self, dataset: &Dataset) -> Result<(), InputError> {
        self.check_batch(dataset.images().shape(), dataset.name())?;
        if let Some(&bad) = dataset.labels().iter().find(|&&l| l as usize >= self.classes) {
            return Err(InputError::new(
                dataset.name(),
                "labels",
                format!("label {bad} is out of range for {} classes", self.classes),
            ));
        }
        Ok(())
    }

    /// Inference forward pass of one batch on the calling thread: `[N, ...input] -> [N, classes]`.
    ///
    /// # Panics
    /// If `x` is not a batch of the network's input shape (see [`Network::logits`] for a checked,
    /// parallel version).
    pub fn forward(&self, x: Tensor) -> Tensor {
        assert_eq!(
            x.shape(),
            self.input.batch_dims(x.shape()[0]).as_slice(),
            "input batch shape"
        );
        forward_all(&self.layers, &self.params, x)
    }

    /// Training forward pass of one batch: the logits and the tape for [`Network::backward`].
    ///
    /// # Panics
    /// If `x` is not a batch of the network's input shape.
    pub fn forward_train(&self, x: Tensor) -> (Tensor, Tape) {
        assert_eq!(
            x.shape(),
            self.input.batch_dims(x.shape()[0]).as_slice(),
            "input batch shape"
        );
        let (y, caches) = forward_train_all(&self.layers, &self.params, x);
        (y, Tape { caches })
    }

    /// Backward pass of `order` from the logits' derivative `dlogits` (`dL/dz` or `d2L/dz^2`, `[N,
    /// classes]`), accumulating into `grads` (aligned with [`Network::params`], e.g. from
    /// [`Network::zeros_like_params`]). Batch-norm running statistics receive nothing.
    pub fn backward(&self, tape: &Tape, dlogits: Tensor, order: Order, grads: &mut [Tensor]) {
        self.backward_from(tape, dlogits, order, grads, false);
    }

    /// As [`Network::backward`], and also returns the derivative with respect to the input batch
    /// (`dL/dx` or `d2L/dx^2`), at the cost of one more product in the first layer.
    pub fn backward_to_input(
        &self,
        tape: &Tape,
        dlogits: Tensor,
        order: Order,
        grads: &mut [Tensor],
    ) -> Tensor {
        self.backward_from(tape, dlogits, order, grads, true)
            .expect("the input derivative was asked for")
    }

    fn backward_from(
        &self,
        tape: &Tape,
        dlogits: Tensor,
        order: Order,
        grads: &mut [Tensor],
        need_dx: bool,
    ) -> Option<Tensor> {
        assert_eq!(
            grads.len(),
            self.params.len(),
            "one gradient tensor per parameter"
        );
        backward_all(
            &self.layers,
            &self.params,
            &tape.caches,
            dlogits,
            order,
            grads,
            need_dx,
        )
    }

    /// Logits `[N, classes]` for a batch of images `[N, C, H, W]`, in parallel over chunks.
    pub fn logits(&self, images: ArrayView4<'_, f32>) -> Result<Array2<f32>, InputError> {
        self.check_batch(images.shape(), "images")?;
        let n = images.shape()[0];
        let classes = self.classes;
        let mut out = Array2::<f32>::zeros((n, classes));
        if n == 0 {
            return Ok(out);
        }
        let out_data = out.as_slice_mut().expect("fresh array is contiguous");
        out_data
            .par_chunks_mut(INFER_CHUNK * classes)
            .enumerate()
            .for_each(|(i, dst)| {
                let start = i * INFER_CHUNK;
                let chunk = images.slice(s![start..start + dst.len() / classes, .., .., ..]);
                let y = self.forward(chunk.to_owned().into_dyn());
                dst.copy_from_slice(data(&y));
            });
        Ok(out)
    }

    /// The predicted class of each image (arg-max of the logits).
    pub fn predict(&self, images: ArrayView4<'_, f32>) -> Result<Vec<usize>, InputError> {
        let logits = self.logits(images)?;
        Ok(logits
            .axis_iter(Axis(0))
            .map(|row| argmax(row.as_slice().expect("contiguous row")))
            .collect())
    }

    /// Clean classification accuracy on `dataset`, in parallel over chunks.
    pub fn accuracy(&self, dataset: &Dataset) -> Result<Accuracy, InputError> {
        self.check_dataset(dataset)?;
        let logits = self.logits(dataset.images())?;
        let correct = logits
            .axis_iter(Axis(0))
            .zip(dataset.labels())
            .filter(|(row, label)| argmax(row.as_slice().expect("contiguous row")) == **label as usize)
            .count();
        Ok(Accuracy {
            correct,
            images: dataset.len(),
        })
    }

    /// Assembles a network (used by [`super::Builder::finish`]).
    pub(crate) fn from_parts(
        arch: String,
        input: SampleShape,
        classes: usize,
        layers: Vec<Layer>,
        params: Vec<Param>,
    ) -> Self {
        Self {
            arch,
            input,
            classes,
            layers,
            params,
        }
    }

    /// Indices of the parameters the optimiser updates.
    pub(crate) fn trainable(&self) -> Vec<usize> {
        (0..self.params.len())
            .filter(|&i| self.params[i].kind.is_trainable())
            .collect()
    }

    /// Mutable access to all parameters (the optimiser).
    pub(crate) fn params_mut(&mut self) -> &mut [Param] {
        &mut self.params
    }
}
