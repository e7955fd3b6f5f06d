//! Residual block `relu(main(x) + shortcut(x))`, the ResNet basic block; an empty shortcut is the
//! identity. At the fork the (second) derivatives of the two branches add (OBD drops the cross term).

use super::{Cache, Layer, Order, activation, backward_all, forward_all, forward_train_all};
use crate::nn::param::Param;
use crate::nn::tensor::{SampleShape, Tensor, add_into, data, data_mut};

/// A residual block.
#[derive(Debug, Clone, PartialEq)]
pub struct Residual {
    /// The main branch (conv, batch-norm, ReLU, conv, batch-norm).
    pub main: Vec<Layer>,
    /// The shortcut branch; empty for the identity.
    pub shortcut: Vec<Layer>,
    /// The output shape of one sample (both branches produce it).
    pub output: SampleShape,
}

/// What a residual block's forward pass keeps.
#[derive(Debug, Clone)]
pub(crate) struct ResidualCache {
    main: Vec<Cache>,
    shortcut: Vec<Cache>,
    sum: Tensor,
}

impl Residual {
    /// `main(x) + shortcut(x)`, before the final ReLU.
    fn sum(&self, params: &[Param], x: Tensor) -> Tensor {
        let s = if self.shortcut.is_empty() {
            x.clone()
        } else {
            forward_all(&self.shortcut, params, x.clone())
        };
        let mut a = forward_all(&self.main, params, x);
        add_into(data_mut(&mut a), data(&s));
        a
    }

    /// Inference forward.
    pub(super) fn forward(&self, params: &[Param], x: Tensor) -> Tensor {
        activation::relu_inplace(self.sum(params, x))
    }

    /// Training forward.
    pub(super) fn forward_train(&self, params: &[Param], x: Tensor) -> (Tensor, ResidualCache) {
        let (s, shortcut) = if self.shortcut.is_empty() {
            (x.clone(), Vec::new())
        } else {
            forward_train_all(&self.shortcut, params, x.clone())
        };
        let (mut sum, main) = forward_train_all(&self.main, params, x);
        add_into(data_mut(&mut sum), data(&s));
        let y = activation::relu(&sum);
        (y, ResidualCache { main, shortcut, sum })
    }

    /// Backward of `order` through the ReLU, both branches, and the fork.
    pub(super) fn backward(
        &self,
        params: &[Param],
        cache: &ResidualCache,
        dy: Tensor,
        order: Order,
        grads: &mut [Tensor],
    ) -> Tensor {
        let dz = activation::relu_backward(&cache.sum, dy);
        let ds = if self.shortcut.is_empty() {
            dz.clone()
        } else {
            backward_all(
                &self.shortcut,
                params,
                &cache.shortcut,
                dz.clone(),
                order,
                grads,
                true,
            )
            .expect("need_dx was asked")
        };
        let mut dx =
            backward_all(&self.main, params, &cache.main, dz, order, grads, true).expect("need_dx was asked");
        add_into(data_mut(&mut dx), data(&ds));
        dx
    }
}
