//! Named parameter tensors, in PyTorch's state_dict names and layouts.

use super::tensor::Tensor;
use crate::rng::{Purpose, stream};
use ndarray::IxDyn;
use rand::Rng;

/// What a parameter tensor is; decides whether it is programmed into devices and whether it trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A convolution (`[out, in, kh, kw]`) or linear (`[out, in]`) weight: programmed into crossbars.
    Weight,
    /// A convolution or linear bias `[out]`: stays digital.
    Bias,
    /// Batch-norm scale (PyTorch `weight`, gamma) `[channels]`: digital.
    NormWeight,
    /// Batch-norm shift (PyTorch `bias`, beta) `[channels]`: digital.
    NormBias,
    /// Batch-norm running mean `[channels]` (a buffer: not trained).
    RunningMean,
    /// Batch-norm running variance `[channels]` (a buffer: not trained).
    RunningVar,
}

impl ParamKind {
    /// Whether the tensor is stored in NVM devices (conv and linear weights); biases and batch-norm
    /// parameters stay digital.
    pub fn is_programmable(self) -> bool {
        self == Self::Weight
    }

    /// Whether the optimiser updates it (everything but batch-norm running statistics).
    pub fn is_trainable(self) -> bool {
        !matches!(self, Self::RunningMean | Self::RunningVar)
    }
}

/// One named tensor of a network, such as `conv1.weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The PyTorch state_dict name (`conv1.weight`, `layer1.0.bn1.running_var`).
    pub name: String,
    /// What the tensor is.
    pub kind: ParamKind,
    /// The values, in PyTorch layout, standard (row-major) order.
    pub value: Tensor,
    /// Inputs feeding one output (`in * kh * kw` or `in`); used for initialisation bounds.
    pub fan_in: usize,
}

impl Param {
    /// A parameter filled with `fill`.
    pub fn new(name: impl Into<String>, kind: ParamKind, shape: &[usize], fan_in: usize, fill: f32) -> Self {
        Self {
            name: name.into(),
            kind,
            value: Tensor::from_elem(IxDyn(shape), fill),
            fan_in,
        }
    }

    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether the tensor is empty.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The tensor as a crossbar matrix `(rows, cols)` = `(fan_in, outputs)`: one row per input
    /// (`in * kh * kw` for a convolution) and one column per output channel or neuron.
    pub fn matrix_dims(&self) -> (usize, usize) {
        (self.fan_in, self.value.shape().first().copied().unwrap_or(0))
    }

    /// Re-initialises the tensor as PyTorch does by default: conv and linear weights and biases uniform
    /// in `+-1/sqrt(fan_in)` (kaiming-uniform with a = sqrt(5)), batch-norm scale and variance 1, shift
    /// and mean 0. Draws come from the `(seed, Training, id)` stream.
    pub fn initialize(&mut self, seed: u64, id: u64) {
        match self.kind {
            ParamKind::Weight | ParamKind::Bias => {
                let bound = 1.0 / (self.fan_in.max(1) as f32).sqrt();
                let mut rng = stream(seed, Purpose::Training, id);
                self.value.mapv_inplace(|_| rng.random_range(-bound..bound));
            }
            ParamKind::NormWeight | ParamKind::RunningVar => self.value.fill(1.0),
            ParamKind::NormBias | ParamKind::RunningMean => self.value.fill(0.0),
        }
    }
}
