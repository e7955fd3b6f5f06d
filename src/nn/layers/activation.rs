//! ReLU: forward, and the backward of both orders (the 0/1 mask squared is itself).

use crate::nn::tensor::{Tensor, data, data_mut};

/// `max(0, x)` in place.
pub(super) fn relu_inplace(mut x: Tensor) -> Tensor {
    x.mapv_inplace(|v| v.max(0.0));
    x
}

/// `max(0, x)` as a new tensor.
pub(super) fn relu(x: &Tensor) -> Tensor {
    x.mapv(|v| v.max(0.0))
}

/// `dy * [x > 0]`: the gradient, and also the second-order rule (the mask squared is the mask).
pub(super) fn relu_backward(x: &Tensor, mut dy: Tensor) -> Tensor {
    // A select rather than a branch: the mask is unpredictable, and the select vectorises.
    for (d, &v) in data_mut(&mut dy).iter_mut().zip(data(x)) {
        *d = if v > 0.0 { *d } else { 0.0 };
    }
    dy
}

/// An element-wise activation of an imported graph (the zoo uses [`super::Layer::Relu`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `x` for `x >= 0`, `alpha x` below.
    LeakyRelu {
        /// The slope below zero.
        alpha: f32,
    },
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// `f(x)`.
    fn value(self, x: f32) -> f32 {
        match self {
            Self::Relu => x.max(0.0),
            Self::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Self::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Self::Tanh => x.tanh(),
        }
    }

    /// `f'(x)`.
    fn slope(self, x: f32) -> f32 {
        match self {
            Self::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Self::Sigmoid => {
                let s = self.value(x);
                s * (1.0 - s)
            }
            Self::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
        }
    }

    /// `f(x)` element-wise, in place.
    pub(super) fn forward(self, mut x: Tensor) -> Tensor {
        x.mapv_inplace(|v| self.value(v));
        x
    }

    /// Backward of `order` at input `x`: `f'(x) dy` (first order) or `f'(x)^2 d2y` (second order, the
    /// Gauss-Newton rule: the term `f''(x) dL/dy` is dropped, as OBD does).
    pub(super) fn backward(self, x: &Tensor, mut dy: Tensor, order: super::Order) -> Tensor {
        for (d, &v) in data_mut(&mut dy).iter_mut().zip(data(x)) {
            let s = self.slope(v);
            *d *= match order {
                super::Order::First => s,
                super::Order::Second => s * s,
            };
        }
        dy
    }
}
