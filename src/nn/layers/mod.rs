//! Layers: forward, backward (gradients) and the second-order backward of DESIGN.md section 7.
//!
//! Every layer works on a whole batch; parallelism is the network's job (over batch chunks), so a layer
//! call is single-threaded. Layers hold indices into the network's parameter list, never the values.
//!
//! The second-order backward ([`Order::Second`]) propagates the diagonal of the Gauss-Newton Hessian,
//! as in Optimal Brain Damage: a linear map `y = W x` passes `d2L/dx^2 = sum W^2 d2L/dy^2` and
//! collects `H_W = sum d2L/dy^2 x^2`, so it is the ordinary backward with the weights and the inputs
//! squared; ReLU multiplies by its 0/1 mask, max-pooling routes to the arg-max, average pooling scales
//! by the square of its coefficient and batch-norm (eval) by the square of its scale. Cross terms
//! (off-diagonal entries) are dropped, as everywhere in OBD.

mod activation;
mod batchnorm;
mod conv;
mod graph;
mod group_conv;
mod linear;
mod pool;
mod residual;

pub use activation::Activation;
pub use batchnorm::{BATCH_NORM_EPS, BatchNorm2d};
pub use conv::{Conv2d, ConvGeom};
pub use graph::{Graph, Node, Op};
pub use group_conv::{GroupConv, GroupConvGeom};
pub use linear::Linear;
pub use pool::{Pool2d, PoolKind};
pub use residual::Residual;

use super::param::Param;
use super::tensor::{Tensor, squared};
use std::borrow::Cow;

/// Which backward pass to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Gradients: `dL/dx` and `dL/dw`.
    First,
    /// Diagonal second derivatives by the Gauss-Newton (OBD) rules: `d2L/dx^2` and `d2L/dw^2`.
    Second,
}

/// `values` as the backward pass of `order` uses them: as they are (first order) or squared (second).
pub(crate) fn powered(values: &[f32], order: Order) -> Cow<'_, [f32]> {
    match order {
        Order::First => Cow::Borrowed(values),
        Order::Second => Cow::Owned(squared(values)),
    }
}

/// One layer of a network. A closed enum (dispatch by `match`): the set of layer kinds is fixed by the
/// model zoo and the PyTorch layouts it must match, and `match` keeps the per-batch dispatch free of
/// virtual calls.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// Fully connected `y = x W^T + b`.
    Linear(Linear),
    /// 2-d convolution with stride and zero padding.
    Conv2d(Conv2d),
    /// `max(0, x)`.
    Relu,
    /// Max or average pooling.
    Pool2d(Pool2d),
    /// `[N, C, H, W] -> [N, C*H*W]` in channel-height-width order (PyTorch's `flatten(1)`).
    Flatten,
    /// Batch normalisation in evaluation mode (running statistics).
    BatchNorm2d(BatchNorm2d),
    /// A residual block `relu(main(x) + shortcut(x))`.
    Residual(Residual),
    /// A computation graph (an imported model).
    Graph(Box<Graph>),
}

/// What a layer's forward pass keeps for its backward passes.
#[derive(Debug, Clone)]
pub(crate) enum Cache {
    /// The layer's input (linear, convolution, ReLU, batch-norm).
    Input(Tensor),
    /// The input's shape only (flatten, average pooling).
    Shape(Vec<usize>),
    /// Max pooling: the input's shape and, per output, the index of the arg-max within its sample.
    ArgMax(Vec<usize>, Vec<u32>),
    /// A residual block's branch caches and its pre-activation sum.
    Residual(Box<residual::ResidualCache>),
    /// A graph's values and layer caches.
    Graph(Box<graph::GraphCache>),
}

impl Layer {
    /// Inference forward pass (takes the input so element-wise layers can work in place); `relu`
    /// fuses a following ReLU into a linear or convolution layer (other layers must get `false`).
    pub(crate) fn forward(&self, params: &[Param], x: Tensor, relu: bool) -> Tensor {
        debug_assert!(!relu || matches!(self, Self::Linear(_) | Self::Conv2d(_)));
        match self {
            Self::Linear(l) => l.forward(params, &x, relu),
            Self::Conv2d(c) => c.forward(params, &x, relu),
            Self::Relu => activation::relu_inplace(x),
            Self::Pool2d(p) => p.forward(&x, None),
            Self::Flatten => flatten(x),
            Self::BatchNorm2d(b) => b.forward(params, x),
            Self::Residual(r) => r.forward(params, x),
            Self::Graph(g) => g.forward(params, x),
        }
    }

