//! The embedded neural-network engine: tensors on `ndarray`, layers with forward, backward and the
//! second-order (Gauss-Newton diagonal) backward of DESIGN.md section 7, networks built from a model
//! zoo under PyTorch's state_dict names, training with Adam, safetensors model files and IDX datasets.
//!
//! Layout: [`tensor`] (shapes, contiguous views, GEMM), `kernels` (the forward passes' fused
//! multiply-add kernels), [`layers`] (one file per layer kind),
//! [`network`] (parameters, batched parallel inference, tape-based backward), [`builder`] (layer by
//! layer under PyTorch names),
//! [`loss`] (softmax cross-entropy), [`zoo`] (mlp, lenet, convnet, resnet18), [`optim`] and
//! [`train`] (Adam, mini-batches), [`timing`] and [`layer_file`] (weights and shapes for timing only), [`model_file`] (safetensors I/O; `.onnx` files go to [`onnx`]), [`dataset`] (IDX, by name or path), [`arrays`] (npz, npy, safetensors datasets), [`normalize`] (`--normalize`).
//!
//! Invariants: weights are kept in PyTorch layout (`[out, in, kh, kw]`, `[out, in]`) and names, so what
//! the mapping and the sensitivity analyzer index is what PyTorch indexes; every parallel reduction
//! adds per-chunk results in chunk order, so results do not depend on the thread count; random draws
//! (initialisation, shuffles) come from [`crate::rng::stream`] with [`crate::rng::Purpose::Training`].

pub mod arrays;
pub mod builder;
pub mod dataset;
mod idx;
mod kernels;
pub mod layer_file;
pub mod layers;
pub mod loss;
pub mod model_file;
pub mod network;
pub mod normalize;
pub mod onnx;
pub mod optim;
pub mod param;
pub mod tensor;
pub mod timing;
pub mod train;
pub mod zoo;

pub use builder::Builder;
pub use dataset::{Dataset, Split};
pub use layers::{Layer, Order};
pub use network::{Accuracy, Network, Tape};
pub use param::{Param, ParamKind};
pub use tensor::{SampleShape, Tensor};
pub use zoo::Arch;
