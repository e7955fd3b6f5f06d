//! General 2-d convolution as ONNX `Conv` defines it: groups, per-axis stride and dilation, and
//! padding that may differ on each side. Weight `[out, in/groups, kh, kw]`; each group is one im2col and
//! one GEMM per image, as in [`super::Conv2d`] (which the zoo uses: square kernels, no groups).

use super::{Order, powered};
use crate::nn::kernels::{Product, conv_gemm};
use crate::nn::param::Param;
use crate::nn::tensor::{Tensor, data, data_mut, gemm, mat, mat_mut};
use ndarray::IxDyn;

/// The geometry of a general convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConvGeom {
    /// Input channels (all groups).
    pub in_channels: usize,
    /// Input rows.
    pub height: usize,
    /// Input columns.
    pub width: usize,
    /// Output channels (all groups).
    pub out_channels: usize,
    /// Channel groups; input and output channels are both divisible by it.
    pub groups: usize,
    /// Kernel rows and columns.
    pub kernel: [usize; 2],
    /// Stride along rows and columns.
    pub stride: [usize; 2],
    /// Dilation along rows and columns.
    pub dilation: [usize; 2],
    /// Zero padding: top, left, bottom, right (ONNX `pads` order).
    pub pads: [usize; 4],
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
}

impl GroupConvGeom {
    /// The geometry, or `None` if a size is zero, the channels do not divide into the groups or the
    /// dilated kernel does not fit the padded input.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        height: usize,
        width: usize,
        out_channels: usize,
        groups: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        pads: [usize; 4],
    ) -> Option<Self> {
        let positive = |v: &[usize]| v.iter().all(|&x| x > 0);
        if !positive(&kernel) || !positive(&stride) || !positive(&dilation) || groups == 0 {
            return None;
        }
        if in_channels % groups != 0 || out_channels % groups != 0 {
            return None;
        }
        let out = |len: usize, lo: usize, hi: usize, k: usize, s: usize, d: usize| {
            let span = d * (k - 1) + 1;
            (len + lo + hi).checked_sub(span).map(|v| v / s + 1)
        };
        let out_h = out(height, pads[0], pads[2], kernel[0], stride[0], dilation[0])?;
        let out_w = out(width, pads[1], pads[3], kernel[1], stride[1], dilation[1])?;
        Some(Self {
            in_channels,
            height,
            width,
            out_channels,
            groups,
            kernel,
            stride,
            dilation,
            pads,
            out_h,
            out_w,
        })
    }

    /// Rows of one group's im2col matrix: `in/groups * kh * kw` (the fan-in of one output).
    pub fn patch_len(&self) -> usize {
        self.in_channels / self.groups * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per channel.
    pub fn out_positions(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Numbers per input sample.
    pub fn in_len(&self) -> usize {
        self.in_channels * self.height * self.width
    }

    /// Numbers per output sample.
    pub fn out_len(&self) -> usize {
        self.out_channels * self.out_positions()
    }

    /// The input row (or column, `axis` 1) read by output position `o` through kernel tap `k`.
    fn input_at(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let len = if axis == 0 { self.height } else { self.width };
        (o * self.stride[axis] + k * self.dilation[axis])
            .checked_sub(self.pads[axis])
            .filter(|&i| i < len)
    }

    /// Calls `f(row of cols, input plane offset, ki, kj)` for every row of group `group`'s im2col.
    fn for_each_row(&self, group: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let per_group = self.in_channels / self.groups;
        let plane = self.height * self.width;
        let mut r = 0;
        for c in group * per_group..(group + 1) * per_group {
            for ki in 0..self.kernel[0] {
                for kj in 0..self.kernel[1] {
                    f(r, c * plane, ki, kj);
                    r += 1;
                }
            }
        }
    }

    /// Fills `cols` (`[patch_len, ho*wo]`) with group `group` of one image `x` (`[in, h, w]`).
    pub fn im2col(&self, x: &[f32], group: usize, cols: &mut [f32]) {
        let (p, wo) = (self.out_positions(), self.out_w);
        self.for_each_row(group, |r, base, ki, kj| {
            let row = &mut cols[r * p..(r + 1) * p];
            for (oh, dst) in row.chunks_exact_mut(wo).enumerate() {
                match self.input_at(0, oh, ki) {
                    None => dst.fill(0.0),
                    Some(ih) => {
                        let src = &x[base + ih * self.width..base + (ih + 1) * self.width];
                        for (ow, d) in dst.iter_mut().enumerate() {
                            *d = self.input_at(1, ow, kj).map_or(0.0, |iw| src[iw]);
                        }
                    }
                }
            }
        });
    }

    /// Adds `cols` (`[patch_len, ho*wo]`) of group `group` back into one image `dx`: the adjoint of
    /// [`GroupConvGeom::im2col`].
    pub fn col2im_add(&self, cols: &[f32], group: usize, dx: &mut [f32]) {
        let (p, wo) = (self.out_positions(), self.out_w);
        self.for_each_row(group, |r, base, ki, kj| {
            let row = &cols[r * p..(r + 1) * p];
            for (oh, src) in row.chunks_exact(wo).enumerate() {
                if let Some(ih) = self.input_at(0, oh, ki) {
                    let dst = &mut dx[base + ih * self.width..base + (ih + 1) * self.width];
                    for (ow, s) in src.iter().enumerate() {
                        if let Some(iw) = self.input_at(1, ow, kj) {
                            dst[iw] += s;
                        }
                    }
                }
            }
        });
    }
}

/// A general convolution layer.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConv {
    /// Index of the `[out, in/groups, kh, kw]` weight in the network's parameters.
    pub weight: usize,
    /// Index of the `[out]` bias, if any.
    pub bias: Option<usize>,
    /// Sizes, groups, kernel, stride, dilation and padding.
    pub geom: GroupConvGeom,
}

