//! Softmax cross-entropy: the loss, its gradient at the logits and the exact diagonal of its Hessian
//! at the logits, `p_k (1 - p_k)`.

use super::network::argmax;
use super::tensor::{Tensor, data_mut};

/// Softmax probabilities and per-batch statistics for a batch of logits.
#[derive(Debug, Clone)]
pub struct SoftmaxCrossEntropy {
    probs: Tensor,
    classes: usize,
    /// Sum over the batch of `-ln p_label`.
    pub loss_sum: f64,
    /// Samples whose arg-max logit is the label.
    pub correct: usize,
}

impl SoftmaxCrossEntropy {
    /// Evaluates softmax cross-entropy of `logits` (`[N, classes]`) against `labels`.
    ///
    /// # Panics
    /// If the batch sizes differ or a label is out of range (datasets are checked against the network
    /// before any batch is formed).
    pub fn new(logits: &Tensor, labels: &[u8]) -> Self {
        let n = labels.len();
        assert_eq!(logits.shape()[0], n, "one label per sample");
        let classes = logits.shape()[1];
        let mut probs = logits.clone();
        let mut loss_sum = 0.0f64;
        let mut correct = 0;
        for (row, &label) in data_mut(&mut probs).chunks_exact_mut(classes).zip(labels) {
            if argmax(row) == label as usize {
                correct += 1;
            }
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let label_shifted = row[label as usize] - max;
            let mut sum = 0.0f32;
            for v in row.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            loss_sum += f64::from(sum.ln() - label_shifted);
            row.iter_mut().for_each(|v| *v /= sum);
        }
        Self {
            probs,
            classes,
            loss_sum,
            correct,
        }
    }

    /// The softmax probabilities `[N, classes]`.
    pub fn probs(&self) -> &Tensor {
        &self.probs
    }

    /// `scale * dL_n/dz = scale * (p - onehot(label))` per sample.
    pub fn gradient(&self, labels: &[u8], scale: f32) -> Tensor {
        let mut g = self.probs.clone();
        for (row, &label) in data_mut(&mut g).chunks_exact_mut(self.classes).zip(labels) {
            row[label as usize] -= 1.0;
            row.iter_mut().for_each(|v| *v *= scale);
        }
        g
    }

    /// The exact diagonal second derivative at the logits, `d2L_n/dz_k^2 = p_k (1 - p_k)`, per sample.
    pub fn curvature(&self) -> Tensor {
        let mut h = self.probs.clone();
        h.mapv_inplace(|p| p * (1.0 - p));
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    #[test]
    fn softmax_loss_gradient_and_curvature_have_their_closed_forms() {
        let logits =
            Tensor::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, 2.0, 3.0, 1000.0, 0.0, -1000.0]).unwrap();
        let ce = SoftmaxCrossEntropy::new(&logits, &[2, 1]);
        let z = 1.0 + 1f32.exp() + 2f32.exp();
        let p = [1.0 / z, 1f32.exp() / z, 2f32.exp() / z];
        for (got, want) in ce.probs().iter().zip(p.iter().chain(&[1.0, 0.0, 0.0])) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // -ln p_2 for the first sample; 1000 for the second (logit 0 against 1000), with no overflow.
        assert!(
            (ce.loss_sum - (f64::from(-p[2].ln()) + 1000.0)).abs() < 1e-3,
            "{}",
            ce.loss_sum
        );
        assert_eq!(ce.correct, 1);
        let g = ce.gradient(&[2, 1], 0.5);
        let want_g = [p[0] / 2.0, p[1] / 2.0, (p[2] - 1.0) / 2.0, 0.5, -0.5, 0.0];
        for (got, want) in g.iter().zip(&want_g) {
            assert!((got - want).abs() < 1e-6);
        }
        let h = ce.curvature();
        assert!((h[[0, 1]] - p[1] * (1.0 - p[1])).abs() < 1e-6);
        assert_eq!(h[[1, 0]], 0.0);
    }
}
