//! 2-d convolution (stride, zero padding) by im2col and one matrix product per image; weight
//! `[out, in, kh, kw]`.
//!
//! im2col lays an image out as a `[in*kh*kw, ho*wo]` matrix whose row order (channel, kernel row, kernel
//! column) matches the PyTorch weight flattened to `[out, in*kh*kw]`, so the product `W . cols` is the
//! output image `[out, ho*wo]` directly in NCHW order.

use super::{Order, Pool2d, PoolKind, powered};
use crate::nn::kernels::{Product, conv_gemm};
use crate::nn::param::Param;
use crate::nn::tensor::{SampleShape, Tensor, data, data_mut, gemm, mat, mat_mut};
use ndarray::IxDyn;

/// The geometry of a convolution: input and output sizes, kernel, stride and padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Input channels.
    pub in_channels: usize,
    /// Input rows.
    pub height: usize,
    /// Input columns.
    pub width: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel rows.
    pub kernel_h: usize,
    /// Kernel columns.
    pub kernel_w: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding (both directions, both sides).
    pub padding: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
}

impl ConvGeom {
    /// The geometry for an input of `in_channels x height x width`, or `None` if the kernel does not fit
    /// or the stride is zero.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        height: usize,
        width: usize,
        out_channels: usize,
        kernel: (usize, usize),
        stride: usize,
        padding: usize,
    ) -> Option<Self> {
        let (kernel_h, kernel_w) = kernel;
        if stride == 0 || kernel_h == 0 || kernel_w == 0 {
            return None;
        }
        let out_h = (height + 2 * padding).checked_sub(kernel_h)? / stride + 1;
        let out_w = (width + 2 * padding).checked_sub(kernel_w)? / stride + 1;
        Some(Self {
            in_channels,
            height,
            width,
            out_channels,
            kernel_h,
            kernel_w,
            stride,
            padding,
            out_h,
            out_w,
        })
    }

    /// Rows of the im2col matrix: `in * kh * kw` (the fan-in of one output).
    pub fn patch_len(&self) -> usize {
        self.in_channels * self.kernel_h * self.kernel_w
    }

    /// Output positions per channel: `ho * wo`.
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

    /// The output shape of one sample.
    pub fn output_shape(&self) -> SampleShape {
        SampleShape::image(self.out_channels, self.out_h, self.out_w)
    }

    /// Whether im2col is the identity (1x1 kernel, stride 1, no padding).
    fn is_pointwise(&self) -> bool {
        self.kernel_h == 1 && self.kernel_w == 1 && self.stride == 1 && self.padding == 0
    }

    /// The input column feeding output column `ow` through kernel column `kj`, if inside the image.
    fn in_col(&self, ow: usize, kj: usize) -> Option<usize> {
        (ow * self.stride + kj)
            .checked_sub(self.padding)
            .filter(|&iw| iw < self.width)
    }

    /// The range of output columns whose input column (for kernel column `kj`) is inside the image, for
    /// stride 1: `iw = ow + kj - padding`.
    fn valid_cols_stride1(&self, kj: usize) -> (usize, usize) {
        let lo = self.padding.saturating_sub(kj).min(self.out_w);
        let hi = (self.width + self.padding)
            .saturating_sub(kj)
            .min(self.out_w)
            .max(lo);
        (lo, hi)
    }

    /// Fills `cols` (`[in*kh*kw, ho*wo]`) from one image `x` (`[in, h, w]`).
    pub fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let (hw_in, hw_out, wo) = (self.height * self.width, self.out_positions(), self.out_w);
        let mut rows = cols.chunks_exact_mut(hw_out);
        for c in 0..self.in_channels {
            let plane = &x[c * hw_in..(c + 1) * hw_in];
            for ki in 0..self.kernel_h {
                for kj in 0..self.kernel_w {
                    let row = rows.next().expect("cols has in*kh*kw rows");
                    if self.stride == 1 && wo == self.width {
                        self.im2col_row_same_width(plane, row, ki, kj);
                        continue;
                    }
                    for (oh, dst) in row.chunks_exact_mut(wo).enumerate() {
                        let Some(ih) = (oh * self.stride + ki)
                            .checked_sub(self.padding)
                            .filter(|&i| i < self.height)
                        else {
                            dst.fill(0.0);
                            continue;
                        };
                        let src = &plane[ih * self.width..(ih + 1) * self.width];
                        if self.stride == 1 {
                            let (lo, hi) = self.valid_cols_stride1(kj);
                            dst[..lo].fill(0.0);
                            dst[hi..].fill(0.0);
                            dst[lo..hi].copy_from_slice(&src[lo + kj - self.padding..hi + kj - self.padding]);
                        } else {
                            for (ow, d) in dst.iter_mut().enumerate() {
                                *d = self.in_col(ow, kj).map_or(0.0, |iw| src[iw]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// One im2col row for stride 1 and output width = input width ("same" padding, the usual 3x3 pad 1):
    /// the valid output rows read one contiguous stretch of the input plane shifted by `kj - padding`,
    /// so a single copy replaces one short copy per image row; the columns that wrapped around from
    /// the neighbouring image row (or were not written) are then zeroed.
    fn im2col_row_same_width(&self, plane: &[f32], row: &mut [f32], ki: usize, kj: usize) {
        let (w, pad) = (self.width, self.padding);
        let oh_lo = pad.saturating_sub(ki).min(self.out_h);
        let oh_hi = (self.height + pad).saturating_sub(ki).min(self.out_h).max(oh_lo);
        row[..oh_lo * w].fill(0.0);
        row[oh_hi * w..].fill(0.0);
        let block = &mut row[oh_lo * w..oh_hi * w];
        if block.is_empty() {
            return;
        }
        let base = (oh_lo + ki - pad) * w;
        let n = block.len();
        if kj >= pad {
            let s = kj - pad;
            block[..n - s].copy_from_slice(&plane[base + s..base + n]);
            zero_columns(block, w, w - s..w);
        } else {
            let s = pad - kj;
            block[s..].copy_from_slice(&plane[base..base + n - s]);
            zero_columns(block, w, 0..s);
        }
    }

    /// Adds `cols` (`[in*kh*kw, ho*wo]`) back into one image `dx` (`[in, h, w]`): the adjoint of im2col.
    pub fn col2im_add(&self, cols: &[f32], dx: &mut [f32]) {
        let (hw_in, hw_out, wo) = (self.height * self.width, self.out_positions(), self.out_w);
        let mut rows = cols.chunks_exact(hw_out);
        for c in 0..self.in_channels {
            let plane = &mut dx[c * hw_in..(c + 1) * hw_in];
            for ki in 0..self.kernel_h {
                for kj in 0..self.kernel_w {
                    let row = rows.next().expect("cols has in*kh*kw rows");
                    for (oh, src) in row.chunks_exact(wo).enumerate() {
                        let Some(ih) = (oh * self.stride + ki)
                            .checked_sub(self.padding)
                            .filter(|&i| i < self.height)
                        else {
                            continue;
                        };
                        let dst = &mut plane[ih * self.width..(ih + 1) * self.width];
                        if self.stride == 1 {
                            let (lo, hi) = self.valid_cols_stride1(kj);
                            let d = &mut dst[lo + kj - self.padding..hi + kj - self.padding];
                            for (a, b) in d.iter_mut().zip(&src[lo..hi]) {
                                *a += b;
                            }
                        } else {
                            for (ow, s) in src.iter().enumerate() {
                                if let Some(iw) = self.in_col(ow, kj) {
                                    dst[iw] += s;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Zeroes columns `cols` of every row of `block` (rows of `w`), a column at a time: the columns are
/// few (the padding), and a strided loop is not turned into one tiny `memset` call per row.
fn zero_columns(block: &mut [f32], w: usize, cols: std::ops::Range<usize>) {
    for c in cols {
        for v in block.iter_mut().skip(c).step_by(w) {
            *v = 0.0;
        }
    }
}

/// A 2-d convolution layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    /// Index of the `[out, in, kh, kw]` weight in the network's parameters.
    pub weight: usize,
    /// Index of the `[out]` bias, if any.
    pub bias: Option<usize>,
    /// Sizes, kernel, stride and padding.
    pub geom: ConvGeom,
}

impl Conv2d {
    /// `x [N, in, h, w] -> y [N, out, ho, wo]`, followed by a ReLU if `relu` (fused while the image is
    /// in cache).
    pub(super) fn forward(&self, params: &[Param], x: &Tensor, relu: bool) -> Tensor {
        let g = &self.geom;
        let n = x.shape()[0];
        let mut cols = self.cols_buffer();
        let mut y = vec![0.0; n * g.out_len()];
        for (xi, yi) in data(x)
            .chunks_exact(g.in_len())
            .zip(y.chunks_exact_mut(g.out_len()))
        {
            self.forward_image(params, xi, &mut cols, relu, yi);
        }
        Tensor::from_shape_vec(IxDyn(&g.output_shape().batch_dims(n)), y).expect("one output image per input")
    }

    /// The convolution, a ReLU if `relu`, then the max-pooling `pool`, image by image: each image's
    /// convolution output is pooled while it is in cache (inference). The same values as the three
    /// layers one after the other.
    pub(super) fn forward_max_pooled(
        &self,
        params: &[Param],
        x: &Tensor,
        relu: bool,
        pool: &Pool2d,
    ) -> Tensor {
        let g = &self.geom;
        debug_assert_eq!(pool.kind, PoolKind::Max);
        debug_assert_eq!(pool.channels * pool.height * pool.width, g.out_len());
        let n = x.shape()[0];
        let mut cols = self.cols_buffer();
        let mut conv = vec![0.0; g.out_len()];
        let windows = pool.col_windows();
        let pooled_len = pool.output_shape().len();
        let mut y = vec![0.0; n * pooled_len];
        for (xi, yi) in data(x)
            .chunks_exact(g.in_len())
            .zip(y.chunks_exact_mut(pooled_len))
        {
            self.forward_image(params, xi, &mut cols, relu, &mut conv);
            pool.max_sample(&conv, yi, &windows);
        }
        Tensor::from_shape_vec(IxDyn(&pool.output_shape().batch_dims(n)), y)
            .expect("one output image per input")
    }

    /// The im2col scratch of one image (none for a pointwise convolution).
    fn cols_buffer(&self) -> Vec<f32> {
        let g = &self.geom;
        if g.is_pointwise() {
            Vec::new()
        } else {
            vec![0.0; g.patch_len() * g.out_positions()]
        }
    }

    /// One image `xi` `[in, h, w]` into `yi` `[out, ho, wo]`, by im2col into `cols` and one product.
    fn forward_image(&self, params: &[Param], xi: &[f32], cols: &mut [f32], relu: bool, yi: &mut [f32]) {
        let g = &self.geom;
        let w = data(&params[self.weight].value);
        let bias = self.bias.map(|b| data(&params[b].value));
        let cols_i: &[f32] = if g.is_pointwise() {
            xi
        } else {
            g.im2col(xi, cols);
            cols
        };
        let product = Product {
            rows: g.out_channels,
            terms: g.patch_len(),
            cols: g.out_positions(),
            a: w,
            b: cols_i,
            bias,
            relu,
        };
        conv_gemm(&product, yi);
    }

    /// Backward of `order`, one image at a time: `dW += dy_i cols_i^T`, `db += sum dy_i`,
    /// `dx_i = col2im(W^T dy_i)`; the second order uses `cols_i^2` and `W^2`.
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
        let (k, p, co) = (g.patch_len(), g.out_positions(), g.out_channels);
        let w = powered(data(&params[self.weight].value), order);
        let w = mat(&w, co, k);
        let mut dx = need_dx.then(|| Tensor::zeros(x.raw_dim()));
        let mut cols = vec![0.0; k * p];
        let mut dcols = if need_dx { vec![0.0; k * p] } else { Vec::new() };
        let mut dw = std::mem::take(&mut grads[self.weight]);
        {
            let mut dwv = mat_mut(data_mut(&mut dw), co, k);
            for (i, (xi, dyi)) in data(x)
                .chunks_exact(g.in_len())
                .zip(data(dy).chunks_exact(g.out_len()))
                .enumerate()
            {
                if g.is_pointwise() {
                    cols.copy_from_slice(xi);
                } else {
                    g.im2col(xi, &mut cols);
                }
                if order == Order::Second {
                    cols.iter_mut().for_each(|v| *v *= *v);
                }
                let dyv = mat(dyi, co, p);
                gemm(1.0, &dyv, &mat(&cols, k, p).t(), 1.0, &mut dwv);
                if let Some(b) = self.bias {
                    for (gb, row) in data_mut(&mut grads[b]).iter_mut().zip(dyi.chunks_exact(p)) {
                        *gb += row.iter().sum::<f32>();
                    }
                }
                if let Some(dx) = dx.as_mut() {
                    let dxi = &mut data_mut(dx)[i * g.in_len()..(i + 1) * g.in_len()];
                    if g.is_pointwise() {
                        gemm(1.0, &w.t(), &dyv, 1.0, &mut mat_mut(dxi, k, p));
                    } else {
                        gemm(1.0, &w.t(), &dyv, 0.0, &mut mat_mut(&mut dcols, k, p));
                        g.col2im_add(&dcols, dxi);
                    }
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

    /// im2col and col2im_add are adjoint: <im2col(x), c> = <x, col2im(c)> for any x and c, which is
    /// what makes the convolution's input gradient right.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (h, w, k, stride, pad) in [
            (5, 5, 3, 1, 1),
            (6, 5, 3, 2, 1),
            (7, 7, 3, 2, 0),
            (4, 4, 1, 2, 0),
            (5, 4, 2, 1, 1),
        ] {
            let g = ConvGeom::new(2, h, w, 3, (k, k), stride, pad).unwrap();
            let x: Vec<f32> = (0..g.in_len()).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
            let c: Vec<f32> = (0..g.patch_len() * g.out_positions())
                .map(|i| ((i * 5 % 13) as f32) - 6.0)
                .collect();
            let mut cols = vec![0.0; c.len()];
            g.im2col(&x, &mut cols);
            let mut back = vec![0.0; x.len()];
            g.col2im_add(&c, &mut back);
            let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs, "{h}x{w} kernel {k} stride {stride} pad {pad}");
        }
    }

    /// im2col against its definition, `cols[(c, ki, kj), (oh, ow)] = x[c, oh*s + ki - p, ow*s + kj - p]`
    /// (zero outside), for geometries that take the same-width fast path and ones that do not.
    #[test]
    fn im2col_follows_its_definition() {
        for (h, w, k, stride, pad) in [
            (5, 5, 3, 1, 1),
            (4, 6, 5, 1, 2),
            (3, 3, 3, 1, 1),
            (6, 5, 3, 2, 1),
            (5, 4, 2, 1, 1),
            (4, 4, 3, 1, 0),
        ] {
            let g = ConvGeom::new(2, h, w, 1, (k, k), stride, pad).unwrap();
            let x: Vec<f32> = (0..g.in_len()).map(|i| i as f32 + 1.0).collect();
            let mut cols = vec![f32::NAN; g.patch_len() * g.out_positions()];
            g.im2col(&x, &mut cols);
            for c in 0..2 {
                for ki in 0..k {
                    for kj in 0..k {
                        for oh in 0..g.out_h {
                            for ow in 0..g.out_w {
                                let (ih, iw) = (
                                    (oh * stride + ki) as isize - pad as isize,
                                    (ow * stride + kj) as isize - pad as isize,
                                );
                                let want = if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                                    0.0
                                } else {
                                    x[(c * h + ih as usize) * w + iw as usize]
                                };
                                let got =
                                    cols[((c * k + ki) * k + kj) * g.out_positions() + oh * g.out_w + ow];
                                assert_eq!(
                                    got, want,
                                    "{h}x{w} k{k} s{stride} p{pad} at c{c} ki{ki} kj{kj} oh{oh} ow{ow}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn output_sizes_follow_pytorch() {
        let g = ConvGeom::new(3, 32, 32, 64, (3, 3), 2, 1).unwrap();
        assert_eq!((g.out_h, g.out_w, g.patch_len()), (16, 16, 27));
        let g = ConvGeom::new(1, 28, 28, 6, (3, 3), 1, 1).unwrap();
        assert_eq!((g.out_h, g.out_w), (28, 28));
        assert!(ConvGeom::new(1, 2, 2, 1, (5, 5), 1, 0).is_none());
        assert!(ConvGeom::new(1, 2, 2, 1, (1, 1), 0, 0).is_none());
    }
}