impl GroupConv {
    /// `x [N, in, h, w] -> y [N, out, ho, wo]`.
    pub(super) fn forward(&self, params: &[Param], x: &Tensor) -> Tensor {
        let g = &self.geom;
        let n = x.shape()[0];
        let (k, p, cg) = (g.patch_len(), g.out_positions(), g.out_channels / g.groups);
        let w = data(&params[self.weight].value);
        let bias = self.bias.map(|b| data(&params[b].value));
        let mut cols = vec![0.0; k * p];
        let mut y = vec![0.0; n * g.out_len()];
        for (xi, yi) in data(x)
            .chunks_exact(g.in_len())
            .zip(y.chunks_exact_mut(g.out_len()))
        {
            for grp in 0..g.groups {
                g.im2col(xi, grp, &mut cols);
                let wg = &w[grp * cg * k..(grp + 1) * cg * k];
                let bg = bias.map(|b| &b[grp * cg..(grp + 1) * cg]);
                let product = Product {
                    rows: cg,
                    terms: k,
                    cols: p,
                    a: wg,
                    b: &cols,
                    bias: bg,
                    relu: false,
                };
                conv_gemm(&product, &mut yi[grp * cg * p..(grp + 1) * cg * p]);
            }
        }
        Tensor::from_shape_vec(IxDyn(&[n, g.out_channels, g.out_h, g.out_w]), y)
            .expect("one output image per input")
    }

    /// Backward of `order`, one image and group at a time: `dW_g += dy_g cols_g^T`, `db += sum dy`,
    /// `dx = col2im(W_g^T dy_g)`; the second order uses `cols^2` and `W^2`.
    pub(super) fn backward(
        &self,
        params: &[Param],
        x: &Tensor,
        dy: &Tensor,
        order: Order,
        grads: &mut [Tensor],
        need_dx: bool,
    ) -> Option<Tensor> {
        let g = &self.geom;
        let (k, p, cg) = (g.patch_len(), g.out_positions(), g.out_channels / g.groups);
        let w = powered(data(&params[self.weight].value), order);
        let mut dx = need_dx.then(|| Tensor::zeros(x.raw_dim()));
        let mut cols = vec![0.0; k * p];
        let mut dcols = vec![0.0; k * p];
        let mut dw = std::mem::take(&mut grads[self.weight]);
        for (i, (xi, dyi)) in data(x)
            .chunks_exact(g.in_len())
            .zip(data(dy).chunks_exact(g.out_len()))
            .enumerate()
        {
            if let Some(b) = self.bias {
                for (gb, plane) in data_mut(&mut grads[b]).iter_mut().zip(dyi.chunks_exact(p)) {
                    *gb += plane.iter().sum::<f32>();
                }
            }
            for grp in 0..g.groups {
                g.im2col(xi, grp, &mut cols);
                if order == Order::Second {
                    cols.iter_mut().for_each(|v| *v *= *v);
                }
                let dyg = mat(&dyi[grp * cg * p..(grp + 1) * cg * p], cg, p);
                let dwg = &mut data_mut(&mut dw)[grp * cg * k..(grp + 1) * cg * k];
                gemm(1.0, &dyg, &mat(&cols, k, p).t(), 1.0, &mut mat_mut(dwg, cg, k));
                if let Some(dx) = dx.as_mut() {
                    let wg = mat(&w[grp * cg * k..(grp + 1) * cg * k], cg, k);
                    gemm(1.0, &wg.t(), &dyg, 0.0, &mut mat_mut(&mut dcols, k, p));
                    let dxi = &mut data_mut(dx)[i * g.in_len()..(i + 1) * g.in_len()];
                    g.col2im_add(&dcols, grp, dxi);
                }
            }
        }
        grads[self.weight] = dw;
        dx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// im2col and col2im_add are adjoint for groups, dilation, uneven strides and one-sided padding.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (kernel, stride, dilation, pads, groups) in [
            ([3, 3], [1, 1], [1, 1], [1, 1, 1, 1], 1),
            ([3, 2], [2, 1], [2, 1], [0, 1, 2, 0], 2),
            ([1, 3], [1, 2], [1, 2], [1, 0, 0, 2], 4),
        ] {
            let g = GroupConvGeom::new(4, 6, 7, 8, groups, kernel, stride, dilation, pads).unwrap();
            let x: Vec<f32> = (0..g.in_len()).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
            let c: Vec<f32> = (0..g.patch_len() * g.out_positions())
                .map(|i| ((i * 5 % 13) as f32) - 6.0)
                .collect();
            for grp in 0..groups {
                let mut cols = vec![0.0; c.len()];
                g.im2col(&x, grp, &mut cols);
                let mut back = vec![0.0; x.len()];
                g.col2im_add(&c, grp, &mut back);
                let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
                let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
                assert_eq!(lhs, rhs, "kernel {kernel:?} groups {groups} group {grp}");
            }
        }
    }

    #[test]
    fn output_sizes_follow_onnx() {
        // (10 + 1 + 2 - (2*(3-1)+1)) / 2 + 1 = 5; (9 + 0 + 0 - 3) / 1 + 1 = 7.
        let g = GroupConvGeom::new(2, 10, 9, 4, 2, [3, 3], [2, 1], [2, 1], [1, 0, 2, 0]).unwrap();
        assert_eq!((g.out_h, g.out_w, g.patch_len()), (5, 7, 9));
        assert!(GroupConvGeom::new(3, 4, 4, 4, 2, [1, 1], [1, 1], [1, 1], [0; 4]).is_none());
    }
}
