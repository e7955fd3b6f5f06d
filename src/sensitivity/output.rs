//! Output files of a sensitivity analysis, written atomically, and their readers.
//!
//! - `sensitivity.csv`: one row per programmable weight, columns `layer, index, weight, grad, hess,
//!   score, selected` (`index` the flat row-major index in the PyTorch layout; `grad`, `hess` in raw
//!   weight units; `selected` 0 or 1).
//! - `mask.safetensors`: one U8 tensor (0 or 1) per programmable tensor, with the weight tensor's name
//!   and shape (`conv1.weight [6, 1, 3, 3]`).

use super::curvature::Curvature;
use super::score::Scores;
use super::select::Selection;
use crate::error::InputError;
use crate::nn::Network;
use crate::nn::model_file::{RawTensor, check_tensor_set, read_tensors, write_tensors};
use crate::trace::atomic::AtomicFile;
use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The columns of `sensitivity.csv`, in order.
pub const CSV_COLUMNS: [&str; 7] = ["layer", "index", "weight", "grad", "hess", "score", "selected"];

/// One row of `sensitivity.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitivityRow {
    /// The layer (`conv1`; the tensor is `conv1.weight`).
    pub layer: String,
    /// Flat row-major index in the PyTorch layout.
    pub index: usize,
    /// The weight.
    pub weight: f32,
    /// Mean `dL/dw` over the calibration set.
    pub grad: f32,
    /// Sum of `d2L/dw2` over the calibration set.
    pub hess: f32,
    /// The score.
    pub score: f64,
    /// 1 if selected for write-verify, else 0.
    pub selected: u8,
}

/// Writes `sensitivity.csv` for a pass, its scores and a selection (all aligned by tensor).
pub fn write_csv(
    path: &Path,
    curvature: &Curvature,
    scores: &Scores,
    selection: &Selection,
) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    {
        let mut w = csv::Writer::from_writer(&mut file);
        for ((l, s), sel) in curvature.layers.iter().zip(&scores.layers).zip(&selection.layers) {
            for i in 0..l.len() {
                w.serialize(SensitivityRow {
                    layer: l.layer.clone(),
                    index: i,
                    weight: l.weight[i],
                    grad: l.grad[i],
                    hess: l.hess[i],
                    score: s[i],
                    selected: u8::from(sel[i]),
                })?;
            }
        }
        w.flush()?;
    }
    file.commit()
}

/// Reads `sensitivity.csv`; a missing column, a malformed value or a `selected` other than 0/1 is an
/// error naming the row.
pub fn read_csv(path: &Path) -> Result<Vec<SensitivityRow>, InputError> {
    let source = path.display().to_string();
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| InputError::new(&source, "", format!("cannot read: {e}")))?;
    let headers = r
        .headers()
        .map_err(|e| InputError::new(&source, "header", e.to_string()))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != CSV_COLUMNS {
        return Err(InputError::new(
            &source,
            "header",
            format!(
                "expected columns {}, found {}",
                CSV_COLUMNS.join(","),
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, rec) in r.deserialize::<SensitivityRow>().enumerate() {
        let row = rec.map_err(|e| InputError::new(&source, format!("row {}", i + 2), e.to_string()))?;
        if row.selected > 1 {
            return Err(InputError::new(
                &source,
                format!("row {} selected", i + 2),
                "must be 0 or 1",
            ));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The write-verify flags of one programmable tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskTensor {
    /// The weight tensor's name (`conv1.weight`).
    pub name: String,
    /// Its shape (PyTorch layout).
    pub shape: Vec<usize>,
    /// One flag per weight, row-major: 1 = write-verify, 0 = open-loop write only.
    pub flags: Vec<u8>,
}

/// A write-verify mask: per programmable tensor, one flag per weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// The tensors, in network order (sorted by name when read from a file).
    pub tensors: Vec<MaskTensor>,
}

impl Mask {
    /// The mask of a selection.
    pub fn from_selection(curvature: &Curvature, selection: &Selection) -> Self {
        let tensors = curvature
            .layers
            .iter()
            .zip(&selection.layers)
            .map(|(l, s)| MaskTensor {
                name: l.name.clone(),
                shape: l.shape.clone(),
                flags: s.iter().map(|&b| u8::from(b)).collect(),
            })
            .collect();
        Self { tensors }
    }

    /// The same flag for every programmable weight of `net` (all verified, or none).
    pub fn uniform(net: &Network, selected: bool) -> Self {
        let tensors = net
            .programmable()
            .into_iter()
            .map(|i| {
                let p = net.param(i);
                MaskTensor {
                    name: p.name.clone(),
                    shape: p.shape().to_vec(),
                    flags: vec![u8::from(selected); p.len()],
                }
            })
            .collect();
        Self { tensors }
    }

    /// The flags of tensor `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.flags.as_slice())
    }

    /// Number of selected weights.
    pub fn selected(&self) -> usize {
        self.tensors
            .iter()
            .map(|t| t.flags.iter().filter(|&&b| b == 1).count())
            .sum()
    }

    /// Number of weights.
    pub fn total(&self) -> usize {
        self.tensors.iter().map(|t| t.flags.len()).sum()
    }

    /// Checks that the mask has exactly the programmable tensors of `net` (names and shapes);
    /// `source` names the mask in the error.
    pub fn check(&self, net: &Network, source: &str) -> Result<(), InputError> {
        let expected: Vec<(String, Vec<usize>)> = net
            .programmable()
            .into_iter()
            .map(|i| (net.param(i).name.clone(), net.param(i).shape().to_vec()))
            .collect();
        let found: Vec<(String, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.shape.clone()))
            .collect();
        check_tensor_set(
            source,
            &format!("the programmable weights of {}", net.arch()),
            &expected,
            &found,
        )
    }

    /// Writes the mask as safetensors (U8 tensors), atomically.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let tensors: Vec<RawTensor> = self
            .tensors
            .iter()
            .map(|t| RawTensor {
                name: t.name.clone(),
                dtype: Dtype::U8,
                shape: t.shape.clone(),
                bytes: t.flags.clone(),
            })
            .collect();
        let meta = BTreeMap::from([
            ("kind".to_string(), "uswim write-verify mask".to_string()),
            ("selected".to_string(), self.selected().to_string()),
            ("total".to_string(), self.total().to_string()),
        ]);
        write_tensors(path, &tensors, &meta)
    }

    /// Reads a mask file: every tensor must be U8 (or BOOL) with values 0 or 1. Tensors come back
    /// sorted by name; use [`Mask::check`] against the network.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let source = path.display().to_string();
        let file = read_tensors(path)?;
        let mut tensors = Vec::with_capacity(file.tensors.len());
        for t in file.tensors {
            if !matches!(t.dtype, Dtype::U8 | Dtype::BOOL) {
                return Err(InputError::new(
                    &source,
                    &t.name,
                    format!("element type {:?}; a mask tensor must be U8 (0 or 1)", t.dtype),
                ));
            }
            if let Some(i) = t.bytes.iter().position(|&b| b > 1) {
                return Err(InputError::new(
                    &source,
                    &t.name,
                    format!("value {} at flat index {i}; must be 0 or 1", t.bytes[i]),
                ));
            }
            tensors.push(MaskTensor {
                name: t.name,
                shape: t.shape,
                flags: t.bytes,
            });
        }
        Ok(Self { tensors })
    }
}
