//! Max and average pooling (kernel, stride, padding; padding never wins a max and is not averaged over
//! because the zoo uses average pooling without padding only).

use super::Order;
use crate::nn::tensor::{SampleShape, Tensor, data, data_mut};
use ndarray::IxDyn;

/// Numbers in a pooled batch of `n`.
fn y_len(n: usize, p: &Pool2d) -> usize {
    n * p.channels * p.out_h * p.out_w
}

/// Which pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// Maximum over the window (the first maximum on ties, as PyTorch).
    Max,
    /// Mean over the window.
    Avg,
}

/// A 2-d pooling layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool2d {
    /// Max or average.
    pub kind: PoolKind,
    /// Square window side.
    pub kernel: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Padding (both directions; max pooling only).
    pub padding: usize,
    /// Channels.
    pub channels: usize,
    /// Input rows.
    pub height: usize,
    /// Input columns.
    pub width: usize,
    /// Output rows.
    pub out_h: usize,
    /// Output columns.
    pub out_w: usize,
}

impl Pool2d {
    /// A pooling layer for `channels x height x width` inputs, or `None` if the window does not fit, the
    /// stride is zero or an average pool asks for padding.
    pub fn new(
        kind: PoolKind,
        kernel: usize,
        stride: usize,
        padding: usize,
        input: SampleShape,
    ) -> Option<Self> {
        let SampleShape::Image {
            channels,
            height,
            width,
        } = input
        else {
            return None;
        };
        if kernel == 0 || stride == 0 || (kind == PoolKind::Avg && padding > 0) || 2 * padding > kernel {
            return None;
        }
        let out_h = (height + 2 * padding).checked_sub(kernel)? / stride + 1;
        let out_w = (width + 2 * padding).checked_sub(kernel)? / stride + 1;
        Some(Self {
            kind,
            kernel,
            stride,
            padding,
            channels,
            height,
            width,
            out_h,
            out_w,
        })
    }

    /// The output shape of one sample.
    pub fn output_shape(&self) -> SampleShape {
        SampleShape::image(self.channels, self.out_h, self.out_w)
    }

    /// The input index range `[lo, hi)` along one axis of size `len` for output position `o`.
    fn window(&self, o: usize, len: usize) -> (usize, usize) {
        let start = o * self.stride;
        let lo = start.saturating_sub(self.padding);
        let hi = (start + self.kernel).saturating_sub(self.padding).min(len);
        (lo, hi)
    }

    /// Per output column, the input column range `[lo, hi)` of its window.
    pub(super) fn col_windows(&self) -> Vec<(usize, usize)> {
        (0..self.out_w).map(|ow| self.window(ow, self.width)).collect()
    }

    /// Forward; for max pooling, `argmax` (if given) receives per output the index of the chosen input
    /// within its sample (`c*h*w + ih*w + iw`).
    pub(super) fn forward(&self, x: &Tensor, argmax: Option<&mut Vec<u32>>) -> Tensor {
        let n = x.shape()[0];
        let mut y = Tensor::zeros(IxDyn(&[n, self.channels, self.out_h, self.out_w]));
        let cols = self.col_windows();
        let planes = data(x).chunks_exact(self.height * self.width);
        let out_planes = data_mut(&mut y).chunks_exact_mut(self.out_h * self.out_w);
        match (self.kind, argmax) {
            (PoolKind::Max, None) => {
                for (xc, yc) in planes.zip(out_planes) {
                    self.max_plane(xc, yc, &cols);
                }
            }
            (PoolKind::Max, Some(arg)) => {
                arg.clear();
                arg.resize(y_len(n, self), 0);
                let plane_len = self.height * self.width;
                for (p, ((xc, yc), ac)) in planes
                    .zip(out_planes)
                    .zip(arg.chunks_exact_mut(self.out_h * self.out_w))
                    .enumerate()
                {
                    let base = (p % self.channels) * plane_len;
                    self.argmax_plane(xc, yc, ac, &cols, base);
                }
            }
            (PoolKind::Avg, _) => {
                let inv_area = 1.0 / (self.kernel * self.kernel) as f32;
                for (xc, yc) in planes.zip(out_planes) {
                    for (oh, yrow) in yc.chunks_exact_mut(self.out_w).enumerate() {
                        let (h0, h1) = self.window(oh, self.height);
                        for ih in h0..h1 {
                            let row = &xc[ih * self.width..(ih + 1) * self.width];
                            for (o, &(w0, w1)) in yrow.iter_mut().zip(&cols) {
                                *o += row[w0..w1].iter().sum::<f32>();
                            }
                        }
                        yrow.iter_mut().for_each(|o| *o *= inv_area);
                    }
                }
            }
        }
        y
    }

    /// Max pooling of one sample, `x` `[channels, h, w]` into `y` `[channels, out_h, out_w]`
    /// (inference), with `cols` from [`Pool2d::col_windows`].
    pub(super) fn max_sample(&self, x: &[f32], y: &mut [f32], cols: &[(usize, usize)]) {
        let planes = x.chunks_exact(self.height * self.width);
        for (xc, yc) in planes.zip(y.chunks_exact_mut(self.out_h * self.out_w)) {
            self.max_plane(xc, yc, cols);
        }
    }

