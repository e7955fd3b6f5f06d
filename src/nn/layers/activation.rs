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
