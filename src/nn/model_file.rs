//! Model files: safetensors with PyTorch's state_dict names and layouts, so a model trained in PyTorch
//! with the same architecture loads as it is (`safetensors.torch.save_file(model.state_dict(), f)`),
//! and ours loads in PyTorch (`model.load_state_dict(safetensors.torch.load_file(f))`).
//!
//! Values are stored as little-endian F32 (F64 is accepted on load). Batch-norm layers also get
//! PyTorch's `num_batches_tracked` (I64 scalar), which is accepted and ignored on load.

use super::network::Network;
use super::zoo;
use crate::error::InputError;
use crate::trace::atomic;
use safetensors::tensor::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The suffix of PyTorch's batch-norm step counter.
const BATCHES_TRACKED: &str = "num_batches_tracked";

/// One tensor of a safetensors file, as raw bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// Its name.
    pub name: String,
    /// Its element type.
    pub dtype: Dtype,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its raw little-endian bytes.
    pub bytes: Vec<u8>,
}

impl RawTensor {
    /// The values as `f32` (from F32 or F64), or an error naming the tensor.
    pub fn to_f32(&self, source: &str) -> Result<Vec<f32>, InputError> {
        match self.dtype {
            Dtype::F32 => Ok(self
                .bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()),
            Dtype::F64 => Ok(self
                .bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8-byte chunk")) as f32)
                .collect()),
            other => Err(InputError::new(
                source,
                &self.name,
                format!("element type {other:?} is not supported (expected F32 or F64)"),
            )),
        }
    }
}

/// A safetensors file's tensors (in file order of names) and its `__metadata__`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TensorFile {
    /// The tensors, sorted by name.
    pub tensors: Vec<RawTensor>,
    /// The free-form metadata.
    pub metadata: BTreeMap<String, String>,
}

/// Reads every tensor of a safetensors file; a missing, truncated or malformed file is an error.
pub fn read_tensors(path: &Path) -> Result<TensorFile, InputError> {
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        InputError::new(
            &source,
            "",
            format!("not a valid safetensors file (truncated or corrupt?): {e}"),
        )
    })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| InputError::new(&source, "__metadata__", format!("malformed header: {e}")))?;
    let metadata = meta.metadata().clone().unwrap_or_default().into_iter().collect();
    let mut tensors: Vec<RawTensor> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| RawTensor {
            name,
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            bytes: view.data().to_vec(),
        })
        .collect();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(TensorFile { tensors, metadata })
}

