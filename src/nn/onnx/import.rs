//! From a decoded ONNX graph to an engine network (see the module docs of [`super`]).

use super::proto::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, decode_model};
use crate::error::InputError;
use crate::nn::layers::{
    Activation, BatchNorm2d, Conv2d, ConvGeom, Graph, GroupConv, GroupConvGeom, Layer, Linear, Node, Op,
    Pool2d, PoolKind,
};
use crate::nn::network::Network;
use crate::nn::param::{Param, ParamKind};
use crate::nn::tensor::SampleShape;
use std::collections::HashMap;
use std::path::Path;

/// The most numbers one input sample may hold (2^28, a 3 x 9,459 x 9,459 image): beyond it the
/// activations of one image would not fit in memory.
const MAX_SAMPLE_LEN: usize = 1 << 28;

/// The largest kernel size, stride, dilation or padding accepted (so that no size arithmetic overflows).
const MAX_SPATIAL: i64 = 1 << 16;

/// The ONNX operators the importer maps (default domain), as named in messages.
pub const SUPPORTED_OPS: &[&str] = &[
    "Conv",
    "Gemm",
    "MatMul",
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "Add",
    "Flatten",
    "Reshape",
    "Concat",
    "Identity",
    "Dropout",
    "Constant",
];

/// ONNX `TensorProto.DataType` codes the importer reads.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;

/// One constant of the graph (initializer or `Constant` output).
#[derive(Debug, Clone)]
struct Const {
    dims: Vec<usize>,
    data: ConstData,
}

/// A constant's values.
#[derive(Debug, Clone)]
enum ConstData {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

/// A weight tensor of a file, for timing-only mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightTensor {
    /// The tensor's name.
    pub name: String,
    /// Its shape as stored.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

/// Reads and decodes an ONNX file; a missing or malformed file is an error naming it.
fn read_model(path: &Path) -> Result<(ModelProto, GraphProto), InputError> {
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
    let malformed = |why: String| InputError::new(&source, "", format!("not a valid ONNX model file: {why}"));
    let mut model = decode_model(&bytes).map_err(|e| malformed(format!("protobuf decoding failed ({e})")))?;
    let graph = model
        .graph
        .take()
        .filter(|g| !g.node.is_empty())
        .ok_or_else(|| malformed("it holds no graph nodes".into()))?;
    Ok((model, graph))
}

/// Loads an ONNX file as a network named `onnx:<file name>`.
pub fn load(path: &Path) -> Result<Network, InputError> {
    let (_, graph) = read_model(path)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Importer::new(&path.display().to_string()).import(&graph, &format!("onnx:{name}"))
}

/// Every weight tensor (rank >= 2, float) among the initializers of an ONNX file, whatever its
/// operators, for timing-only mapping.
pub fn weight_tensors(path: &Path) -> Result<Vec<WeightTensor>, InputError> {
    let source = path.display().to_string();
    let (_, graph) = read_model(path)?;
    let mut out = Vec::new();
    for t in &graph.initializer {
        if t.dims.len() < 2 || !matches!(t.data_type, FLOAT | DOUBLE) {
            continue;
        }
        let c = decode_tensor(t, &source)?;
        if let ConstData::Float(values) = c.data {
            out.push(WeightTensor {
                name: t.name.clone(),
                shape: c.dims,
                values,
            });
        }
    }
    Ok(out)
}

/// Decodes a constant tensor (raw little-endian bytes or typed lists).
fn decode_tensor(t: &TensorProto, source: &str) -> Result<Const, InputError> {
    let err = |why: String| InputError::new(source, format!("tensor {}", t.name), why);
    if t.data_location == 1 {
        return Err(err(
            "its values are in an external data file, which is not supported (export with the weights inside the .onnx file)".into(),
        ));
    }
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("negative dimension in {:?}", t.dims))))
        .collect::<Result<Vec<_>, _>>()?;
    let n = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| err(format!("shape {dims:?} holds more values than memory")))?;
    let raw = |size: usize| -> Result<Option<&[u8]>, InputError> {
        if t.raw_data.is_empty() {
            return Ok(None);
        }
        if n.checked_mul(size) != Some(t.raw_data.len()) {
            return Err(err(format!(
                "raw data has {} bytes, expected {} for shape {dims:?}",
                t.raw_data.len(),
                n.saturating_mul(size)
            )));
        }
        Ok(Some(&t.raw_data))
    };
    let count = |len: usize| {
        if len == n {
            Ok(())
        } else {
            Err(err(format!("{len} values for shape {dims:?} ({n} expected)")))
        }
    };
    let data = match t.data_type {
        FLOAT => ConstData::Float(match raw(4)? {
            Some(b) => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            None => {
                count(t.float_data.len())?;
                t.float_data.clone()
            }
        }),
        DOUBLE => ConstData::Float(match raw(8)? {
            Some(b) => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")) as f32)
                .collect(),
            None => {
                count(t.double_data.len())?;
                t.double_data.iter().map(|&v| v as f32).collect()
            }
        }),
        INT64 => ConstData::Int(match raw(8)? {
            Some(b) => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8-byte chunk")))
                .collect(),
            None => {
                count(t.int64_data.len())?;
                t.int64_data.clone()
            }
        }),
        INT32 => ConstData::Int(match raw(4)? {
            Some(b) => b
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            None => {
                count(t.int32_data.len())?;
                t.int32_data.iter().map(|&v| i64::from(v)).collect()
            }
        }),
        other => {
            return Err(err(format!(
                "element type {other} is not supported (expected float, double, int32 or int64)"
            )));
        }
    };
    if let ConstData::Float(v) = &data
        && let Some(i) = v.iter().position(|x| !x.is_finite())
    {
        return Err(err(format!("value at flat index {i} is not finite")));
    }
    Ok(Const { dims, data })
}

