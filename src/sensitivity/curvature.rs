//! The sensitivity pass: one forward and two backward passes (gradient and Gauss-Newton diagonal) over
//! a calibration set, with no weight update.
//!
//! Per programmable weight: `grad` = mean over samples of `dL_n/dw`, `hess` = mean over samples of the
//! per-sample diagonal second derivative by the rules of DESIGN.md section 7 (exact at the logits,
//! `p (1 - p)`): both normalised the same way, as the authors' `|H + 2g|` needs. Both in raw weight
//! units. Chunks of the calibration set run on rayon threads; their
//! sums are added in chunk order (in f64), so the result does not depend on the thread count.

use crate::error::InputError;
use crate::nn::loss::SoftmaxCrossEntropy;
use crate::nn::{Dataset, Network, Order, Tensor};
use rayon::prelude::*;

/// Images per chunk of the calibration set.
const CHUNK: usize = 64;

/// Gradient and second derivative of every weight of one programmable tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCurvature {
    /// The tensor's name (`conv1.weight`).
    pub name: String,
    /// The layer's name (`conv1`): the tensor name without `.weight`.
    pub layer: String,
    /// The tensor's index in the network's parameters.
    pub param: usize,
    /// The tensor's shape (PyTorch layout).
    pub shape: Vec<usize>,
    /// The weights, row-major.
    pub weight: Vec<f32>,
    /// Mean over the calibration samples of `dL/dw`.
    pub grad: Vec<f32>,
    /// Mean over the calibration samples of the diagonal second derivative `d2L/dw2`.
    pub hess: Vec<f32>,
}

impl LayerCurvature {
    /// Number of weights.
    pub fn len(&self) -> usize {
        self.weight.len()
    }

    /// Whether the tensor is empty.
    pub fn is_empty(&self) -> bool {
        self.weight.is_empty()
    }

    /// The largest weight magnitude, the layer's normalisation scale (1 for an all-zero layer).
    pub fn scale(&self) -> f32 {
        let m = self.weight.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        if m > 0.0 { m } else { 1.0 }
    }
}

/// The result of a sensitivity pass: one entry per programmable tensor, in network order.
#[derive(Debug, Clone, PartialEq)]
pub struct Curvature {
    /// Per programmable tensor.
    pub layers: Vec<LayerCurvature>,
    /// Calibration samples used.
    pub samples: usize,
}

impl Curvature {
    /// Total number of programmable weights.
    pub fn num_weights(&self) -> usize {
        self.layers.iter().map(LayerCurvature::len).sum()
    }
}

/// Sums over one chunk: gradient and second derivative for every parameter.
fn chunk_sums(net: &Network, calib: &Dataset, start: usize, end: usize) -> (Vec<Tensor>, Vec<Tensor>) {
    let (x, labels) = calib.range(start, end);
    let (logits, tape) = net.forward_train(x);
    let ce = SoftmaxCrossEntropy::new(&logits, labels);
    let mut grads = net.zeros_like_params();
    let mut hess = net.zeros_like_params();
    net.backward(&tape, ce.gradient(labels, 1.0), Order::First, &mut grads);
    net.backward(&tape, ce.curvature(), Order::Second, &mut hess);
    (grads, hess)
}

/// Runs the sensitivity pass of `net` over `calib`; `progress(done, total)` is called as images finish.
pub fn analyze(
    net: &Network,
    calib: &Dataset,
    mut progress: impl FnMut(usize, usize),
) -> Result<Curvature, InputError> {
    net.check_dataset(calib)?;
    let n = calib.len();
    if n == 0 {
        return Err(InputError::new(
            calib.name(),
            "images",
            "the calibration set is empty",
        ));
    }
    let programmable = net.programmable();
    let mut grad_sum: Vec<Vec<f64>> = programmable
        .iter()
        .map(|&i| vec![0.0; net.param(i).len()])
        .collect();
    let mut hess_sum = grad_sum.clone();
    let chunks = n.div_ceil(CHUNK);
    // Chunks run in groups, so that only a group's worth of per-chunk sums is held at once; the
    // grouping does not change the order of the additions.
    let group = 2 * rayon::current_num_threads().max(1);
    for first in (0..chunks).step_by(group) {
        let last = (first + group).min(chunks);
        let sums: Vec<(Vec<Tensor>, Vec<Tensor>)> = (first..last)
            .into_par_iter()
            .map(|c| chunk_sums(net, calib, c * CHUNK, ((c + 1) * CHUNK).min(n)))
            .collect();
        for (grads, hess) in &sums {
            for (k, &i) in programmable.iter().enumerate() {
                add_f64(&mut grad_sum[k], &grads[i]);
                add_f64(&mut hess_sum[k], &hess[i]);
            }
        }
        progress((last * CHUNK).min(n), n);
    }
    let layers = programmable
        .iter()
        .zip(grad_sum.into_iter().zip(hess_sum))
        .map(|(&i, (g, h))| {
            let p = net.param(i);
            LayerCurvature {
                name: p.name.clone(),
                layer: p.name.strip_suffix(".weight").unwrap_or(&p.name).to_string(),
                param: i,
                shape: p.shape().to_vec(),
                weight: p.value.iter().copied().collect(),
                grad: g.iter().map(|v| (v / n as f64) as f32).collect(),
                hess: h.iter().map(|v| (v / n as f64) as f32).collect(),
            }
        })
        .collect();
    Ok(Curvature { layers, samples: n })
}

/// `acc += t`, element-wise, in f64.
fn add_f64(acc: &mut [f64], t: &Tensor) {
    for (a, v) in acc.iter_mut().zip(t.iter()) {
        *a += f64::from(*v);
    }
}
