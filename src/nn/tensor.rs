//! Tensors and the small helpers the layers share: per-sample shapes, contiguous views, matrix products.
//!
//! Activations are `ndarray` arrays in standard (row-major, C) layout with the batch as the first axis:
//! `[N, C, H, W]` for images and `[N, F]` for flat features, as in PyTorch. Layers work on the raw
//! contiguous data; the backward passes hand matrix products to ndarray's `general_mat_mul` (the
//! `matrixmultiply` GEMM), the forward passes use the fused kernels of `super::kernels`.

use ndarray::{ArrayD, ArrayView2, ArrayViewMut2, IxDyn, linalg::general_mat_mul};
use std::fmt;

/// A batch of activations (or a parameter): an n-dimensional `f32` array in standard layout.
pub type Tensor = ArrayD<f32>;

/// The shape of one sample flowing between layers (the batch axis excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleShape {
    /// An image: channels x height x width.
    Image {
        /// Channels.
        channels: usize,
        /// Rows.
        height: usize,
        /// Columns.
        width: usize,
    },
    /// A flat feature vector.
    Flat(usize),
}

impl SampleShape {
    /// An image shape.
    pub fn image(channels: usize, height: usize, width: usize) -> Self {
        Self::Image {
            channels,
            height,
            width,
        }
    }

    /// Numbers per sample.
    pub fn len(&self) -> usize {
        match *self {
            Self::Image {
                channels,
                height,
                width,
            } => channels * height * width,
            Self::Flat(n) => n,
        }
    }

    /// Whether a sample holds no numbers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The array shape of a batch of `n` samples.
    pub fn batch_dims(&self, n: usize) -> Vec<usize> {
        match *self {
            Self::Image {
                channels,
                height,
                width,
            } => vec![n, channels, height, width],
            Self::Flat(f) => vec![n, f],
        }
    }

    /// A zero batch of `n` samples.
    pub fn zeros(&self, n: usize) -> Tensor {
        Tensor::zeros(IxDyn(&self.batch_dims(n)))
    }
}

impl fmt::Display for SampleShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Image {
                channels,
                height,
                width,
            } => write!(f, "{channels}x{height}x{width}"),
            Self::Flat(n) => write!(f, "{n}"),
        }
    }
}

/// The contiguous data of a tensor.
///
/// # Panics
/// If the tensor is not in standard layout; every tensor the engine creates is.
pub(crate) fn data(t: &Tensor) -> &[f32] {
    t.as_slice().expect("engine tensors are in standard layout")
}

/// The contiguous data of a tensor, mutable.
///
/// # Panics
/// If the tensor is not in standard layout; every tensor the engine creates is.
pub(crate) fn data_mut(t: &mut Tensor) -> &mut [f32] {
    t.as_slice_mut().expect("engine tensors are in standard layout")
}

/// `s` seen as a `rows x cols` row-major matrix.
pub(crate) fn mat(s: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), s).expect("matrix view matches its slice")
}

/// `s` seen as a mutable `rows x cols` row-major matrix.
pub(crate) fn mat_mut(s: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols), s).expect("matrix view matches its slice")
}

/// `c = alpha * a . b + beta * c` through the `matrixmultiply` GEMM.
pub(crate) fn gemm(
    alpha: f32,
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut ArrayViewMut2<'_, f32>,
) {
    general_mat_mul(alpha, a, b, beta, c);
}

/// A copy of `x` with every element squared (the second-order backward works on squares).
pub(crate) fn squared(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| v * v).collect()
}

/// Adds `src` element-wise into `dst`.
pub(crate) fn add_into(dst: &mut [f32], src: &[f32]) {
    debug_assert_eq!(dst.len(), src.len());
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}