/// The state of one import: constants, activation values, nodes and parameters made so far.
struct Importer<'a> {
    source: &'a str,
    consts: HashMap<String, Const>,
    /// Activation value ids by ONNX name.
    values: HashMap<String, usize>,
    /// Per value id, the shape of one sample.
    shapes: Vec<Vec<usize>>,
    nodes: Vec<Node>,
    params: Vec<Param>,
    /// The batch size of the exported input (`Reshape` targets may carry it), if fixed.
    batch: Option<i64>,
}

/// The name of a node for messages: `'name' (Op)`, or its first output when it has no name.
fn node_label(n: &NodeProto) -> String {
    let name = if n.name.is_empty() {
        n.output.first().map_or("?", String::as_str)
    } else {
        &n.name
    };
    format!("node '{name}' ({})", n.op_type)
}

fn attr<'n>(n: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}

fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
    attr(n, name).map_or(default, |a| a.f)
}

fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

impl<'a> Importer<'a> {
    fn new(source: &'a str) -> Self {
        Self {
            source,
            consts: HashMap::new(),
            values: HashMap::new(),
            shapes: Vec::new(),
            nodes: Vec::new(),
            params: Vec::new(),
            batch: None,
        }
    }

    /// An error about node `n`.
    fn node_error(&self, n: &NodeProto, problem: impl Into<String>) -> InputError {
        InputError::new(self.source, node_label(n), problem)
    }

    fn import(mut self, g: &GraphProto, arch: &str) -> Result<Network, InputError> {
        for t in &g.initializer {
            let c = decode_tensor(t, self.source)?;
            self.consts.insert(t.name.clone(), c);
        }
        let input = self.graph_input(g)?;
        for n in &g.node {
            self.node(n)?;
        }
        let out = g
            .output
            .first()
            .ok_or_else(|| InputError::new(self.source, "graph outputs", "the graph has no output"))?;
        let &output = self.values.get(&out.name).ok_or_else(|| {
            InputError::new(
                self.source,
                format!("graph output {}", out.name),
                "is not computed from the input by the graph's nodes",
            )
        })?;
        let [classes] = self.shapes[output][..] else {
            return Err(InputError::new(
                self.source,
                format!("graph output {}", out.name),
                format!(
                    "expected class logits of shape [batch, classes], got [batch, {:?}]",
                    self.shapes[output]
                ),
            ));
        };
        let graph = Graph::new(self.nodes, output);
        Ok(Network::from_parts(
            arch.to_string(),
            input,
            classes,
            vec![Layer::Graph(Box::new(graph))],
            self.params,
        ))
    }

