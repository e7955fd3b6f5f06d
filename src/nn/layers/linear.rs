//! Fully connected layer `y = x W^T + b`, weight `[out, in]` as in PyTorch.

use super::{Order, powered};
use crate::nn::kernels::{Product, linear_gemm};
use crate::nn::param::Param;
use crate::nn::tensor::{Tensor, data, data_mut, gemm, mat, mat_mut};
use ndarray::IxDyn;

/// A fully connected layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Index of the `[out, in]` weight in the network's parameters.
    pub weight: usize,
    /// Index of the `[out]` bias, if any.
    pub bias: Option<usize>,
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
}

impl Linear {
    /// `x [N, in] -> y [N, out]`, followed by a ReLU if `relu`.
    pub(super) fn forward(&self, params: &[Param], x: &Tensor, relu: bool) -> Tensor {
        let n = x.shape()[0];
        let (fi, fo) = (self.in_features, self.out_features);
        let mut y = Tensor::zeros(IxDyn(&[n, fo]));
        let bias = self.bias.map(|b| data(&params[b].value));
        let w = data(&params[self.weight].value);
        let product = Product {
            rows: n,
            terms: fi,
            cols: fo,
            a: data(x),
            b: w,
            bias,
            relu,
        };
        linear_gemm(&product, data_mut(&mut y));
        y
    }

    /// Backward of `order`: accumulates `dW += dy^T x` and `db += sum dy` (first order) or
    /// `H_W += d2y^T x^2`, `H_b += sum d2y` (second), and returns `dy W` (or `d2y W^2`).
    pub(super) fn backward(
        &self,
        params: &[Param],
        x: &Tensor,
        dy: &Tensor,
        order: Order,
        grads: &mut [Tensor],
        need_dx: bool,
    ) -> Option<Tensor> {
        let n = x.shape()[0];
        let (fi, fo) = (self.in_features, self.out_features);
        let dys = data(dy);
        let xs = powered(data(x), order);
        let dyv = mat(dys, n, fo);
        gemm(
            1.0,
            &dyv.t(),
            &mat(&xs, n, fi),
            1.0,
            &mut mat_mut(data_mut(&mut grads[self.weight]), fo, fi),
        );
        if let Some(b) = self.bias {
            let gb = data_mut(&mut grads[b]);
            for row in dys.chunks_exact(fo) {
                for (g, d) in gb.iter_mut().zip(row) {
                    *g += d;
                }
            }
        }
        if !need_dx {
            return None;
        }
        let ws = powered(data(&params[self.weight].value), order);
        let mut dx = Tensor::zeros(IxDyn(&[n, fi]));
        gemm(
            1.0,
            &dyv,
            &mat(&ws, fo, fi),
            0.0,
            &mut mat_mut(data_mut(&mut dx), n, fi),
        );
        Some(dx)
    }
}