    /// Max over the windows of one channel plane (inference: no arg-max).
    fn max_plane(&self, xc: &[f32], yc: &mut [f32], cols: &[(usize, usize)]) {
        let w = self.width;
        for (oh, yrow) in yc.chunks_exact_mut(self.out_w).enumerate() {
            let (h0, h1) = self.window(oh, self.height);
            if self.kernel == 2 && self.stride == 2 && self.padding == 0 {
                // The common 2x2/2 case, without window bookkeeping.
                let (r0, r1) = (&xc[h0 * w..(h0 + 1) * w], &xc[(h0 + 1) * w..(h0 + 2) * w]);
                let max = |a: f32, b: f32| if b > a { b } else { a };
                for ((o, a), b) in yrow.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                    *o = max(max(a[0], a[1]), max(b[0], b[1]));
                }
                continue;
            }
            yrow.fill(f32::NEG_INFINITY);
            for ih in h0..h1 {
                let row = &xc[ih * w..(ih + 1) * w];
                for (o, &(w0, w1)) in yrow.iter_mut().zip(cols) {
                    *o = row[w0..w1].iter().fold(*o, |m, &v| m.max(v));
                }
            }
        }
    }

    /// Max over the windows of one channel plane, recording the first arg-max (index `base + ih*w+iw`).
    fn argmax_plane(&self, xc: &[f32], yc: &mut [f32], ac: &mut [u32], cols: &[(usize, usize)], base: usize) {
        let w = self.width;
        for (oh, (yrow, arow)) in yc
            .chunks_exact_mut(self.out_w)
            .zip(ac.chunks_exact_mut(self.out_w))
            .enumerate()
        {
            let (h0, h1) = self.window(oh, self.height);
            if self.kernel == 2 && self.stride == 2 && self.padding == 0 {
                // The common 2x2/2 case with selects instead of unpredictable branches.
                let (r0, r1) = (&xc[h0 * w..(h0 + 1) * w], &xc[(h0 + 1) * w..(h0 + 2) * w]);
                let i0 = (base + h0 * w) as u32;
                let i1 = i0 + w as u32;
                for (ow, ((o, a), (p, q))) in yrow
                    .iter_mut()
                    .zip(arow.iter_mut())
                    .zip(r0.chunks_exact(2).zip(r1.chunks_exact(2)))
                    .enumerate()
                {
                    let c = 2 * ow as u32;
                    let (mut best, mut at) = (p[0], i0 + c);
                    (best, at) = if p[1] > best {
                        (p[1], i0 + c + 1)
                    } else {
                        (best, at)
                    };
                    (best, at) = if q[0] > best { (q[0], i1 + c) } else { (best, at) };
                    (best, at) = if q[1] > best {
                        (q[1], i1 + c + 1)
                    } else {
                        (best, at)
                    };
                    *o = best;
                    *a = at;
                }
                continue;
            }
            yrow.fill(f32::NEG_INFINITY);
            for (a, &(w0, _)) in arow.iter_mut().zip(cols) {
                *a = (base + h0 * w + w0) as u32;
            }
            for ih in h0..h1 {
                let row = &xc[ih * w..(ih + 1) * w];
                for ((o, a), &(w0, w1)) in yrow.iter_mut().zip(arow.iter_mut()).zip(cols) {
                    for (iw, &v) in row[w0..w1].iter().enumerate() {
                        if v > *o {
                            *o = v;
                            *a = (base + ih * w + w0 + iw) as u32;
                        }
                    }
                }
            }
        }
    }

    /// Max-pool backward (both orders): each output's (second) derivative goes to its arg-max.
    pub(super) fn backward_max(&self, in_shape: &[usize], argmax: &[u32], dy: &Tensor) -> Tensor {
        let mut dx = Tensor::zeros(IxDyn(in_shape));
        let per_in = self.channels * self.height * self.width;
        let per_out = self.channels * self.out_h * self.out_w;
        for ((dxi, dyi), ai) in data_mut(&mut dx)
            .chunks_exact_mut(per_in)
            .zip(data(dy).chunks_exact(per_out))
            .zip(argmax.chunks_exact(per_out))
        {
            for (&d, &a) in dyi.iter().zip(ai) {
                dxi[a as usize] += d;
            }
        }
        dx
    }

    /// Average-pool backward: each input in a window receives `c * dy` (first order) or `c^2 * d2y`
    /// (second order) with `c = 1/kernel^2`.
    pub(super) fn backward_avg(&self, in_shape: &[usize], dy: &Tensor, order: Order) -> Tensor {
        let mut dx = Tensor::zeros(IxDyn(in_shape));
        let (h, w, plane) = (self.height, self.width, self.height * self.width);
        let coef = 1.0 / (self.kernel * self.kernel) as f32;
        let coef = match order {
            Order::First => coef,
            Order::Second => coef * coef,
        };
        let mut grads = data(dy).iter();
        for dxi in data_mut(&mut dx).chunks_exact_mut(self.channels * plane) {
            for c in 0..self.channels {
                let dc = &mut dxi[c * plane..(c + 1) * plane];
                for oh in 0..self.out_h {
                    let (h0, h1) = self.window(oh, h);
                    for ow in 0..self.out_w {
                        let (w0, w1) = self.window(ow, w);
                        let d = grads.next().expect("dy matches the output") * coef;
                        for ih in h0..h1 {
                            dc[ih * w + w0..ih * w + w1].iter_mut().for_each(|v| *v += d);
                        }
                    }
                }
            }
        }
        dx
    }
}
