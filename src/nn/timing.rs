//! Models for timing-only programming: what `uswim program` maps when the network cannot (or need
//! not) run. The weight tensors of any ONNX or safetensors file, the shapes of a layer file, or a zoo
//! architecture become a [`Network`]; one without layers holds weights only and refuses inference.
//!
//! A weight tensor is any float tensor of two or more dimensions, seen as the crossbar matrix `fan_in x
//! out` with `out` its first dimension: `[out, in]` and `[out, in, kh, kw]` as they are, a 3-d
//! `[out, in, k]` as `[out, in*k]` and higher ranks likewise.

use super::layer_file;
use super::model_file;
use super::network::Network;
use super::onnx;
use super::param::{Param, ParamKind};
use super::tensor::SampleShape;
use super::zoo;
use crate::error::InputError;
use std::path::Path;

/// A network holding only the weight tensors `(name, shape, values)` (no layers: it maps and programs
/// but refuses inference). Shapes other than 2-d and 4-d are folded to `[out, prod(rest)]`; `None`
/// values are initialised from `seed` (PyTorch's default bounds for the tensor's fan-in).
pub fn weights_only(
    arch: &str,
    tensors: impl IntoIterator<Item = (String, Vec<usize>, Option<Vec<f32>>)>,
    seed: u64,
) -> Network {
    let params = tensors
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape, values))| {
            let shape = match shape.len() {
                2 | 4 => shape,
                _ => vec![shape[0], shape[1..].iter().product()],
            };
            let fan_in = shape[1..].iter().product();
            let mut p = Param::new(name, ParamKind::Weight, &shape, fan_in, 0.0);
            match values {
                Some(v) => p
                    .value
                    .as_slice_mut()
                    .expect("fresh tensor is contiguous")
                    .copy_from_slice(&v),
                None => p.initialize(seed, i as u64),
            }
            p
        })
        .collect();
    Network::from_parts(arch.to_string(), SampleShape::Flat(0), 0, Vec::new(), params)
}

/// The network of a model file for `uswim program`: the full network when it loads (ONNX graph, or
/// safetensors of a zoo architecture, `arch` or recorded), else, when no `arch` is given and the file
/// is well formed, its weight tensors only, with a note saying why. A malformed file is an error.
pub fn load_for_timing(path: &Path, arch: Option<&str>) -> Result<(Network, Option<String>), InputError> {
    let full = match model_file::load(arch, path) {
        Ok((net, _)) => return Ok((net, None)),
        Err(e) if arch.is_some() => return Err(e),
        Err(e) => e,
    };
    let source = path.display().to_string();
    let name = format!(
        "weights:{}",
        path.file_name()
            .map_or(source.clone(), |n| n.to_string_lossy().into_owned())
    );
    let tensors: Vec<(String, Vec<usize>, Option<Vec<f32>>)> = if onnx::is_onnx_path(path) {
        onnx::weight_tensors(path)?
            .into_iter()
            .map(|t| (t.name, t.shape, Some(t.values)))
            .collect()
    } else {
        let file = model_file::read_tensors(path)?;
        let mut out = Vec::new();
        for t in file
            .tensors
            .iter()
            .filter(|t| t.shape.len() >= 2 && !t.shape.contains(&0))
        {
            if let Ok(v) = t.to_f32(&source) {
                out.push((t.name.clone(), t.shape.clone(), Some(v)));
            }
        }
        out
    };
    if tensors.is_empty() {
        return Err(InputError::new(
            &source,
            "tensors",
            format!("no float tensor of two or more dimensions to map (and as a network: {full})"),
        ));
    }
    let note = format!(
        "{source}: timing only, from its {} weight tensors: the file does not load as a network ({})",
        tensors.len(),
        full.problem
    );
    Ok((weights_only(&name, tensors, 0), Some(note)))
}

/// The network of `--shape SPEC`: a zoo architecture with weights initialised from `seed`, or a layer
/// file (`.toml` or `.csv`, see [`layer_file`]) with random weights of its shapes.
pub fn shape(spec: &str, seed: u64) -> Result<Network, InputError> {
    let path = Path::new(spec);
    let is_file = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml") || e.eq_ignore_ascii_case("csv"));
    if !is_file {
        let mut net = zoo::build(spec).map_err(|e| {
            InputError::new(
                "--shape",
                e.field,
                format!("{}, or a layer file (.toml, .csv)", e.problem),
            )
        })?;
        net.initialize(seed);
        return Ok(net);
    }
    let layers = layer_file::read(path)?;
    let name = format!(
        "layers:{}",
        path.file_name()
            .map_or(spec.to_string(), |n| n.to_string_lossy().into_owned())
    );
    Ok(weights_only(
        &name,
        layers
            .into_iter()
            .map(|l| (format!("{}.weight", l.name), l.shape, None)),
        seed,
    ))
}