    /// The graph input (the first input that is not an initializer) as value 0.
    fn graph_input(&mut self, g: &GraphProto) -> Result<SampleShape, InputError> {
        let vi = g
            .input
            .iter()
            .find(|i| !self.consts.contains_key(&i.name))
            .ok_or_else(|| InputError::new(self.source, "graph inputs", "the graph has no input"))?;
        let field = format!("graph input {}", vi.name);
        let tt = vi.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
        let dims = tt.and_then(|t| t.shape.as_ref()).map(|s| &s.dim).ok_or_else(|| {
            InputError::new(
                self.source,
                &field,
                "has no tensor shape (export with a fixed input shape)",
            )
        })?;
        if tt.is_some_and(|t| t.elem_type != FLOAT) {
            return Err(InputError::new(self.source, &field, "must be a float tensor"));
        }
        self.batch = dims.first().map(|d| d.dim_value).filter(|&v| v > 0);
        let sample: Vec<usize> = dims
            .iter()
            .skip(1)
            .map(|d| usize::try_from(d.dim_value).ok().filter(|&v| v > 0))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                InputError::new(
                    self.source,
                    &field,
                    "has a symbolic or zero size beyond the batch axis (export with fixed image sizes)",
                )
            })?;
        if sample
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .is_none_or(|n| n > MAX_SAMPLE_LEN)
        {
            return Err(InputError::new(
                self.source,
                &field,
                format!("{sample:?} is more than {MAX_SAMPLE_LEN} numbers per sample"),
            ));
        }
        let shape = match sample[..] {
            [c, h, w] => SampleShape::image(c, h, w),
            [f] => SampleShape::Flat(f),
            _ => {
                return Err(InputError::new(
                    self.source,
                    &field,
                    format!(
                        "expected [batch, C, H, W] or [batch, features], got {} dimensions",
                        dims.len()
                    ),
                ));
            }
        };
        self.values.insert(vi.name.clone(), 0);
        self.shapes.push(sample);
        Ok(shape)
    }

    /// The activation value read by input `k` of node `n`.
    fn value(&self, n: &NodeProto, k: usize) -> Result<usize, InputError> {
        let name = n
            .input
            .get(k)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.node_error(n, format!("input {k} is missing")))?;
        if let Some(&v) = self.values.get(name) {
            return Ok(v);
        }
        Err(self.node_error(
            n,
            if self.consts.contains_key(name) {
                format!("input {k} ({name}) is a constant; only activations are supported there")
            } else {
                format!("input {k} ({name}) is not produced by an earlier node")
            },
        ))
    }

    /// The constant read by input `k` of node `n`, if present (`None` for an omitted optional input).
    fn constant<'s>(
        &'s self,
        n: &'s NodeProto,
        k: usize,
    ) -> Result<Option<(&'s str, &'s Const)>, InputError> {
        let Some(name) = n.input.get(k).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        match self.consts.get(name) {
            Some(c) => Ok(Some((name.as_str(), c))),
            None => Err(self.node_error(
                n,
                format!("input {k} ({name}) must be a constant (an initializer): weights computed at run time are not supported"),
            )),
        }
    }

    /// As [`Importer::constant`] for a required float constant.
    fn float_const(&self, n: &NodeProto, k: usize) -> Result<(String, Vec<usize>, Vec<f32>), InputError> {
        match self.constant(n, k)? {
            Some((
                name,
                Const {
                    dims,
                    data: ConstData::Float(v),
                },
            )) => Ok((name.to_string(), dims.clone(), v.clone())),
            Some((name, _)) => Err(self.node_error(n, format!("input {k} ({name}) must be a float tensor"))),
            None => Err(self.node_error(n, format!("input {k} is missing"))),
        }
    }

    /// Registers a parameter with `values` under `name` and returns its index.
    fn param(
        &mut self,
        n: &NodeProto,
        name: &str,
        kind: ParamKind,
        shape: &[usize],
        fan_in: usize,
        values: &[f32],
    ) -> Result<usize, InputError> {
        if self.params.iter().any(|p| p.name == name) {
            return Err(self.node_error(
                n,
                format!("tensor {name} is used by more than one node; shared weights are not supported"),
            ));
        }
        let mut p = Param::new(name, kind, shape, fan_in, 0.0);
        p.value
            .as_slice_mut()
            .expect("fresh tensor is contiguous")
            .copy_from_slice(values);
        self.params.push(p);
        Ok(self.params.len() - 1)
    }

    /// Adds a node reading `inputs` and producing `shape` as the value of output 0 of `n`.
    fn push(&mut self, n: &NodeProto, op: Op, inputs: Vec<usize>, shape: Vec<usize>) {
        self.nodes.push(Node {
            name: n.name.clone(),
            op,
            inputs,
            shape: shape.clone(),
        });
        self.shapes.push(shape);
        self.values.insert(n.output[0].clone(), self.nodes.len());
    }

    /// The image shape `(c, h, w)` of value `v`, or an error saying node `n` needs one.
    fn image(&self, n: &NodeProto, v: usize) -> Result<(usize, usize, usize), InputError> {
        match self.shapes[v][..] {
            [c, h, w] => Ok((c, h, w)),
            ref s => Err(self.node_error(
                n,
                format!("needs an image input [batch, C, H, W], got [batch, {s:?}]"),
            )),
        }
    }

    fn node(&mut self, n: &NodeProto) -> Result<(), InputError> {
        if n.output.first().is_none_or(String::is_empty) {
            return Err(self.node_error(n, "has no output"));
        }
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(self.unsupported(n));
        }
        match n.op_type.as_str() {
            "Conv" => self.conv(n),
            "Gemm" => self.gemm(n),
            "MatMul" => self.matmul(n),
            "Relu" => self.activation(n, Activation::Relu),
            "LeakyRelu" => self.activation(
                n,
                Activation::LeakyRelu {
                    alpha: attr_f(n, "alpha", 0.01),
                },
            ),
            "Sigmoid" => self.activation(n, Activation::Sigmoid),
            "Tanh" => self.activation(n, Activation::Tanh),
            "MaxPool" => self.pool(n, PoolKind::Max),
            "AveragePool" => self.pool(n, PoolKind::Avg),
            "GlobalAveragePool" => self.global_pool(n),
            "BatchNormalization" => self.batch_norm(n),
            "Add" => self.add(n),
            "Flatten" => self.flatten(n),
            "Reshape" => self.reshape(n),
            "Concat" => self.concat(n),
            "Identity" | "Dropout" => self.alias(n),
            "Constant" => self.constant_node(n),
            _ => Err(self.unsupported(n)),
        }
    }

    fn unsupported(&self, n: &NodeProto) -> InputError {
        let op = if n.domain.is_empty() {
            n.op_type.clone()
        } else {
            format!("{}::{}", n.domain, n.op_type)
        };
        self.node_error(
            n,
            format!(
                "operator {op} is not supported; supported: {} (`uswim program` can still time the file's weight tensors)",
                SUPPORTED_OPS.join(", ")
            ),
        )
    }

    /// Two spatial values of an attribute (`kernel_shape`, `strides`, ...), `default` if absent.
    fn pair(&self, n: &NodeProto, name: &str, default: usize) -> Result<[usize; 2], InputError> {
        match attr_ints(n, name).as_deref() {
            None => Ok([default; 2]),
            Some(&[a, b]) if (1..=MAX_SPATIAL).contains(&a) && (1..=MAX_SPATIAL).contains(&b) => {
                Ok([a as usize, b as usize])
            }
            Some(v) => Err(self.node_error(
                n,
                format!(
                    "attribute {name} = {v:?}: expected two positive values (2-d), at most {MAX_SPATIAL}"
                ),
            )),
        }
    }

    /// The `pads` attribute (top, left, bottom, right); `auto_pad` other than NOTSET/VALID is refused.
    fn pads(&self, n: &NodeProto) -> Result<[usize; 4], InputError> {
        if let Some(a) = attr(n, "auto_pad") {
            let mode = String::from_utf8_lossy(&a.s);
            if !(mode == "NOTSET" || mode == "VALID" || mode.is_empty()) {
                return Err(self.node_error(
                    n,
                    format!("auto_pad = {mode} is not supported (allowed: NOTSET with explicit pads, VALID)"),
                ));
            }
        }
        match attr_ints(n, "pads").as_deref() {
            None => Ok([0; 4]),
            Some(&[a, b, c, d]) if [a, b, c, d].iter().all(|v| (0..=MAX_SPATIAL).contains(v)) => {
                Ok([a as usize, b as usize, c as usize, d as usize])
            }
            Some(v) => Err(self.node_error(
                n,
                format!("attribute pads = {v:?}: expected four non-negative values, at most {MAX_SPATIAL}"),
            )),
        }
    }

    fn conv(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let (c, h, w) = self.image(n, x)?;
        let (wname, wdims, wvals) = self.float_const(n, 1)?;
        let [co, cig, kh, kw] = wdims[..] else {
            return Err(self.node_error(n, format!("weight {wname} has shape {wdims:?}; only 2-d convolutions [out, in/groups, kh, kw] are supported")));
        };
        let groups = usize::try_from(attr_i(n, "group", 1)).unwrap_or(0);
        if let Some(k) = attr_ints(n, "kernel_shape")
            && k != [kh as i64, kw as i64]
        {
            return Err(self.node_error(
                n,
                format!("kernel_shape {k:?} disagrees with weight {wname} {wdims:?}"),
            ));
        }
        let stride = self.pair(n, "strides", 1)?;
        let dilation = self.pair(n, "dilations", 1)?;
        let pads = self.pads(n)?;
        if groups == 0 || cig * groups != c {
            return Err(self.node_error(
                n,
                format!("weight {wname} {wdims:?} with group = {groups} does not fit {c} input channels"),
            ));
        }
        let geom = GroupConvGeom::new(c, h, w, co, groups, [kh, kw], stride, dilation, pads).ok_or_else(|| {
            self.node_error(n, format!("kernel {kh}x{kw} (dilation {dilation:?}, pads {pads:?}) does not fit a {h}x{w} input, or {co} outputs do not divide into {groups} groups"))
        })?;
        let fan_in = geom.patch_len();
        let weight = self.param(n, &wname, ParamKind::Weight, &wdims, fan_in, &wvals)?;
        let bias = match self.constant(n, 2)? {
            None => None,
            Some(_) => {
                let (bname, bdims, bvals) = self.float_const(n, 2)?;
                if bvals.len() != co {
                    return Err(
                        self.node_error(n, format!("bias {bname} has shape {bdims:?}, expected [{co}]"))
                    );
                }
                Some(self.param(n, &bname, ParamKind::Bias, &[co], fan_in, &bvals)?)
            }
        };
        let shape = vec![co, geom.out_h, geom.out_w];
        // The zoo's convolution (with its fast paths) covers the common case exactly.
        let square = stride[0] == stride[1] && pads.iter().all(|&p| p == pads[0]);
        let op = if groups == 1 && dilation == [1, 1] && square {
            let geom =
                ConvGeom::new(c, h, w, co, (kh, kw), stride[0], pads[0]).expect("same geometry as checked");
            Op::Layer(Layer::Conv2d(Conv2d { weight, bias, geom }))
        } else {
            Op::Conv(GroupConv { weight, bias, geom })
        };
        self.push(n, op, vec![x], shape);
        Ok(())
    }

    /// The flat feature count of value `v`, or an error saying node `n` needs flat input.
    fn flat(&self, n: &NodeProto, v: usize) -> Result<usize, InputError> {
        match self.shapes[v][..] {
            [f] => Ok(f),
            ref s => Err(self.node_error(
                n,
                format!("needs a flat input [batch, features], got [batch, {s:?}] (flatten first)"),
            )),
        }
    }

    /// A fully connected node from weight `[out, in]` (already oriented) and an optional bias.
    fn linear(
        &mut self,
        n: &NodeProto,
        x: usize,
        weight: (&str, Vec<f32>, usize, usize),
        bias: Option<(String, Vec<f32>)>,
    ) -> Result<(), InputError> {
        let (wname, wvals, out, inp) = weight;
        let weight = self.param(n, wname, ParamKind::Weight, &[out, inp], inp, &wvals)?;
        let bias = match bias {
            None => None,
            Some((bname, bvals)) => Some(self.param(n, &bname, ParamKind::Bias, &[out], inp, &bvals)?),
        };
        let layer = Linear {
            weight,
            bias,
            in_features: inp,
            out_features: out,
        };
        self.push(n, Op::Layer(Layer::Linear(layer)), vec![x], vec![out]);
        Ok(())
    }

    fn gemm(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let inp = self.flat(n, x)?;
        if attr_i(n, "transA", 0) != 0 {
            return Err(self.node_error(
                n,
                "transA = 1 is not supported (the activation must be [batch, features])",
            ));
        }
        let (alpha, beta) = (attr_f(n, "alpha", 1.0), attr_f(n, "beta", 1.0));
        let (wname, wdims, wvals) = self.float_const(n, 1)?;
        let trans_b = attr_i(n, "transB", 0) != 0;
        let (out, k) = match (&wdims[..], trans_b) {
            (&[o, k], true) => (o, k),
            (&[k, o], false) => (o, k),
            _ => {
                return Err(self.node_error(
                    n,
                    format!("weight {wname} has shape {wdims:?}, expected 2 dimensions"),
                ));
            }
        };
        if k != inp {
            return Err(self.node_error(
                n,
                format!(
                    "weight {wname} {wdims:?} (transB = {}) does not take {inp} input features",
                    u8::from(trans_b)
                ),
            ));
        }
        let mut w = if trans_b {
            wvals
        } else {
            transpose(&wvals, inp, out)
        };
        if alpha != 1.0 {
            w.iter_mut().for_each(|v| *v *= alpha);
        }
        let bias = match self.constant(n, 2)? {
            None => None,
            Some(_) => {
                let (bname, bdims, bvals) = self.float_const(n, 2)?;
                let b: Vec<f32> = match bvals.len() {
                    1 => vec![bvals[0] * beta; out],
                    len if len == out && bdims.iter().rev().skip(1).all(|&d| d == 1) => {
                        bvals.iter().map(|v| v * beta).collect()
                    }
                    _ => {
                        return Err(
                            self.node_error(n, format!("bias {bname} has shape {bdims:?}, expected [{out}]"))
                        );
                    }
                };
                Some((bname, b))
            }
        };
        self.linear(n, x, (&wname, w, out, inp), bias)
    }

    fn matmul(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let inp = self.flat(n, x)?;
        let (wname, wdims, wvals) = self.float_const(n, 1)?;
        let [k, out] = wdims[..] else {
            return Err(self.node_error(
                n,
                format!("weight {wname} has shape {wdims:?}, expected [in, out]"),
            ));
        };
        if k != inp {
            return Err(self.node_error(
                n,
                format!("weight {wname} {wdims:?} does not take {inp} input features"),
            ));
        }
        let w = transpose(&wvals, inp, out);
        self.linear(n, x, (&wname, w, out, inp), None)
    }

    fn activation(&mut self, n: &NodeProto, a: Activation) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let shape = self.shapes[x].clone();
        self.push(n, Op::Activation(a), vec![x], shape);
        Ok(())
    }

    fn pool(&mut self, n: &NodeProto, kind: PoolKind) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let (c, h, w) = self.image(n, x)?;
        let kernel = attr_ints(n, "kernel_shape").ok_or_else(|| self.node_error(n, "has no kernel_shape"))?;
        let [kh, kw] = self.pair(n, "kernel_shape", 1)?;
        let stride = self.pair(n, "strides", 1)?;
        let dilation = self.pair(n, "dilations", 1)?;
        let pads = self.pads(n)?;
        let plain =
            kh == kw && stride[0] == stride[1] && pads.iter().all(|&p| p == pads[0]) && dilation == [1, 1];
        if !plain || attr_i(n, "ceil_mode", 0) != 0 {
            return Err(self.node_error(n, format!(
                "only square windows with equal strides, equal pads, no dilation and ceil_mode = 0 are supported (kernel_shape {kernel:?}, strides {stride:?}, pads {pads:?}, dilations {dilation:?})"
            )));
        }
        let pool = Pool2d::new(kind, kh, stride[0], pads[0], SampleShape::image(c, h, w)).ok_or_else(|| {
            self.node_error(n, format!("window {kh} stride {} pads {} does not fit a {h}x{w} input (average pooling takes no padding)", stride[0], pads[0]))
        })?;
        let shape = vec![c, pool.out_h, pool.out_w];
        self.push(n, Op::Layer(Layer::Pool2d(pool)), vec![x], shape);
        Ok(())
    }

    fn global_pool(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let (c, h, w) = self.image(n, x)?;
        if h != w {
            return Err(self.node_error(n, format!("only square inputs are supported, got {h}x{w}")));
        }
        let pool = Pool2d::new(PoolKind::Avg, h, h, 0, SampleShape::image(c, h, w))
            .expect("window equals the input");
        self.push(n, Op::Layer(Layer::Pool2d(pool)), vec![x], vec![c, 1, 1]);
        Ok(())
    }

    fn batch_norm(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        if attr_i(n, "training_mode", 0) != 0 {
            return Err(self.node_error(n, "training_mode = 1 is not supported (export in eval mode)"));
        }
        let shape = self.shapes[x].clone();
        let (channels, positions) = match shape[..] {
            [c, h, w] => (c, h * w),
            [c] => (c, 1),
            _ => {
                return Err(self.node_error(
                    n,
                    format!("needs [batch, C, H, W] or [batch, C], got [batch, {shape:?}]"),
                ));
            }
        };
        let mut idx = [0; 4];
        let kinds = [
            ParamKind::NormWeight,
            ParamKind::NormBias,
            ParamKind::RunningMean,
            ParamKind::RunningVar,
        ];
        for (k, kind) in kinds.into_iter().enumerate() {
            let (name, dims, vals) = self.float_const(n, k + 1)?;
            if vals.len() != channels {
                return Err(self.node_error(n, format!("{name} has shape {dims:?}, expected [{channels}]")));
            }
            idx[k] = self.param(n, &name, kind, &[channels], 1, &vals)?;
        }
        let bn = BatchNorm2d {
            weight: idx[0],
            bias: idx[1],
            running_mean: idx[2],
            running_var: idx[3],
            channels,
            positions,
            eps: attr_f(n, "epsilon", 1e-5),
        };
        self.push(n, Op::Layer(Layer::BatchNorm2d(bn)), vec![x], shape);
        Ok(())
    }

    fn add(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let is_value = |k: usize| n.input.get(k).is_some_and(|s| self.values.contains_key(s));
        match (is_value(0), is_value(1)) {
            (true, true) => {
                let (a, b) = (self.value(n, 0)?, self.value(n, 1)?);
                if self.shapes[a] != self.shapes[b] {
                    return Err(self.node_error(
                        n,
                        format!(
                            "adds [batch, {:?}] and [batch, {:?}]; only equal shapes are supported",
                            self.shapes[a], self.shapes[b]
                        ),
                    ));
                }
                let shape = self.shapes[a].clone();
                self.push(n, Op::Add, vec![a, b], shape);
            }
            (true, false) | (false, true) => {
                let (xk, ck) = if is_value(0) { (0, 1) } else { (1, 0) };
                let x = self.value(n, xk)?;
                let (cname, cdims, cvals) = self.float_const(n, ck)?;
                let shape = self.shapes[x].clone();
                let expanded = broadcast(&cdims, &cvals, &shape).ok_or_else(|| {
                    self.node_error(
                        n,
                        format!("constant {cname} {cdims:?} does not broadcast to [batch, {shape:?}]"),
                    )
                })?;
                let param = self.param(n, &cname, ParamKind::Bias, &shape, 1, &expanded)?;
                self.push(n, Op::AddConst { param }, vec![x], shape);
            }
            (false, false) => {
                return Err(self.node_error(n, "adds two constants; only activations are supported"));
            }
        }
        Ok(())
    }

    fn flatten(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let axis = attr_i(n, "axis", 1);
        let rank = self.shapes[x].len() as i64 + 1;
        if axis != 1 && axis != 1 - rank {
            return Err(self.node_error(
                n,
                format!("axis = {axis} is not supported (only 1: keep the batch axis)"),
            ));
        }
        let len = self.shapes[x].iter().product();
        self.push(n, Op::Reshape, vec![x], vec![len]);
        Ok(())
    }

    fn reshape(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let x = self.value(n, 0)?;
        let target = match self.constant(n, 1)? {
            Some((
                _,
                Const {
                    data: ConstData::Int(v),
                    ..
                },
            )) => v.clone(),
            _ => return Err(self.node_error(n, "the target shape must be an int64 constant")),
        };
        if attr_i(n, "allowzero", 0) != 0 {
            return Err(self.node_error(n, "allowzero = 1 is not supported"));
        }
        let input = self.shapes[x].clone();
        let len: usize = input.iter().product();
        let bad = || {
            self.node_error(
                n,
                format!("target shape {target:?} cannot reshape [batch, {input:?}] keeping the batch axis"),
            )
        };
        let (&first, rest) = target.split_first().ok_or_else(bad)?;
        if !(first == 0 || first == -1 || Some(first) == self.batch) {
            return Err(bad());
        }
        let mut shape = Vec::with_capacity(rest.len());
        let mut infer = None;
        for (i, &d) in rest.iter().enumerate() {
            match d {
                -1 if infer.is_none() && first != -1 => {
                    infer = Some(i);
                    shape.push(1);
                }
                0 => shape.push(*input.get(i).ok_or_else(bad)?),
                d if d > 0 => shape.push(d as usize),
                _ => return Err(bad()),
            }
        }
        let known: usize = shape.iter().product();
        if let Some(i) = infer {
            if known == 0 || len % known != 0 {
                return Err(bad());
            }
            shape[i] = len / known;
        }
        if shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)) != Some(len) {
            return Err(bad());
        }
        self.push(n, Op::Reshape, vec![x], shape);
        Ok(())
    }

    fn concat(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let inputs: Vec<usize> = (0..n.input.len())
            .map(|k| self.value(n, k))
            .collect::<Result<_, _>>()?;
        let Some(&first) = inputs.first() else {
            return Err(self.node_error(n, "has no inputs"));
        };
        let first = self.shapes[first].clone();
        let rank = first.len() as i64 + 1;
        let axis = attr(n, "axis")
            .map(|a| a.i)
            .ok_or_else(|| self.node_error(n, "has no axis"))?;
        if axis != 1 && axis != 1 - rank {
            return Err(self.node_error(
                n,
                format!("axis = {axis} is not supported (only 1: the channels)"),
            ));
        }
        let mut shape = first.clone();
        shape[0] = 0;
        for &v in &inputs {
            let s = &self.shapes[v];
            if s.len() != first.len() || s[1..] != first[1..] {
                return Err(self.node_error(
                    n,
                    format!("inputs [batch, {first:?}] and [batch, {s:?}] differ beyond the channels"),
                ));
            }
            shape[0] += s[0];
        }
        self.push(n, Op::Concat, inputs, shape);
        Ok(())
    }

    /// Identity and Dropout (inference): output 0 is input 0.
    fn alias(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let name = n
            .input
            .first()
            .ok_or_else(|| self.node_error(n, "input 0 is missing"))?;
        if let Some(&v) = self.values.get(name) {
            self.values.insert(n.output[0].clone(), v);
        } else if let Some(c) = self.consts.get(name).cloned() {
            self.consts.insert(n.output[0].clone(), c);
        } else {
            return Err(self.node_error(n, format!("input 0 ({name}) is not produced by an earlier node")));
        }
        Ok(())
    }

    fn constant_node(&mut self, n: &NodeProto) -> Result<(), InputError> {
        let t = attr(n, "value")
            .and_then(|a| a.t.as_ref())
            .ok_or_else(|| self.node_error(n, "only the `value` (tensor) form of Constant is supported"))?;
        let c = decode_tensor(t, self.source)?;
        self.consts.insert(n.output[0].clone(), c);
        Ok(())
    }
}