/// Checks that the tensors `found` are exactly those `expected` (name and shape); otherwise an error
/// that lists what is missing, what has the wrong shape, what is unexpected, and both full lists.
pub fn check_tensor_set(
    source: &str,
    what: &str,
    expected: &[(String, Vec<usize>)],
    found: &[(String, Vec<usize>)],
) -> Result<(), InputError> {
    let exp: HashMap<&str, &Vec<usize>> = expected.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let fnd: HashMap<&str, &Vec<usize>> = found.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let mut problems = Vec::new();
    for (name, shape) in expected {
        match fnd.get(name.as_str()) {
            None => problems.push(format!("missing {name} {shape:?}")),
            Some(s) if *s != shape => {
                problems.push(format!("wrong shape {name}: expected {shape:?}, found {s:?}"))
            }
            Some(_) => {}
        }
    }
    for (name, shape) in found {
        if !exp.contains_key(name.as_str()) {
            problems.push(format!("unexpected {name} {shape:?}"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let list = |v: &[(String, Vec<usize>)]| {
        v.iter()
            .map(|(n, s)| format!("{n} {s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(InputError::new(
        source,
        "tensors",
        format!(
            "do not match {what}: {}\n  expected: {}\n  found: {}",
            problems.join("; "),
            list(expected),
            list(found)
        ),
    ))
}

/// Loads the tensors of `path` into `net` (built for the same architecture) and returns the file's
/// metadata. Names and shapes must match exactly (PyTorch's `num_batches_tracked` is ignored).
pub fn load_into(net: &mut Network, path: &Path) -> Result<BTreeMap<String, String>, InputError> {
    let file = read_tensors(path)?;
    apply(net, &file, &path.display().to_string())?;
    Ok(file.metadata)
}

/// Copies the tensors of `file` into `net` after checking names, shapes, types and finiteness.
fn apply(net: &mut Network, file: &TensorFile, source: &str) -> Result<(), InputError> {
    let is_counter = |name: &str| {
        name.strip_suffix(BATCHES_TRACKED)
            .is_some_and(|prefix| net.param_index(&format!("{prefix}running_mean")).is_some())
    };
    let tensors: Vec<&RawTensor> = file.tensors.iter().filter(|t| !is_counter(&t.name)).collect();
    let expected: Vec<(String, Vec<usize>)> = net
        .params()
        .iter()
        .map(|p| (p.name.clone(), p.shape().to_vec()))
        .collect();
    let found: Vec<(String, Vec<usize>)> = tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect();
    check_tensor_set(source, &format!("architecture {}", net.arch()), &expected, &found)?;
    let mut values = Vec::with_capacity(tensors.len());
    for t in &tensors {
        let v = t.to_f32(source)?;
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(InputError::new(
                source,
                &t.name,
                format!("value at flat index {i} is not finite"),
            ));
        }
        values.push((t.name.as_str(), v));
    }
    for (name, v) in values {
        net.set_tensor(name, &v)?;
    }
    Ok(())
}

/// Loads `path` into a new network of the zoo architecture `arch`, or, if `arch` is `None`, of the
/// architecture recorded in the file's metadata (`uswim train` records it); returns the network and
/// the metadata.
///
/// An `.onnx` file is imported as its graph ([`super::onnx::load`]; `arch` does not apply) with empty
/// metadata, so every command that takes a model file takes ONNX too.
pub fn load(arch: Option<&str>, path: &Path) -> Result<(Network, BTreeMap<String, String>), InputError> {
    if super::onnx::is_onnx_path(path) {
        return Ok((super::onnx::load(path)?, BTreeMap::new()));
    }
    let source = path.display().to_string();
    let file = read_tensors(path)?;
    let arch = match arch {
        Some(a) => a,
        None => file.metadata.get("arch").map(String::as_str).ok_or_else(|| {
            InputError::new(
                &source,
                "arch",
                "the file does not record its architecture: give it (--arch)",
            )
        })?,
    };
    let mut net = zoo::build(arch)?;
    apply(&mut net, &file, &source)?;
    Ok((net, file.metadata))
}

/// Serialises tensors and free-form metadata to the safetensors format, deterministically: the same
/// tensors give the same bytes (header keys in a fixed order; tensors laid out by decreasing element
/// size, then name, so that every tensor stays aligned, as the reference writer does).
pub fn serialize(tensors: &[RawTensor], metadata: &BTreeMap<String, String>) -> std::io::Result<Vec<u8>> {
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, msg);
    let mut order: Vec<&RawTensor> = tensors.iter().collect();
    order.sort_by(|a, b| {
        b.dtype
            .bitsize()
            .cmp(&a.dtype.bitsize())
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::json!(metadata));
    }
    let mut offset = 0usize;
    for t in &order {
        let want = t.shape.iter().product::<usize>() * t.dtype.bitsize() / 8;
        if want != t.bytes.len() {
            return Err(invalid(format!(
                "{}: {} bytes for shape {:?} of {:?}",
                t.name,
                t.bytes.len(),
                t.shape,
                t.dtype
            )));
        }
        let entry =
            serde_json::json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + want]});
        if header.insert(t.name.clone(), entry).is_some() {
            return Err(invalid(format!("{}: duplicate tensor name", t.name)));
        }
        offset += want;
    }
    let mut text = serde_json::to_string(&header)
        .map_err(std::io::Error::other)?
        .into_bytes();
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut bytes = Vec::with_capacity(8 + text.len() + offset);
    bytes.extend((text.len() as u64).to_le_bytes());
    bytes.extend(text);
    for t in order {
        bytes.extend(&t.bytes);
    }
    Ok(bytes)
}

/// Writes tensors and metadata as a safetensors file (see [`serialize`]), atomically.
pub fn write_tensors(
    path: &Path,
    tensors: &[RawTensor],
    metadata: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    atomic::write_bytes(path, &serialize(tensors, metadata)?)
}

/// Saves every parameter of `net` (F32, PyTorch names and layouts, plus `num_batches_tracked = 0` for
/// each batch-norm) and `metadata` to `path`, atomically.
pub fn save(net: &Network, path: &Path, metadata: &BTreeMap<String, String>) -> std::io::Result<()> {
    let mut tensors: Vec<RawTensor> = net
        .params()
        .iter()
        .map(|p| RawTensor {
            name: p.name.clone(),
            dtype: Dtype::F32,
            shape: p.shape().to_vec(),
            bytes: p.value.iter().flat_map(|v| v.to_le_bytes()).collect(),
        })
        .collect();
    for p in net.params() {
        if let Some(prefix) = p.name.strip_suffix("running_mean") {
            tensors.push(RawTensor {
                name: format!("{prefix}{BATCHES_TRACKED}"),
                dtype: Dtype::I64,
                shape: Vec::new(),
                bytes: 0i64.to_le_bytes().to_vec(),
            });
        }
    }
    write_tensors(path, &tensors, metadata)
}
