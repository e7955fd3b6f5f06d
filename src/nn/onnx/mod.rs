//! ONNX model import: the graph `torch.onnx.export` writes for CNNs and MLPs becomes an engine
//! [`Network`] (one [`crate::nn::layers::Graph`] layer) with forward, backward and the second-order
//! backward, its initializers the network's parameters under their ONNX names.
//!
//! Supported operators (default domain): see [`SUPPORTED_OPS`]. Conv and Gemm/MatMul weights are the
//! programmable tensors, kept in PyTorch layout (`[out, in/groups, kh, kw]`, `[out, in]`; a Gemm with
//! `transB = 0` or a MatMul weight `[in, out]` is transposed on import, and Gemm's `alpha`/`beta` are
//! folded into its weight and bias). Batch-norm tensors are digital parameters; a constant added to an
//! activation is a digital bias broadcast to the activation's shape. The batch axis is the first axis
//! of the graph input; `Reshape` targets may give it as the exported batch size, `0` or `-1`.
//!
//! A graph with an operator outside the set is refused with the node, the operator and the set; its
//! weight tensors can still be mapped for timing ([`weight_tensors`]).

mod import;
mod proto;

pub use import::{SUPPORTED_OPS, WeightTensor, load, weight_tensors};

/// Whether `path` names an ONNX file (extension `.onnx`, any case).
pub fn is_onnx_path(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}