    /// Training forward pass: the output and what the backward passes need.
    pub(crate) fn forward_train(&self, params: &[Param], x: Tensor) -> (Tensor, Cache) {
        match self {
            Self::Linear(l) => (l.forward(params, &x, false), Cache::Input(x)),
            Self::Conv2d(c) => (c.forward(params, &x, false), Cache::Input(x)),
            Self::Relu => (activation::relu(&x), Cache::Input(x)),
            Self::Pool2d(p) => {
                let shape = x.shape().to_vec();
                match p.kind {
                    PoolKind::Max => {
                        let mut arg = Vec::new();
                        let y = p.forward(&x, Some(&mut arg));
                        (y, Cache::ArgMax(shape, arg))
                    }
                    PoolKind::Avg => (p.forward(&x, None), Cache::Shape(shape)),
                }
            }
            Self::Flatten => {
                let shape = x.shape().to_vec();
                (flatten(x), Cache::Shape(shape))
            }
            Self::BatchNorm2d(b) => (b.forward(params, x.clone()), Cache::Input(x)),
            Self::Residual(r) => {
                let (y, cache) = r.forward_train(params, x);
                (y, Cache::Residual(Box::new(cache)))
            }
            Self::Graph(g) => {
                let (y, cache) = g.forward_train(params, x);
                (y, Cache::Graph(Box::new(cache)))
            }
        }
    }

    /// Backward pass of `order` from `dy` (`dL/dy` or `d2L/dy^2`): accumulates into `grads` (aligned
    /// with the network's parameters) and returns `dL/dx` (or `d2L/dx^2`) when `need_dx`.
    pub(crate) fn backward(
        &self,
        params: &[Param],
        cache: &Cache,
        dy: Tensor,
        order: Order,
        grads: &mut [Tensor],
        need_dx: bool,
    ) -> Option<Tensor> {
        match (self, cache) {
            (Self::Linear(l), Cache::Input(x)) => l.backward(params, x, &dy, order, grads, need_dx),
            (Self::Conv2d(c), Cache::Input(x)) => c.backward(params, x, &dy, order, grads, need_dx),
            (Self::Relu, Cache::Input(x)) => Some(activation::relu_backward(x, dy)),
            (Self::Pool2d(p), Cache::ArgMax(shape, arg)) => Some(p.backward_max(shape, arg, &dy)),
            (Self::Pool2d(p), Cache::Shape(shape)) => Some(p.backward_avg(shape, &dy, order)),
            (Self::Flatten, Cache::Shape(shape)) => Some(
                dy.into_shape_with_order(shape.as_slice())
                    .expect("flatten keeps the element count"),
            ),
            (Self::BatchNorm2d(b), Cache::Input(x)) => Some(b.backward(params, x, dy, order, grads)),
            (Self::Residual(r), Cache::Residual(c)) => Some(r.backward(params, c, dy, order, grads)),
            (Self::Graph(g), Cache::Graph(c)) => g.backward(params, c, dy, order, grads, need_dx),
            _ => unreachable!("a layer's cache always comes from its own forward_train"),
        }
    }
}

/// `[N, ...] -> [N, prod(...)]`, keeping the data (channel-height-width order).
fn flatten(x: Tensor) -> Tensor {
    let n = x.shape()[0];
    let f: usize = x.shape()[1..].iter().product();
    x.into_shape_with_order(vec![n, f])
        .expect("flatten keeps the element count")
}

/// Runs `layers` forward (inference), fusing each ReLU that follows a linear or convolution layer,
/// and a max-pooling that follows a convolution (and its ReLU).
pub(crate) fn forward_all(layers: &[Layer], params: &[Param], mut x: Tensor) -> Tensor {
    let mut i = 0;
    while i < layers.len() {
        let fuse = matches!(layers[i], Layer::Linear(_) | Layer::Conv2d(_))
            && matches!(layers.get(i + 1), Some(Layer::Relu));
        let next = i + 1 + usize::from(fuse);
        if let (Layer::Conv2d(c), Some(Layer::Pool2d(p))) = (&layers[i], layers.get(next))
            && p.kind == PoolKind::Max
        {
            x = c.forward_max_pooled(params, &x, fuse, p);
            i = next + 1;
            continue;
        }
        x = layers[i].forward(params, x, fuse);
        i = next;
    }
    x
}

/// Runs `layers` forward, keeping one cache per layer.
pub(crate) fn forward_train_all(layers: &[Layer], params: &[Param], mut x: Tensor) -> (Tensor, Vec<Cache>) {
    let mut caches = Vec::with_capacity(layers.len());
    for layer in layers {
        let (y, cache) = layer.forward_train(params, x);
        caches.push(cache);
        x = y;
    }
    (x, caches)
}

/// Runs the backward pass of `order` through `layers` (in reverse), accumulating into `grads`; returns
/// the derivative with respect to the input of the first layer when `need_dx`.
pub(crate) fn backward_all(
    layers: &[Layer],
    params: &[Param],
    caches: &[Cache],
    mut dy: Tensor,
    order: Order,
    grads: &mut [Tensor],
    need_dx: bool,
) -> Option<Tensor> {
    for (i, (layer, cache)) in layers.iter().zip(caches).enumerate().rev() {
        let want = need_dx || i > 0;
        match layer.backward(params, cache, dy, order, grads, want) {
            Some(d) => dy = d,
            None => return None,
        }
    }
    Some(dy)
}
