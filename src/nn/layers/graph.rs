//! A computation graph (a DAG of operators), the form an imported ONNX model takes: residual additions
//! and concatenations join branches that need not nest as [`super::Residual`] blocks do.
//!
//! Value 0 is the graph's input; node `i` produces value `i + 1`; nodes are in topological order (each
//! reads only earlier values). Backward runs the nodes in reverse and sums the (second) derivatives
//! reaching a value from all of its readers: at a fork OBD adds the branches and drops the cross term,
//! as [`super::Residual`] does.

use super::activation::Activation;
use super::group_conv::GroupConv;
use super::{Cache, Layer, Order};
use crate::nn::param::Param;
use crate::nn::tensor::{Tensor, add_into, data, data_mut};
use ndarray::{Axis, IxDyn};

/// One operator of a graph.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A layer of the engine with one input (linear, convolution, pooling, batch-norm).
    Layer(Layer),
    /// A general convolution (groups, dilation, asymmetric padding).
    Conv(GroupConv),
    /// An element-wise activation.
    Activation(Activation),
    /// The sum of two values of the same shape.
    Add,
    /// The input plus a constant parameter of the input's sample shape (a broadcast bias).
    AddConst {
        /// Index of the constant in the network's parameters.
        param: usize,
    },
    /// The inputs joined along the channel (first sample) axis.
    Concat,
    /// The input with the node's sample shape (the data unchanged: flatten, reshape, view).
    Reshape,
}

/// One node: an operator, the values it reads, and the sample shape it produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name in the source file (for messages).
    pub name: String,
    /// The operator.
    pub op: Op,
    /// The values read (0: the graph input, `i + 1`: node `i`'s output).
    pub inputs: Vec<usize>,
    /// The output shape of one sample.
    pub shape: Vec<usize>,
}

/// A DAG of nodes in topological order; the last node's value is the output unless `output` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The nodes, in topological order.
    pub nodes: Vec<Node>,
    /// The value that is the graph's output.
    pub output: usize,
    /// Per value, the index of the last node reading it (the output value: `nodes.len()`), so that
    /// inference frees each activation as soon as it is no longer needed.
    last_use: Vec<usize>,
}

/// What a graph's training forward keeps: every value and the caches of the engine's layers.
#[derive(Debug, Clone)]
pub(crate) struct GraphCache {
    values: Vec<Tensor>,
    layers: Vec<Option<Cache>>,
}

impl Graph {
    /// A graph of `nodes` whose value `output` is the result.
    ///
    /// # Panics
    /// If a node reads a value that is not produced before it, or `output` is not a value.
    pub fn new(nodes: Vec<Node>, output: usize) -> Self {
        assert!(output <= nodes.len(), "graph output is a value");
        let mut last_use = vec![0; nodes.len() + 1];
        for (i, node) in nodes.iter().enumerate() {
            for &v in &node.inputs {
                assert!(v <= i, "node {} reads a later value", node.name);
                last_use[v] = i;
            }
        }
        last_use[output] = nodes.len();
        Self {
            nodes,
            output,
            last_use,
        }
    }

    /// Inference forward.
    pub(super) fn forward(&self, params: &[Param], x: Tensor) -> Tensor {
        let mut values: Vec<Option<Tensor>> = vec![None; self.nodes.len() + 1];
        values[0] = Some(x);
        for (i, node) in self.nodes.iter().enumerate() {
            let y = {
                let inputs: Vec<&Tensor> = node
                    .inputs
                    .iter()
                    .map(|&v| values[v].as_ref().expect("values live until their last use"))
                    .collect();
                match &node.op {
                    // The engine's layers take their input by value: move it when this is its last
                    // reader.
                    Op::Layer(layer) => {
                        let v = node.inputs[0];
                        let x = if self.last_use[v] == i
                            && node.inputs.iter().filter(|&&u| u == v).count() == 1
                        {
                            None
                        } else {
                            Some(inputs[0].clone())
                        };
                        drop(inputs);
                        let x = x.unwrap_or_else(|| values[v].take().expect("value is live"));
                        layer.forward(params, x, false)
                    }
                    op => forward_op(op, params, &inputs, &node.shape),
                }
            };
            for &v in &node.inputs {
                if self.last_use[v] == i {
                    values[v] = None;
                }
            }
            values[i + 1] = Some(y);
        }
        values[self.output].take().expect("the output is computed")
    }