/// `[rows, cols]` row-major to `[cols, rows]`.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = v[r * cols + c];
        }
    }
    t
}

/// A constant of `dims` broadcast (numpy rules, the batch axis of size 1) to one sample of `shape`.
fn broadcast(dims: &[usize], values: &[f32], shape: &[usize]) -> Option<Vec<f32>> {
    let full: Vec<usize> = std::iter::once(1).chain(shape.iter().copied()).collect();
    if dims.len() > full.len() {
        return None;
    }
    let lead = full.len() - dims.len();
    let aligned: Vec<usize> = std::iter::repeat_n(1, lead).chain(dims.iter().copied()).collect();
    if aligned.iter().zip(&full).any(|(&a, &f)| a != 1 && a != f) {
        return None;
    }
    // Strides of the constant over the full shape (0 along broadcast axes).
    let mut strides = vec![0; full.len()];
    let mut s = 1;
    for i in (0..full.len()).rev() {
        if aligned[i] != 1 {
            strides[i] = s;
        }
        s *= aligned[i];
    }
    let len: usize = shape.iter().product();
    let mut out = Vec::with_capacity(len);
    for flat in 0..len {
        let (mut rem, mut at) = (flat, 0);
        for i in (1..full.len()).rev() {
            at += (rem % full[i]) * strides[i];
            rem /= full[i];
        }
        out.push(values[at]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_broadcast_as_numpy() {
        // [C, 1, 1] over [C, H, W].
        let v = broadcast(&[2, 1, 1], &[1.0, 2.0], &[2, 2, 1]).unwrap();
        assert_eq!(v, [1.0, 1.0, 2.0, 2.0]);
        // [W] over [C, H, W].
        let v = broadcast(&[2], &[1.0, 2.0], &[1, 2, 2]).unwrap();
        assert_eq!(v, [1.0, 2.0, 1.0, 2.0]);
        // A leading batch axis of 1.
        assert_eq!(
            broadcast(&[1, 3], &[1.0, 2.0, 3.0], &[3]).unwrap(),
            [1.0, 2.0, 3.0]
        );
        assert!(broadcast(&[3], &[1.0, 2.0, 3.0], &[2]).is_none());
        assert!(broadcast(&[2, 3], &[0.0; 6], &[3]).is_none());
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }
}
