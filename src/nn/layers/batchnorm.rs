//! Batch normalisation in evaluation mode: `y = gamma (x - mean) / sqrt(var + eps) + beta` per channel,
//! with the running statistics. Training also keeps it in this mode (statistics fixed), which makes it a
//! trainable per-channel affine map.

use super::Order;
use crate::nn::param::Param;
use crate::nn::tensor::{Tensor, data, data_mut};

/// PyTorch's default epsilon.
pub const BATCH_NORM_EPS: f32 = 1e-5;

/// A batch-norm layer over `channels` of `positions` (height x width) values each.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm2d {
    /// Index of the scale gamma (PyTorch `weight`).
    pub weight: usize,
    /// Index of the shift beta (PyTorch `bias`).
    pub bias: usize,
    /// Index of `running_mean`.
    pub running_mean: usize,
    /// Index of `running_var`.
    pub running_var: usize,
    /// Channels.
    pub channels: usize,
    /// Values per channel per sample (height x width; 1 for flat features).
    pub positions: usize,
    /// The epsilon added to the variance ([`BATCH_NORM_EPS`] unless a model file says otherwise).
    pub eps: f32,
}

impl BatchNorm2d {
    /// Per channel: the inverse standard deviation `1/sqrt(var + eps)`.
    fn inv_std(&self, params: &[Param]) -> Vec<f32> {
        data(&params[self.running_var].value)
            .iter()
            .map(|v| 1.0 / (v + self.eps).sqrt())
            .collect()
    }

    /// Per channel: `(a, b)` with `y = a x + b`.
    fn affine(&self, params: &[Param]) -> Vec<(f32, f32)> {
        let gamma = data(&params[self.weight].value);
        let beta = data(&params[self.bias].value);
        let mean = data(&params[self.running_mean].value);
        self.inv_std(params)
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let a = gamma[c] * s;
                (a, beta[c] - mean[c] * a)
            })
            .collect()
    }

    /// Forward, in place.
    pub(super) fn forward(&self, params: &[Param], mut x: Tensor) -> Tensor {
        let ab = self.affine(params);
        for (i, chunk) in data_mut(&mut x).chunks_exact_mut(self.positions).enumerate() {
            let (a, b) = ab[i % self.channels];
            chunk.iter_mut().for_each(|v| *v = a * *v + b);
        }
        x
    }

    /// Backward of `order`: `dx = a dy`, `dgamma += sum dy xhat`, `dbeta += sum dy` (first order), or
    /// `d2x = a^2 d2y`, `H_gamma += sum d2y xhat^2`, `H_beta += sum d2y` (second), with `a =
    /// gamma/sqrt(var + eps)` and `xhat = (x - mean)/sqrt(var + eps)`.
    pub(super) fn backward(
        &self,
        params: &[Param],
        x: &Tensor,
        mut dy: Tensor,
        order: Order,
        grads: &mut [Tensor],
    ) -> Tensor {
        let inv_std = self.inv_std(params);
        let gamma = data(&params[self.weight].value);
        let mean = data(&params[self.running_mean].value);
        let mut dgamma = vec![0.0f32; self.channels];
        let mut dbeta = vec![0.0f32; self.channels];
        for (i, (dchunk, xchunk)) in data_mut(&mut dy)
            .chunks_exact_mut(self.positions)
            .zip(data(x).chunks_exact(self.positions))
            .enumerate()
        {
            let c = i % self.channels;
            let a = gamma[c] * inv_std[c];
            let scale = if order == Order::Second { a * a } else { a };
            for (d, &xv) in dchunk.iter_mut().zip(xchunk) {
                let xhat = (xv - mean[c]) * inv_std[c];
                let xf = if order == Order::Second { xhat * xhat } else { xhat };
                dgamma[c] += *d * xf;
                dbeta[c] += *d;
                *d *= scale;
            }
        }
        for (g, v) in data_mut(&mut grads[self.weight]).iter_mut().zip(&dgamma) {
            *g += v;
        }
        for (g, v) in data_mut(&mut grads[self.bias]).iter_mut().zip(&dbeta) {
            *g += v;
        }
        dy
    }
}