    /// Training forward: the output and every value.
    pub(super) fn forward_train(&self, params: &[Param], x: Tensor) -> (Tensor, GraphCache) {
        let mut values = Vec::with_capacity(self.nodes.len() + 1);
        let mut layers = Vec::with_capacity(self.nodes.len());
        values.push(x);
        for node in &self.nodes {
            let (y, cache) = match &node.op {
                Op::Layer(layer) => {
                    let (y, cache) = layer.forward_train(params, values[node.inputs[0]].clone());
                    (y, Some(cache))
                }
                op => {
                    let inputs: Vec<&Tensor> = node.inputs.iter().map(|&v| &values[v]).collect();
                    (forward_op(op, params, &inputs, &node.shape), None)
                }
            };
            values.push(y);
            layers.push(cache);
        }
        (values[self.output].clone(), GraphCache { values, layers })
    }

    /// Backward of `order` from the output's derivative; returns the input's when `need_dx`.
    pub(super) fn backward(
        &self,
        params: &[Param],
        cache: &GraphCache,
        dy: Tensor,
        order: Order,
        grads: &mut [Tensor],
        need_dx: bool,
    ) -> Option<Tensor> {
        let mut dvalues: Vec<Option<Tensor>> = vec![None; self.nodes.len() + 1];
        dvalues[self.output] = Some(dy);
        for (i, node) in self.nodes.iter().enumerate().rev() {
            let Some(dy) = dvalues[i + 1].take() else {
                continue; // the node does not reach the output
            };
            let want: Vec<bool> = node.inputs.iter().map(|&v| v > 0 || need_dx).collect();
            let dxs: Vec<Option<Tensor>> = match &node.op {
                Op::Layer(layer) => {
                    let c = cache.layers[i].as_ref().expect("layer nodes keep a cache");
                    vec![layer.backward(params, c, dy, order, grads, want[0])]
                }
                Op::Conv(conv) => {
                    let x = &cache.values[node.inputs[0]];
                    vec![conv.backward(params, x, &dy, order, grads, want[0])]
                }
                Op::Activation(a) => vec![Some(a.backward(&cache.values[node.inputs[0]], dy, order))],
                Op::Add => vec![Some(dy.clone()), Some(dy)],
                Op::AddConst { param } => {
                    for row in data(&dy).chunks_exact(grads[*param].len()) {
                        add_into(data_mut(&mut grads[*param]), row);
                    }
                    vec![Some(dy)]
                }
                Op::Concat => split_channels(&dy, node.inputs.iter().map(|&v| cache.values[v].shape()[1]))
                    .into_iter()
                    .map(Some)
                    .collect(),
                Op::Reshape => {
                    let shape = cache.values[node.inputs[0]].shape().to_vec();
                    vec![Some(
                        dy.into_shape_with_order(shape)
                            .expect("reshape keeps the element count"),
                    )]
                }
            };
            for ((&v, dx), want) in node.inputs.iter().zip(dxs).zip(want) {
                let Some(dx) = dx.filter(|_| want) else {
                    continue;
                };
                match &mut dvalues[v] {
                    Some(acc) => add_into(data_mut(acc), data(&dx)),
                    slot => *slot = Some(dx),
                }
            }
        }
        if need_dx {
            Some(
                dvalues[0]
                    .take()
                    .unwrap_or_else(|| Tensor::zeros(cache.values[0].raw_dim())),
            )
        } else {
            None
        }
    }
}

/// Forward of the operators that are not engine layers.
fn forward_op(op: &Op, params: &[Param], inputs: &[&Tensor], shape: &[usize]) -> Tensor {
    match op {
        Op::Layer(_) => unreachable!("engine layers run through Layer::forward"),
        Op::Conv(conv) => conv.forward(params, inputs[0]),
        Op::Activation(a) => a.forward(inputs[0].clone()),
        Op::Add => {
            let mut y = inputs[0].clone();
            add_into(data_mut(&mut y), data(inputs[1]));
            y
        }
        Op::AddConst { param } => {
            let mut y = inputs[0].clone();
            let c = data(&params[*param].value);
            for row in data_mut(&mut y).chunks_exact_mut(c.len()) {
                add_into(row, c);
            }
            y
        }
        Op::Concat => {
            let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
            ndarray::concatenate(Axis(1), &views)
                .expect("concat inputs agree except along the channels")
                .as_standard_layout()
                .into_owned()
        }
        Op::Reshape => {
            let mut dims = vec![inputs[0].shape()[0]];
            dims.extend_from_slice(shape);
            inputs[0]
                .clone()
                .into_shape_with_order(IxDyn(&dims))
                .expect("reshape keeps the element count")
        }
    }
}

/// `dy` split along axis 1 into pieces of `sizes` channels (the adjoint of the concatenation).
fn split_channels(dy: &Tensor, sizes: impl Iterator<Item = usize>) -> Vec<Tensor> {
    let mut start = 0;
    sizes
        .map(|c| {
            let piece = dy
                .slice_axis(Axis(1), ndarray::Slice::from(start..start + c))
                .as_standard_layout()
                .into_owned();
            start += c;
            piece
        })
        .collect()
}
