//! The Adam optimiser (Kingma and Ba), with PyTorch's defaults and update order.

use super::network::Network;
use super::tensor::{Tensor, data, data_mut};
use rayon::prelude::*;

/// Adam state: first and second moment estimates per trainable parameter.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f32,
    /// Decay of the first moment (0.9).
    pub beta1: f32,
    /// Decay of the second moment (0.999).
    pub beta2: f32,
    /// Added to the root of the second moment (1e-8).
    pub eps: f32,
    step: i32,
    trainable: Vec<usize>,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam for the trainable parameters of `net` with step size `learning_rate`.
    pub fn new(net: &Network, learning_rate: f32) -> Self {
        let trainable = net.trainable();
        let zeros: Vec<Vec<f32>> = trainable.iter().map(|&i| vec![0.0; net.param(i).len()]).collect();
        Self {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            trainable,
            m: zeros.clone(),
            v: zeros,
        }
    }

    /// One update of `net` with the gradients `grads` (aligned with the network's parameters). The
    /// update is element-wise, so it runs on rayon threads in blocks without changing any result.
    pub fn step(&mut self, net: &mut Network, grads: &[Tensor]) {
        const BLOCK: usize = 8192;
        self.step += 1;
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let step_size = self.learning_rate / (1.0 - b1.powi(self.step));
        let bc2_sqrt = (1.0 - b2.powi(self.step)).sqrt();
        let params = net.params_mut();
        for (k, &i) in self.trainable.iter().enumerate() {
            let w = data_mut(&mut params[i].value);
            let g = data(&grads[i]);
            w.par_chunks_mut(BLOCK)
                .zip(g.par_chunks(BLOCK))
                .zip(self.m[k].par_chunks_mut(BLOCK))
                .zip(self.v[k].par_chunks_mut(BLOCK))
                .for_each(|(((w, g), m), v)| {
                    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                        *m = b1 * *m + (1.0 - b1) * g;
                        *v = b2 * *v + (1.0 - b2) * g * g;
                        // PyTorch's form: denominator sqrt(v) / sqrt(1 - b2^t) + eps.
                        *w -= step_size * *m / (v.sqrt() / bc2_sqrt + eps);
                    }
                });
        }
    }
}
